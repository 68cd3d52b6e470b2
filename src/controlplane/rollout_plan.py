"""What a rollout does next: pure decisions over the rollout and what is known of its hosts.

`batches` orders the selected hosts (canary first); `advance` takes a rollout and what the control
plane sees of its hosts now, updates the rollout in place and returns the commands to start. No I/O:
the runner (`rollouts.py`) gathers the facts, stores the rollout, then starts the commands. Longer
than most modules: every rollout decision is here, so that all of them are table-tested together.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from fleetdeck.v1 import rollouts_pb2 as rpb
from fleetdeck.v1 import types_pb2 as pb

from .errors import InvalidArgument

INTERRUPTED_GRACE_SECONDS = 3.0  # after a reconnect, how long an interrupted step may still report
RECHECK_SECONDS = 1.0  # while steps run, time alone is looked at this often (events do the rest)  # after a switch, how long its automatic test run may take to appear
DEFAULT_OFFLINE_DEADLINE_SECONDS = 600.0

_STEP_OPERATION = {
    rpb.ROLLOUT_STEP_PULL: pb.OPERATION_PULL,
    rpb.ROLLOUT_STEP_SWITCH: pb.OPERATION_SWITCH,
    rpb.ROLLOUT_STEP_TEST: pb.OPERATION_TEST,
    rpb.ROLLOUT_STEP_ROLLBACK: pb.OPERATION_ROLLBACK,
}
_STEP_NAME = {
    rpb.ROLLOUT_STEP_PULL: "pull",
    rpb.ROLLOUT_STEP_SWITCH: "switch",
    rpb.ROLLOUT_STEP_TEST: "tests",
    rpb.ROLLOUT_STEP_ROLLBACK: "rollback",
}
_UNFINISHED = (pb.COMMAND_STATE_UNSPECIFIED, pb.COMMAND_STATE_PENDING, pb.COMMAND_STATE_RUNNING)
_FAILED_OUTCOMES = (pb.TEST_OUTCOME_FAILED, pb.TEST_OUTCOME_TIMED_OUT, pb.TEST_OUTCOME_ERROR)
_DONE_HOST = (
    rpb.ROLLOUT_HOST_STATE_SUCCEEDED,
    rpb.ROLLOUT_HOST_STATE_FAILED,
    rpb.ROLLOUT_HOST_STATE_SKIPPED,
    rpb.ROLLOUT_HOST_STATE_ABORTED,
)
FINISHED_ROLLOUT = (rpb.ROLLOUT_STATE_SUCCEEDED, rpb.ROLLOUT_STATE_ABORTED)


@dataclass(frozen=True, slots=True)
class Seen:
    """What the control plane knows of one host of a rollout right now."""

    online: bool = False
    online_since: float = 0.0  # wall clock of its last connect
    running_id: str = ""  # the command running on it, if any
    running: pb.Command | None = None  # that command, once stored
    step: pb.Command | None = None  # the stored command of its current rollout step
    run: pb.TestRun | None = None  # the test run of that step, when it is a finished TEST


@dataclass(frozen=True, slots=True)
class Start:
    """A command the runner should start (the rollout already names its id)."""

    host: str
    operation: pb.Operation
    command_id: str


def step_operation(step: rpb.RolloutStep) -> pb.Operation:
    """The operation a step runs."""
    return _STEP_OPERATION[step]


def batches(hosts: Mapping[str, Mapping[str, str]], spec: rpb.RolloutSpec) -> list[rpb.RolloutBatch]:
    """The selected hosts (name -> labels) in batches: canary first, then by name in batches of N or N %."""
    if spec.canary_hosts:
        unknown = sorted(set(spec.canary_hosts) - set(hosts))
        if unknown:
            raise InvalidArgument(f"canary host {unknown[0]} is not among the hosts the selector matches")
        canary = list(dict.fromkeys(spec.canary_hosts))
    else:
        canary = sorted(n for n, labels in hosts.items() if labels.get("canary") == "true")
    if spec.approve_after_canary and not canary:
        raise InvalidArgument(
            "approve_after_canary needs a canary: name canary hosts or label one canary=true"
        )
    rest = sorted(set(hosts) - set(canary))
    if spec.batch_size:
        size = spec.batch_size
    elif spec.batch_percent:
        size = max(1, math.ceil(len(rest) * spec.batch_percent / 100))
    else:
        size = 1
    result = []
    if canary:
        result.append(rpb.RolloutBatch(canary=True, hosts=[_pending(n) for n in canary]))
    for i in range(0, len(rest), size):
        result.append(rpb.RolloutBatch(hosts=[_pending(n) for n in rest[i : i + size]]))
    return result


def _pending(name: str) -> rpb.RolloutHost:
    return rpb.RolloutHost(host=name, state=rpb.ROLLOUT_HOST_STATE_PENDING)


def all_hosts(rollout: rpb.Rollout) -> list[rpb.RolloutHost]:
    """Every host of the rollout, batch by batch."""
    return [h for b in rollout.batches for h in b.hosts]


def failure_summary(rollout: rpb.Rollout) -> str:
    """ "web3 (tests failed: network); web4 (offline past the deadline)"."""
    return "; ".join(
        f"{h.host} ({h.message})" for h in all_hosts(rollout) if h.state == rpb.ROLLOUT_HOST_STATE_FAILED
    )


def _seconds(duration: object) -> float:
    return float(duration.ToNanoseconds()) / 1e9  # type: ignore[attr-defined]


def next_wake(rollout: rpb.Rollout, now: float) -> float | None:
    """The wall-clock time at which time alone may change something: a pause ends, a deadline passes,
    or (while steps run) a grace for an interrupted step or an automatic test run ends."""
    times = []
    if rollout.HasField("resume_at"):
        times.append(rollout.resume_at.ToNanoseconds() / 1e9)
    deadline = _offline_deadline(rollout.spec)
    for h in all_hosts(rollout):
        if h.state == rpb.ROLLOUT_HOST_STATE_WAITING:
            times.append(h.waiting_since.ToNanoseconds() / 1e9 + deadline)
        if h.state == rpb.ROLLOUT_HOST_STATE_RUNNING:
            times.append(now + RECHECK_SECONDS)
    return min(times) if times else None


def _offline_deadline(spec: rpb.RolloutSpec) -> float:
    return (
        _seconds(spec.offline_deadline)
        if spec.HasField("offline_deadline")
        else DEFAULT_OFFLINE_DEADLINE_SECONDS
    )


def advance(
    rollout: rpb.Rollout, seen: Mapping[str, Seen], now: float, new_id: Callable[[], str]
) -> list[Start]:
    """Move the rollout on as far as the facts allow (in place); the commands to start, in order."""
    starts: list[Start] = []
    for host in all_hosts(rollout):
        if host.state == rpb.ROLLOUT_HOST_STATE_RUNNING:
            _follow(rollout, host, seen.get(host.host, Seen()), now, new_id, starts)
    _roll_back_failed(rollout, seen, new_id, starts)
    if rollout.state in FINISHED_ROLLOUT:
        _settle_aborted(rollout, now)
        return starts
    _check_budget(rollout)
    if rollout.state != rpb.ROLLOUT_STATE_RUNNING:
        return starts
    if rollout.HasField("resume_at"):
        if rollout.resume_at.ToNanoseconds() / 1e9 > now:
            return starts
        rollout.ClearField("resume_at")
    while rollout.current_batch < len(rollout.batches):
        batch = rollout.batches[rollout.current_batch]
        if not all(h.state in _DONE_HOST for h in batch.hosts):
            _start_hosts(rollout, batch, seen, now, new_id, starts)
            _check_budget(rollout)
            if rollout.state != rpb.ROLLOUT_STATE_RUNNING or not all(
                h.state in _DONE_HOST for h in batch.hosts
            ):
                return starts
        rollout.current_batch += 1
        if rollout.current_batch == len(rollout.batches):
            break
        if batch.canary and rollout.spec.approve_after_canary:
            rollout.state = rpb.ROLLOUT_STATE_AWAITING_APPROVAL
            rollout.message = "canary passed; approve to go on"
            return starts
        if _seconds(rollout.spec.batch_pause) > 0:
            rollout.resume_at.FromNanoseconds(int((now + _seconds(rollout.spec.batch_pause)) * 1e9))
            rollout.message = f"batch {rollout.current_batch} done; pausing before the next"
            return starts
    rollout.state = rpb.ROLLOUT_STATE_SUCCEEDED
    rollout.finished_at.FromNanoseconds(int(now * 1e9))
    failed = rollout.failed_hosts
    rollout.message = "every batch done" + (
        f"; {failed} host(s) failed: {failure_summary(rollout)}" if failed else ""
    )
    return starts


def _count_failed(rollout: rpb.Rollout) -> int:
    """Failed hosts, including those being rolled back."""
    return sum(
        1
        for h in all_hosts(rollout)
        if h.state == rpb.ROLLOUT_HOST_STATE_FAILED
        or (h.state == rpb.ROLLOUT_HOST_STATE_RUNNING and h.step == rpb.ROLLOUT_STEP_ROLLBACK)
    )


def _check_budget(rollout: rpb.Rollout) -> None:
    rollout.failed_hosts = _count_failed(rollout)
    over = rollout.failed_hosts - rollout.accepted_failures > rollout.spec.failure_budget
    if over and rollout.state in (rpb.ROLLOUT_STATE_RUNNING, rpb.ROLLOUT_STATE_PAUSED):
        rollout.state = rpb.ROLLOUT_STATE_STOPPED
        rollout.ClearField("resume_at")
        for host in all_hosts(rollout):
            if host.state == rpb.ROLLOUT_HOST_STATE_WAITING:  # not touched: back in line
                host.state = rpb.ROLLOUT_HOST_STATE_PENDING
                host.ClearField("waiting_since")
        rollout.message = (
            f"stopped: {rollout.failed_hosts} host(s) failed (budget {rollout.spec.failure_budget}): "
            f"{failure_summary(rollout)} — roll back the failed hosts, resume anyway, or abort"
        )


def _settle_aborted(rollout: rpb.Rollout, now: float) -> None:
    if rollout.state != rpb.ROLLOUT_STATE_ABORTED:
        return
    rollout.failed_hosts = _count_failed(rollout)
    for host in all_hosts(rollout):
        if host.state in (rpb.ROLLOUT_HOST_STATE_PENDING, rpb.ROLLOUT_HOST_STATE_WAITING):
            host.state = rpb.ROLLOUT_HOST_STATE_ABORTED
            host.message = "not touched: the rollout was aborted"
            host.ClearField("waiting_since")
    running = any(h.state == rpb.ROLLOUT_HOST_STATE_RUNNING for h in all_hosts(rollout))
    if not running and not rollout.HasField("finished_at"):
        rollout.finished_at.FromNanoseconds(int(now * 1e9))


def _start_step(
    host: rpb.RolloutHost, step: rpb.RolloutStep, new_id: Callable[[], str], starts: list[Start]
) -> None:
    host.state = rpb.ROLLOUT_HOST_STATE_RUNNING
    host.step = step
    host.command_id = new_id()
    host.ClearField("waiting_since")
    starts.append(Start(host.host, _STEP_OPERATION[step], host.command_id))


def _start_hosts(
    rollout: rpb.Rollout,
    batch: rpb.RolloutBatch,
    seen: Mapping[str, Seen],
    now: float,
    new_id: Callable[[], str],
    starts: list[Start],
) -> None:
    limit = rollout.spec.max_parallel or len(batch.hosts)
    busy = sum(1 for h in batch.hosts if h.state == rpb.ROLLOUT_HOST_STATE_RUNNING)
    for host in batch.hosts:
        if host.state not in (rpb.ROLLOUT_HOST_STATE_PENDING, rpb.ROLLOUT_HOST_STATE_WAITING):
            continue
        if busy >= limit:
            return
        if host.state == rpb.ROLLOUT_HOST_STATE_PENDING:
            host.state = rpb.ROLLOUT_HOST_STATE_WAITING
            host.waiting_since.FromNanoseconds(int(now * 1e9))
        facts = seen.get(host.host, Seen())
        if facts.online and not facts.running_id:
            host.message = ""
            _start_step(host, rpb.ROLLOUT_STEP_PULL, new_id, starts)
            busy += 1
            continue
        waited = now - host.waiting_since.ToNanoseconds() / 1e9
        why = "offline" if not facts.online else "busy with another command"
        if waited < _offline_deadline(rollout.spec):
            host.message = f"waiting: host is {why}"
            continue
        host.ClearField("waiting_since")
        if rollout.spec.offline_host_action == rpb.OFFLINE_HOST_ACTION_SKIP:
            host.state = rpb.ROLLOUT_HOST_STATE_SKIPPED
            host.message = f"skipped: {why} past the deadline"
        else:
            host.state = rpb.ROLLOUT_HOST_STATE_FAILED
            host.message = f"{why} past the deadline"


def _failed_cases(run: pb.TestRun | None) -> list[str]:
    return [] if run is None else [c.name for c in run.cases if c.outcome in _FAILED_OUTCOMES]


def _fail(rollout: rpb.Rollout, host: rpb.RolloutHost, message: str) -> None:
    host.state = rpb.ROLLOUT_HOST_STATE_FAILED
    host.message = message


def _follow(
    rollout: rpb.Rollout,
    host: rpb.RolloutHost,
    facts: Seen,
    now: float,
    new_id: Callable[[], str],
    starts: list[Start],
) -> None:
    """A host in a step: wait, take the next step, or settle it."""
    aborted = rollout.state == rpb.ROLLOUT_STATE_ABORTED
    step = host.step
    command = facts.step
    name = _STEP_NAME[step]
    if command is None:
        # Recorded but not started (the host was busy, or the control plane stopped in between).
        running = facts.running
        if (
            step == rpb.ROLLOUT_STEP_TEST
            and running is not None
            and running.trigger == pb.TEST_TRIGGER_AFTER_SWITCH
        ):
            host.command_id = running.id  # the run its switch started after all: follow that one
            return
        if aborted and step != rpb.ROLLOUT_STEP_ROLLBACK:
            host.state = rpb.ROLLOUT_HOST_STATE_ABORTED
            host.message = f"aborted before its {name} started"
        elif facts.online and not facts.running_id:
            starts.append(Start(host.host, _STEP_OPERATION[step], host.command_id))
        return
    if command.state in _UNFINISHED:
        return
    if command.state == pb.COMMAND_STATE_INTERRUPTED:
        settled = facts.online and facts.running_id != command.id
        if settled and now - facts.online_since >= INTERRUPTED_GRACE_SECONDS:
            _fail(rollout, host, f"{name} was interrupted; its outcome is unknown — check the host")
        return
    if step == rpb.ROLLOUT_STEP_ROLLBACK:
        host.state = rpb.ROLLOUT_HOST_STATE_FAILED
        if command.state == pb.COMMAND_STATE_SUCCEEDED:
            host.rolled_back = True
            host.done_steps.append(step)
            host.message += "; rolled back"
        else:
            host.message += f"; rollback {_outcome(command)}"
        return
    if command.state != pb.COMMAND_STATE_SUCCEEDED and step != rpb.ROLLOUT_STEP_TEST:
        _fail(rollout, host, f"{name} {_outcome(command)}")
        return
    if step == rpb.ROLLOUT_STEP_TEST:
        host.test_run_id = command.id
        run = facts.run
        if (
            command.state == pb.COMMAND_STATE_SUCCEEDED
            and run is not None
            and run.state == pb.TEST_STATE_PASSED
        ):
            host.done_steps.append(step)
            host.state = rpb.ROLLOUT_HOST_STATE_SUCCEEDED
            host.message = f"tests passed ({run.passed}/{run.total})"
            return
        cases = _failed_cases(run)
        del host.failed_cases[:]
        host.failed_cases.extend(cases)
        _fail(rollout, host, "tests failed: " + ", ".join(cases) if cases else f"tests {_outcome(command)}")
        return
    host.done_steps.append(step)
    if aborted:
        host.state = rpb.ROLLOUT_HOST_STATE_ABORTED
        host.message = f"aborted after its {name}"
        if step == rpb.ROLLOUT_STEP_SWITCH:
            _adopt_auto_test(host, command)
        return
    if step == rpb.ROLLOUT_STEP_PULL:
        _start_step(host, rpb.ROLLOUT_STEP_SWITCH, new_id, starts)
        return
    # The switch succeeded: tests are required. Follow the run the switch started, or start one when
    # the switch says none follows (auto-run off, ...); until it says either, look again later.
    if _adopt_auto_test(host, command):
        return
    if not command.no_test_run_reason or facts.running_id:
        host.done_steps.pop()
        return
    _start_step(host, rpb.ROLLOUT_STEP_TEST, new_id, starts)


def _adopt_auto_test(host: rpb.RolloutHost, switch: pb.Command) -> bool:
    if not switch.triggered_test_command_id:
        return False
    host.state = rpb.ROLLOUT_HOST_STATE_RUNNING
    host.step = rpb.ROLLOUT_STEP_TEST
    host.command_id = switch.triggered_test_command_id
    return True


def _outcome(command: pb.Command) -> str:
    if command.state == pb.COMMAND_STATE_FAILED:
        return f"failed (exit {command.exit_code})"
    state = pb.CommandState.Name(command.state).removeprefix("COMMAND_STATE_").lower().replace("_", " ")
    return state + (f": {command.message}" if command.message else "")


def _roll_back_failed(
    rollout: rpb.Rollout, seen: Mapping[str, Seen], new_id: Callable[[], str], starts: list[Start]
) -> None:
    wanted = (
        rollout.spec.failed_host_action == rpb.FAILED_HOST_ACTION_ROLL_BACK or rollout.roll_back_failed_hosts
    )
    if not wanted:
        return
    for host in all_hosts(rollout):
        if (
            host.state == rpb.ROLLOUT_HOST_STATE_FAILED
            and not host.rolled_back
            and host.step != rpb.ROLLOUT_STEP_ROLLBACK
            and rpb.ROLLOUT_STEP_SWITCH in host.done_steps
        ):
            facts = seen.get(host.host, Seen())
            if facts.online and not facts.running_id:
                _start_step(host, rpb.ROLLOUT_STEP_ROLLBACK, new_id, starts)


def touched(host: rpb.RolloutHost) -> bool:
    """Whether the rollout has started moving the host (its pull was at least asked for)."""
    return host.step != rpb.ROLLOUT_STEP_UNSPECIFIED


def hosts_of(rollouts: Sequence[rpb.Rollout]) -> set[str]:
    """Every host of these rollouts."""
    return {h.host for r in rollouts for h in all_hosts(r)}
