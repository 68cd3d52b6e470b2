"""WatchCommand: a command's state changes through the test run it triggers, ending with the verdict.

The verdict is decided by `verdict`, a pure function of what is known (the command, its follow-up
test command, the stored run); `watch_command` feeds it from the store and the fleet's events.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import cast

from fleetdeck.operations import operation_name
from fleetdeck.v1 import command_watch_pb2 as watch_pb
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import types_pb2 as pb

from . import policy
from .commands import FINISHED_STATES, Commands
from .errors import Unavailable
from .fleet import Fleet

ENDED = FINISHED_STATES | {pb.COMMAND_STATE_INTERRUPTED}
"""States after which nothing more is reported for a command (an interrupted one ends a watch)."""


def rank(state: int) -> int:
    """Pending, running, ended: a command's states only move forward."""
    if state in ENDED:
        return 2
    return 1 if state == pb.COMMAND_STATE_RUNNING else 0


def _state(command: pb.Command) -> str:
    return pb.CommandState.Name(command.state).removeprefix("COMMAND_STATE_").lower().replace("_", " ")


def _tests(test: pb.Command, run: pb.TestRun | None) -> str:
    if run is None:
        return f"the test run ended without results ({_state(test)})"
    word = {pb.TEST_STATE_PASSED: "passed", pb.TEST_STATE_CANCELLED: "were cancelled"}.get(
        run.state, "failed"
    )
    return f"tests {word}: {run.passed}/{run.total} passed"


def verdict(
    command: pb.Command, test: pb.Command | None, run: pb.TestRun | None
) -> watch_pb.CommandVerdict | None:
    """How `command` ended, given its follow-up `test` command and that command's stored `run`;
    None while it is not decided yet (something still runs, or the follow-up is being started)."""
    if command.state not in ENDED:
        return None
    said = f"{operation_name(command.operation)} {_state(command)} on {command.host}"
    if command.operation == pb.OPERATION_TEST:
        test = command
    elif command.triggered_test_command_id:
        if test is None or test.id != command.triggered_test_command_id:
            return None
    else:
        reason = command.no_test_run_reason
        if not reason and (
            command.operation != pb.OPERATION_SWITCH or command.state != pb.COMMAND_STATE_SUCCEEDED
        ):
            reason = pb.NO_TEST_RUN_REASON_NOT_A_SUCCESSFUL_SWITCH
        if not reason:
            return None  # a successful switch whose follow-up is being decided right now
        sentence = policy.no_test_run_sentence(reason, command.host)
        return watch_pb.CommandVerdict(
            command=command, no_test_run_reason=reason, message=f"{said}; no test run follows: {sentence}"
        )
    if test.state not in ENDED:
        return None
    found = watch_pb.CommandVerdict(
        command=command, test_command=test, message=f"{said}; {_tests(test, run)}"
    )
    if run is not None:
        found.test_run.CopyFrom(run)
    return found


class _Seen:
    """The freshest known state of the watched command and its follow-up, and what was passed on."""

    def __init__(self, command: pb.Command) -> None:
        self.command = command
        self.test: pb.Command | None = None
        self.sent: dict[str, int] = {}

    def take(self, update: pb.Command) -> None:
        """Adopt an update that is ours and not older than what is known."""
        if update.id == self.command.id:
            if rank(update.state) >= rank(self.command.state):
                self.command = update
            return
        ours = update.triggered_by_command_id == self.command.id or (
            self.test is not None and update.id == self.test.id
        )
        if ours and (self.test is None or rank(update.state) >= rank(self.test.state)):
            self.test = update

    def news(self) -> list[pb.Command]:
        """The commands whose state moved on since last passed on."""
        fresh = []
        for command in (self.command, self.test):
            if command is not None and rank(command.state) > self.sent.get(command.id, -1):
                self.sent[command.id] = rank(command.state)
                fresh.append(command)
        return fresh


async def watch_command(
    fleet: Fleet, commands: Commands, command_id: str
) -> AsyncIterator[watch_pb.WatchCommandResponse]:
    """Each new state of the command and of its follow-up test command, then the verdict."""
    events = cast(AsyncGenerator[fleet_pb.WatchFleetResponse, None], fleet.hub.watch(0, fleet.snapshot))
    async with contextlib.aclosing(events):
        await anext(events)  # subscribed: from here on no change is missed
        seen = _Seen(await commands.get(command_id))
        reread = True
        while True:
            if reread:  # at the start, and after a resync that may have dropped events
                seen.take(await commands.get(command_id))
                linked = seen.command.triggered_test_command_id
                if linked:
                    test = await commands.store.get_command(linked)
                    if test is not None:
                        seen.take(test)
                reread = False
            for update in seen.news():
                yield watch_pb.WatchCommandResponse(command=update)
            test = seen.command if seen.command.operation == pb.OPERATION_TEST else seen.test
            run = None
            if test is not None and test.state in ENDED:
                run = await commands.store.get_test_run(test.id, with_output=False)
            decided = verdict(seen.command, seen.test, run)
            if decided is not None:
                yield watch_pb.WatchCommandResponse(verdict=decided)
                return
            try:
                event = await anext(events)
            except StopAsyncIteration:
                raise Unavailable(
                    "the control plane is shutting down; watch the command again shortly"
                ) from None
            kind = event.WhichOneof("event")
            if kind == "snapshot":
                reread = True
            elif kind == "command":
                seen.take(event.command)
