"""Who may call what: API tokens with roles, checked for every FleetService call (deny by default)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from fleetdeck.roles import allows, check_role, required_role, role_name
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import types_pb2 as pb

from .agent_tokens import TOKEN_PREFIX as AGENT_TOKEN_PREFIX
from .credentials import bearer_token, token_hash
from .errors import FleetError, InvalidArgument, PermissionDenied, Unauthenticated, Unavailable
from .store import Store

log = logging.getLogger(__name__)

API_TOKEN_PREFIX = "fdapi_"
# Open to anyone: health checks, the schema (reflection), and the agent stream (it checks agent tokens).
OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.", "/fleetdeck.v1.AgentService/")


class ApiTokens:
    """Creates and checks API tokens; also knows the in-memory token of the in-process web UI."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.internal_token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)

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
        token = bearer_token(metadata, what="an API token")
        if secrets.compare_digest(token, self.internal_token):
            return pb.ROLE_ADMIN
        if token.startswith(AGENT_TOKEN_PREFIX):
            raise PermissionDenied("agent tokens may only open the agent stream; use an API token")
        record = await self.store.find_api_token(token_hash(token))
        if record is None:
            raise Unauthenticated("the API token is not valid (unknown or revoked)")
        return record.role


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
            role = await self.tokens.role_of(details.invocation_metadata)
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
        return handler


def _denial(handler: grpc.RpcMethodHandler, error: FleetError) -> grpc.RpcMethodHandler:
    """A handler that raises `error` (errors.ErrorInterceptor, placed first, maps it to a status)."""

    async def deny(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        raise error

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
