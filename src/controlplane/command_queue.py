"""The offline queue: operations asked for offline hosts, started when the host is back and idle.

A queued command is a stored command in state QUEUED with an expiry. It never holds its host: the
host shows nothing running, so Stop and newer commands pass; the queue starts it only when its host
is online with nothing running, oldest first, one at a time. CancelCommand ends it; so does its
expiry. Driven by fleet events (host connected, command finished) and a timer for the next expiry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from google.protobuf.duration_pb2 import Duration

from fleetdeck.operations import operation_name
from fleetdeck.tasks import cancel_and_wait
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import types_pb2 as pb

from .commands import Commands, new_command_id
from .errors import FailedPrecondition, InvalidArgument
from .fleet import Fleet, HostState
from .timeutil import now_ts, to_ts

log = logging.getLogger(__name__)

DEFAULT_QUEUE_TTL_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class Dispatch:
    """What to do with one queued command now."""

    command: pb.Command
    action: str  # "start", "expire" or "wait"


def dispatch(queued: list[pb.Command], idle_online: set[str], now: float) -> list[Dispatch]:
    """Pure: expired commands end; the oldest queued command of each idle online host starts."""
    decisions = []
    taken: set[str] = set()
    for command in queued:
        if command.queue_expires_at.ToNanoseconds() / 1e9 <= now:
            decisions.append(Dispatch(command, "expire"))
        elif command.host in idle_online and command.host not in taken:
            taken.add(command.host)
            decisions.append(Dispatch(command, "start"))
        else:
            decisions.append(Dispatch(command, "wait"))
    return decisions


class CommandQueue:
    """Queues operations for offline hosts and starts them when their host is back."""

    def __init__(self, fleet: Fleet, commands: Commands) -> None:
        self.fleet = fleet
        self.store = fleet.store
        self.commands = commands
        self._hosts: set[str] = set()  # hosts with queued commands
        self._next_expiry: float | None = None
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def ttl_seconds(self, ttl: Duration | None) -> float:
        """The queue time to live asked for, or the default; InvalidArgument when not positive."""
        if ttl is None or ttl.ToNanoseconds() == 0:
            return DEFAULT_QUEUE_TTL_SECONDS
        seconds = ttl.ToNanoseconds() / 1e9
        if seconds <= 0:
            raise InvalidArgument("queue_ttl must be positive")
        return seconds

    def enqueuer(
        self, ttl_seconds: float, requested_by: str = ""
    ) -> Callable[[HostState, pb.Operation, Duration | None], Awaitable[pb.Command]]:
        """The `queue` hook of `Commands.run_operation` for this time to live and requester."""

        async def enqueue(
            state: HostState, operation: pb.Operation, command_timeout: Duration | None
        ) -> pb.Command:
            return await self.enqueue(state, operation, command_timeout, ttl_seconds, requested_by)

        return enqueue

    async def enqueue(
        self,
        state: HostState,
        operation: pb.Operation,
        command_timeout: Duration | None,
        ttl_seconds: float,
        requested_by: str = "",
    ) -> pb.Command:
        """Store a QUEUED command for an offline host."""
        if state.online:
            raise FailedPrecondition(
                f"host {state.host.name} is online; run the command instead of queueing it"
            )
        timeout = command_timeout
        if timeout is None or timeout.ToNanoseconds() == 0:
            timeout = (
                state.host.test_settings.timeout
                if operation == pb.OPERATION_TEST
                else self.fleet.settings.operation_timeout
            )
        command = pb.Command(
            id=new_command_id(),
            host=state.host.name,
            operation=operation,
            state=pb.COMMAND_STATE_QUEUED,
            exit_code=-1,
            created_at=now_ts(),
            timeout=timeout,
            message=f"queued until {state.host.name} reconnects",
            queue_expires_at=to_ts(time.time() + ttl_seconds),
            requested_by=requested_by,
        )
        await self.store.queue_command(command)
        log.info(
            "queued %s for offline host %s as command %s", operation_name(operation), command.host, command.id
        )
        self._hosts.add(command.host)
        self.fleet.hub.publish(fleet_pb.WatchFleetResponse(command=command))
        self._wake.set()
        return command

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start following fleet events; safe to call twice."""
        if not self._tasks:
            self._hosts = {c.host for c in await self.store.queued_commands()}
            self._wake.set()
            self._tasks = [
                asyncio.create_task(self._listen(), name="queue-listen"),
                asyncio.create_task(self._run(), name="queue-run"),
            ]

    def wake(self) -> None:
        """Look at the queue again (this replica just became the one that dispatches it)."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop; queued commands stay stored. Safe to call twice."""
        tasks, self._tasks = self._tasks, []
        await cancel_and_wait(*tasks)

    async def _listen(self) -> None:
        async for event in self.fleet.hub.watch(self.fleet.hub.version, self.fleet.presence):
            kind = event.WhichOneof("event")
            if kind == "command" and event.command.state == pb.COMMAND_STATE_QUEUED:
                self._hosts.add(event.command.host)  # queued here or on another replica
            if (
                (kind == "host" and event.host.name in self._hosts and event.host.online)
                or (kind == "command" and event.command.host in self._hosts)
                or (kind == "snapshot" and self._hosts)
            ):
                self._wake.set()

    async def _run(self) -> None:
        while True:
            timeout = None if self._next_expiry is None else max(self._next_expiry - time.time(), 0.01)
            try:
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            if not self.fleet.placement.leading:
                continue  # another replica dispatches the queue
            try:
                await self.dispatch_now()
            except Exception:
                log.exception("dispatching queued commands failed; trying again at the next event")

    async def dispatch_now(self) -> None:
        """Expire what is due; start what an idle online host can take."""
        queued = await self.store.queued_commands()
        idle = {
            name
            for name in {c.host for c in queued}
            if (state := self.fleet.hosts.get(name)) is not None
            and state.online
            and not state.host.running_command_id
        }
        for decision in dispatch(queued, idle, time.time()):
            command = decision.command
            if decision.action == "expire":
                await self.commands.end_queued(
                    command, f"expired in the queue: {command.host} did not come back in time; it never ran"
                )
            elif decision.action == "start":
                try:
                    await self.commands.start(
                        self.fleet.state(command.host), command.operation, queued=command
                    )
                except FailedPrecondition as refusal:
                    # Its host is back and idle, so the refusal lasts (nothing to roll back to, no
                    # tests): say so now rather than let it wait, unseen, until it expires.
                    await self.commands.end_queued(
                        command,
                        f"refused when {command.host} came back: {refusal}; it never ran",
                        pb.COMMAND_STATE_REFUSED,
                    )
        left = await self.store.queued_commands()
        self._hosts = {c.host for c in left}
        self._next_expiry = min((c.queue_expires_at.ToNanoseconds() / 1e9 for c in left), default=None)
