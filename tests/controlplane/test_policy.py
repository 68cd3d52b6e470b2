"""Table-driven tests of the pure operation decisions: test settings, refusals, auto-run after switch."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import duration_pb2

from controlplane.policy import (
    effective_test_settings,
    no_test_run_reason,
    no_test_run_sentence,
    operation_name,
    refusal_reason,
)
from fleetdeck.v1 import types_pb2

T = types_pb2
SIXTY = duration_pb2.Duration(seconds=60)


def make_host(**fields: Any) -> types_pb2.Host:
    """An online, idle host named gpc0 with tests enabled, with some fields replaced."""
    defaults: dict[str, Any] = {
        "online": True,
        "test_settings": {"enabled": True, "auto_run_after_switch": True, "timeout": {"seconds": 60}},
        "test_status": {"state": T.TEST_STATE_PASSED, "defined_cases": 8},
    }
    return types_pb2.Host(name="gpc0", **{**defaults, **fields})


@pytest.mark.parametrize(
    ("declared", "override", "expected"),
    [
        pytest.param({}, {}, (True, True, 60), id="defaults"),
        pytest.param(
            {"enabled": False, "auto_run_after_switch": False, "timeout": {"seconds": 120}},
            {},
            (False, False, 120),
            id="declared",
        ),
        pytest.param(
            {"enabled": False, "auto_run_after_switch": False, "timeout": {"seconds": 120}},
            {"enabled": True, "auto_run_after_switch": True, "timeout": {"seconds": 30}},
            (True, True, 30),
            id="override-beats-declared",
        ),
        pytest.param({}, {"enabled": False}, (False, True, 60), id="override-only-enabled"),
        pytest.param(
            {"auto_run_after_switch": False}, {"enabled": True}, (True, False, 60), id="mixed-sources"
        ),
        pytest.param({"timeout": {"seconds": 0}}, {}, (True, True, 0), id="declared-zero-timeout-is-set"),
        pytest.param(
            {"enabled": True}, {"enabled": False}, (False, True, 60), id="override-false-beats-declared-true"
        ),
    ],
)
def test_effective_test_settings(
    declared: dict[str, Any], override: dict[str, Any], expected: tuple[bool, bool, int]
) -> None:
    got = effective_test_settings(
        T.DeclaredTestSettings(**declared), T.TestSettingsOverride(**override), SIXTY
    )
    assert (got.enabled, got.auto_run_after_switch, got.timeout.seconds) == expected
    assert got.HasField("timeout")


def test_effective_test_settings_does_not_alias_the_global_timeout() -> None:
    timeout = duration_pb2.Duration(seconds=60)
    got = effective_test_settings(T.DeclaredTestSettings(), T.TestSettingsOverride(), timeout)
    got.timeout.seconds = 5
    assert timeout.seconds == 60


@pytest.mark.parametrize(
    ("host", "operation", "reason"),
    [
        pytest.param(make_host(), T.OPERATION_SWITCH, None, id="idle-online-switch"),
        pytest.param(make_host(), T.OPERATION_PULL, None, id="idle-online-pull"),
        pytest.param(make_host(), T.OPERATION_ROLLBACK, None, id="idle-online-rollback"),
        pytest.param(make_host(), T.OPERATION_TEST, None, id="idle-online-test"),
        pytest.param(
            make_host(online=False),
            T.OPERATION_SWITCH,
            "host gpc0 is offline; the command was not queued",
            id="offline",
        ),
        pytest.param(
            make_host(online=False, running_command_id="c1", running_operation=T.OPERATION_SWITCH),
            T.OPERATION_PULL,
            "host gpc0 is offline; the command was not queued",
            id="offline-beats-running",
        ),
        pytest.param(
            make_host(running_command_id="c1", running_operation=T.OPERATION_SWITCH),
            T.OPERATION_PULL,
            "host gpc0 is already running switch command c1; wait for it or stop it",
            id="switch-running",
        ),
        pytest.param(
            make_host(running_command_id="c2", running_operation=T.OPERATION_TEST),
            T.OPERATION_TEST,
            "host gpc0 is already running test command c2; wait for it or stop it",
            id="test-running",
        ),
        pytest.param(
            make_host(running_command_id="c3"),
            T.OPERATION_SWITCH,
            "host gpc0 is already running command c3; wait for it or stop it",
            id="running-operation-unknown",
        ),
        pytest.param(
            make_host(test_settings={"enabled": False}),
            T.OPERATION_TEST,
            "tests are disabled for host gpc0; enable them in the host's settings first",
            id="tests-disabled",
        ),
        pytest.param(
            make_host(test_settings={"enabled": False}),
            T.OPERATION_SWITCH,
            None,
            id="tests-disabled-switch-ok",
        ),
        pytest.param(
            make_host(
                test_status={
                    "state": T.TEST_STATE_DISABLED,
                    "message": "No tests defined in /x/hosts/gpc0/tests",
                }
            ),
            T.OPERATION_TEST,
            "host gpc0 has no tests defined (No tests defined in /x/hosts/gpc0/tests)",
            id="no-tests-defined",
        ),
        pytest.param(
            make_host(test_status={"state": T.TEST_STATE_DISABLED}),
            T.OPERATION_TEST,
            "host gpc0 has no tests defined (add executable files to hosts/gpc0/tests)",
            id="no-tests-defined-without-message",
        ),
        pytest.param(
            make_host(test_status={"state": T.TEST_STATE_DISABLED}),
            T.OPERATION_ROLLBACK,
            None,
            id="no-tests-rollback-ok",
        ),
        pytest.param(
            make_host(facts={"generation": "system-1-link", "at_first_generation": True}),
            T.OPERATION_ROLLBACK,
            "nothing to roll back to: gpc0 is at its first generation (system-1-link)",
            id="rollback-at-first-generation",
        ),
        pytest.param(
            make_host(facts={"at_first_generation": True}),
            T.OPERATION_SWITCH,
            None,
            id="first-generation-switch-ok",
        ),
        pytest.param(
            make_host(facts={"generation": "system-2-link", "previous_generation": "system-1-link"}),
            T.OPERATION_ROLLBACK,
            None,
            id="rollback-with-a-previous-generation",
        ),
        pytest.param(
            make_host(),
            T.OPERATION_UNSPECIFIED,
            "unspecified is not an operation Fleetdeck can run; choose pull, switch, test or rollback",
            id="unspecified",
        ),
        pytest.param(
            make_host(),
            42,
            "operation 42 is not an operation Fleetdeck can run; choose pull, switch, test or rollback",
            id="unknown-number",
        ),
    ],
)
def test_refusal_reason(host: types_pb2.Host, operation: types_pb2.Operation, reason: str | None) -> None:
    assert refusal_reason(host, operation) == reason


def test_refusal_reason_treats_unset_test_settings_as_default_enabled() -> None:
    host = types_pb2.Host(name="gpc0", online=True)
    assert refusal_reason(host, T.OPERATION_TEST) is None


@pytest.mark.parametrize(
    ("host", "operation", "state", "expected"),
    [
        pytest.param(make_host(), T.OPERATION_SWITCH, T.COMMAND_STATE_SUCCEEDED, True, id="switch-succeeded"),
        pytest.param(make_host(), T.OPERATION_SWITCH, T.COMMAND_STATE_FAILED, False, id="switch-failed"),
        pytest.param(
            make_host(), T.OPERATION_SWITCH, T.COMMAND_STATE_TIMED_OUT, False, id="switch-timed-out"
        ),
        pytest.param(
            make_host(), T.OPERATION_SWITCH, T.COMMAND_STATE_CANCELLED, False, id="switch-cancelled"
        ),
        pytest.param(
            make_host(), T.OPERATION_SWITCH, T.COMMAND_STATE_INTERRUPTED, False, id="switch-interrupted"
        ),
        pytest.param(make_host(), T.OPERATION_SWITCH, T.COMMAND_STATE_RUNNING, False, id="switch-running"),
        pytest.param(make_host(), T.OPERATION_ROLLBACK, T.COMMAND_STATE_SUCCEEDED, False, id="rollback"),
        pytest.param(make_host(), T.OPERATION_PULL, T.COMMAND_STATE_SUCCEEDED, False, id="pull"),
        pytest.param(make_host(), T.OPERATION_TEST, T.COMMAND_STATE_SUCCEEDED, False, id="test"),
        pytest.param(
            make_host(test_settings={"enabled": True, "auto_run_after_switch": False}),
            T.OPERATION_SWITCH,
            T.COMMAND_STATE_SUCCEEDED,
            False,
            id="auto-run-off",
        ),
        pytest.param(
            make_host(test_settings={"enabled": False, "auto_run_after_switch": True}),
            T.OPERATION_SWITCH,
            T.COMMAND_STATE_SUCCEEDED,
            False,
            id="tests-disabled",
        ),
        pytest.param(
            make_host(test_status={"state": T.TEST_STATE_DISABLED}),
            T.OPERATION_SWITCH,
            T.COMMAND_STATE_SUCCEEDED,
            False,
            id="no-tests-defined",
        ),
        pytest.param(
            make_host(test_status={"state": T.TEST_STATE_FAILED}),
            T.OPERATION_SWITCH,
            T.COMMAND_STATE_SUCCEEDED,
            True,
            id="after-failed-tests",
        ),
    ],
)
def test_tests_run_by_themselves_only_after_a_successful_switch_with_auto_run_on(
    host: types_pb2.Host,
    operation: types_pb2.Operation,
    state: types_pb2.CommandState,
    expected: bool,
) -> None:
    starts = no_test_run_reason(host, operation, state) == types_pb2.NO_TEST_RUN_REASON_UNSPECIFIED
    assert starts is expected


@pytest.mark.parametrize(
    ("operation", "name"),
    [
        (T.OPERATION_PULL, "pull"),
        (T.OPERATION_SWITCH, "switch"),
        (T.OPERATION_TEST, "test"),
        (T.OPERATION_ROLLBACK, "rollback"),
        (T.OPERATION_UNSPECIFIED, "unspecified"),
        (42, "operation 42"),
    ],
)
def test_operation_name(operation: types_pb2.Operation, name: str) -> None:
    assert operation_name(operation) == name


@pytest.mark.parametrize(
    ("host", "operation", "state", "reason", "sentence"),
    [
        (make_host(), T.OPERATION_SWITCH, T.COMMAND_STATE_SUCCEEDED, T.NO_TEST_RUN_REASON_UNSPECIFIED, None),
        (
            make_host(),
            T.OPERATION_SWITCH,
            T.COMMAND_STATE_FAILED,
            T.NO_TEST_RUN_REASON_NOT_A_SUCCESSFUL_SWITCH,
            "only a successful switch starts tests",
        ),
        (
            make_host(),
            T.OPERATION_PULL,
            T.COMMAND_STATE_SUCCEEDED,
            T.NO_TEST_RUN_REASON_NOT_A_SUCCESSFUL_SWITCH,
            "only a successful switch starts tests",
        ),
        (
            make_host(test_settings={"enabled": False, "auto_run_after_switch": False}),
            T.OPERATION_SWITCH,
            T.COMMAND_STATE_SUCCEEDED,
            T.NO_TEST_RUN_REASON_TESTS_DISABLED,
            "tests are disabled for host gpc0",
        ),
        (
            make_host(test_status={"state": T.TEST_STATE_DISABLED}),
            T.OPERATION_SWITCH,
            T.COMMAND_STATE_SUCCEEDED,
            T.NO_TEST_RUN_REASON_NO_TESTS_DEFINED,
            "host gpc0 has no tests defined",
        ),
        (
            make_host(test_settings={"enabled": True, "auto_run_after_switch": False}),
            T.OPERATION_SWITCH,
            T.COMMAND_STATE_SUCCEEDED,
            T.NO_TEST_RUN_REASON_AUTO_RUN_OFF,
            "auto-run tests after switch is off for host gpc0",
        ),
    ],
)
def test_why_no_test_run_follows(
    host: types_pb2.Host,
    operation: types_pb2.Operation,
    state: types_pb2.CommandState,
    reason: types_pb2.NoTestRunReason,
    sentence: str | None,
) -> None:
    assert no_test_run_reason(host, operation, state) == reason
    if sentence is not None:
        assert no_test_run_sentence(reason, host.name) == sentence
