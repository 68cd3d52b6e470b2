"""The web UI's one FleetService channel and the deadline every unary call carries."""

from __future__ import annotations

import logging

from fleetdeck.client import aio_channel
from fleetdeck.limits import MAX_MESSAGE_BYTES
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc

log = logging.getLogger(__name__)

DEADLINE_SECONDS = 10.0
"""Deadline of every unary FleetService call the web UI makes."""

_CHANNEL_OPTIONS = [
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.http2.ping_timeout_ms", 10_000),  # else a ping waits 60 s, whatever keepalive says
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    # After a control-plane restart, reconnect within a couple of seconds instead of backing off for minutes.
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2_000),
]


class FleetClient:
    """A grpc.aio channel to the control plane and its FleetService stub; close() is safe twice."""

    def __init__(
        self,
        target: str,
        api_token: str | None = None,
        tls_ca: bytes | None = None,
        tls_server_name: str = "",
    ) -> None:
        self.target = target
        # The name the control plane's certificate is verified by, when not the target's host.
        named = [("grpc.ssl_target_name_override", tls_server_name)] if tls_server_name else []
        self.channel = aio_channel(target, api_token, tls_ca=tls_ca, options=[*_CHANNEL_OPTIONS, *named])
        self.stub: fleet_grpc.FleetServiceAsyncStub = fleet_grpc.FleetServiceStub(self.channel)  # type: ignore[assignment]
        self._closed = False
        log.info("web UI talks to the control plane at %s", target)

    async def close(self) -> None:
        """Close the channel, cancelling every call still open on it."""
        if self._closed:
            return
        self._closed = True
        await self.channel.close(grace=None)
