"""The life of a command: started by the API, run by an agent, finished, and what follows a switch.

Longer than most modules: start, cancel, reconcile after a reconnect and finish are one sequence of
durable steps over the same command, and read best side by side.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import cast

from google.protobuf.duration_pb2 import Duration

from fleetdeck.operations import OPERATIONS, operation_name
from fleetdeck.tasks import cancel_and_wait, spawn_logged
from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import types_pb2 as pb

from . import case_history, history, policy
from . import test_status as tests
from .errors import FailedPrecondition, InvalidArgument, NotFound
from .fleet import Fleet, HostState
from .notifier import Notifier
from .output import OutputFollowers
from .timeutil import now_ts

log = logging.getLogger(__name__)

FINISHED_STATES = frozenset(
    {
        pb.COMMAND_STATE_SUCCEEDED,
        pb.COMMAND_STATE_FAILED,
        pb.COMMAND_STATE_CANCELLED,
        pb.COMMAND_STATE_TIMED_OUT,
        pb.COMMAND_STATE_REFUSED,
    }
)


AUTO_RUN_REQUESTER = "control plane"
"""Who requested a test run the control plane started itself after a switch."""


def new_command_id() -> str:
    """A fresh, unguessable command id."""
    return uuid.uuid4().hex


class Commands:
    """Starts, cancels and finishes commands; keeps the host's running command and results in step."""

    def __init__(self, fleet: Fleet, followers: OutputFollowers) -> None:
        self.fleet = fleet
        self.store = fleet.store
        self.followers = followers
        self._background: set[asyncio.Task[None]] = set()
        self._stored_runs: dict[str, pb.TestRun] = {}  # stored, awaiting their command's end
        self.notifier: Notifier | None = None  # queues webhook notifications with command results

    # --- API side ------------------------------------------------------------------------------

    async def run_operation(
        self,
        hosts: Sequence[str],
        operation: int,
        command_timeout: Duration | None = None,
        queue: Callable[[HostState, pb.Operation, Duration | None], Awaitable[pb.Command]] | None = None,
        *,
        requested_by: str = "",
    ) -> list[fleet_pb.OperationResult]:
        """Start `operation` on each host (or `queue` it for an offline one); a host that may not start
        it (unknown, offline, busy) is a refusal in its result. FailedPrecondition when every host
        refused (NotFound when none exists)."""
        if operation not in OPERATIONS:
            raise InvalidArgument(
                f"unknown operation {operation}; expected one of pull, switch, test, rollback"
            )
        if not hosts:
            raise InvalidArgument("name at least one host")
        if len(set(hosts)) != len(hosts):
            raise InvalidArgument("a host is named twice; name each host once")
        results = []
        unknown = 0
        for name in hosts:  # each host refuses on its own: unknown, offline or busy
            result = fleet_pb.OperationResult(host=name)
            known = self.fleet.hosts.get(name)
            if queue is not None and known is not None and not known.online:
                command = await queue(known, cast(pb.Operation, operation), command_timeout)
                result.command_id, result.queued = command.id, True
                results.append(result)
                continue
            try:
                command = await self.start(
                    self.fleet.state(name),
                    cast(pb.Operation, operation),
                    command_timeout=command_timeout,
                    requested_by=requested_by,
                )
                result.command_id = command.id
            except NotFound as refusal:
                unknown += 1
                result.refused_reason = str(refusal)
            except FailedPrecondition as refusal:
                result.refused_reason = str(refusal)
            results.append(result)
        if all(r.refused_reason for r in results):
            error = NotFound if unknown == len(results) else FailedPrecondition
            raise error("; ".join(r.refused_reason for r in results))
        return results

    async def start(
        self,
        state: HostState,
        operation: pb.Operation,
        *,
        command_timeout: Duration | None = None,
        trigger: pb.TestTrigger = pb.TEST_TRIGGER_UNSPECIFIED,
        triggered_by: str = "",
        requested_by: str = "",
        command_id: str = "",
        queued: pb.Command | None = None,
    ) -> pb.Command:
        """Store a command and send it to the host's agent; FailedPrecondition if it may not start."""
        reason = policy.refusal_reason(self.fleet.view_of(state), operation)
        if reason is not None:
            raise FailedPrecondition(reason)
        if operation == pb.OPERATION_TEST and not trigger:
            trigger = pb.TEST_TRIGGER_MANUAL
        timeout = command_timeout
        if timeout is None or (timeout.seconds == 0 and timeout.nanos == 0):
            timeout = (
                state.host.test_settings.timeout
                if operation == pb.OPERATION_TEST
                else self.fleet.settings.operation_timeout
            )
        command = pb.Command(
            id=command_id or new_command_id(),
            host=state.host.name,
            operation=operation,
            state=pb.COMMAND_STATE_PENDING,
            exit_code=-1,
            created_at=now_ts(),
            trigger=trigger,
            timeout=timeout,
            triggered_by_command_id=triggered_by,
            requested_by=requested_by,
        )
        if queued is not None:  # a queued command starts as itself: same id, time asked, timeout
            command.id, command.requested_by = queued.id, queued.requested_by
            command.timeout.CopyFrom(queued.timeout)
            command.created_at.CopyFrom(queued.created_at)
        # Reserve the host before the first await, so two concurrent calls cannot both start.
        self.fleet.reserve(state, command)
        try:
            if queued is not None:
                await self.store.update_command(command)
            else:
                await self.store.insert_command(command)
        except BaseException:
            self.fleet.release(state, command.id)
            raise
        run = agent_pb.RunCommand(
            command_id=command.id, operation=operation, timeout=timeout, trigger=trigger
        )
        wanted = self.fleet.desired_for(state)
        if operation == pb.OPERATION_PULL and wanted is not None:
            run.target_commit = wanted.commit
        if not await self.fleet.deliver(state, agent_pb.ConnectResponse(run_command=run)):
            # The host went away while the command was being stored: it was never sent.
            command.state = pb.COMMAND_STATE_REFUSED
            command.message = f"host {command.host} went offline before the command could be sent"
            command.finished_at.GetCurrentTime()
            self.fleet.command_refused(state, command.id)
            await self.store.update_command(command)
            raise FailedPrecondition(f"host {command.host} is offline; the command was not queued")
        log.info("started %s on %s as command %s", operation_name(operation), command.host, command.id)
        self.fleet.changed(state)
        self._publish(command)
        return command

    async def cancel(self, command_id: str) -> pb.Command:
        """Ask the agent to stop a command."""
        command = await self.get(command_id)
        if command.state == pb.COMMAND_STATE_QUEUED:
            await self.end_queued(command, "cancelled while queued; it never ran")
            return command
        if command.state in FINISHED_STATES:
            state_name = pb.CommandState.Name(command.state).removeprefix("COMMAND_STATE_").lower()
            raise FailedPrecondition(f"command {command_id} already finished ({state_name}); nothing to stop")
        state = self.fleet.state(command.host)
        stop = agent_pb.ConnectResponse(cancel_command=agent_pb.CancelCommand(command_id=command_id))
        if not await self.fleet.deliver(state, stop):
            raise FailedPrecondition(
                f"host {command.host} is offline; the stop request cannot reach it — it will be stopped "
                "only when you retry after the host reconnects"
            )
        log.info("asked %s to stop command %s", command.host, command_id)
        return command

    async def end_queued(
        self, command: pb.Command, message: str, state: pb.CommandState = pb.COMMAND_STATE_CANCELLED
    ) -> None:
        """A queued command that will never run (cancelled, expired, or refused when its host came
        back): `state` (CANCELLED unless said) with `message`."""
        command.state = state
        command.message = message
        command.finished_at.CopyFrom(now_ts())
        command.ClearField("queue_expires_at")
        await self.store.update_command(command)
        log.info(
            "queued command %s (%s on %s): %s",
            command.id,
            operation_name(command.operation),
            command.host,
            message,
        )
        self._publish(command)
        self.followers.finish(command)

    async def get(self, command_id: str) -> pb.Command:
        """A stored command; NotFound otherwise."""
        found = await self.store.get_command(command_id)
        if found is None:
            raise NotFound(f"no command with id {command_id}")
        return found

    # --- agent side ----------------------------------------------------------------------------

    async def unfinished(self, state: HostState, hello: agent_pb.Hello) -> list[pb.Command]:
        """The host's commands that a hello must account for (taken before the new stream is attached)."""
        return await self.store.unfinished_commands(
            state.host.name, include_interrupted=bool(hello.running_command_ids)
        )

    async def reconcile(
        self, state: HostState, hello: agent_pb.Hello, unfinished: list[pb.Command]
    ) -> list[str]:
        """Match the agent's report of running commands against ours; return the interrupted ids."""
        running = set(hello.running_command_ids)
        pending = set(hello.unacknowledged_command_ids)
        interrupted = []
        for command in unfinished:
            if command.id in pending:
                continue
            if command.id in running:
                if command.state != pb.COMMAND_STATE_RUNNING:
                    command.state = pb.COMMAND_STATE_RUNNING
                    command.message = ""
                    await self.store.update_command(command)
                    self._publish(command)
                self.fleet.reserve(state, command)
                continue
            if command.state == pb.COMMAND_STATE_INTERRUPTED:
                continue
            command.state = pb.COMMAND_STATE_INTERRUPTED
            command.message = "the agent reconnected without this command; its outcome is unknown"
            await self.store.update_command(command)
            await self._interrupted(state, command)
            interrupted.append(command.id)
        return interrupted

    async def interrupt_all_unfinished(self) -> None:
        """At start-up: commands that were running are interrupted until their agent reports them
        (not those of hosts another replica holds: their agents are connected and report there)."""
        for command in await self.store.unfinished_commands():
            held = self.fleet.hosts.get(command.host)
            if held is not None and held.held_by:
                continue
            command.state = pb.COMMAND_STATE_INTERRUPTED
            command.message = "the control plane restarted while it ran; waiting for its agent to report"
            await self.store.update_command(command)
            state = self.fleet.hosts.get(command.host)
            if state is not None:
                await self._interrupted(state, command)

    async def agents_lost(self, now: float | None = None) -> None:
        """A command whose agent has been gone longer than the offline bound shows "agent lost"
        (interrupted) instead of running forever; it runs again if the agent comes back with it.
        With replicas, the leading one does this."""
        if not self.fleet.placement.leading:
            return
        for state in self.fleet.lost(time.monotonic() if now is None else now):
            command = await self.store.get_command(state.host.running_command_id)
            if command is None or command.state in FINISHED_STATES:
                self.fleet.release(state, state.host.running_command_id)
                continue
            command.state = pb.COMMAND_STATE_INTERRUPTED
            command.message = (
                f"agent lost: host {state.host.name} has been gone for more than "
                f"{self.fleet.offline_after_seconds:.0f} s; the outcome is unknown until it reconnects"
            )
            await self.store.update_command(command)
            log.warning("command %s on %s: agent lost", command.id, state.host.name)
            await self._interrupted(state, command)

    async def _interrupted(self, state: HostState, command: pb.Command) -> None:
        """Show an interrupted command for what it is: its outcome is unknown, nothing runs any more."""
        event: tests.Event | None = None
        if command.operation == pb.OPERATION_TEST:
            # A run stored before the interruption is still a verdict; without one, nothing is known.
            run = self._stored_runs.pop(command.id, None) or await self.store.get_test_run(
                command.id, with_output=False
            )
            event = tests.RunStored(run, now_ts()) if run is not None else tests.Interrupted()
        self.fleet.command_interrupted(state, command, event)
        self._publish(command)

    async def on_started(self, state: HostState, started: agent_pb.CommandStarted) -> None:
        """The agent began running a command."""
        found = await self.store.get_command(started.command_id)
        if found is None or found.host != state.host.name:
            log.warning("host %s started unknown command %s", state.host.name, started.command_id)
            return
        command = found
        if command.state in FINISHED_STATES:
            return
        command.state = pb.COMMAND_STATE_RUNNING
        command.message = ""
        command.started_at.CopyFrom(started.started_at if started.HasField("started_at") else now_ts())
        await self.store.update_command(command)
        self.fleet.command_started(state, command)
        self._publish(command)

    async def on_refused(self, state: HostState, refused: agent_pb.CommandRefused) -> None:
        """The agent would not start a command."""
        found = await self.store.get_command(refused.command_id)
        if found is None or found.host != state.host.name or found.state in FINISHED_STATES:
            return
        command = found
        command.state = pb.COMMAND_STATE_REFUSED
        command.message = refused.reason
        command.finished_at.GetCurrentTime()
        await self.store.update_command(command)
        self.fleet.command_refused(state, command.id)
        self._publish(command)
        self.followers.finish(command)

    async def on_test_run(self, state: HostState, report: agent_pb.TestRunReport) -> None:
        """A test run's final record: store it with every case. It becomes the verdict when its
        command ends, unless that command was cancelled (a cancelled run is no verdict)."""
        run = pb.TestRun()
        run.CopyFrom(report.run)
        run.id = report.command_id
        run.host = state.host.name
        found = await self.store.get_command(report.command_id)
        if found is not None:
            run.trigger = found.trigger
            run.triggered_by_command_id = found.triggered_by_command_id
        run.deployment_id = state.host.current_deployment_id
        summaries = await history.classify(self.store, run)
        await self.store.put_test_run(run, report.seq, host=state.host, summaries=summaries)
        if found is None or found.state not in FINISHED_STATES:  # not a resend of a finished run
            self._stored_runs[run.id] = run
            self.fleet.counts.test_run_stored(run)
        spawn_logged(
            self._prune(state.host.name),
            name=f"prune-test-runs-{state.host.name}",
            logger=log,
            keep=self._background,
        )

    async def on_finished(self, state: HostState, finished: agent_pb.CommandFinished) -> pb.Command | None:
        """A command ended: record it, update the host's facts and compartments, auto-run tests."""
        found = await self.store.get_command(finished.command_id)
        if found is None or found.host != state.host.name:
            log.warning("host %s finished unknown command %s", state.host.name, finished.command_id)
            return None
        command = found
        if command.state in FINISHED_STATES:
            return command  # a resend after a reconnect: already recorded
        command.state = finished.state if finished.state in FINISHED_STATES else pb.COMMAND_STATE_FAILED
        command.exit_code = finished.exit_code
        command.message = finished.message
        command.finished_at.CopyFrom(finished.finished_at if finished.HasField("finished_at") else now_ts())
        host = state.host
        event: tests.Event | None = None
        run: pb.TestRun | None = None
        announcement = None
        if command.operation == pb.OPERATION_TEST:
            run = self._stored_runs.pop(command.id, None) or await self.store.get_test_run(
                command.id, with_output=False
            )
            event = self._test_ended(state, command, run, finished.facts)
            if isinstance(event, tests.RunStored) and event.run.state == pb.TEST_STATE_FAILED:
                announcement = await self._failure(state, event.run)  # sent once a rollback can start
        notices = []
        if self.notifier is not None:
            verdict = event.run if isinstance(event, tests.RunStored) else None
            notices = await self.notifier.for_finished_command(
                command,
                verdict,
                announcement,
                (finished.facts if finished.facts.ByteSize() else host.facts).generation,
            )
        self.fleet.command_finished(state, command, finished.facts, event)
        command.no_test_run_reason = policy.no_test_run_reason(
            self.fleet.view_of(state), command.operation, command.state
        )
        await self.store.finish_command(command, finished.seq, host, notices)
        log.info(
            "command %s (%s on %s) finished: %s, exit %d",
            command.id,
            operation_name(command.operation),
            host.name,
            pb.CommandState.Name(command.state),
            command.exit_code,
        )
        self.fleet.changed(state, durable=True)
        if not command.no_test_run_reason:
            # The test command names its trigger when stored: from then on the switch names its run.
            try:
                test = await self.start(
                    state,
                    pb.OPERATION_TEST,
                    trigger=pb.TEST_TRIGGER_AFTER_SWITCH,
                    triggered_by=command.id,
                    requested_by=AUTO_RUN_REQUESTER,
                )
                command.triggered_test_command_id = test.id
            except FailedPrecondition as refusal:
                log.info("tests not started after switch on %s: %s", host.name, refusal)
                command.no_test_run_reason = pb.NO_TEST_RUN_REASON_HOST_UNAVAILABLE
                await self.store.update_command(command)
        self._publish(command)  # with its test run, or why none follows: watchers need not guess
        self.followers.finish(command)
        if notices and self.notifier is not None:
            self.notifier.wake()
        if announcement is not None:
            # Offered only where a rollback would start now (online, idle, a generation to go back to).
            rollback = policy.refusal_reason(self.fleet.view_of(state), pb.OPERATION_ROLLBACK)
            announcement.rollback_available = rollback is None
            self.fleet.hub.publish(fleet_pb.WatchFleetResponse(tests_failed=announcement))
            log.info("%s", announcement.message)
        return command

    # --- helpers -------------------------------------------------------------------------------

    @staticmethod
    def _test_ended(
        state: HostState, command: pb.Command, run: pb.TestRun | None, facts: pb.HostFacts
    ) -> tests.Event:
        """What the end of a TEST command tells the Tests status."""
        if command.state == pb.COMMAND_STATE_CANCELLED or (
            run is not None and run.state == pb.TEST_STATE_CANCELLED
        ):
            return tests.Cancelled(run)
        if run is not None:
            return tests.RunStored(run, command.finished_at)
        # The run ended without its report (killed, crashed): that is a failed run, not a pass.
        return tests.FinishedWithoutRun(
            command_id=command.id,
            finished_at=command.finished_at,
            generation=(facts if facts.ByteSize() else state.host.facts).generation,
            deployment_id=state.host.current_deployment_id,
            reason=command.message or f"exit {command.exit_code}",
        )

    async def _failure(self, state: HostState, run: pb.TestRun) -> fleet_pb.TestsFailed:
        """What a failed run announces: its failing cases, how each reads, and what to offer first."""
        with_output = await self.store.get_test_run(run.id) or run  # the first output lines go along
        cases = await history.failed_cases(self.store, with_output)
        offer = case_history.offer(cases, run.generation)
        failed = [c.name for c in cases]
        message = f"Tests failed on {state.host.name}"
        if failed:
            message += ": " + ", ".join(failed)
        return fleet_pb.TestsFailed(
            host=state.host.name,
            run_id=run.id,
            failed_cases=failed,
            message=message,
            generation=run.generation,
            cases=cases,
            offered_operations=offer.operations,
            advice=offer.advice,
        )

    def _publish(self, command: pb.Command) -> None:
        if command.state in FINISHED_STATES or command.state == pb.COMMAND_STATE_INTERRUPTED:
            self.fleet.counts.command_ended(command)
        self.fleet.hub.publish(fleet_pb.WatchFleetResponse(command=command))

    async def _prune(self, host: str) -> None:
        removed = await self.store.prune_test_runs(host, self.fleet.settings.test_history_limit or 200)
        if removed:
            log.info("deleted %d old test runs of %s", removed, host)

    async def stop(self) -> None:
        """Cancel and await background work (history pruning); safe to call twice."""
        await cancel_and_wait(*self._background)
