"""Channels to the control plane that carry an API token on every call (asyncio and blocking)."""

from __future__ import annotations

import contextvars
import os
from collections.abc import Sequence
from typing import Any

import grpc

from fleetdeck.limits import MAX_MESSAGE_BYTES

CHANNEL_OPTIONS: Sequence[tuple[str, int]] = (
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.http2.ping_timeout_ms", 10_000),  # else a ping waits 60 s, whatever keepalive says
    ("grpc.keepalive_permit_without_calls", 1),
)


USER_METADATA = "x-fleetdeck-user"
"""Metadata naming the web user a web UI calls for (the control plane trusts it from admin tokens only)."""

ON_BEHALF_OF: contextvars.ContextVar[str] = contextvars.ContextVar("fleetdeck_on_behalf_of", default="")
"""The web user the current task calls for; sent as `x-fleetdeck-user` with the token when set."""


def token_from_env() -> str | None:
    """The API token from FLEETDECK_TOKEN or the file named by FLEETDECK_TOKEN_FILE."""
    token = os.environ.get("FLEETDECK_TOKEN")
    if token:
        return token.strip()
    path = os.environ.get("FLEETDECK_TOKEN_FILE")
    if path:
        with open(path) as f:
            return f.read().strip()
    return None


def _with_token(details: Any, token: str) -> Any:
    added = [("authorization", f"Bearer {token}")]
    user = ON_BEHALF_OF.get()
    if user:
        added.append((USER_METADATA, user))
    if isinstance(details, grpc.aio.ClientCallDetails):
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        for key, value in added:
            metadata.add(key, value)
    else:
        metadata = [*(details.metadata or ()), *added]
    return details._replace(metadata=metadata)


class _AioUnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    def __init__(self, token: str) -> None:
        self._token = token

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_with_token(details, self._token), request)


class _AioUnaryStream(grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    def __init__(self, token: str) -> None:
        self._token = token

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_with_token(details, self._token), request)


class _AioStreamUnary(grpc.aio.StreamUnaryClientInterceptor):  # type: ignore[misc]
    def __init__(self, token: str) -> None:
        self._token = token

    async def intercept_stream_unary(self, continuation: Any, details: Any, request_iterator: Any) -> Any:
        return await continuation(_with_token(details, self._token), request_iterator)


class _AioStreamStream(grpc.aio.StreamStreamClientInterceptor):  # type: ignore[misc]
    def __init__(self, token: str) -> None:
        self._token = token

    async def intercept_stream_stream(self, continuation: Any, details: Any, request_iterator: Any) -> Any:
        return await continuation(_with_token(details, self._token), request_iterator)


class _SyncToken(
    grpc.UnaryUnaryClientInterceptor,  # type: ignore[misc]
    grpc.UnaryStreamClientInterceptor,  # type: ignore[misc]
):
    def __init__(self, token: str) -> None:
        self._token = token

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(_with_token(details, self._token), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(_with_token(details, self._token), request)


def bearer_interceptors(token: str) -> list[Any]:
    """grpc.aio client interceptors that send `authorization: Bearer <token>` on every call."""
    # grpc.aio files each interceptor object under one call kind only, so there is one per kind.
    kinds = (_AioUnaryUnary, _AioUnaryStream, _AioStreamUnary, _AioStreamStream)
    return [kind(token) for kind in kinds]


def aio_channel(
    target: str,
    token: str | None,
    *,
    tls_ca: bytes | None = None,
    options: Sequence[tuple[str, int | str]] = CHANNEL_OPTIONS,
) -> grpc.aio.Channel:
    """An asyncio channel to the control plane that sends `token` with every call (TLS with tls_ca)."""
    interceptors = bearer_interceptors(token) if token else None
    if tls_ca is None:
        return grpc.aio.insecure_channel(target, options=options, interceptors=interceptors)
    credentials = grpc.ssl_channel_credentials(root_certificates=tls_ca)
    return grpc.aio.secure_channel(target, credentials, options=options, interceptors=interceptors)


def channel(target: str, token: str | None) -> grpc.Channel:
    """A blocking channel to the control plane that sends `token` with every call."""
    plain = grpc.insecure_channel(target, options=CHANNEL_OPTIONS)
    return grpc.intercept_channel(plain, _SyncToken(token)) if token else plain
