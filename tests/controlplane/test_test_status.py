"""Every transition of the Tests status state machine, one table row each."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp

from controlplane.test_status import (
    AgentReported,
    Cancelled,
    Deployed,
    Event,
    FinishedWithoutRun,
    Interrupted,
    Progressed,
    RunStarted,
    RunStored,
    SettingsChanged,
    next_status,
)
from fleetdeck.v1 import types_pb2 as pb

NOW = Timestamp(seconds=500)
RAN_AT = Timestamp(seconds=400)


def status(**fields: Any) -> pb.TestStatus:
    return json_format.ParseDict(fields, pb.TestStatus(), ignore_unknown_fields=False)


def run(state: int, *outcomes: int, **fields: Any) -> pb.TestRun:
    result = pb.TestRun(id="t2", state=state, generation="gen-2", deployment_id="sw2", **fields)
    for i, outcome in enumerate(outcomes):
        result.cases.add(name=f"case {i}", outcome=outcome)
    result.total = len(outcomes)
    result.passed = sum(o == pb.TEST_OUTCOME_PASSED for o in outcomes)
    result.failed = sum(o in (pb.TEST_OUTCOME_FAILED, pb.TEST_OUTCOME_TIMED_OUT) for o in outcomes)
    return result


P, F, N = pb.TEST_OUTCOME_PASSED, pb.TEST_OUTCOME_FAILED, pb.TEST_OUTCOME_NOT_RUN
PASSED_RUN = run(pb.TEST_STATE_PASSED, P, P, finished_at=RAN_AT)
FAILED_RUN = run(pb.TEST_STATE_FAILED, P, F, finished_at=RAN_AT)
STOPPED_RUN = run(pb.TEST_STATE_CANCELLED, P, P, P, F, N, N, N, N, finished_at=RAN_AT)

LAST_PASS: dict[str, Any] = {
    "state": "TEST_STATE_PASSED",
    "verdict": "TEST_STATE_PASSED",
    "passed": 2,
    "total": 2,
    "completed": 2,
    "last_run_id": "t1",
    "generation": "gen-1",
    "deployment_id": "sw1",
    "defined_cases": 2,
}
LAST_FAIL: dict[str, Any] = {
    **LAST_PASS,
    "state": "TEST_STATE_FAILED",
    "verdict": "TEST_STATE_FAILED",
    "passed": 1,
    "failed": 1,
}
RUNNING: dict[str, Any] = {
    **LAST_PASS,
    "state": "TEST_STATE_RUNNING",
    "passed": 3,
    "failed": 0,
    "completed": 3,
    "total": 8,
    "current_case": "Disk",
    "defined_cases": 8,
}
DISABLED: dict[str, Any] = {"state": "TEST_STATE_DISABLED", "message": "No tests defined in /x"}
PROGRESS = status(state="TEST_STATE_RUNNING", passed=1, failed=1, completed=2, total=4, current_case="Gpu")

ROWS: list[tuple[str, dict[str, Any], Event, dict[str, Any]]] = [
    # --- the agent's own report (hello, heartbeat) -------------------------------------------------
    (
        "first report of a new host: not run",
        {},
        AgentReported(status(state="TEST_STATE_NOT_RUN", defined_cases=3), test_running=False),
        {"state": "TEST_STATE_NOT_RUN", "defined_cases": 3},
    ),
    (
        "first report while the agent is still running an old run: not run, never blue",
        {},
        AgentReported(status(state="TEST_STATE_RUNNING", defined_cases=3), test_running=False),
        {"state": "TEST_STATE_NOT_RUN", "defined_cases": 3},
    ),
    (
        "a report never overrides a stored verdict",
        LAST_FAIL,
        AgentReported(status(state="TEST_STATE_PASSED", defined_cases=2), test_running=False),
        LAST_FAIL,
    ),
    (
        "a report updates how many cases are defined",
        LAST_PASS,
        AgentReported(status(state="TEST_STATE_PASSED", defined_cases=5), test_running=False),
        {**LAST_PASS, "defined_cases": 5},
    ),
    (
        "no tests defined: disabled, with the agent's reason",
        LAST_PASS,
        AgentReported(
            status(state="TEST_STATE_DISABLED", message="No tests defined in /x"), test_running=False
        ),
        {
            **LAST_PASS,
            "state": "TEST_STATE_DISABLED",
            "message": "No tests defined in /x",
            "defined_cases": 0,
        },
    ),
    (
        "tests defined again after a pass: the pass is back",
        {**LAST_PASS, "state": "TEST_STATE_DISABLED", "message": "No tests defined in /x"},
        AgentReported(status(state="TEST_STATE_NOT_RUN", defined_cases=2), test_running=False),
        LAST_PASS,
    ),
    (
        "tests defined again after a failure: the failure is back",
        {**LAST_FAIL, "state": "TEST_STATE_DISABLED", "message": "No tests defined in /x"},
        AgentReported(status(state="TEST_STATE_NOT_RUN", defined_cases=2), test_running=False),
        LAST_FAIL,
    ),
    (
        "tests defined again, never run: not run",
        DISABLED,
        AgentReported(status(state="TEST_STATE_NOT_RUN", defined_cases=2), test_running=False),
        {"state": "TEST_STATE_NOT_RUN", "defined_cases": 2},
    ),
    (
        "progress in a heartbeat while our test command runs",
        {**RUNNING, "completed": 0, "passed": 0, "current_case": ""},
        AgentReported(PROGRESS, test_running=True),
        {
            **RUNNING,
            "passed": 1,
            "failed": 1,
            "completed": 2,
            "total": 4,
            "current_case": "Gpu",
            "defined_cases": 0,
        },
    ),
    (
        "progress in a heartbeat after our test command ended is ignored",
        LAST_PASS,
        AgentReported(status(state="TEST_STATE_RUNNING", defined_cases=2, completed=1), test_running=False),
        LAST_PASS,
    ),
    # --- a TEST command runs -----------------------------------------------------------------------
    (
        "run started: blue from zero, sized by the defined cases",
        {**LAST_FAIL, "defined_cases": 8},
        RunStarted(),
        {
            **LAST_FAIL,
            "state": "TEST_STATE_RUNNING",
            "passed": 0,
            "failed": 0,
            "completed": 0,
            "total": 8,
            "defined_cases": 8,
        },
    ),
    (
        "run started after a cancelled run: the old reason goes",
        {
            "state": "TEST_STATE_NOT_RUN",
            "message": "Test run cancelled after 3/8; run the tests again",
            "defined_cases": 8,
        },
        RunStarted(),
        {"state": "TEST_STATE_RUNNING", "total": 8, "defined_cases": 8},
    ),
    (
        "progress",
        {**RUNNING, "completed": 0, "passed": 0},
        Progressed(PROGRESS),
        {**RUNNING, "passed": 1, "failed": 1, "completed": 2, "total": 4, "current_case": "Gpu"},
    ),
    # --- how a TEST command ends -------------------------------------------------------------------
    (
        "run stored, every case passed: the verdict is a pass on the run's deployment",
        RUNNING,
        RunStored(PASSED_RUN, NOW),
        {
            "state": "TEST_STATE_PASSED",
            "verdict": "TEST_STATE_PASSED",
            "passed": 2,
            "total": 2,
            "completed": 2,
            "last_run_id": "t2",
            "last_run_at": "1970-01-01T00:06:40Z",
            "generation": "gen-2",
            "deployment_id": "sw2",
            "defined_cases": 8,
        },
    ),
    (
        "run stored with a failed case: the verdict is a failure",
        RUNNING,
        RunStored(FAILED_RUN, NOW),
        {
            "state": "TEST_STATE_FAILED",
            "verdict": "TEST_STATE_FAILED",
            "passed": 1,
            "failed": 1,
            "total": 2,
            "completed": 2,
            "last_run_id": "t2",
            "last_run_at": "1970-01-01T00:06:40Z",
            "generation": "gen-2",
            "deployment_id": "sw2",
            "defined_cases": 8,
        },
    ),
    (
        "run stored without a finish time: stamped with the time it was stored",
        {},
        RunStored(run(pb.TEST_STATE_PASSED, P), NOW),
        {
            "state": "TEST_STATE_PASSED",
            "verdict": "TEST_STATE_PASSED",
            "passed": 1,
            "total": 1,
            "completed": 1,
            "last_run_id": "t2",
            "last_run_at": "1970-01-01T00:08:20Z",
            "generation": "gen-2",
            "deployment_id": "sw2",
            "defined_cases": 1,
        },
    ),
    (
        "command ended without a run (killed, crashed): a failed run, saying why",
        RUNNING,
        FinishedWithoutRun("t2", NOW, "gen-2", "sw2", "exit 137"),
        {
            **RUNNING,
            "state": "TEST_STATE_FAILED",
            "verdict": "TEST_STATE_FAILED",
            "last_run_id": "t2",
            "last_run_at": "1970-01-01T00:08:20Z",
            "generation": "gen-2",
            "deployment_id": "sw2",
            "current_case": "",
            "message": "Test run ended without results: exit 137",
        },
    ),
    (
        "cancelled with its run stored: no verdict, saying how far it got",
        RUNNING,
        Cancelled(STOPPED_RUN),
        {
            "state": "TEST_STATE_NOT_RUN",
            "verdict": "TEST_STATE_PASSED",  # the cancelled run is none: the last verdict stays
            "passed": 3,
            "failed": 1,
            "total": 8,
            "completed": 4,
            "last_run_id": "t2",
            "last_run_at": "1970-01-01T00:06:40Z",
            "generation": "gen-2",
            "deployment_id": "sw2",
            "defined_cases": 8,
            "message": "Test run cancelled after 4/8; run the tests again",
        },
    ),
    (
        "cancelled before any run was stored: no verdict, progress as last reported",
        RUNNING,
        Cancelled(None),
        {
            **RUNNING,
            "state": "TEST_STATE_NOT_RUN",
            "current_case": "",
            "message": "Test run cancelled after 3/8; run the tests again",
        },
    ),
    (
        "cancelled before anything was counted",
        {"state": "TEST_STATE_RUNNING"},
        Cancelled(None),
        {"state": "TEST_STATE_NOT_RUN", "message": "Test run cancelled; run the tests again"},
    ),
    (
        "interrupted while running: no verdict",
        RUNNING,
        Interrupted(),
        {
            **RUNNING,
            "state": "TEST_STATE_NOT_RUN",
            "passed": 0,
            "completed": 0,
            "current_case": "",
            "message": "The last test run was interrupted; run the tests again",
        },
    ),
    ("interrupted after a verdict: the verdict stays", LAST_FAIL, Interrupted(), LAST_FAIL),
    # --- deployments and settings ------------------------------------------------------------------
    (
        "switch or rollback after a pass: not run on what is deployed now; the last run stays on record",
        LAST_PASS,
        Deployed(),
        {**LAST_PASS, "state": "TEST_STATE_NOT_RUN"},
    ),
    (
        "switch or rollback after a failure",
        LAST_FAIL,
        Deployed(),
        {**LAST_FAIL, "state": "TEST_STATE_NOT_RUN"},
    ),
    (
        "switch or rollback after a cancelled run: its reason goes with the deployment it was about",
        {"state": "TEST_STATE_NOT_RUN", "message": "Test run cancelled; run the tests again"},
        Deployed(),
        {"state": "TEST_STATE_NOT_RUN"},
    ),
    ("switch or rollback on a host without tests", DISABLED, Deployed(), DISABLED),
    ("switch or rollback before any report", {}, Deployed(), {}),
    (
        "tests enabled again by settings: the last verdict is back at once",
        {**LAST_PASS, "state": "TEST_STATE_DISABLED", "message": "Tests are disabled for host gpc0"},
        SettingsChanged(was_enabled=False, enabled=True),
        LAST_PASS,
    ),
    (
        "tests enabled again after a run that was interrupted (counts reset): the last verdict, not the counts",
        {
            **LAST_FAIL,
            "state": "TEST_STATE_DISABLED",
            "passed": 0,
            "failed": 0,
            "completed": 0,
            "message": "Tests are disabled for host gpc0",
        },
        SettingsChanged(was_enabled=False, enabled=True),
        {**LAST_FAIL, "passed": 0, "failed": 0, "completed": 0},
    ),
    (
        "tests defined again, a report without a verdict on record: not run, whatever the counts",
        {"state": "TEST_STATE_DISABLED", "last_run_id": "t1", "passed": 2, "total": 2, "message": "x"},
        AgentReported(status(state="TEST_STATE_NOT_RUN", defined_cases=2), test_running=False),
        {"state": "TEST_STATE_NOT_RUN", "last_run_id": "t1", "passed": 2, "total": 2, "defined_cases": 2},
    ),
    (
        "tests disabled by settings: the gray comes from the settings, the status waits for the agent",
        LAST_PASS,
        SettingsChanged(was_enabled=True, enabled=False),
        LAST_PASS,
    ),
    (
        "tests enabled again on a host that has none defined: still disabled",
        DISABLED,
        SettingsChanged(was_enabled=True, enabled=True),
        DISABLED,
    ),
]


@pytest.mark.parametrize(("before", "event", "after"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_transition(before: dict[str, Any], event: Event, after: dict[str, Any]) -> None:
    current = status(**before)
    got = next_status(current, event)
    assert json_format.MessageToDict(got) == json_format.MessageToDict(status(**after))
    assert current == status(**before)  # pure: the status it was given is left as it was


def test_every_event_has_a_row() -> None:
    kinds = {type(row[2]) for row in ROWS}
    assert kinds == set(Event.__args__)  # type: ignore[attr-defined]
