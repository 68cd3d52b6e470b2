"""Pure decisions: which test settings apply, how an update changes settings, whether an operation
may start now."""

from __future__ import annotations

from google.protobuf import duration_pb2

from fleetdeck.operations import OPERATIONS, operation_name
from fleetdeck.v1 import types_pb2

from .errors import InvalidArgument


def effective_test_settings(
    declared: types_pb2.DeclaredTestSettings,
    override: types_pb2.TestSettingsOverride,
    global_timeout: duration_pb2.Duration,
) -> types_pb2.TestSettings:
    """The test settings in force: each field from the override, else as declared, else the default."""
    settings = types_pb2.TestSettings(enabled=True, auto_run_after_switch=True)
    settings.timeout.CopyFrom(global_timeout)
    if override.HasField("enabled"):
        settings.enabled = override.enabled
    elif declared.HasField("enabled"):
        settings.enabled = declared.enabled
    if override.HasField("auto_run_after_switch"):
        settings.auto_run_after_switch = override.auto_run_after_switch
    elif declared.HasField("auto_run_after_switch"):
        settings.auto_run_after_switch = declared.auto_run_after_switch
    if override.HasField("timeout"):
        settings.timeout.CopyFrom(override.timeout)
    elif declared.HasField("timeout"):
        settings.timeout.CopyFrom(declared.timeout)
    return settings


def tests_enabled(host: types_pb2.Host) -> bool:
    """Whether the host's effective test settings allow tests; unset settings mean the default (on)."""
    return not host.HasField("test_settings") or host.test_settings.enabled


def _auto_run_after_switch(host: types_pb2.Host) -> bool:
    return not host.HasField("test_settings") or host.test_settings.auto_run_after_switch


def refusal_reason(host: types_pb2.Host, operation: types_pb2.Operation) -> str | None:
    """Why `operation` may not start on `host` now, as a sentence for a person; None when it may."""
    if operation not in OPERATIONS:
        return (
            f"{operation_name(operation)} is not an operation Fleetdeck can run; "
            "choose pull, switch, test or rollback"
        )
    if not host.online:
        return f"host {host.name} is offline; the command was not queued"
    if host.running_command_id:
        running = host.running_operation
        what = f"{operation_name(running)} command" if running in OPERATIONS else "command"
        return f"host {host.name} is already running {what} {host.running_command_id}; wait for it or stop it"
    if operation == types_pb2.OPERATION_TEST:
        if not tests_enabled(host):
            return f"tests are disabled for host {host.name}; enable them in the host's settings first"
        if host.test_status.state == types_pb2.TEST_STATE_DISABLED:
            detail = host.test_status.message or f"add executable files to hosts/{host.name}/tests"
            return f"host {host.name} has no tests defined ({detail})"
    if operation == types_pb2.OPERATION_ROLLBACK and host.facts.at_first_generation:
        at = f" ({host.facts.generation})" if host.facts.generation else ""
        return f"nothing to roll back to: {host.name} is at its first generation{at}"
    return None


def no_test_run_reason(
    host: types_pb2.Host, finished_operation: types_pb2.Operation, state: types_pb2.CommandState
) -> types_pb2.NoTestRunReason:
    """Why no test run starts by itself now that `finished_operation` ended in `state`;
    UNSPECIFIED when one starts (if the host can still take it)."""
    if finished_operation != types_pb2.OPERATION_SWITCH or state != types_pb2.COMMAND_STATE_SUCCEEDED:
        return types_pb2.NO_TEST_RUN_REASON_NOT_A_SUCCESSFUL_SWITCH
    if not tests_enabled(host):
        return types_pb2.NO_TEST_RUN_REASON_TESTS_DISABLED
    if host.test_status.state == types_pb2.TEST_STATE_DISABLED:
        return types_pb2.NO_TEST_RUN_REASON_NO_TESTS_DEFINED
    if not _auto_run_after_switch(host):
        return types_pb2.NO_TEST_RUN_REASON_AUTO_RUN_OFF
    return types_pb2.NO_TEST_RUN_REASON_UNSPECIFIED


_NO_TEST_RUN = {
    types_pb2.NO_TEST_RUN_REASON_NOT_A_SUCCESSFUL_SWITCH: "only a successful switch starts tests",
    types_pb2.NO_TEST_RUN_REASON_TESTS_DISABLED: "tests are disabled for host {host}",
    types_pb2.NO_TEST_RUN_REASON_NO_TESTS_DEFINED: "host {host} has no tests defined",
    types_pb2.NO_TEST_RUN_REASON_AUTO_RUN_OFF: "auto-run tests after switch is off for host {host}",
    types_pb2.NO_TEST_RUN_REASON_HOST_UNAVAILABLE: (
        "host {host} went offline or started another command before its tests could start"
    ),
    types_pb2.NO_TEST_RUN_REASON_NOT_RECORDED: "the command ended before follow-up test runs were recorded",
}


def no_test_run_sentence(reason: types_pb2.NoTestRunReason, host: str) -> str:
    """`reason` as a sentence for a person ("tests are disabled for host gpc0")."""
    return _NO_TEST_RUN.get(reason, "no reason was recorded").format(host=host)


OVERRIDE_PATHS = ("enabled", "auto_run_after_switch", "timeout")
SETTINGS_PATHS = ("test_timeout", "heartbeat_interval", "test_history_limit", "operation_timeout")
_MINIMUM_SECONDS = {"heartbeat_interval": 0.5}


def at_least(
    duration: duration_pb2.Duration, name: str, minimum_seconds: float = 1.0
) -> duration_pb2.Duration:
    """`duration` if it is at least `minimum_seconds`; InvalidArgument otherwise."""
    if duration.ToTimedelta().total_seconds() < minimum_seconds:
        raise InvalidArgument(f"{name} must be at least {minimum_seconds:g} s")
    return duration


def updated_override(
    current: types_pb2.TestSettingsOverride, new: types_pb2.TestSettingsOverride, paths: list[str]
) -> types_pb2.TestSettingsOverride:
    """A host's override after an update: each path in the mask taken from `new` (cleared when unset
    there); no paths means `new` replaces the override whole. InvalidArgument for a bad update."""
    if new.HasField("timeout"):
        at_least(new.timeout, "timeout")
    unknown = [p for p in paths if p not in OVERRIDE_PATHS]
    if unknown:
        raise InvalidArgument(
            f"unknown update_mask path {unknown[0]!r}; use {', '.join(sorted(OVERRIDE_PATHS))}"
        )
    override = types_pb2.TestSettingsOverride()
    override.CopyFrom(new if not paths else current)
    for path in paths:
        if not new.HasField(path):
            override.ClearField(path)
        elif path == "timeout":
            override.timeout.CopyFrom(new.timeout)
        else:
            setattr(override, path, getattr(new, path))
    return override


def updated_settings(
    current: types_pb2.Settings, new: types_pb2.Settings, paths: list[str]
) -> types_pb2.Settings:
    """Fleet-wide settings after an update of the paths in the mask (every field when none).
    InvalidArgument for an unknown path or a value out of range."""
    settings = types_pb2.Settings()
    settings.CopyFrom(current)
    for path in paths or SETTINGS_PATHS:
        if path not in SETTINGS_PATHS:
            raise InvalidArgument(f"unknown update_mask path {path!r}; use {', '.join(SETTINGS_PATHS)}")
        if path == "test_history_limit":
            if new.test_history_limit < 1:
                raise InvalidArgument("test_history_limit must be at least 1")
            settings.test_history_limit = new.test_history_limit
        else:
            minimum = _MINIMUM_SECONDS.get(path, 1.0)
            getattr(settings, path).CopyFrom(at_least(getattr(new, path), path, minimum))
    return settings
