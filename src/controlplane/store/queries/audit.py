"""The audit log: append-only rows, their hosts in `audit_hosts` for the host filter."""

from __future__ import annotations

import time

from fleetdeck.v1 import audit_pb2 as audit_pb

from ...timeutil import from_ts, to_ts
from ..codec import parse
from ..records import AuditQuery, Page
from ..rows import audit_where
from .connection import Sql


class AuditQueries:
    """The audit aggregate of both engines' stores (methods documented on `AuditStore`)."""

    _sql: Sql

    async def append_audit_event(self, event: audit_pb.AuditEvent) -> audit_pb.AuditEvent:
        stored = audit_pb.AuditEvent()
        stored.CopyFrom(event)
        at = from_ts(event.time) if event.HasField("time") else time.time()
        stored.time.CopyFrom(to_ts(at))
        async with self._sql.transaction() as db:
            await db.lock_table("audit_events")  # the next sequence number is this writer's alone
            stored.sequence = int(await db.fetchval("SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_events"))
            await db.execute(
                "INSERT INTO audit_events(seq, at, actor, event) VALUES (?,?,?,?)",
                stored.sequence,
                at,
                stored.actor,
                stored.SerializeToString(),
            )
            await db.executemany(
                "INSERT INTO audit_hosts(host, seq) VALUES (?,?) ON CONFLICT DO NOTHING",
                [(host, stored.sequence) for host in stored.hosts],
            )
        return stored

    async def list_audit_events(
        self, query: AuditQuery, limit: int, cursor: int | None
    ) -> Page[audit_pb.AuditEvent]:
        where, args = audit_where(query, cursor)
        rows = await self._sql.all(
            f"SELECT seq, event FROM audit_events{where} ORDER BY seq DESC LIMIT ?", [*args, limit + 1]
        )
        events = [parse(audit_pb.AuditEvent, r[1]) for r in rows[:limit]]
        return Page(events, rows[limit - 1][0] if len(rows) > limit else None)
