"""The five compartments of a host (Agent, Git, Lock, System, Tests), computed from stored facts."""

from __future__ import annotations

from google.protobuf import timestamp_pb2

from controlplane.policy import tests_enabled
from fleetdeck.v1 import types_pb2

_UNKNOWN = types_pb2.COMPARTMENT_STATUS_UNKNOWN
_DISABLED = types_pb2.COMPARTMENT_STATUS_DISABLED
_OK = types_pb2.COMPARTMENT_STATUS_OK
_OUTDATED = types_pb2.COMPARTMENT_STATUS_OUTDATED
_ERROR = types_pb2.COMPARTMENT_STATUS_ERROR
_WORKING = types_pb2.COMPARTMENT_STATUS_WORKING

_FINISHED_BADLY = {
    types_pb2.COMMAND_STATE_FAILED,
    types_pb2.COMMAND_STATE_CANCELLED,
    types_pb2.COMMAND_STATE_TIMED_OUT,
    types_pb2.COMMAND_STATE_INTERRUPTED,
}
_FINISHED = _FINISHED_BADLY | {types_pb2.COMMAND_STATE_SUCCEEDED}


def status_css(status: types_pb2.CompartmentStatus) -> str:
    """The lower-case name of a status ("ok", "outdated", ...), used as the web UI's data-status."""
    if (
        status == types_pb2.COMPARTMENT_STATUS_UNSPECIFIED
        or status not in types_pb2.CompartmentStatus.values()
    ):
        return "unknown"
    return types_pb2.CompartmentStatus.Name(status).removeprefix("COMPARTMENT_STATUS_").lower()


def _short(sha: str) -> str:
    """The first 7 characters of a commit or hash, as shown to people."""
    return sha[:7]


def compute_compartments(
    host: types_pb2.Host, desired: types_pb2.DesiredState | None, expected_agent_version: str
) -> list[types_pb2.Compartment]:
    """The host's five compartments in CompartmentKind order, each with a status and a message."""
    desired = desired if desired is not None else types_pb2.DesiredState()
    git = _git(host, desired)
    lock = _lock(host, desired)
    return [
        _agent(host, desired.agent_version or expected_agent_version),
        git,
        lock,
        _system(host, desired, git, lock),
        _tests(host, desired),
    ]


def _make(
    kind: types_pb2.CompartmentKind,
    status: types_pb2.CompartmentStatus,
    message: str,
    since: timestamp_pb2.Timestamp | None = None,
) -> types_pb2.Compartment:
    compartment = types_pb2.Compartment(kind=kind, status=status, message=message)
    if since is not None and (since.seconds or since.nanos):
        compartment.since.CopyFrom(since)
    return compartment


def _missing_desired(desired: types_pb2.DesiredState) -> str | None:
    """Why the desired state cannot be read, or None when both commit and lock hash are set."""
    if not desired.commit and not desired.lock_hash:
        return "no desired state set"
    if not desired.commit:
        return "no desired commit set"
    if not desired.lock_hash:
        return "no desired lock hash set"
    return None


def _cannot_verify(desired: types_pb2.DesiredState, field: str) -> str:
    what = "state" if not desired.commit and not desired.lock_hash else field
    return f"No desired {what} set; cannot verify against desired"


def _agent(host: types_pb2.Host, expected: str) -> types_pb2.Compartment:
    kind = types_pb2.COMPARTMENT_KIND_AGENT
    version = host.facts.agent_version
    if not version:
        return _make(kind, _UNKNOWN, "Agent never reported its version")
    if version == expected:
        return _make(kind, _OK, f"Agent {version} is current")
    return _make(kind, _OUTDATED, f"Agent {version}, expected {expected}")


def _git(host: types_pb2.Host, desired: types_pb2.DesiredState) -> types_pb2.Compartment:
    kind = types_pb2.COMPARTMENT_KIND_GIT
    commit = host.facts.commit
    if host.running_operation == types_pb2.OPERATION_PULL:
        return _make(kind, _WORKING, f"Pulling {_short(desired.commit) or 'the config'}")
    if not desired.commit:
        return _make(kind, _ERROR, _cannot_verify(desired, "commit"))
    if not commit:
        return _make(kind, _UNKNOWN, "Host has not reported its config commit yet")
    if commit == desired.commit:
        since = host.last_pull.finished_at if host.last_pull.commit == commit else None
        return _make(kind, _OK, f"At {_short(commit)}", since)
    return _make(kind, _OUTDATED, f"At {_short(commit)}, desired {_short(desired.commit)} — pull to update")


def _lock(host: types_pb2.Host, desired: types_pb2.DesiredState) -> types_pb2.Compartment:
    kind = types_pb2.COMPARTMENT_KIND_LOCK
    lock_hash = host.facts.lock_hash
    if host.running_operation == types_pb2.OPERATION_PULL:
        return _make(kind, _WORKING, f"Pulling flake.lock {_short(desired.lock_hash)}".rstrip())
    if not desired.lock_hash:
        return _make(kind, _ERROR, _cannot_verify(desired, "lock hash"))
    if not lock_hash:
        return _make(kind, _UNKNOWN, "No flake.lock reported by the host")
    if lock_hash == desired.lock_hash:
        since = host.last_pull.finished_at if host.last_pull.lock_hash == lock_hash else None
        return _make(kind, _OK, f"flake.lock at {_short(lock_hash)}", since)
    return _make(
        kind,
        _OUTDATED,
        f"flake.lock at {_short(lock_hash)}, desired {_short(desired.lock_hash)} — pull to update",
    )


def _later(a: types_pb2.LastOperation, b: types_pb2.LastOperation) -> bool:
    """Whether `a` finished after `b` (ties go to `a`)."""
    return (a.finished_at.seconds, a.finished_at.nanos) >= (b.finished_at.seconds, b.finished_at.nanos)


def _last_deployment(host: types_pb2.Host) -> tuple[str, types_pb2.LastOperation] | None:
    """The switch or rollback that finished last, as ("Switch" | "Rollback", op); None if neither has."""
    switch, rollback = host.last_switch, host.last_rollback
    has_switch = bool(switch.command_id) and switch.state in _FINISHED
    has_rollback = bool(rollback.command_id) and rollback.state in _FINISHED
    if has_switch and (not has_rollback or _later(switch, rollback)):
        return "Switch", switch
    if has_rollback:
        return "Rollback", rollback
    return None


def _failure(what: str, op: types_pb2.LastOperation) -> str:
    if op.state == types_pb2.COMMAND_STATE_TIMED_OUT:
        return f"{what} timed out — check its output, then {what.lower()} again"
    if op.state == types_pb2.COMMAND_STATE_CANCELLED:
        return f"{what} was stopped before it finished — {what.lower()} again to deploy"
    if op.state == types_pb2.COMMAND_STATE_INTERRUPTED:
        return f"{what} was interrupted; its outcome is unknown — {what.lower()} again"
    return f"{what} failed (exit {op.exit_code})"


def _system(
    host: types_pb2.Host,
    desired: types_pb2.DesiredState,
    git: types_pb2.Compartment,
    lock: types_pb2.Compartment,
) -> types_pb2.Compartment:
    kind = types_pb2.COMPARTMENT_KIND_SYSTEM
    if host.running_operation == types_pb2.OPERATION_SWITCH:
        return _make(kind, _WORKING, "Switching")
    if host.running_operation == types_pb2.OPERATION_ROLLBACK:
        return _make(kind, _WORKING, "Rolling back")
    missing = _missing_desired(desired)
    if missing is not None:
        return _make(kind, _OUTDATED, f"Cannot verify against desired: {missing}")
    last = _last_deployment(host)
    if last is not None and last[1].state in _FINISHED_BADLY:
        return _make(kind, _ERROR, _failure(*last), last[1].finished_at)
    if _OUTDATED in (git.status, lock.status):
        return _make(kind, _OUTDATED, "Config outdated — pull and switch")
    if last is None:
        return _make(kind, _UNKNOWN, "No switch recorded yet")
    if git.status != _OK or lock.status != _OK:
        return _make(
            kind, _UNKNOWN, "Host has not reported its commit or flake.lock; cannot verify the deployment"
        )
    what, op = last
    facts = host.facts
    if what == "Rollback":
        target = op.generation or facts.generation or "the previous generation"
        return _make(
            kind, _OUTDATED, f"Rolled back to {target} — switch to deploy the current config", op.finished_at
        )
    if (op.commit and op.commit != facts.commit) or (op.lock_hash and op.lock_hash != facts.lock_hash):
        since = host.last_pull.finished_at if host.last_pull.commit == facts.commit else None
        return _make(
            kind, _OUTDATED, f"Pulled {_short(facts.commit)}, not switched yet — switch to deploy", since
        )
    target = op.generation or facts.generation or _short(op.commit or facts.commit)
    return _make(kind, _OK, f"Switched to {target}", op.finished_at)


def _result(status: types_pb2.TestStatus) -> str | None:
    """The last finished run's counts ("Last test: 7/8 passed, 1 failed"), or None without one."""
    if status.state == types_pb2.TEST_STATE_PASSED:
        return f"Last test: {status.passed}/{status.total} passed"
    if status.state == types_pb2.TEST_STATE_FAILED:
        return f"Last test: {status.passed}/{status.total} passed, {status.failed} failed"
    return None


def _deployment_finished_at(host: types_pb2.Host) -> timestamp_pb2.Timestamp | None:
    for op in (host.last_switch, host.last_rollback):
        if op.command_id and op.command_id == host.current_deployment_id:
            return op.finished_at
    return None


def _tests(host: types_pb2.Host, desired: types_pb2.DesiredState) -> types_pb2.Compartment:
    kind = types_pb2.COMPARTMENT_KIND_TESTS
    status = host.test_status
    if not tests_enabled(host):
        return _make(kind, _DISABLED, "Tests disabled for this host")
    if status.state == types_pb2.TEST_STATE_DISABLED:
        return _make(kind, _DISABLED, status.message or "No tests defined")
    if host.running_operation == types_pb2.OPERATION_TEST or status.state == types_pb2.TEST_STATE_RUNNING:
        if status.state != types_pb2.TEST_STATE_RUNNING:
            return _make(kind, _WORKING, "Running tests")  # the agent has not reported progress yet
        message = f"Running tests {status.completed}/{status.total}" if status.total else "Running tests"
        if status.current_case:
            message += f": {status.current_case}"
        return _make(kind, _WORKING, message, status.last_run_at)
    result = _result(status)
    missing = _missing_desired(desired)
    if missing is not None:
        message = f"Cannot verify against desired: {missing}"
        return _make(kind, _OUTDATED, f"{message} ({result[0].lower()}{result[1:]})" if result else message)
    if host.facts.ByteSize() == 0 and not host.online:
        return _make(kind, _UNKNOWN, "Host never reported; no test results yet")
    current = (
        status.generation == host.facts.generation and status.deployment_id == host.current_deployment_id
    )
    if status.state == types_pb2.TEST_STATE_NOT_RUN and status.message:
        # Why no verdict: the last run was cancelled or interrupted.
        return _make(kind, _OUTDATED, status.message, _deployment_finished_at(host))
    if result is None or not current:
        rollback_id = host.last_rollback.command_id
        after_rollback = bool(rollback_id) and rollback_id == host.current_deployment_id
        message = "Tests not run — run tests to verify system" + (" after rollback" if after_rollback else "")
        return _make(kind, _OUTDATED, message, _deployment_finished_at(host))
    severity = _OK if status.state == types_pb2.TEST_STATE_PASSED else _ERROR
    return _make(kind, severity, result, status.last_run_at)
