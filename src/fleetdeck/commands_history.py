"""Verbs that show a case's history: `case-history HOST CASE`, `failing-cases`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from fleetdeck import exits
from fleetdeck.invocation import DEADLINE_SECONDS, Options, call, common_options
from fleetdeck.render import case_results_table, case_story, console, failing_cases_table, print_json
from fleetdeck.v1 import history_pb2 as history_pb

if TYPE_CHECKING:
    from fleetdeck.invocation import Stub


async def _case_history(stub: Stub, opts: Options, host: str, name: str, limit: int) -> int:
    response = await stub.ListCaseResults(
        history_pb.ListCaseResultsRequest(host=host, name=name, page_size=limit), timeout=DEADLINE_SECONDS
    )
    if opts.json:
        print_json(response)
    else:
        out = console()
        out.print(case_story(response.summary), markup=False)
        out.print(case_results_table(response.results))
    return exits.FAILED if response.summary.failing_runs else exits.OK


@click.command("case-history")
@click.argument("host")
@click.argument("case")
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
@common_options()
def case_history(host: str, case: str, limit: int) -> int:
    """One case's results on HOST, newest first, and since when it fails; exit 1 while it fails."""
    return call(lambda stub, opts: _case_history(stub, opts, host, case, limit))


async def _failing_cases(stub: Stub, opts: Options) -> int:
    response = await stub.ListFailingCases(history_pb.ListFailingCasesRequest(), timeout=DEADLINE_SECONDS)
    if opts.json:
        print_json(response)
    else:
        console().print(failing_cases_table(response.cases))
    return exits.FAILED if response.cases else exits.OK


@click.command("failing-cases")
@common_options()
def failing_cases() -> int:
    """Every case failing somewhere in the fleet, with its hosts; exit 1 when there is one."""
    return call(_failing_cases)
