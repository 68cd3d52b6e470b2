"""The write path for what agents send that must be durable: output in batches, results at once.

Everything an agent wants acknowledged goes through one queue and one consumer, so output chunks and
the results that follow them are stored in the order they were sent. Acknowledgements go out only
after the transaction holding them committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass

from fleetdeck.tasks import cancel_and_wait
from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import types_pb2 as pb

from .agent_streams import AgentStream
from .commands import Commands
from .errors import Unavailable
from .fleet import HostState
from .output import OutputFollowers
from .store import OutputAppend, Store

log = logging.getLogger(__name__)

MAX_BATCH = 2_000
QUEUE_LIMIT = 20_000


@dataclass(frozen=True)
class Item:
    """One message to store for a host."""

    state: HostState
    stream: AgentStream  # acknowledgements go back on the stream that sent the message
    message: agent_pb.ConnectRequest


class Ingest:
    """Batches output appends into one transaction, stores results in order, then acknowledges."""

    def __init__(self, store: Store, commands: Commands, followers: OutputFollowers) -> None:
        self.store = store
        self.commands = commands
        self.followers = followers
        # Bounded: when storing falls behind, the agents' streams wait (gRPC flow control pushes back
        # to the agents) instead of memory growing without limit.
        self._queue: asyncio.Queue[Item] = asyncio.Queue(QUEUE_LIMIT)
        self._task: asyncio.Task[None] | None = None

    async def submit(self, state: HostState, stream: AgentStream, message: agent_pb.ConnectRequest) -> None:
        """Queue an output chunk, test run report or command finish for storing (waits when full)."""
        await self._queue.put(Item(state, stream, message))

    async def start(self) -> None:
        """Start the consumer; safe to call twice."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="ingest")

    async def stop(self) -> None:
        """Store what is queued, then stop; safe to call twice."""
        if self._task is not None:
            task, self._task = self._task, None
            await cancel_and_wait(task)
        while batch := self._drain([]):
            await self._process(batch)

    def _drain(self, batch: list[Item]) -> list[Item]:
        while not self._queue.empty() and len(batch) < MAX_BATCH:
            batch.append(self._queue.get_nowait())
        return batch

    async def _run(self) -> None:
        while True:
            batch = self._drain([await self._queue.get()])
            try:
                await self._process(batch)
            except Exception:
                # What was not acknowledged must not be covered by a later acknowledgement: close the
                # streams that sent this batch, so their agents reconnect and resend from the first
                # unacknowledged message (the rest of their queued messages is dropped unacknowledged).
                log.exception("storing a batch of %d agent messages failed", len(batch))
                for item in batch:
                    item.stream.close(Unavailable("the control plane could not store a message; resend it"))

    async def _process(self, batch: list[Item]) -> None:
        output: list[Item] = []
        for item in batch:
            if item.stream.closed:
                continue  # its agent resends everything unacknowledged after reconnecting
            kind = item.message.WhichOneof("message")
            if kind == "output":
                output.append(item)
                continue
            await self._store_output(output)
            output = []
            # Messages about commands this control plane does not know are acknowledged too, so the
            # agent drops them instead of resending them after every reconnect.
            if kind == "test_run":
                report = item.message.test_run
                if await self._owned(item.state, report.command_id):
                    await self.commands.on_test_run(item.state, report)
                self._ack(item.stream, report.command_id, report.seq)
            elif kind == "command_finished":
                finished = item.message.command_finished
                await self.commands.on_finished(item.state, finished)
                self._ack(item.stream, finished.command_id, finished.seq)
        await self._store_output(output)

    async def _owned(self, state: HostState, command_id: str) -> bool:
        found = await self.store.get_command(command_id)
        if found is None or found.host != state.host.name:
            log.warning("host %s sent a result for unknown command %s; ignored", state.host.name, command_id)
            return False
        return True

    async def _store_output(self, items: list[Item]) -> None:
        if not items:
            return
        owners = await self.store.command_hosts({i.message.output.command_id for i in items})
        appends = []
        streams: dict[str, AgentStream] = {}
        for item in items:
            chunk = item.message.output
            if owners.get(chunk.command_id) != item.state.host.name:
                log.warning(
                    "host %s sent output for unknown command %s; ignored",
                    item.state.host.name,
                    chunk.command_id,
                )
                self._ack(item.stream, chunk.command_id, chunk.seq)
                continue
            appends.append(OutputAppend(chunk.command_id, chunk))
            streams[chunk.command_id] = item.stream
        if not appends:
            return
        stored = await self.store.append_output(appends)
        self.commands.fleet.counts.output_lines += sum(len(a.chunk.lines) for a in appends)
        lines: defaultdict[str, list[pb.OutputLine]] = defaultdict(list)
        for append in appends:
            lines[append.command_id].extend(append.chunk.lines)
        for command_id, output in stored.items():
            self.followers.publish(command_id, lines[command_id])
            self._ack(streams[command_id], command_id, output.max_seq)

    @staticmethod
    def _ack(stream: AgentStream, command_id: str, seq: int) -> None:
        stream.send(agent_pb.ConnectResponse(ack=agent_pb.Ack(command_id=command_id, seq=seq)))
