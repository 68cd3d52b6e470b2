"""The write path for what agents send that must be durable: output in batches, results at once.

Everything an agent wants acknowledged goes through one queue and one consumer, so output chunks and
the results that follow them are stored in the order they were sent. Acknowledgements go out only
after the transaction holding them committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from fleetdeck.tasks import cancel_and_wait
from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import types_pb2 as pb

from .agent_streams import AgentStream
from .commands import Commands
from .errors import FleetError, InvalidArgument
from .errors import storage_trouble as trouble
from .fleet import HostState
from .output import OutputFollowers
from .storage_health import StorageHealth
from .store import OutputAppend, Store

log = logging.getLogger(__name__)

T = TypeVar("T")

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

    def __init__(
        self,
        store: Store,
        commands: Commands,
        followers: OutputFollowers,
        storage: StorageHealth | None = None,
    ) -> None:
        self.store = store
        self.storage = storage
        self._retrying = True  # on storage trouble: wait until the store works, then store again
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
        self._retrying = False  # at shutdown: storage trouble closes the streams (agents resend)
        while batch := self._drain([]):
            await self._process(batch)

    def _drain(self, batch: list[Item]) -> list[Item]:
        while not self._queue.empty() and len(batch) < MAX_BATCH:
            batch.append(self._queue.get_nowait())
        return batch

    async def _run(self) -> None:
        while True:
            await self._process(self._drain([await self._queue.get()]))

    async def _process(self, batch: list[Item]) -> None:
        output: list[Item] = []
        for item in batch:
            if item.stream.closed:
                continue  # its agent resends everything unacknowledged after reconnecting
            if item.message.WhichOneof("message") == "output":
                output.append(item)
                continue
            await self._store_output(output)
            output = []
            try:
                await self._stored(self._store_result, item)
            except Exception as error:
                self._refuse(item, error)
        await self._store_output(output)

    async def _stored(self, step: Callable[[T], Awaitable[None]], what: T) -> None:
        """Run a store step; on storage trouble, wait until the store works and run it again, so that
        agents' streams stay open (their output waits, unacknowledged) instead of being reset."""
        while True:
            try:
                await step(what)
                return
            except Exception as error:
                if not self._retrying or self.storage is None or not self.storage.noticed(error):
                    raise
            await self.storage.working()

    async def _store_result(self, item: Item) -> None:
        # Messages about commands this control plane does not know are acknowledged too, so the
        # agent drops them instead of resending them after every reconnect.
        kind = item.message.WhichOneof("message")
        if kind == "test_run":
            report = item.message.test_run
            if await self._owned(item.state, report.command_id):
                await self.commands.on_test_run(item.state, report)
            self._ack(item.stream, report.command_id, report.seq)
        elif kind == "command_finished":
            finished = item.message.command_finished
            await self.commands.on_finished(item.state, finished)
            self._ack(item.stream, finished.command_id, finished.seq)

    async def _store_output(self, items: list[Item]) -> None:
        """Append output in one transaction; when it fails, append each chunk alone, so only the
        stream of a chunk that fails alone is closed and every other host's output is stored."""
        if not items:
            return
        try:
            await self._stored(self._append, items)
        except Exception as error:
            if trouble(error) is not None or len(items) == 1:
                for item in items:
                    self._refuse(item, error)  # storage trouble: every sender retries later
                return
            log.warning("storing %d output chunks in one transaction failed; storing each alone", len(items))
            for item in items:
                if item.stream.closed:
                    continue  # an earlier chunk of its stream was refused: this one is resent too
                try:
                    await self._append([item])
                except Exception as alone:
                    self._refuse(item, alone)

    @staticmethod
    def _refuse(item: Item, error: Exception) -> None:
        """Close the stream that sent a message that could not be stored, so that its agent resends
        from its first unacknowledged message: nothing later is acknowledged past the gap."""
        host = item.state.host.name
        known = error if isinstance(error, FleetError) else trouble(error)
        if known is not None:
            item.stream.close(known)  # storage trouble (UNAVAILABLE): the agent retries later
            return
        kind = item.message.WhichOneof("message")
        log.error("storing a %s message of host %s failed; its stream is closed", kind, host, exc_info=error)
        item.stream.close(InvalidArgument(f"the control plane could not store this {kind} message; refused"))

    async def _owned(self, state: HostState, command_id: str) -> bool:
        found = await self.store.get_command(command_id)
        if found is None or found.host != state.host.name:
            log.warning("host %s sent a result for unknown command %s; ignored", state.host.name, command_id)
            return False
        return True

    async def _append(self, items: list[Item]) -> None:
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
