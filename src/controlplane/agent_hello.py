"""What an agent's hello does once its token is checked: its stream becomes the host's link.

The order matters and lives here: the host's unfinished commands are read before the new stream is
attached (a command started after that is the new stream's); an older stream of the host is closed
(ABORTED); the hello's facts and Tests report are adopted; the agent's report of running and
unacknowledged commands is reconciled with ours; only then is the host published as connected.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fleetdeck.v1 import agent_service_pb2 as agent_pb

from .agent_streams import AgentStream
from .commands import Commands
from .errors import Aborted
from .fleet import Fleet, HostState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Welcomed:
    """A connected host: its stream, its state, and what its welcome tells the agent."""

    stream: AgentStream
    state: HostState
    interrupted_command_ids: list[str]
    acks: dict[str, int]  # highest stored sequence number of each command the agent still holds


async def accept_hello(fleet: Fleet, commands: Commands, hello: agent_pb.Hello, token_id: str) -> Welcomed:
    """Attach a new stream for the hello's host (already authenticated) and reconcile its commands."""
    host = hello.host
    state = fleet.ensure(host)
    await fleet.claim(state)  # held here from now on: another replica that held it lets go
    # What was unfinished before this hello; a command started from here on is the new stream's.
    unfinished = await commands.unfinished(state, hello)
    stream = AgentStream(host, token_id)
    fleet.attach(state, stream)  # from now on commands go to the new stream (the older one's end is quiet)
    fleet.streams.add(stream, Aborted(f"host {host} connected again; this older stream is closed"))
    try:
        fleet.hello(state, hello)
        interrupted = await commands.reconcile(state, hello, unfinished)
        held = list(hello.unacknowledged_command_ids)
        acked = await fleet.store.max_seqs(held)
        # Only its own commands: another host's sequence numbers are none of this agent's business.
        owners = await fleet.store.command_hosts(set(held)) if held else {}
        acked = {c: s for c, s in acked.items() if owners.get(c) == host}
    except BaseException:
        fleet.disconnected(stream)
        raise
    fleet.connect(state, stream)
    log.info("host %s connected (agent %s)", host, hello.facts.agent_version or "unknown version")
    return Welcomed(stream, state, interrupted, {c: s for c, s in acked.items() if s})
