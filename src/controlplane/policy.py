"""Pure decisions about operations: which test settings apply, whether an operation may start now."""

from __future__ import annotations

from google.protobuf import duration_pb2

# Re-exported for the control plane's callers; the names are defined once, in fleetdeck.operations.
from fleetdeck.operations import OPERATIONS as OPERATIONS
from fleetdeck.operations import operation_name as operation_name
from fleetdeck.v1 import types_pb2


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
    return None


def should_auto_run_tests(
    host: types_pb2.Host, finished_operation: types_pb2.Operation, state: types_pb2.CommandState
) -> bool:
    """Whether a test run starts automatically now that `finished_operation` ended in `state`."""
    return (
        finished_operation == types_pb2.OPERATION_SWITCH
        and state == types_pb2.COMMAND_STATE_SUCCEEDED
        and tests_enabled(host)
        and _auto_run_after_switch(host)
        and host.test_status.state != types_pb2.TEST_STATE_DISABLED
    )
