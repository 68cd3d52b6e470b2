"""A command's state changes through the test run it triggers, pushed by the control plane.

The one place that knows how: today from WatchFleet (`command` events, and the TEST command whose
`triggered_by_command_id` names a switch); a server-side WatchCommand RPC replaces this module alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import grpc

from fleetdeck.exits import UNREACHABLE, CliError
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc
from fleetdeck.v1 import types_pb2 as pb

log = logging.getLogger(__name__)
DEADLINE_SECONDS = 10.0
FINISHED = frozenset(
    {
        pb.COMMAND_STATE_SUCCEEDED,
        pb.COMMAND_STATE_FAILED,
        pb.COMMAND_STATE_CANCELLED,
        pb.COMMAND_STATE_TIMED_OUT,
        pb.COMMAND_STATE_REFUSED,
        pb.COMMAND_STATE_INTERRUPTED,
    }
)
MAX_REMEMBERED = 10_000


def _rank(state: int) -> int:
    """Pending, running, finished: a command's states only move forward."""
    if state in FINISHED:
        return 2
    return 1 if state == pb.COMMAND_STATE_RUNNING else 0


def expects_tests_after(command: pb.Command, host: pb.Host | None) -> bool:
    """Whether the control plane starts a test run now that `command` finished on `host` (the host
    as published with that finish): a successful switch, tests enabled and defined, auto-run on."""
    if command.operation != pb.OPERATION_SWITCH or command.state != pb.COMMAND_STATE_SUCCEEDED:
        return False
    if host is None:
        return False
    settings_known = host.HasField("test_settings")
    return (
        (not settings_known or (host.test_settings.enabled and host.test_settings.auto_run_after_switch))
        and host.test_status.state != pb.TEST_STATE_DISABLED
        and host.online
    )


@dataclass
class _Tracked:
    """One watched command and its follow-up test command."""

    command_id: str
    updates: asyncio.Queue[pb.Command | None] = field(default_factory=asyncio.Queue)
    ranks: dict[str, int] = field(default_factory=dict)
    finished: pb.Command | None = None
    follow_up_id: str = ""
    awaiting_follow_up: bool = False
    done: bool = False


class CommandWatch:
    """`async with CommandWatch(stub) as watch:` before starting commands, then
    `async for command in watch.updates(command_id)` for each: every state of the command, then of the
    test run it triggered, ending once the last of them finished."""

    def __init__(self, stub: fleet_grpc.FleetServiceAsyncStub) -> None:
        self._stub = stub
        self._call: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._hosts: dict[str, pb.Host] = {}
        self._events: list[tuple[pb.Command, pb.Host | None]] = []
        self._tracked: dict[str, _Tracked] = {}
        self._catch_ups: set[asyncio.Task[None]] = set()
        self._failure: BaseException | None = None

    async def __aenter__(self) -> CommandWatch:
        call = self._stub.WatchFleet(fleet_pb.WatchFleetRequest())
        self._call = call
        first = await call.read()  # the snapshot: from here on no change is missed
        self._on_event(first)
        self._reader = asyncio.create_task(self._read(call))
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        tasks = [task for task in (self._reader, *self._catch_ups) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # their errors were passed on already
        if self._call is not None:
            self._call.cancel()

    async def updates(self, command_id: str) -> AsyncIterator[pb.Command]:
        """Each new state of the command and of its follow-up test command, in order."""
        tracked = self._tracked.setdefault(command_id, _Tracked(command_id))
        if self._failure is not None:
            raise self._failure
        for command, host in list(self._events):  # what arrived before it was asked for
            self._offer(tracked, command, host)
        self._spawn_catch_up(tracked)
        while True:
            update = await tracked.updates.get()
            if update is None:
                if self._failure is not None:
                    raise self._failure
                return
            yield update

    # --- events ---------------------------------------------------------------------------------

    async def _read(self, call: Any) -> None:
        try:
            while (event := await call.read()) is not grpc.aio.EOF:
                self._on_event(event)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the stream broke: every waiter learns it
            self._failure = error
        else:
            self._failure = CliError("the control plane ended the fleet watch", UNREACHABLE)
        for tracked in self._tracked.values():
            tracked.updates.put_nowait(None)

    def _on_event(self, event: fleet_pb.WatchFleetResponse) -> None:
        kind = event.WhichOneof("event")
        if kind == "snapshot":
            self._hosts = {host.name: host for host in event.snapshot.hosts}
            for tracked in self._tracked.values():  # a resync: events may have been dropped
                self._spawn_catch_up(tracked)
        elif kind == "host":
            self._hosts[event.host.name] = event.host
            for tracked in self._tracked.values():
                self._on_host(tracked, event.host)
        elif kind == "command":
            host = self._hosts.get(event.command.host)
            self._events.append((event.command, host))
            del self._events[:-MAX_REMEMBERED]
            for tracked in self._tracked.values():
                self._offer(tracked, event.command, host)

    def _offer(self, tracked: _Tracked, command: pb.Command, host: pb.Host | None) -> None:
        if tracked.done:
            return
        is_root = command.id == tracked.command_id
        is_follow_up = command.triggered_by_command_id == tracked.command_id and command.id
        if not (is_root or is_follow_up) or _rank(command.state) <= tracked.ranks.get(command.id, -1):
            return  # not ours, or a state older than one already passed on
        tracked.ranks[command.id] = _rank(command.state)
        log.debug(
            "command %s (%s): %s", command.id, "follow-up" if is_follow_up else "watched", command.state
        )
        tracked.updates.put_nowait(command)
        if is_follow_up:
            tracked.follow_up_id = command.id
            if command.state in FINISHED:
                self._finish(tracked)
        elif command.state in FINISHED and tracked.finished is None:
            tracked.finished = command
            if tracked.follow_up_id:
                return
            if expects_tests_after(command, host):
                log.debug("command %s finished; a test run should follow", command.id)
                tracked.awaiting_follow_up = True
            else:
                self._finish(tracked)

    def _on_host(self, tracked: _Tracked, host: pb.Host) -> None:
        """While a follow-up is awaited: a host that went offline or started something else ends it."""
        if tracked.done or not tracked.awaiting_follow_up or tracked.follow_up_id:
            return
        if tracked.finished is None or host.name != tracked.finished.host:
            return
        other = host.running_command_id and host.running_operation != pb.OPERATION_TEST
        if not host.online or other:
            log.debug("no test run follows %s: host %s is offline or busy", tracked.command_id, host.name)
            self._finish(tracked)

    def _finish(self, tracked: _Tracked) -> None:
        tracked.done = True
        tracked.updates.put_nowait(None)

    # --- catching up after a (re)snapshot -----------------------------------------------------------

    def _spawn_catch_up(self, tracked: _Tracked) -> None:
        task = asyncio.create_task(self._catch_up(tracked))
        self._catch_ups.add(task)
        task.add_done_callback(self._catch_ups.discard)

    async def _catch_up(self, tracked: _Tracked) -> None:
        """Read the commands' current state, in case their events went out before this watch saw them."""
        try:
            got = await self._stub.GetCommand(
                fleet_pb.GetCommandRequest(command_id=tracked.command_id), timeout=DEADLINE_SECONDS
            )
            root = got.command
            if root.state in FINISHED and not tracked.follow_up_id:
                listed = await self._stub.ListCommands(
                    fleet_pb.ListCommandsRequest(host=root.host, page_size=50), timeout=DEADLINE_SECONDS
                )
                for command in reversed(listed.commands):  # oldest first
                    if command.triggered_by_command_id == root.id:
                        tracked.follow_up_id = command.id  # so the root's finish does not end it
                        self._offer(tracked, root, None)
                        self._offer(tracked, command, None)
                        return
            elif tracked.follow_up_id:
                got_follow_up = await self._stub.GetCommand(
                    fleet_pb.GetCommandRequest(command_id=tracked.follow_up_id), timeout=DEADLINE_SECONDS
                )
                self._offer(tracked, got_follow_up.command, None)
                return
            host = self._hosts.get(root.host)
            if host is not None and host.last_switch.command_id != root.id:
                host = None  # the host has moved on since: its view says nothing about this finish
            self._offer(tracked, root, host)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self._failure = error
            tracked.updates.put_nowait(None)
