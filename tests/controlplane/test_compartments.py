"""Table-driven tests of the five compartments computed from a host's stored facts."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import timestamp_pb2

from controlplane.compartments import compute_compartments, status_css
from fleetdeck.v1 import types_pb2

T = types_pb2
UNKNOWN = T.COMPARTMENT_STATUS_UNKNOWN
DISABLED = T.COMPARTMENT_STATUS_DISABLED
OK = T.COMPARTMENT_STATUS_OK
OUTDATED = T.COMPARTMENT_STATUS_OUTDATED
ERROR = T.COMPARTMENT_STATUS_ERROR
WORKING = T.COMPARTMENT_STATUS_WORKING

AGENT, GIT, LOCK, SYSTEM, TESTS = 0, 1, 2, 3, 4

C1 = "abc1234" + "1" * 33
C2 = "def5678" + "2" * 33
L1 = "0a1b2c3" + "3" * 57
L2 = "4d5e6f7" + "4" * 57
GEN = "system-42-link"
OLD_GEN = "system-41-link"
DESIRED = T.DesiredState(commit=C1, lock_hash=L1)
NO_DESIRED = T.DesiredState()

FACTS: dict[str, Any] = {
    "agent_version": "0.1.0",
    "os": "nixos",
    "commit": C1,
    "lock_hash": L1,
    "generation": GEN,
}
SWITCH_OK: dict[str, Any] = {
    "command_id": "sw1",
    "state": T.COMMAND_STATE_SUCCEEDED,
    "exit_code": 0,
    "finished_at": {"seconds": 100},
    "commit": C1,
    "lock_hash": L1,
    "generation": GEN,
}
SWITCH_FAILED: dict[str, Any] = {**SWITCH_OK, "state": T.COMMAND_STATE_FAILED, "exit_code": 1}
ROLLBACK_OK: dict[str, Any] = {
    "command_id": "rb1",
    "state": T.COMMAND_STATE_SUCCEEDED,
    "finished_at": {"seconds": 300},
    "commit": C1,
    "lock_hash": L1,
    "generation": OLD_GEN,
}
PASSED: dict[str, Any] = {
    "state": T.TEST_STATE_PASSED,
    "passed": 8,
    "total": 8,
    "completed": 8,
    "last_run_id": "t1",
    "last_run_at": {"seconds": 200},
    "generation": GEN,
    "deployment_id": "sw1",
    "defined_cases": 8,
}
FAILED: dict[str, Any] = {**PASSED, "state": T.TEST_STATE_FAILED, "passed": 7, "failed": 1}


def make_host(**fields: Any) -> types_pb2.Host:
    """A host named gpc0 with exactly the given fields."""
    return types_pb2.Host(name="gpc0", **fields)


def healthy(**overrides: Any) -> types_pb2.Host:
    """A host where everything is current, switched and tested, with some fields replaced."""
    fields: dict[str, Any] = {
        "online": True,
        "facts": FACTS,
        "last_switch": SWITCH_OK,
        "current_deployment_id": "sw1",
        "test_status": PASSED,
        "test_settings": {"enabled": True, "auto_run_after_switch": True},
    }
    return make_host(**{**fields, **overrides})


def compartment(
    index: int, host: types_pb2.Host, desired: types_pb2.DesiredState | None = DESIRED
) -> types_pb2.Compartment:
    return compute_compartments(host, desired, "0.1.0")[index]


def test_returns_five_compartments_in_kind_order() -> None:
    kinds = [c.kind for c in compute_compartments(healthy(), DESIRED, "0.1.0")]
    assert kinds == [
        T.COMPARTMENT_KIND_AGENT,
        T.COMPARTMENT_KIND_GIT,
        T.COMPARTMENT_KIND_LOCK,
        T.COMPARTMENT_KIND_SYSTEM,
        T.COMPARTMENT_KIND_TESTS,
    ]


def test_healthy_host_is_green_everywhere() -> None:
    statuses = [c.status for c in compute_compartments(healthy(), DESIRED, "0.1.0")]
    assert statuses == [OK] * 5


def test_host_that_never_reported_is_gray_where_there_is_no_signal() -> None:
    statuses = [c.status for c in compute_compartments(make_host(), DESIRED, "0.1.0")]
    assert statuses == [UNKNOWN] * 5


@pytest.mark.parametrize(
    ("host", "expected", "status", "message"),
    [
        pytest.param(make_host(), "0.1.0", UNKNOWN, "Agent never reported its version", id="never-reported"),
        pytest.param(healthy(), "0.1.0", OK, "Agent 0.1.0 is current", id="current"),
        pytest.param(
            healthy(facts={**FACTS, "agent_version": "0.0.9"}),
            "0.1.0",
            OUTDATED,
            "Agent 0.0.9, expected 0.1.0",
            id="outdated",
        ),
        pytest.param(healthy(online=False), "0.1.0", OK, "Agent 0.1.0 is current", id="offline-keeps-colour"),
    ],
)
def test_agent(host: types_pb2.Host, expected: str, status: int, message: str) -> None:
    got = compute_compartments(host, DESIRED, expected)[AGENT]
    assert (got.status, got.message) == (status, message)


def test_agent_expects_the_desired_agent_version_when_set() -> None:
    desired = T.DesiredState(commit=C1, lock_hash=L1, agent_version="0.2.0")
    got = compute_compartments(healthy(), desired, "0.1.0")[AGENT]
    assert (got.status, got.message) == (OUTDATED, "Agent 0.1.0, expected 0.2.0")


@pytest.mark.parametrize(
    ("host", "desired", "status", "message"),
    [
        pytest.param(
            healthy(),
            None,
            ERROR,
            "No desired state set; cannot verify against desired",
            id="desired-none",
        ),
        pytest.param(
            healthy(),
            NO_DESIRED,
            ERROR,
            "No desired state set; cannot verify against desired",
            id="desired-empty",
        ),
        pytest.param(
            healthy(),
            T.DesiredState(lock_hash=L1),
            ERROR,
            "No desired commit set; cannot verify against desired",
            id="desired-commit-missing",
        ),
        pytest.param(
            healthy(facts={**FACTS, "commit": ""}),
            DESIRED,
            UNKNOWN,
            "Host has not reported its config commit yet",
            id="host-commit-unknown",
        ),
        pytest.param(healthy(), DESIRED, OK, "At abc1234", id="current"),
        pytest.param(
            healthy(facts={**FACTS, "commit": C2}),
            DESIRED,
            OUTDATED,
            "At def5678, desired abc1234 — pull to update",
            id="outdated",
        ),
        pytest.param(
            healthy(
                facts={**FACTS, "commit": C2}, running_command_id="p1", running_operation=T.OPERATION_PULL
            ),
            DESIRED,
            WORKING,
            "Pulling abc1234",
            id="pull-running",
        ),
        pytest.param(
            healthy(running_command_id="s2", running_operation=T.OPERATION_SWITCH),
            DESIRED,
            OK,
            "At abc1234",
            id="switch-running-is-not-git-work",
        ),
    ],
)
def test_git(host: types_pb2.Host, desired: types_pb2.DesiredState | None, status: int, message: str) -> None:
    got = compartment(GIT, host, desired)
    assert (got.status, got.message) == (status, message)


@pytest.mark.parametrize(
    ("host", "desired", "status", "message"),
    [
        pytest.param(
            healthy(),
            None,
            ERROR,
            "No desired state set; cannot verify against desired",
            id="desired-none",
        ),
        pytest.param(
            healthy(),
            T.DesiredState(commit=C1),
            ERROR,
            "No desired lock hash set; cannot verify against desired",
            id="desired-lock-missing",
        ),
        pytest.param(
            healthy(facts={**FACTS, "lock_hash": ""}),
            DESIRED,
            UNKNOWN,
            "No flake.lock reported by the host",
            id="no-flake-lock",
        ),
        pytest.param(healthy(), DESIRED, OK, "flake.lock at 0a1b2c3", id="current"),
        pytest.param(
            healthy(facts={**FACTS, "lock_hash": L2}),
            DESIRED,
            OUTDATED,
            "flake.lock at 4d5e6f7, desired 0a1b2c3 — pull to update",
            id="outdated",
        ),
        pytest.param(
            healthy(running_command_id="p1", running_operation=T.OPERATION_PULL),
            DESIRED,
            WORKING,
            "Pulling flake.lock 0a1b2c3",
            id="pull-running",
        ),
    ],
)
def test_lock(
    host: types_pb2.Host, desired: types_pb2.DesiredState | None, status: int, message: str
) -> None:
    got = compartment(LOCK, host, desired)
    assert (got.status, got.message) == (status, message)


def test_git_and_lock_since_is_the_pull_that_brought_the_checkout_there() -> None:
    pull = {"command_id": "p1", "state": T.COMMAND_STATE_SUCCEEDED, "finished_at": {"seconds": 50}}
    host = healthy(last_pull={**pull, "commit": C1, "lock_hash": L1})
    assert compartment(GIT, host).since.seconds == 50
    assert compartment(LOCK, host).since.seconds == 50
    assert not compartment(GIT, healthy()).HasField("since")


SWITCH_TIMED_OUT = {**SWITCH_OK, "state": T.COMMAND_STATE_TIMED_OUT, "exit_code": -1}
SWITCH_CANCELLED = {**SWITCH_OK, "state": T.COMMAND_STATE_CANCELLED, "exit_code": -1}
SWITCH_INTERRUPTED = {**SWITCH_OK, "state": T.COMMAND_STATE_INTERRUPTED, "exit_code": -1}
ROLLBACK_FAILED = {**ROLLBACK_OK, "state": T.COMMAND_STATE_FAILED, "exit_code": 2}
EARLY_ROLLBACK = {**ROLLBACK_OK, "finished_at": {"seconds": 10}}


@pytest.mark.parametrize(
    ("host", "desired", "status", "message"),
    [
        pytest.param(healthy(), DESIRED, OK, "Switched to system-42-link", id="switched"),
        pytest.param(
            healthy(
                facts={**FACTS, "generation": ""},
                last_switch={**SWITCH_OK, "generation": ""},
            ),
            DESIRED,
            OK,
            "Switched to abc1234",
            id="switched-without-generation",
        ),
        pytest.param(
            healthy(),
            None,
            OUTDATED,
            "Cannot verify against desired: no desired state set",
            id="desired-none",
        ),
        pytest.param(
            healthy(),
            NO_DESIRED,
            OUTDATED,
            "Cannot verify against desired: no desired state set",
            id="desired-empty",
        ),
        pytest.param(
            healthy(running_command_id="s2", running_operation=T.OPERATION_SWITCH),
            DESIRED,
            WORKING,
            "Switching",
            id="switch-running",
        ),
        pytest.param(
            healthy(running_command_id="r2", running_operation=T.OPERATION_ROLLBACK),
            DESIRED,
            WORKING,
            "Rolling back",
            id="rollback-running",
        ),
        pytest.param(
            healthy(running_command_id="t2", running_operation=T.OPERATION_TEST),
            DESIRED,
            OK,
            "Switched to system-42-link",
            id="test-running-is-not-system-work",
        ),
        pytest.param(
            healthy(last_switch=SWITCH_FAILED), DESIRED, ERROR, "Switch failed (exit 1)", id="switch-failed"
        ),
        pytest.param(
            healthy(last_switch=SWITCH_TIMED_OUT),
            DESIRED,
            ERROR,
            "Switch timed out — check its output, then switch again",
            id="switch-timed-out",
        ),
        pytest.param(
            healthy(last_switch=SWITCH_CANCELLED),
            DESIRED,
            ERROR,
            "Switch was stopped before it finished — switch again to deploy",
            id="switch-cancelled",
        ),
        pytest.param(
            healthy(last_switch=SWITCH_INTERRUPTED),
            DESIRED,
            ERROR,
            "Switch was interrupted; its outcome is unknown — switch again",
            id="switch-interrupted",
        ),
        pytest.param(
            healthy(last_switch=SWITCH_FAILED, facts={**FACTS, "commit": C2}),
            DESIRED,
            ERROR,
            "Switch failed (exit 1)",
            id="switch-failed-beats-outdated",
        ),
        pytest.param(
            healthy(last_switch=SWITCH_OK, last_rollback=ROLLBACK_FAILED),
            DESIRED,
            ERROR,
            "Rollback failed (exit 2)",
            id="later-rollback-failed",
        ),
        pytest.param(
            healthy(last_switch=SWITCH_FAILED, last_rollback=EARLY_ROLLBACK),
            DESIRED,
            ERROR,
            "Switch failed (exit 1)",
            id="later-switch-failed-after-rollback",
        ),
        pytest.param(
            healthy(
                last_switch={**SWITCH_FAILED, "finished_at": {"seconds": 10}},
                last_rollback=ROLLBACK_OK,
                current_deployment_id="rb1",
            ),
            DESIRED,
            OUTDATED,
            "Rolled back to system-41-link — switch to deploy the current config",
            id="rollback-after-failed-switch",
        ),
        pytest.param(
            healthy(facts={**FACTS, "commit": C2}),
            DESIRED,
            OUTDATED,
            "Config outdated — pull and switch",
            id="git-outdated",
        ),
        pytest.param(
            healthy(facts={**FACTS, "lock_hash": L2}),
            DESIRED,
            OUTDATED,
            "Config outdated — pull and switch",
            id="lock-outdated",
        ),
        pytest.param(
            healthy(last_switch={}, current_deployment_id=""),
            DESIRED,
            UNKNOWN,
            "No switch recorded yet",
            id="never-switched",
        ),
        pytest.param(
            healthy(last_switch={}, current_deployment_id="", facts={**FACTS, "commit": C2}),
            DESIRED,
            OUTDATED,
            "Config outdated — pull and switch",
            id="never-switched-but-outdated",
        ),
        pytest.param(
            healthy(last_switch={**SWITCH_OK, "state": T.COMMAND_STATE_REFUSED}, current_deployment_id=""),
            DESIRED,
            UNKNOWN,
            "No switch recorded yet",
            id="refused-switch-is-no-switch",
        ),
        pytest.param(
            healthy(facts={**FACTS, "commit": ""}),
            DESIRED,
            UNKNOWN,
            "Host has not reported its commit or flake.lock; cannot verify the deployment",
            id="git-unknown-is-never-green",
        ),
        pytest.param(
            healthy(last_switch={**SWITCH_OK, "commit": C2, "lock_hash": L2}),
            DESIRED,
            OUTDATED,
            "Pulled abc1234, not switched yet — switch to deploy",
            id="pulled-not-switched",
        ),
        pytest.param(
            healthy(last_switch={**SWITCH_OK, "lock_hash": L2}),
            DESIRED,
            OUTDATED,
            "Pulled abc1234, not switched yet — switch to deploy",
            id="pulled-new-lock-not-switched",
        ),
        pytest.param(
            healthy(last_rollback=ROLLBACK_OK, current_deployment_id="rb1"),
            DESIRED,
            OUTDATED,
            "Rolled back to system-41-link — switch to deploy the current config",
            id="rolled-back",
        ),
        pytest.param(
            healthy(last_rollback=EARLY_ROLLBACK),
            DESIRED,
            OK,
            "Switched to system-42-link",
            id="switched-after-rollback",
        ),
        pytest.param(
            healthy(test_status=FAILED),
            DESIRED,
            OK,
            "Switched to system-42-link",
            id="failed-tests-leave-system-green",
        ),
    ],
)
def test_system(
    host: types_pb2.Host, desired: types_pb2.DesiredState | None, status: int, message: str
) -> None:
    got = compartment(SYSTEM, host, desired)
    assert (got.status, got.message) == (status, message)


def test_system_since_is_when_the_deciding_command_finished() -> None:
    assert compartment(SYSTEM, healthy()).since.seconds == 100
    assert compartment(SYSTEM, healthy(last_switch=SWITCH_FAILED)).since.seconds == 100
    rolled_back = healthy(last_rollback=ROLLBACK_OK, current_deployment_id="rb1")
    assert compartment(SYSTEM, rolled_back).since.seconds == 300


RUNNING: dict[str, Any] = {
    **PASSED,
    "state": T.TEST_STATE_RUNNING,
    "passed": 3,
    "completed": 3,
    "current_case": "x11",
    "last_run_id": "t2",
    "last_run_at": {"seconds": 400},
}
NO_TESTS: dict[str, Any] = {
    "state": T.TEST_STATE_DISABLED,
    "message": "No tests defined in /x/hosts/gpc0/tests",
}
AFTER_SWITCH = {"last_switch": {**SWITCH_OK, "command_id": "sw2"}, "current_deployment_id": "sw2"}
AFTER_ROLLBACK = {"last_rollback": ROLLBACK_OK, "current_deployment_id": "rb1"}


@pytest.mark.parametrize(
    ("host", "desired", "status", "message"),
    [
        pytest.param(
            healthy(test_settings={"enabled": False}),
            DESIRED,
            DISABLED,
            "Tests disabled for this host",
            id="disabled-for-host",
        ),
        pytest.param(
            healthy(
                test_settings={"enabled": False}, running_command_id="t2", running_operation=T.OPERATION_TEST
            ),
            DESIRED,
            DISABLED,
            "Tests disabled for this host",
            id="disabled-beats-running",
        ),
        pytest.param(
            healthy(test_status=NO_TESTS),
            DESIRED,
            DISABLED,
            "No tests defined in /x/hosts/gpc0/tests",
            id="no-tests-defined",
        ),
        pytest.param(
            healthy(test_status={"state": T.TEST_STATE_DISABLED}),
            DESIRED,
            DISABLED,
            "No tests defined",
            id="no-tests-defined-without-message",
        ),
        pytest.param(
            healthy(test_status=RUNNING), DESIRED, WORKING, "Running tests 3/8: x11", id="running-with-case"
        ),
        pytest.param(
            healthy(test_status={**RUNNING, "current_case": ""}),
            DESIRED,
            WORKING,
            "Running tests 3/8",
            id="running-without-case",
        ),
        pytest.param(
            healthy(running_command_id="t2", running_operation=T.OPERATION_TEST),
            DESIRED,
            WORKING,
            "Running tests",
            id="test-command-running-before-first-progress",
        ),
        pytest.param(
            healthy(test_status={}, running_command_id="t2", running_operation=T.OPERATION_TEST),
            DESIRED,
            WORKING,
            "Running tests",
            id="test-command-running-counts-unknown",
        ),
        pytest.param(
            healthy(test_status=RUNNING),
            None,
            WORKING,
            "Running tests 3/8: x11",
            id="running-without-desired",
        ),
        pytest.param(
            healthy(),
            None,
            OUTDATED,
            "Cannot verify against desired: no desired state set (last test: 8/8 passed)",
            id="desired-none-with-result",
        ),
        pytest.param(
            healthy(test_status={}),
            NO_DESIRED,
            OUTDATED,
            "Cannot verify against desired: no desired state set",
            id="desired-empty-without-result",
        ),
        pytest.param(
            make_host(), DESIRED, UNKNOWN, "Host never reported; no test results yet", id="never-reported"
        ),
        pytest.param(
            healthy(test_status={}, last_switch={}, current_deployment_id=""),
            DESIRED,
            OUTDATED,
            "Tests not run — run tests to verify system",
            id="never-run",
        ),
        pytest.param(
            healthy(test_status={"state": T.TEST_STATE_NOT_RUN}),
            DESIRED,
            OUTDATED,
            "Tests not run — run tests to verify system",
            id="agent-says-not-run",
        ),
        pytest.param(
            healthy(**AFTER_SWITCH),
            DESIRED,
            OUTDATED,
            "Tests not run — run tests to verify system",
            id="switch-succeeded-before-tests",
        ),
        pytest.param(
            healthy(
                test_status={
                    "state": T.TEST_STATE_NOT_RUN,
                    "message": "Test run cancelled after 3/8; run the tests again",
                }
            ),
            DESIRED,
            OUTDATED,
            "Test run cancelled after 3/8; run the tests again",
            id="cancelled-run-says-why",
        ),
        pytest.param(
            healthy(
                test_status={
                    "state": T.TEST_STATE_NOT_RUN,
                    "message": "The last test run was interrupted; run the tests again",
                }
            ),
            DESIRED,
            OUTDATED,
            "The last test run was interrupted; run the tests again",
            id="interrupted-run-says-why",
        ),
        pytest.param(
            healthy(**AFTER_SWITCH, test_status=FAILED),
            DESIRED,
            OUTDATED,
            "Tests not run — run tests to verify system",
            id="old-failure-does-not-count-after-switch",
        ),
        pytest.param(
            healthy(facts={**FACTS, "generation": "system-43-link"}),
            DESIRED,
            OUTDATED,
            "Tests not run — run tests to verify system",
            id="generation-changed",
        ),
        pytest.param(
            healthy(**AFTER_ROLLBACK),
            DESIRED,
            OUTDATED,
            "Tests not run — run tests to verify system after rollback",
            id="after-rollback",
        ),
        pytest.param(
            healthy(**AFTER_ROLLBACK, facts={**FACTS, "generation": OLD_GEN}),
            DESIRED,
            OUTDATED,
            "Tests not run — run tests to verify system after rollback",
            id="after-rollback-to-older-generation",
        ),
        pytest.param(
            healthy(
                **AFTER_ROLLBACK,
                facts={**FACTS, "generation": OLD_GEN},
                test_status={**PASSED, "generation": OLD_GEN, "deployment_id": "rb1"},
            ),
            DESIRED,
            OK,
            "Last test: 8/8 passed",
            id="passed-after-rollback",
        ),
        pytest.param(healthy(), DESIRED, OK, "Last test: 8/8 passed", id="passed"),
        pytest.param(healthy(online=False), DESIRED, OK, "Last test: 8/8 passed", id="passed-offline"),
        pytest.param(
            healthy(test_status=FAILED), DESIRED, ERROR, "Last test: 7/8 passed, 1 failed", id="failed"
        ),
        pytest.param(
            healthy(test_status={**FAILED, "passed": 5, "failed": 3}),
            DESIRED,
            ERROR,
            "Last test: 5/8 passed, 3 failed",
            id="several-failed",
        ),
        pytest.param(
            healthy(facts={**FACTS, "commit": C2}),
            DESIRED,
            OK,
            "Last test: 8/8 passed",
            id="pull-without-switch-keeps-result",
        ),
        pytest.param(
            healthy(last_switch={**SWITCH_FAILED, "command_id": "sw2"}),
            DESIRED,
            OK,
            "Last test: 8/8 passed",
            id="failed-switch-keeps-result",
        ),
    ],
)
def test_tests(
    host: types_pb2.Host, desired: types_pb2.DesiredState | None, status: int, message: str
) -> None:
    got = compartment(TESTS, host, desired)
    assert (got.status, got.message) == (status, message)


def test_switch_succeeded_and_tests_failed_keeps_system_green_and_tests_red() -> None:
    compartments = compute_compartments(healthy(test_status=FAILED), DESIRED, "0.1.0")
    assert compartments[SYSTEM].status == OK
    assert compartments[TESTS].status == ERROR
    assert compartments[TESTS].message == "Last test: 7/8 passed, 1 failed"


def test_tests_since_is_the_last_run_or_the_deployment_that_made_it_stale() -> None:
    assert compartment(TESTS, healthy()).since.seconds == 200
    assert compartment(TESTS, healthy(test_status=RUNNING)).since.seconds == 400
    assert compartment(TESTS, healthy(**AFTER_ROLLBACK)).since.seconds == 300
    assert not compartment(TESTS, healthy(test_status={}, last_switch={}, current_deployment_id="")).HasField(
        "since"
    )


def test_since_is_left_unset_when_no_time_is_known() -> None:
    host = healthy(last_switch={**SWITCH_OK, "finished_at": timestamp_pb2.Timestamp()})
    assert not compartment(SYSTEM, host).HasField("since")


@pytest.mark.parametrize(
    ("status", "css"),
    [
        (T.COMPARTMENT_STATUS_OK, "ok"),
        (T.COMPARTMENT_STATUS_OUTDATED, "outdated"),
        (T.COMPARTMENT_STATUS_ERROR, "error"),
        (T.COMPARTMENT_STATUS_WORKING, "working"),
        (T.COMPARTMENT_STATUS_UNKNOWN, "unknown"),
        (T.COMPARTMENT_STATUS_DISABLED, "disabled"),
        (T.COMPARTMENT_STATUS_UNSPECIFIED, "unknown"),
        (99, "unknown"),
    ],
)
def test_status_css(status: types_pb2.CompartmentStatus, css: str) -> None:
    assert status_css(status) == css
