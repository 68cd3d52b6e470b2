"""The CLI's pure decisions, table-driven: exit codes, sentences, whether a test run follows a
command, a host's verdict."""

from __future__ import annotations

import grpc
import pytest

from fleetdeck import exits
from fleetdeck.invocation import describe
from fleetdeck.v1 import types_pb2 as pb
from fleetdeck.verdict import HostVerdict, exit_code


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (grpc.StatusCode.FAILED_PRECONDITION, exits.REFUSED),
        (grpc.StatusCode.NOT_FOUND, exits.REFUSED),
        (grpc.StatusCode.PERMISSION_DENIED, exits.REFUSED),
        (grpc.StatusCode.UNAUTHENTICATED, exits.REFUSED),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, exits.REFUSED),
        (grpc.StatusCode.INVALID_ARGUMENT, exits.USAGE),
        (grpc.StatusCode.UNAVAILABLE, exits.UNREACHABLE),
        (grpc.StatusCode.DEADLINE_EXCEEDED, exits.UNREACHABLE),
        (grpc.StatusCode.INTERNAL, exits.FAILED),
        (grpc.StatusCode.UNKNOWN, exits.FAILED),
    ],
)
def test_exit_code_for_a_status(code: grpc.StatusCode, expected: int) -> None:
    assert exits.exit_code_for(code) == expected


def _error(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


HINT = "check that it runs and that --controlplane or FLEETDECK_CONTROLPLANE names it"


@pytest.mark.parametrize(
    ("code", "details", "sentence"),
    [
        (
            grpc.StatusCode.UNAVAILABLE,
            "failed to connect to all addresses; last error: UNKNOWN: ipv4:10.0.0.1:5: "
            "Failed to connect to remote host: Connection refused",
            f"cannot reach the control plane at cp:1 (connection refused); {HINT}",
        ),
        (
            grpc.StatusCode.UNAVAILABLE,
            "DNS resolution failed for nosuch.invalid:1",
            f"cannot reach the control plane at cp:1 (its name does not resolve); {HINT}",
        ),
        (
            grpc.StatusCode.UNAVAILABLE,
            "the control plane is shutting down; reconnect shortly",
            "the control plane at cp:1 is unavailable: the control plane is shutting down; reconnect shortly",
        ),
        (
            grpc.StatusCode.DEADLINE_EXCEEDED,
            "Deadline Exceeded",
            f"the control plane at cp:1 did not answer within 10 s; {HINT}",
        ),
        (
            grpc.StatusCode.FAILED_PRECONDITION,
            "host gpc0 is offline; the command was not queued",
            "host gpc0 is offline; the command was not queued",
        ),
    ],
)
def test_a_failed_call_is_one_sentence(code: grpc.StatusCode, details: str, sentence: str) -> None:
    assert describe(_error(code, details), "cp:1") == sentence


def _command(op: int, state: int, exit_code: int = 0) -> pb.Command:
    return pb.Command(id="c1", host="gpc0", operation=op, state=state, exit_code=exit_code)  # type: ignore[arg-type]


SWITCHED = _command(pb.OPERATION_SWITCH, pb.COMMAND_STATE_SUCCEEDED)


def _run(state: int) -> pb.TestRun:
    return pb.TestRun(id="t1", host="gpc0", state=state, generation="system-2-link", passed=1, total=2)  # type: ignore[arg-type]


TESTED_OK = _command(pb.OPERATION_TEST, pb.COMMAND_STATE_SUCCEEDED)
TESTED_BAD = _command(pb.OPERATION_TEST, pb.COMMAND_STATE_FAILED, 1)


@pytest.mark.parametrize(
    ("verdict", "outcome"),
    [
        (HostVerdict("gpc0", refused_reason="host gpc0 is offline"), "refused"),
        (HostVerdict("gpc0", command=SWITCHED), "passed"),
        (HostVerdict("gpc0", command=_command(pb.OPERATION_SWITCH, pb.COMMAND_STATE_FAILED, 1)), "failed"),
        (
            HostVerdict("gpc0", command=_command(pb.OPERATION_SWITCH, pb.COMMAND_STATE_INTERRUPTED, -1)),
            "failed",
        ),
        (
            HostVerdict(
                "gpc0", command=SWITCHED, test_command=TESTED_OK, test_run=_run(pb.TEST_STATE_PASSED)
            ),
            "passed",
        ),
        (
            HostVerdict(
                "gpc0", command=SWITCHED, test_command=TESTED_BAD, test_run=_run(pb.TEST_STATE_FAILED)
            ),
            "failed",
        ),
        (HostVerdict("gpc0", command=SWITCHED, test_command=TESTED_BAD), "failed"),  # ended without results
        (HostVerdict("gpc0", command=TESTED_BAD, test_run=_run(pb.TEST_STATE_FAILED)), "failed"),
        (HostVerdict("gpc0", command=TESTED_OK, test_run=_run(pb.TEST_STATE_PASSED)), "passed"),
        (HostVerdict("gpc0"), "failed"),
    ],
)
def test_a_hosts_outcome(verdict: HostVerdict, outcome: str) -> None:
    assert verdict.outcome == outcome


def test_the_sentence_names_the_failing_cases() -> None:
    run = _run(pb.TEST_STATE_FAILED)
    run.cases.add(name="Network", outcome=pb.TEST_OUTCOME_PASSED)
    run.cases.add(name="GPU acceleration", outcome=pb.TEST_OUTCOME_FAILED)
    verdict = HostVerdict("gpc0", command=SWITCHED, test_command=TESTED_BAD, test_run=run)
    assert verdict.sentence() == (
        "gpc0: switch succeeded; tests failed on gpc0 (system-2-link): 1/2 passed; failing: GPU acceleration"
    )


@pytest.mark.parametrize(
    ("outcomes", "code"),
    [
        ([], exits.OK),
        (["passed", "passed"], exits.OK),
        (["passed", "refused"], exits.REFUSED),
        (["refused", "failed", "passed"], exits.FAILED),
    ],
)
def test_the_exit_code_of_several_hosts_is_the_worst(outcomes: list[str], code: int) -> None:
    verdicts = {
        "passed": HostVerdict("a", command=TESTED_OK),
        "failed": HostVerdict("b", command=TESTED_BAD),
        "refused": HostVerdict("c", refused_reason="busy"),
    }
    assert exit_code(verdicts[o] for o in outcomes) == code
