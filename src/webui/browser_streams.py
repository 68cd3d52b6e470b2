"""The open browser streams: ended when the control plane stops serving or their session ends."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable, Iterator

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fleetdeck.v1 import fleet_service_pb2 as fleet_pb

log = logging.getLogger(__name__)

FLEET_SERVICE = fleet_pb.DESCRIPTOR.services_by_name["FleetService"].full_name


def _key(session_token: str) -> str:
    """Streams are filed under a digest of their session token, never the token itself."""
    return hashlib.sha256(session_token.encode()).hexdigest()


class BrowserStreams:
    """The open fleet streams, and whether the control plane said it is stopping.

    A control plane that stops gracefully reports NOT_SERVING first. Ending the browsers' streams
    then lets the HTTP server finish at once, and the browsers reconnect (with Last-Event-ID) to
    whatever serves the page next.
    """

    def __init__(self) -> None:
        self._drains: set[Callable[[], object]] = set()
        self._by_session: dict[str, set[Callable[[], object]]] = {}
        self.draining = False

    @property
    def open_streams(self) -> int:
        """How many browser streams are open now."""
        return len(self._drains)

    @contextlib.contextmanager
    def track(self, drain: Callable[[], object]) -> Iterator[None]:
        """While open, `drain` is called when the control plane stops serving."""
        self._drains.add(drain)
        try:
            yield
        finally:
            self._drains.discard(drain)

    @contextlib.contextmanager
    def of_session(self, session_token: str, end: Callable[[], object]) -> Iterator[None]:
        """While open, `end` is called when the session logs out here."""
        key = _key(session_token)
        ends = self._by_session.setdefault(key, set())
        ends.add(end)
        try:
            yield
        finally:
            ends.discard(end)
            if not ends and self._by_session.get(key) is ends:
                del self._by_session[key]

    def end_session(self, session_token: str) -> None:
        """A user logged out: end the streams this web UI serves to that session."""
        for drain in list(self._by_session.get(_key(session_token), ())):
            drain()

    def set_serving(self, serving: bool) -> None:
        """Record the control plane's health; on NOT_SERVING drain every open stream."""
        if serving == (not self.draining):
            return
        self.draining = not serving
        if self.draining:
            log.info("the control plane is stopping; ending %d browser streams", len(self._drains))
            for drain in list(self._drains):
                drain()
        else:
            log.info("the control plane is serving again")

    async def follow_health(self, channel: grpc.aio.Channel, backoff_max: float = 3.0) -> None:
        """Watch grpc.health.v1 for FleetService until cancelled, reconnecting with backoff."""
        stub = health_pb2_grpc.HealthStub(channel)
        delay = 0.2
        while True:
            call = stub.Watch(health_pb2.HealthCheckRequest(service=FLEET_SERVICE))
            try:
                async for response in call:
                    delay = 0.2
                    serving = response.status == health_pb2.HealthCheckResponse.SERVING
                    self.set_serving(serving)
                    if not serving:
                        break  # an open watch would hold up the control plane's graceful stop
            except grpc.aio.AioRpcError as exc:
                log.debug("health watch broke: %s", exc.code().name)
            finally:
                call.cancel()
            await asyncio.sleep(delay)
            delay = min(delay * 2, backoff_max)
