"""A host's Tests status as a state machine: `next_status(status, event)`, pure, one event at a time.

Why is Tests yellow? The answer is here and nowhere else. The rules:
- only a stored run is a verdict (PASSED or FAILED), and it records the deployment it ran on;
- a cancelled or interrupted run is never a verdict: it leaves NOT_RUN with a sentence saying why;
- a new deployment (switch or rollback) makes earlier results history: NOT_RUN until tests run again;
- what only the agent knows (whether tests exist, progress while running) comes from its reports.
The colour shown is computed from this status by `compartments`, never stored.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.timestamp_pb2 import Timestamp

from fleetdeck.v1 import types_pb2 as pb

_PROGRESS_FIELDS = ("passed", "failed", "total", "completed", "current_case")


@dataclass(frozen=True)
class AgentReported:
    """A hello or heartbeat carried the agent's own TestStatus."""

    reported: pb.TestStatus
    test_running: bool  # a TEST command of this control plane is running on the host


@dataclass(frozen=True)
class RunStarted:
    """The agent started a TEST command."""


@dataclass(frozen=True)
class Progressed:
    """Per-case progress of the running TEST command."""

    reported: pb.TestStatus


@dataclass(frozen=True)
class RunStored:
    """A TEST command ended (not cancelled) and its run is stored: the verdict."""

    run: pb.TestRun  # id, generation and deployment_id set
    now: Timestamp  # stands in for the run's finished_at when the agent did not send one


@dataclass(frozen=True)
class FinishedWithoutRun:
    """A TEST command ended (killed, crashed, timed out) without a run report: a failed run."""

    command_id: str
    finished_at: Timestamp
    generation: str
    deployment_id: str
    reason: str  # the command's message, or "exit N"


@dataclass(frozen=True)
class Cancelled:
    """A TEST command was stopped on request; `run` is what it stored before stopping, if anything."""

    run: pb.TestRun | None


@dataclass(frozen=True)
class Interrupted:
    """A TEST command's outcome became unknown (agent or control plane restarted meanwhile)."""


@dataclass(frozen=True)
class Deployed:
    """A switch or rollback succeeded: what is deployed now has not been tested."""


@dataclass(frozen=True)
class SettingsChanged:
    """The host's effective test settings changed."""

    was_enabled: bool
    enabled: bool


Event = (
    AgentReported
    | RunStarted
    | Progressed
    | RunStored
    | FinishedWithoutRun
    | Cancelled
    | Interrupted
    | Deployed
    | SettingsChanged
)

_ENDED = {
    pb.TEST_OUTCOME_PASSED,
    pb.TEST_OUTCOME_FAILED,
    pb.TEST_OUTCOME_TIMED_OUT,
    pb.TEST_OUTCOME_ERROR,
}


def next_status(status: pb.TestStatus, event: Event) -> pb.TestStatus:
    """The status after `event`; `status` itself is left as it was."""
    new = pb.TestStatus()
    new.CopyFrom(status)
    match event:
        case AgentReported(reported, test_running):
            _adopt_report(new, reported, test_running)
        case RunStarted():
            new.state = pb.TEST_STATE_RUNNING
            new.completed = new.passed = new.failed = 0
            new.current_case = ""
            new.total = new.defined_cases
            new.message = ""
        case Progressed(reported):
            new.state = pb.TEST_STATE_RUNNING
            for name in _PROGRESS_FIELDS:
                setattr(new, name, getattr(reported, name))
        case RunStored(run, now):
            new = _verdict(status, run, now)
        case FinishedWithoutRun(command_id, finished_at, generation, deployment_id, reason):
            new.state = new.verdict = pb.TEST_STATE_FAILED
            new.last_run_id = command_id
            new.last_run_at.CopyFrom(finished_at)
            new.generation = generation
            new.deployment_id = deployment_id
            new.current_case = ""
            new.message = f"Test run ended without results: {reason}"
        case Cancelled(run):
            _cancel(new, run)
        case Interrupted():
            if new.state == pb.TEST_STATE_RUNNING:
                # No result for what is deployed: not run (yellow), never a stale green or a stuck blue.
                new.state = pb.TEST_STATE_NOT_RUN
                new.current_case = ""
                new.completed = new.passed = new.failed = 0
                new.message = "The last test run was interrupted; run the tests again"
        case Deployed():
            if new.state in (pb.TEST_STATE_PASSED, pb.TEST_STATE_FAILED, pb.TEST_STATE_NOT_RUN):
                new.state = pb.TEST_STATE_NOT_RUN  # the last run's facts stay: the previous results
                new.message = ""
        case SettingsChanged(was_enabled, enabled):
            if enabled and not was_enabled and new.state == pb.TEST_STATE_DISABLED:
                _restore(new)
    return new


def _adopt_report(status: pb.TestStatus, reported: pb.TestStatus, test_running: bool) -> None:
    """Take from the agent what only it knows: whether tests exist, and progress while running.

    Results come from stored runs, not from reports, so they survive restarts and stay tied to the
    deployment they verified.
    """
    status.defined_cases = reported.defined_cases
    if status.state == pb.TEST_STATE_UNSPECIFIED and not status.last_run_id and reported.state:
        status.state = pb.TEST_STATE_NOT_RUN if reported.state == pb.TEST_STATE_RUNNING else reported.state
    if reported.state == pb.TEST_STATE_DISABLED:
        status.state = reported.state
        status.message = reported.message
    elif status.state == pb.TEST_STATE_DISABLED:
        _restore(status)
    if reported.state == pb.TEST_STATE_RUNNING and test_running:
        for name in _PROGRESS_FIELDS:
            setattr(status, name, getattr(reported, name))
        status.state = reported.state


def _restore(status: pb.TestStatus) -> None:
    """Tests are back: the last verdict (still tied to its deployment), or not run.

    From `verdict`, never from the counts: a run started, cancelled or interrupted since the verdict
    has replaced them."""
    if status.verdict in (pb.TEST_STATE_PASSED, pb.TEST_STATE_FAILED):
        status.state = status.verdict
    else:
        status.state = pb.TEST_STATE_NOT_RUN
    status.message = ""


def _verdict(previous: pb.TestStatus, run: pb.TestRun, now: Timestamp) -> pb.TestStatus:
    status = pb.TestStatus(
        state=run.state,
        verdict=run.state,
        passed=run.passed,
        failed=run.failed,
        total=run.total,
        completed=run.passed + run.failed,
        last_run_id=run.id,
        generation=run.generation,
        deployment_id=run.deployment_id,
        defined_cases=previous.defined_cases or run.total,
    )
    status.last_run_at.CopyFrom(run.finished_at if run.HasField("finished_at") else now)
    return status


def _cancel(status: pb.TestStatus, run: pb.TestRun | None) -> None:
    """A cancelled run is no verdict: not run, saying how far it got."""
    status.state = pb.TEST_STATE_NOT_RUN
    status.current_case = ""
    if run is not None:
        status.passed, status.failed, status.total = run.passed, run.failed, run.total
        status.completed = sum(c.outcome in _ENDED for c in run.cases)
        status.last_run_id = run.id
        if run.HasField("finished_at"):
            status.last_run_at.CopyFrom(run.finished_at)
        status.generation = run.generation
        status.deployment_id = run.deployment_id
    if status.total:
        status.message = f"Test run cancelled after {status.completed}/{status.total}; run the tests again"
    else:
        status.message = "Test run cancelled; run the tests again"
