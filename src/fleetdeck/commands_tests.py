"""Verbs that show test results: `test-runs`, `test-run` (also as JUnit XML)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import click

from fleetdeck import exits
from fleetdeck.history import classification_name
from fleetdeck.invocation import DEADLINE_SECONDS, Options, call, common_options
from fleetdeck.junit import junit_xml
from fleetdeck.render import (
    case_story,
    console,
    failing_cases,
    print_json,
    test_cases_table,
    test_run_summary,
    test_runs_table,
)
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import history_pb2 as history_pb
from fleetdeck.v1 import types_pb2 as pb

if TYPE_CHECKING:
    from fleetdeck.invocation import Stub


async def _test_runs(stub: Stub, opts: Options, host: str, limit: int) -> int:
    response = await stub.ListTestRuns(
        fleet_pb.ListTestRunsRequest(host=host, page_size=limit), timeout=DEADLINE_SECONDS
    )
    if opts.json:
        print_json(response)
    else:
        console().print(test_runs_table(response.runs))
    return exits.OK


@click.command("test-runs")
@click.argument("host")
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
@common_options()
def test_runs(host: str, limit: int) -> int:
    """A host's test runs, newest first."""
    return call(lambda stub, opts: _test_runs(stub, opts, host, limit))


async def _test_run(stub: Stub, opts: Options, run_id: str, junit: Path | None) -> int:
    response = await stub.GetTestRun(fleet_pb.GetTestRunRequest(run_id=run_id), timeout=DEADLINE_SECONDS)
    run = response.run
    if junit is not None:
        try:
            await asyncio.to_thread(junit.write_bytes, junit_xml(run))
        except OSError as error:
            raise exits.CliError(f"cannot write {junit}: {error.strerror}", exits.USAGE) from error
    if opts.json:
        print_json(response)
    else:
        out = console()
        out.print(test_run_summary(run), markup=False)
        out.print(test_cases_table(run))
        failing = failing_cases(run)
        summaries = await _summaries(stub, run.host) if failing else {}
        for case in failing:
            badge = classification_name(case.classification)
            out.print(f"--- {case.name}{f' ({badge})' if badge else ''} ---", style="bold red", markup=False)
            if case.name in summaries:
                out.print(case_story(summaries[case.name]), markup=False)
            if case.message:
                out.print(case.message, markup=False)
            out.print(case.output, markup=False)
        if junit is not None:
            out.print(f"JUnit XML written to {junit}", markup=False)
    return exits.FAILED if run.state == pb.TEST_STATE_FAILED else exits.OK


@click.command("test-run")
@click.argument("run_id")
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="also write the run as JUnit XML to FILE",
)
@common_options()
def test_run(run_id: str, junit: Path | None) -> int:
    """One test run with every case and the failing cases' output; exit 1 if it failed."""
    return call(lambda stub, opts: _test_run(stub, opts, run_id, junit))


async def _summaries(stub: Stub, host: str) -> dict[str, history_pb.CaseSummary]:
    response = await stub.ListCaseSummaries(
        history_pb.ListCaseSummariesRequest(host=host), timeout=DEADLINE_SECONDS
    )
    return {s.name: s for s in response.summaries}
