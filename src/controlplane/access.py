"""Who may call what: API tokens with roles, checked for every FleetService call (deny by default)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import grpc

from fleetdeck.roles import allows, check_role, required_role, role_name
from fleetdeck.tasks import cancel_and_wait
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import types_pb2 as pb

from .agent_tokens import TOKEN_PREFIX as AGENT_TOKEN_PREFIX
from .credentials import bearer_token, token_hash
from .errors import (
    FleetError,
    InvalidArgument,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    set_status,
)
from .store import Store

log = logging.getLogger(__name__)

API_TOKEN_PREFIX = "fdapi_"
# Open to anyone: health checks, the schema (reflection), and the agent stream (it checks agent tokens).
STREAMS_PER_API_TOKEN = 256  # open WatchFleet/StreamCommandOutput streams one API token may hold
KNOWN_TOKEN_SECONDS = 2.0  # a valid API token is trusted this long without reading the store again
KNOWN_TOKENS = 10_000  # ... for at most this many tokens at a time
OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.", "/fleetdeck.v1.AgentService/")


class ApiTokens:
    """Creates and checks API tokens; also knows the in-memory token of the in-process web UI."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.internal_token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
        self._open_streams: dict[str, set[asyncio.Event]] = {}  # token id -> set when it is revoked
        # Valid tokens by hash, with when they were read: a call need not wait for the store (which a
        # flood of agent-token lookups may keep busy). Revoking drops a token at once.
        self._known: dict[str, tuple[float, fleet_pb.ApiToken]] = {}

    async def create(self, name: str, role: int, token: str | None = None) -> tuple[str, fleet_pb.ApiToken]:
        """A new token (or store the given one) with a role; the secret is returned, never stored."""
        try:
            check_role(role)
        except ValueError as error:
            raise InvalidArgument(str(error)) from None
        if not name.strip() or len(name) > 100:
            raise InvalidArgument("name the token's user in 1 to 100 characters")
        secret = token or API_TOKEN_PREFIX + secrets.token_urlsafe(32)
        if len(secret) < 32:
            raise InvalidArgument("an API token must be at least 32 characters")
        record = await self.store.add_api_token(secrets.token_hex(8), name.strip(), role, token_hash(secret))
        return secret, record

    async def role_of(self, metadata: tuple[tuple[str, str | bytes], ...] | None) -> int:
        """The role of the caller's token; Unauthenticated or PermissionDenied otherwise."""
        return (await self.caller(metadata)).role

    async def caller(self, metadata: tuple[tuple[str, str | bytes], ...] | None) -> fleet_pb.ApiToken:
        """The caller's token record (the web UI's in-memory token is an admin with an empty id)."""
        token = bearer_token(metadata, what="an API token")
        if secrets.compare_digest(token, self.internal_token):
            return fleet_pb.ApiToken(name="web UI", role=pb.ROLE_ADMIN)
        if token.startswith(AGENT_TOKEN_PREFIX):
            raise PermissionDenied("agent tokens may only open the agent stream; use an API token")
        digest = token_hash(token)
        now = time.monotonic()
        known = self._known.get(digest)
        if known is not None and now - known[0] < KNOWN_TOKEN_SECONDS:
            return known[1]
        record = await self.store.find_api_token(digest)
        if record is None:
            raise Unauthenticated("the API token is not valid (unknown or revoked)")
        if len(self._known) >= KNOWN_TOKENS:
            self._known.clear()
        self._known[digest] = (now, record)
        return record

    @contextlib.contextmanager
    def open_stream(self, token_id: str) -> Iterator[asyncio.Event]:
        """While a stream of `token_id` is open: an event set when the token is revoked.
        ResourceExhausted when the token holds STREAMS_PER_API_TOKEN open streams already."""
        if len(self._open_streams.get(token_id, ())) >= STREAMS_PER_API_TOKEN:
            raise ResourceExhausted(
                f"this API token holds {STREAMS_PER_API_TOKEN} open streams already; close one first"
            )
        revoked = asyncio.Event()
        self._open_streams.setdefault(token_id, set()).add(revoked)
        try:
            yield revoked
        finally:
            streams = self._open_streams.get(token_id, set())
            streams.discard(revoked)
            if not streams:
                self._open_streams.pop(token_id, None)

    def revoked(self, token_id: str) -> None:
        """Refuse a token that was just revoked from now on, and end every open stream of it."""
        self._known = {h: k for h, k in self._known.items() if k[1].token_id != token_id}
        for revoked in self._open_streams.get(token_id, set()):
            revoked.set()


class AccessInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Refuses every FleetService call whose token's role is too low; unknown methods are refused."""

    def __init__(self, tokens: ApiTokens) -> None:
        self.tokens = tokens

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method: str = details.method
        handler = await continuation(details)
        if handler is None or method.startswith(OPEN_PREFIXES):
            return handler
        try:
            needed = required_role(method)
            if needed is None:
                raise PermissionDenied(f"{method} is not a call this server allows")
            record = await self.tokens.caller(details.invocation_metadata)
            role = record.role
            if not allows(role, needed):
                raise PermissionDenied(
                    f"{method.rsplit('/', 1)[-1]} needs the {role_name(needed)} role; "
                    f"this token has {role_name(role)}"
                )
        except FleetError as error:
            return _denial(handler, error)
        except Exception:
            log.exception("checking the credentials of a %s call failed", method)
            return _denial(handler, Unavailable("cannot check credentials right now; retry shortly"))
        if handler.unary_stream is not None and record.token_id:
            return grpc.unary_stream_rpc_method_handler(
                _ended_on_revocation(handler.unary_stream, self.tokens, record.token_id, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler


def _ended_on_revocation(behavior: Any, tokens: ApiTokens, token_id: str, method: str) -> Any:
    """A server-streaming handler that ends with UNAUTHENTICATED as soon as its token is revoked."""

    async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
        responses = behavior(request, context)

        async def following() -> Any:
            return await anext(responses)

        with tokens.open_stream(token_id) as revoked:
            waiter = asyncio.create_task(revoked.wait())
            step: asyncio.Task[Any] | None = None
            try:
                while True:
                    step = asyncio.create_task(following())
                    await asyncio.wait((step, waiter), return_when=asyncio.FIRST_COMPLETED)
                    if not step.done():
                        log.info("ended a %s stream: API token %s was revoked", method, token_id)
                        raise Unauthenticated("the API token of this stream was revoked")
                    try:
                        response = step.result()
                    except StopAsyncIteration:
                        return
                    yield response
            finally:
                await cancel_and_wait(waiter, step)
                await responses.aclose()

    return call


def _denial(handler: grpc.RpcMethodHandler, error: FleetError) -> grpc.RpcMethodHandler:
    """A handler that ends the call with the status of `error`.

    It sets the status instead of raising `error` again: a raise would add this handler's frame,
    which holds `error`, to `error`'s own traceback, a reference cycle per refused call."""
    error = error.with_traceback(None)

    async def deny(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        set_status(context, error)

    kwargs = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(deny, **kwargs)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(deny, **kwargs)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(deny, **kwargs)
    return grpc.stream_stream_rpc_method_handler(deny, **kwargs)
