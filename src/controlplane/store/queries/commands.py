"""Commands, their output (deduplicated on (command, seq), capped per command) and results. An
output batch is a handful of statements whatever its size."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import types_pb2 as pb

from ...timeutil import from_ts
from ..codec import ms, parse
from ..records import Notification, OutputAppend, Page, StoredOutput
from ..rows import COMMAND_COLUMNS, COMMAND_ORD
from ..rows import command as command_from_row
from .connection import Column, Connection, Sql
from .hosts import write_host_result
from .notifications import enqueue

_OUTPUT: tuple[Column, ...] = (
    ("command_id", "text"),
    ("seq", "bigint"),
    ("first_line", "bigint"),
    ("line_count", "bigint"),
    ("bytes", "bigint"),
    ("chunk", "bytea"),
)

# A command's oldest chunks, as many as it takes to drop the excess bytes (the third argument).
_DROP_OLDEST = (
    "DELETE FROM command_output WHERE command_id = ? AND seq IN (SELECT seq FROM ("
    "SELECT seq, SUM(bytes) OVER (ORDER BY seq) - bytes AS before FROM command_output WHERE command_id = ?"
    ") ordered WHERE before < ?) RETURNING bytes, line_count"
)


async def _drop_oldest(db: Connection, command_id: str, excess: int) -> None:
    """Drop a command's oldest chunks until the excess bytes are gone; record what was dropped."""
    gone = await db.fetch(_DROP_OLDEST, command_id, command_id, excess)
    dropped_bytes = sum(r[0] for r in gone)
    await db.execute(
        "UPDATE commands SET output_bytes = output_bytes - ?, output_lines = output_lines - ?, "
        "truncated_bytes = truncated_bytes + ? WHERE id = ?",
        dropped_bytes,
        sum(r[1] for r in gone),
        dropped_bytes,
        command_id,
    )


async def write_command(db: Connection, command: pb.Command) -> None:
    """Inside a transaction: a command's state, times, exit code and message."""
    await db.execute(
        "UPDATE commands SET state=?, exit_code=?, started_at=?, finished_at=?, message=?, "
        "no_test_reason=? WHERE id=?",
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
    await db.execute(
        f"UPDATE commands SET max_seq = {db.dialect.greatest}(max_seq, ?) WHERE id = ?", seq, command_id
    )


async def command_ord(db: Connection, command_id: str) -> int | None:
    """Inside a transaction: a command's order number, or None for an unknown command."""
    value = await db.fetchval("SELECT ord FROM commands WHERE id = ?", command_id)
    return None if value is None else int(value)


class CommandQueries:
    """The command aggregate of both engines' stores (methods documented on `CommandStore`)."""

    _sql: Sql
    output_cap_bytes: int

    async def insert_command(self, command: pb.Command) -> None:
        async with self._sql.transaction() as db:
            await db.execute(
                "INSERT INTO commands(id, ord, host, operation, state, created_at, trigger, timeout_ms, "
                "triggered_by, requested_by) VALUES (?,?,?,?,?,?,?,?,?,?)",
                command.id,
                await self._sql.take_ord(db),
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
        async with self._sql.transaction() as db:
            await write_command(db, command)

    async def finish_command(
        self,
        command: pb.Command,
        seq: int,
        host: pb.Host | None,
        notifications: Sequence[Notification] = (),
    ) -> None:
        async with self._sql.transaction() as db:
            await write_command(db, command)
            await raise_max_seq(db, command.id, seq)
            if host is not None:
                await write_host_result(db, host)
            if notifications:
                await enqueue(db, notifications, time.time())

    async def get_command(self, command_id: str) -> pb.Command | None:
        r = await self._sql.one(f"SELECT {COMMAND_COLUMNS} FROM commands WHERE id = ?", (command_id,))
        return None if r is None else command_from_row(r)

    async def list_commands(self, host: str, limit: int, cursor: int | None) -> Page[pb.Command]:
        where: list[str] = []
        args: list[Any] = []
        if host:
            where.append("host = ?")
            args.append(host)
        if cursor is not None:
            where.append("ord < ?")
            args.append(cursor)
        sql = f"SELECT {COMMAND_COLUMNS}, ord FROM commands"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = await self._sql.all(sql + " ORDER BY ord DESC LIMIT ?", [*args, limit + 1])
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
        among, args = self._sql.dialect.among(states, "bigint")
        sql = f"SELECT {COMMAND_COLUMNS} FROM commands WHERE state {among}"
        if host:
            sql += " AND host = ?"
            args.append(host)
        rows = await self._sql.all(sql + " ORDER BY ord", args)
        return [command_from_row(r) for r in rows]

    async def command_hosts(self, command_ids: set[str]) -> dict[str, str]:
        if not command_ids:
            return {}
        among, args = self._sql.dialect.among(list(command_ids), "text")
        rows = await self._sql.all(f"SELECT id, host FROM commands WHERE id {among}", args)
        return {r[0]: r[1] for r in rows}

    async def max_seqs(self, command_ids: Sequence[str]) -> dict[str, int]:
        if not command_ids:
            return {}
        among, args = self._sql.dialect.among(command_ids, "text")
        rows = await self._sql.all(f"SELECT id, max_seq FROM commands WHERE id {among}", args)
        return {r[0]: r[1] for r in rows}

    # --- output --------------------------------------------------------------------------------

    async def append_output(self, appends: Sequence[OutputAppend]) -> dict[str, StoredOutput]:
        if not appends:
            return {}
        ids = list(dict.fromkeys(item.command_id for item in appends))
        async with self._sql.transaction() as db:
            in_ids, id_args = db.dialect.among(ids, "text")
            stored = await db.fetch(f"SELECT id, max_seq FROM commands WHERE id {in_ids}", *id_args)
            stored_up_to: dict[str, int] = {r[0]: r[1] for r in stored}
            rows: list[tuple[Any, ...]] = []
            for item in appends:
                chunk = item.chunk
                # Chunks arrive in order on a stream and are resent from the first unacknowledged one,
                # so a seq at or below what is stored is a resend, even of a chunk the cap evicted.
                if chunk.seq <= stored_up_to.get(item.command_id, 0):
                    continue
                stored_up_to[item.command_id] = chunk.seq
                rows.append(
                    (
                        item.command_id,
                        chunk.seq,
                        chunk.lines[0].number if chunk.lines else 0,
                        len(chunk.lines),
                        sum(len(line.text) + 1 for line in chunk.lines),
                        chunk.SerializeToString(),
                    )
                )
            if rows:
                await self._add_output(db, rows)
            found = await db.fetch(
                f"SELECT id, max_seq, output_lines, truncated_bytes FROM commands WHERE id {in_ids}", *id_args
            )
        return {r[0]: StoredOutput(max_seq=r[1], lines=r[2], truncated_bytes=r[3]) for r in found}

    async def _add_output(self, db: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert new chunks (a chunk stored already stays), count them on their commands, keep the cap."""
        inserted = await db.insert_many(
            "command_output",
            _OUTPUT,
            rows,
            conflict="ON CONFLICT DO NOTHING",
            returning="command_id, seq, line_count, bytes",
        )
        added: dict[str, list[int]] = {}
        for command_id, seq, lines, size in inserted:
            totals = added.setdefault(command_id, [0, 0, 0])
            totals[0] += lines
            totals[1] += size
            totals[2] = max(totals[2], seq)
        if not added:
            return
        await db.executemany(
            "UPDATE commands SET output_lines = output_lines + ?, output_bytes = output_bytes + ?, "
            f"max_seq = {db.dialect.greatest}(max_seq, ?) WHERE id = ?",
            [(lines, size, seq, command_id) for command_id, (lines, size, seq) in added.items()],
        )
        among, args = db.dialect.among(list(added), "text")
        cap = self.output_cap_bytes
        over = await db.fetch(
            f"SELECT id, output_bytes - ? FROM commands WHERE id {among} AND output_bytes > ?",
            cap,
            *args,
            cap,
        )
        for command_id, excess in over:
            await _drop_oldest(db, command_id, excess)

    async def read_output(self, command_id: str, from_line: int) -> list[pb.OutputLine]:
        rows = await self._sql.all(
            "SELECT chunk FROM command_output WHERE command_id = ? AND first_line + line_count > ? "
            "ORDER BY seq",
            (command_id, from_line),
        )
        lines: list[pb.OutputLine] = []
        for (data,) in rows:
            chunk = parse(agent_pb.OutputChunk, data)
            lines.extend(line for line in chunk.lines if line.number >= from_line)
        return lines
