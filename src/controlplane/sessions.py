"""Connected agents: one session per host, holding the queue of messages to send down its stream."""

from __future__ import annotations

import asyncio
import logging

from fleetdeck.v1 import agent_service_pb2 as agent_pb

from .errors import FleetError

log = logging.getLogger(__name__)


class AgentSession:
    """One open Connect stream. Sends never block the caller.

    The stream ends for the first reason given, and only for it: `close(reason)` ends it with that
    error's status; `end()` (the agent finished sending) ends it with OK. Whatever happens after the
    first reason (the agent's last messages, its hang-up) does not change how it ends.
    """

    def __init__(self, host: str, token_id: str) -> None:
        self.host = host
        self.token_id = token_id
        self._outgoing: asyncio.Queue[agent_pb.ConnectResponse | FleetError | None] = asyncio.Queue()
        self.closed = False

    def send(self, message: agent_pb.ConnectResponse) -> None:
        """Queue a message for the agent (dropped once the session is closed)."""
        if not self.closed:
            self._outgoing.put_nowait(message)

    def close(self, reason: FleetError) -> None:
        """End the stream with `reason` as its status, unless it was ended already."""
        if not self.closed:
            self.closed = True
            self._outgoing.put_nowait(reason)

    def end(self) -> None:
        """The agent finished its side: end the stream with OK, unless it was ended already."""
        if not self.closed:
            self.closed = True
            self._outgoing.put_nowait(None)

    async def next_outgoing(self) -> agent_pb.ConnectResponse | None:
        """The next message to send; None once the agent ended the stream; raises the close reason."""
        item = await self._outgoing.get()
        if isinstance(item, FleetError):
            raise item
        return item


class Sessions:
    """The registry of open sessions by host; a newer session of a host replaces the older one."""

    def __init__(self) -> None:
        self._by_host: dict[str, AgentSession] = {}

    def get(self, host: str) -> AgentSession | None:
        """The host's open session, if any."""
        return self._by_host.get(host)

    def add(self, session: AgentSession, replaced: FleetError) -> None:
        """Register a session, closing the host's previous one with `replaced`."""
        old = self._by_host.get(session.host)
        if old is not None:
            log.info("host %s connected again; closing its older stream", session.host)
            old.close(replaced)
        self._by_host[session.host] = session

    def remove(self, session: AgentSession) -> bool:
        """Forget a session if it is still the host's current one; True when it was."""
        if self._by_host.get(session.host) is session:
            del self._by_host[session.host]
            return True
        return False

    def all(self) -> list[AgentSession]:
        """Every open session."""
        return list(self._by_host.values())

    def __len__(self) -> int:
        return len(self._by_host)
