"""How a command ended, turned into the messages that report it (pure functions)."""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf import timestamp_pb2

from agent.process import StopReason
from fleetdeck.v1 import agent_service_pb2, types_pb2


@dataclass
class Outcome:
    """How an operation ended, before it becomes a CommandFinished."""

    exit_code: int
    stopped: StopReason | None = None
    error: str = ""
    test_run: types_pb2.TestRun | None = None
    message: str = ""


def _now() -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.GetCurrentTime()
    return ts


def command_finished(
    command_id: str, outcome: Outcome, seconds: float, facts: types_pb2.HostFacts
) -> agent_service_pb2.CommandFinished:
    """The CommandFinished for an outcome (its seq is set when it is sent)."""
    finished = agent_service_pb2.CommandFinished(
        command_id=command_id, exit_code=outcome.exit_code, finished_at=_now(), facts=facts
    )
    if outcome.stopped is StopReason.CANCELLED:
        finished.state = types_pb2.COMMAND_STATE_CANCELLED
        finished.message = f"stopped on request after {seconds:.0f} s"
    elif outcome.stopped is StopReason.TIMED_OUT:
        finished.state = types_pb2.COMMAND_STATE_TIMED_OUT
        finished.message = f"killed after its timeout ({seconds:.0f} s)"
    elif outcome.error or outcome.exit_code != 0:
        finished.state = types_pb2.COMMAND_STATE_FAILED
        finished.message = outcome.error or f"exited with code {outcome.exit_code}"
    else:
        finished.state = types_pb2.COMMAND_STATE_SUCCEEDED
        finished.message = f"succeeded in {seconds:.1f} s"
    if outcome.message:
        finished.message = f"{outcome.message} ({finished.message})" if outcome.stopped else outcome.message
    return finished


def outcome_of_run(run: types_pb2.TestRun, cancelled: bool) -> Outcome:
    """The outcome of a TEST command from its run: timed out when a case hit the run's deadline."""
    stopped = None
    if cancelled:
        stopped = StopReason.CANCELLED
    elif any(c.outcome == types_pb2.TEST_OUTCOME_TIMED_OUT for c in run.cases):
        stopped = StopReason.TIMED_OUT
    message = f"{run.passed}/{run.total} tests passed"
    not_passed = [c.name for c in run.cases if c.outcome != types_pb2.TEST_OUTCOME_PASSED]
    if not_passed:
        message += "; not passed: " + ", ".join(not_passed)
    return Outcome(run.exit_code, stopped, "", run, message)


def status_of(run: types_pb2.TestRun) -> types_pb2.TestStatus:
    """The TestStatus a finished run leaves behind."""
    return types_pb2.TestStatus(
        state=run.state,
        passed=run.passed,
        failed=run.failed,
        total=run.total,
        completed=run.total,
        last_run_id=run.id,
        last_run_at=run.finished_at,
        generation=run.generation,
    )
