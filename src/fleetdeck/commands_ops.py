"""Verbs that run and follow commands: `run`, `logs`, `cancel`, `commands`, `command`."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import click
import grpc
from rich.console import Console
from rich.table import Table
from rich.text import Text

from fleetdeck import exits, operations
from fleetdeck.command_watch import CommandWatch
from fleetdeck.invocation import DEADLINE_SECONDS, Options, call, common_options
from fleetdeck.operations import operation_name
from fleetdeck.render import (
    commands_table,
    console,
    failing_cases,
    print_json,
    state_word,
    test_cases_table,
)
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import types_pb2 as pb
from fleetdeck.verdict import HostVerdict, exit_code

if TYPE_CHECKING:
    from fleetdeck.invocation import Stub

_STYLES = {pb.OUTPUT_STREAM_STDERR: "red", pb.OUTPUT_STREAM_SYSTEM: "dim"}


def _print_lines(out: Console, lines: list[pb.OutputLine], prefix: str) -> None:
    for line in lines:
        out.print(prefix + line.text, style=_STYLES.get(line.stream), markup=False, highlight=False)


async def _follow_output(stub: Stub, out: Console, command_id: str, prefix: str) -> pb.Command | None:
    """Print a command's output, stored then live, until it ends; the finished command."""
    request = fleet_pb.StreamCommandOutputRequest(command_id=command_id)
    finished = None
    async for response in stub.StreamCommandOutput(request):
        _print_lines(out, list(response.lines), prefix)
        if response.HasField("command"):
            finished = response.command
    return finished


async def _wait_host(
    stub: Stub,
    watch: CommandWatch,
    verdict: HostVerdict,
    command_id: str,
    follow: bool,
    out: Console,
    label: str,
) -> HostVerdict:
    """Follow one host's command and the test run it triggers to the end; fill in its verdict."""
    prefix = f"[{label}] " if label else ""
    outputs: asyncio.Queue[pb.Command | None] = asyncio.Queue()

    async def print_outputs() -> None:
        while (command := await outputs.get()) is not None:
            what = f"{operation_name(command.operation)} {command.id}"
            out.print(f"{prefix}── {what} ──", style="bold", markup=False)
            ended = await _follow_output(stub, out, command.id, prefix)
            if ended is not None:
                out.print(f"{prefix}── {what}: {state_word(ended.state)} ──", style="bold", markup=False)

    printer = asyncio.create_task(print_outputs()) if follow else None
    announced: set[str] = set()
    try:
        async for command in watch.updates(command_id):
            if command.id == command_id:
                verdict.command = command
            else:
                verdict.test_command = command
            if command.id not in announced:
                announced.add(command.id)
                if follow:
                    outputs.put_nowait(command)
                elif command.id != command_id:
                    out.print(f"{label or command.host}: tests started after the switch (run {command.id})")
        outputs.put_nowait(None)
        decided = watch.verdicts.get(command_id)
        if decided is not None and decided.no_test_run_reason:
            verdict.no_test_run = decided.message.split("no test run follows: ", 1)[-1]
        if printer is not None:
            await printer
    finally:
        if printer is not None and not printer.done():
            printer.cancel()
    tests = verdict.run_of_tests
    if tests is not None:
        try:
            got = await stub.GetTestRun(fleet_pb.GetTestRunRequest(run_id=tests.id), timeout=DEADLINE_SECONDS)
            verdict.test_run = got.run
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.NOT_FOUND:  # NOT_FOUND: the run ended without results
                raise
    return verdict


def _summary(verdicts: list[HostVerdict], follow: bool, out: Console) -> None:
    for v in verdicts:
        if v.test_run is not None and v.test_run.cases:
            out.print(f"\n{v.host}: test cases of run {v.test_run.id}", style="bold")
            out.print(test_cases_table(v.test_run))
            if not follow:
                for case in failing_cases(v.test_run):
                    out.print(f"--- {case.name} ---", style="bold red", markup=False)
                    out.print(case.output, markup=False)
    out.print()
    if len(verdicts) == 1:
        out.print(verdicts[0].sentence(), markup=False)
        return
    table = Table(box=None, pad_edge=False)
    for column in ("HOST", "RESULT", "DETAIL"):
        table.add_column(column, no_wrap=column != "DETAIL")
    styles = {"passed": "bold green", "failed": "bold red", "refused": "bold yellow"}
    for v in verdicts:
        detail = v.sentence().split(": ", 1)[1]
        table.add_row(v.host, Text(v.outcome, style=styles[v.outcome]), detail)
    out.print(table)


async def _run(
    stub: Stub,
    opts: Options,
    operation: str,
    hosts: tuple[str, ...],
    wait: bool,
    follow: bool,
    command_timeout: float | None,
    wait_timeout: float | None = None,
    selector: str = "",
    queue_ttl: float | None = None,
) -> int:
    request = fleet_pb.RunOperationRequest(
        hosts=list(hosts),
        operation=operations.BY_NAME[operation],
        selector=selector,
        queue=queue_ttl is not None,
    )
    if queue_ttl:
        request.queue_ttl.FromNanoseconds(int(queue_ttl * 1e9))
    if command_timeout is not None:
        request.timeout.FromNanoseconds(int(command_timeout * 1e9))
    out = console(stderr=opts.json)  # with JSON on stdout, progress and output go to stderr
    if not wait:
        response = await stub.RunOperation(request, timeout=DEADLINE_SECONDS)
        refused = any(r.refused_reason for r in response.results)
        if opts.json:
            print_json(response)
        else:
            for r in response.results:
                verb = "queued" if r.queued else "started"
                text = f"{verb} {operation} on {r.host}: command {r.command_id}"
                out.print(
                    f"{r.host}: refused: {r.refused_reason}" if r.refused_reason else text, markup=False
                )
        return exits.REFUSED if refused else exits.OK
    async with CommandWatch(stub) as watch:  # watching before anything starts: nothing is missed
        response = await stub.RunOperation(request, timeout=DEADLINE_SECONDS)
        verdicts = [HostVerdict(r.host, refused_reason=r.refused_reason) for r in response.results]
        several = len(response.results) > 1
        waits = []
        for verdict, result in zip(verdicts, response.results, strict=True):
            if result.refused_reason:
                out.print(f"{result.host}: refused: {result.refused_reason}", markup=False)
                continue
            if not follow:
                out.print(f"{result.host}: {operation} started (command {result.command_id})", markup=False)
            label = result.host if several else ""
            waits.append(_wait_host(stub, watch, verdict, result.command_id, follow, out, label))
        try:
            async with asyncio.timeout(wait_timeout):
                await asyncio.gather(*waits)
        except TimeoutError:
            raise exits.CliError(
                f"gave up waiting for the verdict after {wait_timeout:g} s; the commands go on "
                "(see `fleetdeck commands`)",
                exits.FAILED,
            ) from None
    if opts.json:
        print_json({"results": [v.to_dict() for v in verdicts]})
    else:
        _summary(verdicts, follow, out)
    return exit_code(verdicts)


@click.command("run")
@click.argument("operation", type=click.Choice(list(operations.BY_NAME)))
@click.argument("hosts", nargs=-1)
@click.option("--selector", "-l", default="", metavar="SEL", help="instead of HOSTS: hosts with these labels")
@click.option("--wait", is_flag=True, help="wait for the command and the test run a switch triggers")
@click.option("--follow", "-f", is_flag=True, help="print the output live while waiting (implies --wait)")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="command timeout in seconds")
@click.option(
    "--wait-timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="with --wait: give up waiting after this many seconds (exit 1; the commands go on)",
)
@click.option("--queue", is_flag=True, help="queue it for offline hosts: it runs when they reconnect")
@click.option(
    "--queue-ttl",
    type=click.FloatRange(min=0, min_open=True),
    help="seconds a queued command waits (default 3600)",
)
@common_options()
def run(
    operation: str,
    hosts: tuple[str, ...],
    selector: str,
    wait: bool,
    follow: bool,
    timeout: float | None,
    wait_timeout: float | None,
    queue: bool,
    queue_ttl: float | None,
) -> int:
    """Run OPERATION (pull, switch, test, rollback) on one or more HOSTS.

    With --wait, wait for the verdict: the command, and after a switch the test run it triggers; print
    the test cases and exit 1 if the operation or the tests failed (3 if a host refused). With several
    hosts, a summary table with one row per host. --selector (-l) picks the hosts by label instead.
    --queue queues it for hosts that are offline (cancel it with `fleetdeck cancel`).
    """
    if bool(hosts) == bool(selector):
        raise click.UsageError("name HOSTS or give --selector, not both and not neither")
    if queue_ttl is not None and not queue:
        raise click.UsageError("--queue-ttl goes with --queue")
    ttl = (queue_ttl or 0.0) if queue else None
    return call(
        lambda stub, opts: _run(
            stub,
            opts,
            operation,
            hosts,
            wait or follow or wait_timeout is not None,
            follow,
            timeout,
            wait_timeout,
            selector,
            ttl,
        )
    )


async def _logs(stub: Stub, opts: Options, command_id: str, follow: bool) -> int:
    request = fleet_pb.StreamCommandOutputRequest(command_id=command_id, no_follow=not follow)
    out = console()
    finished = None
    async for response in stub.StreamCommandOutput(request):
        if opts.json:
            print_json(response, line=True)
        else:
            if response.truncated_bytes:
                out.print(f"[{response.truncated_bytes} bytes of older output dropped]", style="dim")
            _print_lines(out, list(response.lines), "")
        if response.HasField("command"):
            finished = response.command
    if follow and finished is not None and finished.state != pb.COMMAND_STATE_SUCCEEDED:
        return exits.FAILED
    return exits.OK


@click.command("logs")
@click.argument("command_id")
@click.option("--follow", "-f", is_flag=True, help="go on with the live output until the command ends")
@common_options()
def logs(command_id: str, follow: bool) -> int:
    """Print a command's output (JSON: one StreamCommandOutputResponse per line).

    With -f, follow it live and exit 1 if the command did not succeed.
    """
    return call(lambda stub, opts: _logs(stub, opts, command_id, follow))


async def _cancel(stub: Stub, opts: Options, command_id: str) -> int:
    response = await stub.CancelCommand(
        fleet_pb.CancelCommandRequest(command_id=command_id), timeout=DEADLINE_SECONDS
    )
    if opts.json:
        print_json(response)
    else:
        c = response.command
        console().print(f"asked {c.host} to stop {operation_name(c.operation)} command {c.id}", markup=False)
    return exits.OK


@click.command("cancel")
@click.argument("command_id")
@common_options()
def cancel(command_id: str) -> int:
    """Stop a running command (exit 3 if it already finished or its host is offline)."""
    return call(lambda stub, opts: _cancel(stub, opts, command_id))


async def _commands(stub: Stub, opts: Options, host: str, limit: int) -> int:
    response = await stub.ListCommands(
        fleet_pb.ListCommandsRequest(host=host, page_size=limit), timeout=DEADLINE_SECONDS
    )
    if opts.json:
        print_json(response)
    else:
        console().print(commands_table(response.commands))
    return exits.OK


@click.command("commands")
@click.argument("host", required=False, default="")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@common_options()
def commands(host: str, limit: int) -> int:
    """A host's commands (every host's without HOST), newest first: the History."""
    return call(lambda stub, opts: _commands(stub, opts, host, limit))


async def _command(stub: Stub, opts: Options, command_id: str) -> int:
    response = await stub.GetCommand(
        fleet_pb.GetCommandRequest(command_id=command_id), timeout=DEADLINE_SECONDS
    )
    if opts.json:
        print_json(response)
    else:
        console().print(commands_table([response.command]))
    return exits.OK


@click.command("command")
@click.argument("command_id")
@common_options()
def command(command_id: str) -> int:
    """One command and its state."""
    return call(lambda stub, opts: _command(stub, opts, command_id))
