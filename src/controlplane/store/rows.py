"""Rows to and from proto messages, for the SELECTs and INSERTs both engines share column for column."""

from __future__ import annotations

import time
from typing import Any, Protocol

from fleetdeck.v1 import types_pb2 as pb

from ..timeutil import from_ts, to_ts
from .codec import blob, duration, field_blob, parse
from .records import AuditQuery, StoredHost


class Row(Protocol):
    """A row as either engine's driver returns it: its columns by position."""

    def __getitem__(self, index: int, /) -> Any: ...


LAST_OPERATIONS = ("last_switch", "last_pull", "last_rollback")

COMMAND_COLUMNS = (
    "id, host, operation, state, exit_code, created_at, started_at, finished_at, trigger, message, "
    "timeout_ms, triggered_by, output_lines, truncated_bytes, no_test_reason, requested_by, "
    # The test run a switch triggered: the link is the test command's own `triggered_by`, so it is
    # durable the moment that command is stored.
    "(SELECT t.id FROM commands t WHERE t.triggered_by = commands.id ORDER BY t.ord LIMIT 1)"
)  # of `commands`
COMMAND_ORD = 17
"""Index of `ord` in a row of `SELECT {COMMAND_COLUMNS}, ord`."""

HOST_COLUMNS = (
    "h.name, h.registered_at, h.last_seen, h.facts, h.metrics, h.test_status, h.declared_tests, "
    "h.last_switch, h.last_pull, h.last_rollback, h.current_deployment_id, s.test_settings_override"
)  # of `hosts h LEFT JOIN host_settings s`


def command(r: Row) -> pb.Command:
    """A command from a row of `COMMAND_COLUMNS`."""
    message = pb.Command(
        id=r[0],
        host=r[1],
        operation=r[2],
        state=r[3],
        exit_code=r[4],
        created_at=to_ts(r[5]),
        trigger=r[8],
        message=r[9],
        timeout=duration(r[10]),
        triggered_by_command_id=r[11],
        output_lines=r[12],
        output_truncated_bytes=r[13],
        no_test_run_reason=r[14],
        requested_by=r[15],
        triggered_test_command_id=r[16] or "",
    )
    if r[6] is not None:
        message.started_at.CopyFrom(to_ts(r[6]))
    if r[7] is not None:
        message.finished_at.CopyFrom(to_ts(r[7]))
    return message


def stored_host(r: Row) -> StoredHost:
    """A host and its override from a row of `HOST_COLUMNS`."""
    host = pb.Host(
        name=r[0],
        registered_at=to_ts(r[1]),
        facts=parse(pb.HostFacts, r[3]),
        metrics=parse(pb.Metrics, r[4]),
        test_status=parse(pb.TestStatus, r[5]),
        declared_test_settings=parse(pb.DeclaredTestSettings, r[6]),
        current_deployment_id=r[10],
    )
    if r[2] is not None:
        host.last_seen.CopyFrom(to_ts(r[2]))
    for field, data in zip(LAST_OPERATIONS, (r[7], r[8], r[9]), strict=True):
        if data:
            getattr(host, field).CopyFrom(parse(pb.LastOperation, data))
    return StoredHost(host, parse(pb.TestSettingsOverride, r[11]))


def host_values(h: pb.Host) -> tuple[Any, ...]:
    """A host's columns, in the order name, registered_at, last_seen, facts, metrics, test_status,
    declared_tests, last_switch, last_pull, last_rollback, current_deployment_id."""
    return (
        h.name,
        from_ts(h.registered_at) or time.time(),
        from_ts(h.last_seen),
        blob(h.facts),
        blob(h.metrics),
        blob(h.test_status),
        blob(h.declared_test_settings),
        *(field_blob(h, field) for field in LAST_OPERATIONS),
        h.current_deployment_id,
    )


def host_result_values(host: pb.Host) -> tuple[Any, ...]:
    """What a finished command changes on a host: facts, test_status, last_switch, last_pull,
    last_rollback, current_deployment_id, then the name."""
    return (
        blob(host.facts),
        blob(host.test_status),
        *(field_blob(host, field) for field in LAST_OPERATIONS),
        host.current_deployment_id,
        host.name,
    )


def audit_where(query: AuditQuery, cursor: int | None) -> tuple[str, list[Any]]:
    """The WHERE clause (with `?` parameters) and its arguments for listing audit events."""
    where: list[str] = []
    args: list[Any] = []

    def param(value: Any) -> str:
        args.append(value)
        return "?"

    if query.host:
        where.append(f"seq IN (SELECT seq FROM audit_hosts WHERE host = {param(query.host)})")
    if query.actor:
        where.append(f"actor = {param(query.actor)}")
    if query.since is not None:
        where.append(f"at >= {param(query.since)}")
    if query.until is not None:
        where.append(f"at < {param(query.until)}")
    if cursor is not None:
        where.append(f"seq < {param(cursor)}")
    return (" WHERE " + " AND ".join(where)) if where else "", args
