"""The web UI's one FleetService channel and the deadline every unary call carries."""

from __future__ import annotations

import logging
from typing import Any

import grpc

from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc

log = logging.getLogger(__name__)

DEADLINE_SECONDS = 10.0
"""Deadline of every unary FleetService call the web UI makes."""

_CHANNEL_OPTIONS = [
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 4 * 1024 * 1024),
    # After a control-plane restart, reconnect within a couple of seconds instead of backing off for minutes.
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2_000),
]


def _with_token(details: Any, header: tuple[str, str]) -> Any:
    metadata = grpc.aio.Metadata(*(details.metadata or ()), header)
    return details._replace(metadata=metadata)


class _UnaryToken(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Adds `authorization: Bearer <token>` to unary calls; the token itself is never logged."""

    def __init__(self, header: tuple[str, str]) -> None:
        self._header = header

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        """Attach the token."""
        return await continuation(_with_token(details, self._header), request)


class _StreamToken(grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    """Adds `authorization: Bearer <token>` to server-streaming calls."""

    def __init__(self, header: tuple[str, str]) -> None:
        self._header = header

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        """Attach the token."""
        return await continuation(_with_token(details, self._header), request)


def bearer_interceptors(token: str) -> list[Any]:
    """Client interceptors sending `authorization: Bearer <token>` on every unary and streaming call."""
    header = ("authorization", f"Bearer {token}")
    # grpc.aio files each interceptor under one kind only, so each kind needs its own object.
    return [_UnaryToken(header), _StreamToken(header)]


class FleetClient:
    """A grpc.aio channel to the control plane and its FleetService stub; close() is safe twice."""

    def __init__(self, target: str, api_token: str | None = None, tls_ca: bytes | None = None) -> None:
        self.target = target
        interceptors = bearer_interceptors(api_token) if api_token else None
        if tls_ca is None:
            self.channel = grpc.aio.insecure_channel(
                target, options=_CHANNEL_OPTIONS, interceptors=interceptors
            )
        else:
            credentials = grpc.ssl_channel_credentials(root_certificates=tls_ca)
            self.channel = grpc.aio.secure_channel(
                target, credentials, options=_CHANNEL_OPTIONS, interceptors=interceptors
            )
        self.stub: fleet_grpc.FleetServiceAsyncStub = fleet_grpc.FleetServiceStub(self.channel)  # type: ignore[assignment]
        self._closed = False
        log.info("web UI talks to the control plane at %s", target)

    async def close(self) -> None:
        """Close the channel, cancelling every call still open on it."""
        if self._closed:
            return
        self._closed = True
        await self.channel.close(grace=None)
