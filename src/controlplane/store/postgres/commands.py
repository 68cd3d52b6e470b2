"""Commands, their output (deduplicated on (command, seq), capped per command) and results in
PostgreSQL. An output batch is a handful of statements whatever its size: arrays in, rows out."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import types_pb2 as pb

from ...timeutil import from_ts
from ..codec import ms, parse
from ..queries.hosts import write_host_result
from ..records import Notification, OutputAppend, Page, StoredOutput
from ..rows import COMMAND_COLUMNS, COMMAND_ORD
from ..rows import command as command_from_row
from .connection import PostgresConnection
from .database import Connection, Database
from .notifications import enqueue

# Drops a command's oldest chunks until what is left fits the cap ($2 is the excess in bytes) and
# records what was dropped, in one statement.
_ENFORCE_CAP = """
WITH ordered AS (
    SELECT seq, SUM(bytes) OVER (ORDER BY seq) - bytes AS before FROM command_output WHERE command_id = $1
), gone AS (
    DELETE FROM command_output WHERE command_id = $1
    AND seq IN (SELECT seq FROM ordered WHERE before < $2) RETURNING bytes, line_count
)
UPDATE commands SET output_bytes = output_bytes - d.bytes, output_lines = output_lines - d.lines,
    truncated_bytes = truncated_bytes + d.bytes
FROM (SELECT COALESCE(SUM(bytes), 0) AS bytes, COALESCE(SUM(line_count), 0) AS lines FROM gone) d
WHERE id = $1
"""


async def write_command(db: Connection, command: pb.Command) -> None:
    """Inside a transaction: a command's state, times, exit code and message."""
    await db.execute(
        "UPDATE commands SET state=$1, exit_code=$2, started_at=$3, finished_at=$4, message=$5, "
        "no_test_reason=$6 WHERE id=$7",
        command.state,
        command.exit_code,
        from_ts(command.started_at) if command.HasField("started_at") else None,
        from_ts(command.finished_at) if command.HasField("finished_at") else None,
        command.message,
        command.no_test_run_reason,
        command.id,
    )


async def raise_max_seq(db: Connection, command_id: str, seq: int) -> None:
    """Inside a transaction: record that sequence numbers up to `seq` of a command are stored."""
    await db.execute("UPDATE commands SET max_seq = GREATEST(max_seq, $1) WHERE id = $2", seq, command_id)


async def command_ord(db: Connection, command_id: str) -> int | None:
    """Inside a transaction: a command's order number, or None for an unknown command."""
    value = await db.fetchval("SELECT ord FROM commands WHERE id = $1", command_id)
    return None if value is None else int(value)


class PostgresCommands:
    """The command aggregate of `PostgresStore` (methods documented on `CommandStore`)."""

    _db: Database
    output_cap_bytes: int

    async def insert_command(self, command: pb.Command) -> None:
        async with self._db.transaction() as db:
            await db.execute(
                "INSERT INTO commands(id, ord, host, operation, state, created_at, trigger, timeout_ms, "
                "triggered_by, requested_by) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
                command.id,
                self._db.take_ord(),
                command.host,
                command.operation,
                command.state,
                from_ts(command.created_at) or time.time(),
                command.trigger,
                ms(command.timeout),
                command.triggered_by_command_id,
                command.requested_by,
            )

    async def update_command(self, command: pb.Command) -> None:
        async with self._db.transaction() as db:
            await write_command(db, command)

    async def finish_command(
        self,
        command: pb.Command,
        seq: int,
        host: pb.Host | None,
        notifications: Sequence[Notification] = (),
    ) -> None:
        async with self._db.transaction() as db:
            await write_command(db, command)
            await raise_max_seq(db, command.id, seq)
            if host is not None:
                await write_host_result(PostgresConnection(db), host)
            if notifications:
                await enqueue(db, notifications, time.time())

    async def get_command(self, command_id: str) -> pb.Command | None:
        r = await self._db.one(f"SELECT {COMMAND_COLUMNS} FROM commands WHERE id = $1", (command_id,))
        return None if r is None else command_from_row(r)

    async def list_commands(self, host: str, limit: int, cursor: int | None) -> Page[pb.Command]:
        where: list[str] = []
        args: list[Any] = []
        if host:
            args.append(host)
            where.append(f"host = ${len(args)}")
        if cursor is not None:
            args.append(cursor)
            where.append(f"ord < ${len(args)}")
        sql = f"SELECT {COMMAND_COLUMNS}, ord FROM commands"
        if where:
            sql += " WHERE " + " AND ".join(where)
        args.append(limit + 1)
        rows = await self._db.all(sql + f" ORDER BY ord DESC LIMIT ${len(args)}", args)
        more = len(rows) > limit
        return Page(
            [command_from_row(r) for r in rows[:limit]], rows[limit - 1][COMMAND_ORD] if more else None
        )

    async def unfinished_commands(
        self, host: str = "", include_interrupted: bool = False
    ) -> list[pb.Command]:
        states = [pb.COMMAND_STATE_PENDING, pb.COMMAND_STATE_RUNNING]
        if include_interrupted:
            states.append(pb.COMMAND_STATE_INTERRUPTED)
        sql = f"SELECT {COMMAND_COLUMNS} FROM commands WHERE state = ANY($1::bigint[])"
        args: list[Any] = [states]
        if host:
            sql += " AND host = $2"
            args.append(host)
        rows = await self._db.all(sql + " ORDER BY ord", args)
        return [command_from_row(r) for r in rows]

    async def command_hosts(self, command_ids: set[str]) -> dict[str, str]:
        if not command_ids:
            return {}
        rows = await self._db.all(
            "SELECT id, host FROM commands WHERE id = ANY($1::text[])", (list(command_ids),)
        )
        return {r[0]: r[1] for r in rows}

    async def max_seqs(self, command_ids: Sequence[str]) -> dict[str, int]:
        if not command_ids:
            return {}
        rows = await self._db.all(
            "SELECT id, max_seq FROM commands WHERE id = ANY($1::text[])", (list(command_ids),)
        )
        return {r[0]: r[1] for r in rows}

    # --- output --------------------------------------------------------------------------------

    async def append_output(self, appends: Sequence[OutputAppend]) -> dict[str, StoredOutput]:
        if not appends:
            return {}
        ids = list(dict.fromkeys(item.command_id for item in appends))
        async with self._db.transaction() as db:
            stored = await db.fetch("SELECT id, max_seq FROM commands WHERE id = ANY($1::text[])", ids)
            stored_up_to: dict[str, int] = {r[0]: r[1] for r in stored}
            columns: tuple[list[Any], ...] = ([], [], [], [], [], [])
            for item in appends:
                chunk = item.chunk
                # Chunks arrive in order on a stream and are resent from the first unacknowledged one,
                # so a seq at or below what is stored is a resend, even of a chunk the cap evicted.
                if chunk.seq <= stored_up_to.get(item.command_id, 0):
                    continue
                stored_up_to[item.command_id] = chunk.seq
                row = (
                    item.command_id,
                    chunk.seq,
                    chunk.lines[0].number if chunk.lines else 0,
                    len(chunk.lines),
                    sum(len(line.text) + 1 for line in chunk.lines),
                    chunk.SerializeToString(),
                )
                for column, value in zip(columns, row, strict=True):
                    column.append(value)
            if columns[0]:
                inserted = await db.fetch(
                    "INSERT INTO command_output(command_id, seq, first_line, line_count, bytes, chunk) "
                    "SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], "
                    "$5::bigint[], $6::bytea[]) ON CONFLICT DO NOTHING "
                    "RETURNING command_id, seq, line_count, bytes",
                    *columns,
                )
                added: dict[str, list[int]] = {}
                for command_id, seq, lines, size in inserted:
                    totals = added.setdefault(command_id, [0, 0, 0])
                    totals[0] += lines
                    totals[1] += size
                    totals[2] = max(totals[2], seq)
                await db.executemany(
                    "UPDATE commands SET output_lines = output_lines + $1, output_bytes = output_bytes + $2, "
                    "max_seq = GREATEST(max_seq, $3) WHERE id = $4",
                    [(lines, size, seq, command_id) for command_id, (lines, size, seq) in added.items()],
                )
                over = await db.fetch(
                    "SELECT id, output_bytes - $2 FROM commands WHERE id = ANY($1::text[]) "
                    "AND output_bytes > $2",
                    list(added),
                    self.output_cap_bytes,
                )
                for command_id, excess in over:
                    await db.execute(_ENFORCE_CAP, command_id, excess)
            rows = await db.fetch(
                "SELECT id, max_seq, output_lines, truncated_bytes FROM commands WHERE id = ANY($1::text[])",
                ids,
            )
        return {r[0]: StoredOutput(max_seq=r[1], lines=r[2], truncated_bytes=r[3]) for r in rows}

    async def read_output(self, command_id: str, from_line: int) -> list[pb.OutputLine]:
        rows = await self._db.all(
            "SELECT chunk FROM command_output WHERE command_id = $1 AND first_line + line_count > $2 "
            "ORDER BY seq",
            (command_id, from_line),
        )
        lines: list[pb.OutputLine] = []
        for (data,) in rows:
            chunk = parse(agent_pb.OutputChunk, data)
            lines.extend(line for line in chunk.lines if line.number >= from_line)
        return lines
