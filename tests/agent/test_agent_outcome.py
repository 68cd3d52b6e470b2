"""How outcomes become CommandFinished messages: table-driven."""

from __future__ import annotations

import pytest

from agent.outcome import Outcome, command_finished, outcome_of_run
from agent.process import StopReason
from fleetdeck.v1 import types_pb2


@pytest.mark.parametrize(
    ("outcome", "state", "message"),
    [
        (Outcome(0), "COMMAND_STATE_SUCCEEDED", "succeeded in 2.0 s"),
        (Outcome(3), "COMMAND_STATE_FAILED", "exited with code 3"),
        (
            Outcome(-1, error="cannot run x: No such file"),
            "COMMAND_STATE_FAILED",
            "cannot run x: No such file",
        ),
        (Outcome(-1, StopReason.CANCELLED), "COMMAND_STATE_CANCELLED", "stopped on request after 2 s"),
        (Outcome(-1, StopReason.TIMED_OUT), "COMMAND_STATE_TIMED_OUT", "killed after its timeout (2 s)"),
        (Outcome(1, message="7/8 tests passed"), "COMMAND_STATE_FAILED", "7/8 tests passed"),
        (
            Outcome(1, StopReason.TIMED_OUT, message="1/2 tests passed"),
            "COMMAND_STATE_TIMED_OUT",
            "1/2 tests passed (killed after its timeout (2 s))",
        ),
    ],
)
def test_command_finished(outcome: Outcome, state: str, message: str) -> None:
    finished = command_finished("c1", outcome, 2.0, types_pb2.HostFacts(generation="system-2-link"))
    assert types_pb2.CommandState.Name(finished.state) == state
    assert finished.message == message
    assert finished.exit_code == outcome.exit_code
    assert finished.facts.generation == "system-2-link"


def _run(*outcomes: types_pb2.TestOutcome) -> types_pb2.TestRun:
    cases = [types_pb2.TestCaseResult(name=f"case {i}", outcome=o) for i, o in enumerate(outcomes)]
    passed = sum(o == types_pb2.TEST_OUTCOME_PASSED for o in outcomes)
    return types_pb2.TestRun(
        cases=cases, passed=passed, total=len(cases), exit_code=int(passed != len(cases))
    )


def test_a_run_with_a_timed_out_case_is_a_timed_out_command() -> None:
    run = _run(
        types_pb2.TEST_OUTCOME_PASSED, types_pb2.TEST_OUTCOME_TIMED_OUT, types_pb2.TEST_OUTCOME_NOT_RUN
    )
    outcome = outcome_of_run(run, cancelled=False)
    assert outcome.stopped is StopReason.TIMED_OUT
    assert outcome.message == "1/3 tests passed; not passed: case 1, case 2"


def test_a_passing_run_names_no_case() -> None:
    outcome = outcome_of_run(_run(types_pb2.TEST_OUTCOME_PASSED), cancelled=False)
    assert (outcome.stopped, outcome.exit_code, outcome.message) == (None, 0, "1/1 tests passed")
