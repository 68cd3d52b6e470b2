"""`fleetdeck audit`: the audit log, newest first (needs an admin API token)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from fleetdeck import exits
from fleetdeck.invocation import DEADLINE_SECONDS, Options, call, common_options
from fleetdeck.render import console, print_json, when
from fleetdeck.v1 import audit_pb2 as audit_pb

if TYPE_CHECKING:
    from fleetdeck.invocation import Stub

_AGO = re.compile(r"^(\d+)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_time(text: str, now: float) -> float:
    """Unix seconds of "30m", "2h", "7d" (that long before `now`) or an ISO 8601 time (UTC if no zone);
    ValueError otherwise."""
    ago = _AGO.match(text.strip())
    if ago:
        return now - int(ago[1]) * _UNIT_SECONDS[ago[2]]
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class TimeParam(click.ParamType[float]):
    """A point in time: "30m", "2h", "7d" ago, or ISO 8601."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        try:
            return parse_time(str(value), time.time())
        except ValueError:
            self.fail(
                f"{value!r} is neither a duration ago like 30m, 2h, 7d nor an ISO 8601 time", param, ctx
            )


def audit_table(events: list[audit_pb.AuditEvent]) -> Table:
    """Audit events, one row each."""
    table = Table(box=None, pad_edge=False)
    for column in ("#", "TIME", "ACTOR", "ACTION", "HOSTS", "DETAIL"):
        table.add_column(column, no_wrap=column != "DETAIL")
    for e in events:
        table.add_row(str(e.sequence), when(e.time), e.actor, e.action, ",".join(e.hosts), e.detail)
    return table


async def _audit(
    stub: Stub, opts: Options, host: str, actor: str, since: float | None, until: float | None, limit: int
) -> int:
    request = audit_pb.ListAuditEventsRequest(host=host, actor=actor, page_size=limit)
    if since is not None:
        request.since.FromNanoseconds(int(since * 1e9))
    if until is not None:
        request.until.FromNanoseconds(int(until * 1e9))
    response = await stub.ListAuditEvents(request, timeout=DEADLINE_SECONDS)
    if opts.json:
        print_json(response)
    else:
        console().print(audit_table(list(response.events)))
    return exits.OK


@click.command("audit")
@click.option("--host", default="", help="only events that touched this host")
@click.option("--actor", default="", help='only events by this actor, e.g. "token ci" or "user alice"')
@click.option("--since", type=TimeParam(), help="only events at or after TIME (30m, 2h, 7d ago, or ISO 8601)")
@click.option("--until", type=TimeParam(), help="only events before TIME")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@common_options()
def audit(host: str, actor: str, since: float | None, until: float | None, limit: int) -> int:
    """The audit log, newest first: who changed what, when, on which hosts (needs an admin token)."""
    return call(lambda stub, opts: _audit(stub, opts, host, actor, since, until, limit))
