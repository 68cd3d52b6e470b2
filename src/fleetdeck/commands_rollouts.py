"""Verbs for rollouts and labels: `rollout create|get|list|pause|resume|abort|approve`, `labels`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import click
from rich.table import Table
from rich.text import Text

from fleetdeck import exits
from fleetdeck.invocation import DEADLINE_SECONDS, Options, call, common_options
from fleetdeck.render import console, print_json
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import rollouts_pb2 as rpb

if TYPE_CHECKING:
    from fleetdeck.invocation import Stub

SECONDS = click.FloatRange(min=0)
_HOST_STYLES = {
    rpb.ROLLOUT_HOST_STATE_SUCCEEDED: "green",
    rpb.ROLLOUT_HOST_STATE_FAILED: "bold red",
    rpb.ROLLOUT_HOST_STATE_RUNNING: "blue",
    rpb.ROLLOUT_HOST_STATE_WAITING: "yellow",
}


def _word(enum: type, value: int, prefix: str) -> str:
    return str(enum.Name(value)).removeprefix(prefix).lower().replace("_", " ")  # type: ignore[attr-defined]


def state_word(rollout: rpb.Rollout) -> str:
    """ "running", "stopped", "awaiting approval", ..."""
    return _word(rpb.RolloutState, rollout.state, "ROLLOUT_STATE_")


def ended(rollout: rpb.Rollout) -> bool:
    """Whether a wait is over: the rollout needs a person (stopped, approval) or is finished."""
    running = any(h.state == rpb.ROLLOUT_HOST_STATE_RUNNING for b in rollout.batches for h in b.hosts)
    if rollout.state in (rpb.ROLLOUT_STATE_STOPPED, rpb.ROLLOUT_STATE_AWAITING_APPROVAL):
        return not running
    return rollout.HasField("finished_at")


def exit_code(rollout: rpb.Rollout) -> int:
    """0 when it succeeded or waits for approval; 1 when it stopped on failures or was aborted."""
    if rollout.state in (rpb.ROLLOUT_STATE_SUCCEEDED, rpb.ROLLOUT_STATE_AWAITING_APPROVAL):
        return exits.OK
    if rollout.state in (rpb.ROLLOUT_STATE_STOPPED, rpb.ROLLOUT_STATE_ABORTED):
        return exits.FAILED
    return exits.OK


def rollout_table(rollout: rpb.Rollout) -> Table:
    """One row per host, batch by batch: its state, step and what it says."""
    table = Table(
        box=None, pad_edge=False, title=f"rollout {rollout.id}: {state_word(rollout)}", title_justify="left"
    )
    for column in ("BATCH", "HOST", "STATE", "STEP", "DETAIL"):
        table.add_column(column, no_wrap=column != "DETAIL")
    for i, batch in enumerate(rollout.batches):
        label = "canary" if batch.canary else str(i + (0 if rollout.batches[0].canary else 1))
        for host in batch.hosts:
            step = _word(rpb.RolloutStep, host.step, "ROLLOUT_STEP_") if host.step else "-"
            state = _word(rpb.RolloutHostState, host.state, "ROLLOUT_HOST_STATE_")
            table.add_row(
                label, host.host, Text(state, style=_HOST_STYLES.get(host.state, "")), step, host.message
            )
    return table


def _show(rollout: rpb.Rollout, opts: Options) -> None:
    if opts.json:
        print_json(rollout)
        return
    out = console()
    out.print(rollout_table(rollout))
    out.print(f"{state_word(rollout)}: {rollout.message}" if rollout.message else state_word(rollout))
    if rollout.state == rpb.ROLLOUT_STATE_AWAITING_APPROVAL:
        out.print(f"approve with: fleetdeck rollout approve {rollout.id}")
    if rollout.state == rpb.ROLLOUT_STATE_STOPPED:
        out.print(
            f"next: fleetdeck rollout abort --roll-back-failed {rollout.id} | "
            f"fleetdeck rollout resume {rollout.id} | fleetdeck rollout abort {rollout.id}"
        )


async def _wait(stub: Stub, rollout_id: str) -> rpb.Rollout:
    """The rollout once it ended or needs a person, watching WatchFleet."""
    call = stub.WatchFleet(fleet_pb.WatchFleetRequest())
    try:
        first = True
        async for event in call:
            if first:
                first = False
                got = await stub.GetRollout(
                    rpb.GetRolloutRequest(rollout_id=rollout_id), timeout=DEADLINE_SECONDS
                )
                current: rpb.Rollout = got.rollout
                if ended(current):
                    return current
            changed: rpb.Rollout = event.rollout
            if event.WhichOneof("event") == "rollout" and changed.id == rollout_id and ended(changed):
                return changed
    finally:
        call.cancel()
    raise exits.CliError("the control plane ended the watch", exits.UNREACHABLE)


def _then(
    wait: bool, act: Callable[[Stub], Awaitable[rpb.Rollout]]
) -> Callable[[Stub, Options], Awaitable[int]]:
    async def verb(stub: Stub, opts: Options) -> int:
        rollout = await act(stub)
        if wait and not ended(rollout):
            if not opts.json:
                console(stderr=True).print(f"rollout {rollout.id}: {state_word(rollout)}; waiting…")
            rollout = await _wait(stub, rollout.id)
        _show(rollout, opts)
        return exit_code(rollout) if wait else exits.OK

    return verb


_WAIT = click.option(
    "--wait", is_flag=True, help="wait until it ends or needs a person; exit 1 if it stopped on failures"
)


@click.group("rollout")
@common_options()
def rollout() -> None:
    """Rollouts: canary first, then batches; each host pulled, switched and tested; stop on red."""


@rollout.command("create")
@click.option("--commit", required=True, metavar="SHA", help="the commit to roll out (40 hex digits)")
@click.option("--lock-hash", required=True, metavar="H", help="SHA-256 of flake.lock at that commit")
@click.option("--selector", "-l", default="", metavar="SEL", help="the hosts (default: every host)")
@click.option("--canary", multiple=True, metavar="HOST", help="a canary host (default: label canary=true)")
@click.option("--batch-size", type=click.IntRange(min=1), help="hosts per batch after the canary")
@click.option("--batch-percent", type=click.IntRange(1, 100), help="batch size as a % of the hosts")
@click.option(
    "--max-parallel", type=click.IntRange(min=0), default=0, help="hosts of a batch at once (0: all)"
)
@click.option("--failure-budget", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--batch-pause", type=SECONDS, help="seconds to pause between batches")
@click.option("--approve-after-canary", is_flag=True, help="wait for `rollout approve` after the canary")
@click.option("--roll-back-failed", is_flag=True, help="roll hosts whose tests failed back at once")
@click.option("--offline-deadline", type=SECONDS, help="seconds to wait for an offline host (default 600)")
@click.option(
    "--skip-offline", is_flag=True, help="skip hosts offline past the deadline instead of failing them"
)
@_WAIT
@common_options()
def create(
    commit: str,
    lock_hash: str,
    selector: str,
    canary: tuple[str, ...],
    batch_size: int | None,
    batch_percent: int | None,
    max_parallel: int,
    failure_budget: int,
    batch_pause: float | None,
    approve_after_canary: bool,
    roll_back_failed: bool,
    offline_deadline: float | None,
    skip_offline: bool,
    wait: bool,
) -> int:
    """Start a rollout of COMMIT to the hosts of --selector."""
    spec = rpb.RolloutSpec(
        commit=commit,
        lock_hash=lock_hash,
        selector=selector,
        canary_hosts=list(canary),
        batch_size=batch_size or 0,
        batch_percent=batch_percent or 0,
        max_parallel=max_parallel,
        failure_budget=failure_budget,
        approve_after_canary=approve_after_canary,
        failed_host_action=rpb.FAILED_HOST_ACTION_ROLL_BACK
        if roll_back_failed
        else rpb.FAILED_HOST_ACTION_LEAVE,
        offline_host_action=rpb.OFFLINE_HOST_ACTION_SKIP if skip_offline else rpb.OFFLINE_HOST_ACTION_FAIL,
    )
    if batch_pause is not None:
        spec.batch_pause.FromNanoseconds(int(batch_pause * 1e9))
    if offline_deadline is not None:
        spec.offline_deadline.FromNanoseconds(int(offline_deadline * 1e9))

    async def act(stub: Stub) -> rpb.Rollout:
        request = rpb.CreateRolloutRequest(spec=spec)
        response = await stub.CreateRollout(request, timeout=DEADLINE_SECONDS)
        result: rpb.Rollout = response.rollout
        return result

    return call(_then(wait, act))


@rollout.command("get")
@click.argument("rollout_id")
@_WAIT
@common_options()
def get(rollout_id: str, wait: bool) -> int:
    """One rollout: its batches, hosts, steps and failing cases."""

    async def act(stub: Stub) -> rpb.Rollout:
        request = rpb.GetRolloutRequest(rollout_id=rollout_id)
        response = await stub.GetRollout(request, timeout=DEADLINE_SECONDS)
        result: rpb.Rollout = response.rollout
        return result

    return call(_then(wait, act))


async def _list(stub: Stub, opts: Options, limit: int) -> int:
    response = await stub.ListRollouts(rpb.ListRolloutsRequest(page_size=limit), timeout=DEADLINE_SECONDS)
    if opts.json:
        print_json(response)
        return exits.OK
    table = Table(box=None, pad_edge=False)
    for column in ("ID", "STATE", "COMMIT", "SELECTOR", "HOSTS", "FAILED", "MESSAGE"):
        table.add_column(column, no_wrap=column != "MESSAGE")
    for r in response.rollouts:
        hosts = sum(len(b.hosts) for b in r.batches)
        table.add_row(
            r.id,
            state_word(r),
            r.spec.commit[:7],
            r.spec.selector or "*",
            str(hosts),
            str(r.failed_hosts),
            r.message,
        )
    console().print(table)
    return exits.OK


@rollout.command("list")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@common_options()
def list_(limit: int) -> int:
    """Rollouts, newest first."""
    return call(lambda stub, opts: _list(stub, opts, limit))


def _simple(name: str, doc: str, rpc: str, request_type: type, waits: bool = True) -> click.Command:
    @click.argument("rollout_id")
    @common_options()
    def verb(rollout_id: str, wait: bool = False) -> int:
        async def act(stub: Stub) -> rpb.Rollout:
            response = await getattr(stub, rpc)(request_type(rollout_id=rollout_id), timeout=DEADLINE_SECONDS)
            result: rpb.Rollout = response.rollout
            return result

        return call(_then(wait, act))

    verb.__doc__ = doc
    if waits:
        verb = _WAIT(verb)
    return rollout.command(name)(verb)


_simple(
    "pause",
    "Pause: running steps finish, no further host starts.",
    "PauseRollout",
    rpb.PauseRolloutRequest,
    False,
)
_simple(
    "resume", "Resume a paused rollout, or a stopped one anyway.", "ResumeRollout", rpb.ResumeRolloutRequest
)
_simple("approve", "Go on after the canary passed.", "ApproveRollout", rpb.ApproveRolloutRequest)


@rollout.command("abort")
@click.argument("rollout_id")
@click.option("--roll-back-failed", is_flag=True, help="also roll back the hosts that failed")
@_WAIT
@common_options()
def abort(rollout_id: str, roll_back_failed: bool, wait: bool) -> int:
    """Abort: no further step starts; running steps are followed to their end."""

    async def act(stub: Stub) -> rpb.Rollout:
        request = rpb.AbortRolloutRequest(rollout_id=rollout_id, roll_back_failed_hosts=roll_back_failed)
        response = await stub.AbortRollout(request, timeout=DEADLINE_SECONDS)
        result: rpb.Rollout = response.rollout
        return result

    return call(_then(wait, act))


async def _labels(stub: Stub, opts: Options, host: str, pairs: tuple[str, ...], replace: bool) -> int:
    labels = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep and not key.endswith("-"):
            raise exits.CliError(f"label {pair!r}: write key=value, or key- to remove it", exits.USAGE)
        labels[key.removesuffix("-") if not sep else key] = value
    request = rpb.UpdateHostLabelsRequest(host=host, labels=labels, replace=replace)
    response = await stub.UpdateHostLabels(request, timeout=DEADLINE_SECONDS)
    if opts.json:
        print_json(response)
    else:
        shown = ",".join(f"{k}={v}" for k, v in sorted(response.host.labels.items()))
        console().print(f"{host}: {shown or '(no labels)'}")
    return exits.OK


@click.command("labels")
@click.argument("host")
@click.argument("pairs", nargs=-1, metavar="KEY=VALUE|KEY-")
@click.option("--replace", is_flag=True, help="replace every API label instead of merging")
@common_options()
def labels(host: str, pairs: tuple[str, ...], replace: bool) -> int:
    """Set labels on HOST through the API (they win over agent.toml); KEY- removes one."""
    return call(lambda stub, opts: _labels(stub, opts, host, pairs, replace))
