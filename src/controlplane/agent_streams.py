"""Connected agents: one open Connect stream per host, with the queue of messages to send down it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from fleetdeck.v1 import agent_service_pb2 as agent_pb

from .errors import FleetError

log = logging.getLogger(__name__)

CONFLICT_SECONDS = 30.0


class AgentStream:
    """One open Connect stream. Sends never block the caller.

    The stream ends for the first reason given, and only for it: `close(reason)` ends it with that
    error's status; `end()` (the agent finished sending) ends it with OK. Whatever happens after the
    first reason (the agent's last messages, its hang-up) does not change how it ends.
    """

    def __init__(self, host: str, token_id: str) -> None:
        self.host = host
        self.token_id = token_id
        self.opened_at = time.monotonic()
        self._outgoing: asyncio.Queue[agent_pb.ConnectResponse | FleetError | None] = asyncio.Queue()
        self.closed = False
        self.on_closed: Callable[[], None] | None = None  # told once, when the stream is closed or ended

    def send(self, message: agent_pb.ConnectResponse) -> None:
        """Queue a message for the agent (dropped once the stream is closed)."""
        if not self.closed:
            self._outgoing.put_nowait(message)

    def close(self, reason: FleetError) -> None:
        """End the stream with `reason` as its status, unless it was ended already."""
        if not self.closed:
            self.closed = True
            self._outgoing.put_nowait(reason)
            if self.on_closed is not None:
                self.on_closed()

    def end(self) -> None:
        """The agent finished its side: end the stream with OK, unless it was ended already."""
        if not self.closed:
            self.closed = True
            self._outgoing.put_nowait(None)
            if self.on_closed is not None:
                self.on_closed()

    async def next_outgoing(self) -> agent_pb.ConnectResponse | None:
        """The next message to send; None once the agent ended the stream; raises the close reason."""
        item = await self._outgoing.get()
        if isinstance(item, FleetError):
            raise item
        return item


class AgentStreams:
    """The registry of open streams by host; a newer stream of a host replaces the older one."""

    def __init__(self) -> None:
        self._by_host: dict[str, AgentStream] = {}

    def get(self, host: str) -> AgentStream | None:
        """The host's open stream, if any."""
        return self._by_host.get(host)

    def add(self, stream: AgentStream, replaced: FleetError) -> None:
        """Register a stream, closing the host's previous one with `replaced`."""
        old = self._by_host.get(stream.host)
        if old is not None:
            if stream.opened_at - old.opened_at < CONFLICT_SECONDS:
                # Agents reconnect rarely; a stream replaced this soon means two of them take turns.
                log.warning(
                    "host %s connected again %.0f s after its last connection; if two agents are "
                    "configured as %s, stop one",
                    stream.host,
                    stream.opened_at - old.opened_at,
                    stream.host,
                )
            else:
                log.info("host %s connected again; closing its older stream", stream.host)
            old.close(replaced)
        self._by_host[stream.host] = stream

    def remove(self, stream: AgentStream) -> bool:
        """Forget a stream if it is still the host's current one; True when it was."""
        if self._by_host.get(stream.host) is stream:
            del self._by_host[stream.host]
            return True
        return False

    def all(self) -> list[AgentStream]:
        """Every open stream."""
        return list(self._by_host.values())

    def __len__(self) -> int:
        return len(self._by_host)
