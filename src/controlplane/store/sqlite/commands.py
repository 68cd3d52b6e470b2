"""Commands, their output (deduplicated on (command, seq), capped per command) and results in SQLite."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import aiosqlite

from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import types_pb2 as pb

from ...timeutil import from_ts
from ..codec import ms, parse
from ..queries.hosts import write_host_result
from ..records import Notification, OutputAppend, Page, StoredOutput
from ..rows import COMMAND_COLUMNS, COMMAND_ORD
from ..rows import command as command_from_row
from .connection import SqliteConnection
from .database import Database
from .notifications import enqueue


async def write_command(db: aiosqlite.Connection, command: pb.Command) -> None:
    """Inside a transaction: a command's state, times, exit code and message."""
    await db.execute(
        "UPDATE commands SET state=?, exit_code=?, started_at=?, finished_at=?, message=?, no_test_reason=? "
        "WHERE id=?",
        (
            command.state,
            command.exit_code,
            from_ts(command.started_at) if command.HasField("started_at") else None,
            from_ts(command.finished_at) if command.HasField("finished_at") else None,
            command.message,
            command.no_test_run_reason,
            command.id,
        ),
    )


async def raise_max_seq(db: aiosqlite.Connection, command_id: str, seq: int) -> None:
    """Inside a transaction: record that sequence numbers up to `seq` of a command are stored."""
    await db.execute("UPDATE commands SET max_seq = MAX(max_seq, ?) WHERE id = ?", (seq, command_id))


async def command_ord(db: aiosqlite.Connection, command_id: str) -> int | None:
    """Inside a transaction: a command's order number, or None for an unknown command."""
    r = await (await db.execute("SELECT ord FROM commands WHERE id = ?", (command_id,))).fetchone()
    return None if r is None else int(r[0])


class SqliteCommands:
    """The command aggregate of `SqliteStore` (methods documented on `CommandStore`)."""

    _db: Database
    output_cap_bytes: int

    async def insert_command(self, command: pb.Command) -> None:
        async with self._db.transaction() as db:
            await db.execute(
                "INSERT INTO commands(id, ord, host, operation, state, created_at, trigger, timeout_ms, "
                "triggered_by, requested_by) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
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
                ),
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
                await write_host_result(SqliteConnection(db), host)
            if notifications:
                await enqueue(db, notifications, time.time())

    async def get_command(self, command_id: str) -> pb.Command | None:
        r = await self._db.one(f"SELECT {COMMAND_COLUMNS} FROM commands WHERE id = ?", (command_id,))
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
        rows = await self._db.all(sql + " ORDER BY ord DESC LIMIT ?", [*args, limit + 1])
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
        sql = f"SELECT {COMMAND_COLUMNS} FROM commands WHERE state IN ({','.join('?' * len(states))})"
        args: list[Any] = list(states)
        if host:
            sql += " AND host = ?"
            args.append(host)
        rows = await self._db.all(sql + " ORDER BY ord", args)
        return [command_from_row(r) for r in rows]

    async def command_hosts(self, command_ids: set[str]) -> dict[str, str]:
        if not command_ids:
            return {}
        ids = list(command_ids)
        marks = ",".join("?" * len(ids))
        rows = await self._db.all(f"SELECT id, host FROM commands WHERE id IN ({marks})", ids)
        return {r[0]: r[1] for r in rows}

    async def max_seqs(self, command_ids: Sequence[str]) -> dict[str, int]:
        if not command_ids:
            return {}
        marks = ",".join("?" * len(command_ids))
        rows = await self._db.all(f"SELECT id, max_seq FROM commands WHERE id IN ({marks})", command_ids)
        return {r[0]: r[1] for r in rows}

    # --- output --------------------------------------------------------------------------------

    async def append_output(self, appends: Sequence[OutputAppend]) -> dict[str, StoredOutput]:
        result: dict[str, StoredOutput] = {}
        async with self._db.transaction() as db:
            touched: set[str] = set()
            stored_up_to: dict[str, int] = {}
            for item in appends:
                chunk = item.chunk
                if item.command_id not in stored_up_to:
                    row = await (
                        await db.execute("SELECT max_seq FROM commands WHERE id = ?", (item.command_id,))
                    ).fetchone()
                    stored_up_to[item.command_id] = row[0] if row else 0
                touched.add(item.command_id)
                # Chunks arrive in order on a stream and are resent from the first unacknowledged one,
                # so a seq at or below what is stored is a resend, even of a chunk the cap evicted.
                if chunk.seq <= stored_up_to[item.command_id]:
                    continue
                stored_up_to[item.command_id] = chunk.seq
                size = sum(len(line.text) + 1 for line in chunk.lines)
                first = chunk.lines[0].number if chunk.lines else 0
                cursor = await db.execute(
                    "INSERT OR IGNORE INTO command_output(command_id, seq, first_line, line_count, bytes, chunk) "
                    "VALUES (?,?,?,?,?,?)",
                    (item.command_id, chunk.seq, first, len(chunk.lines), size, chunk.SerializeToString()),
                )
                if cursor.rowcount:
                    await db.execute(
                        "UPDATE commands SET output_lines = output_lines + ?, output_bytes = output_bytes + ?, "
                        "max_seq = MAX(max_seq, ?) WHERE id = ?",
                        (len(chunk.lines), size, chunk.seq, item.command_id),
                    )
            for command_id in touched:
                await self._enforce_cap(db, command_id)
                r = await (
                    await db.execute(
                        "SELECT max_seq, output_lines, truncated_bytes FROM commands WHERE id = ?",
                        (command_id,),
                    )
                ).fetchone()
                if r is not None:
                    result[command_id] = StoredOutput(max_seq=r[0], lines=r[1], truncated_bytes=r[2])
        return result

    async def _enforce_cap(self, db: aiosqlite.Connection, command_id: str) -> None:
        """Drop the oldest chunks until the stored output fits the cap; record what was dropped."""
        r = await (
            await db.execute("SELECT output_bytes FROM commands WHERE id = ?", (command_id,))
        ).fetchone()
        if r is None or r[0] <= self.output_cap_bytes:
            return
        excess = r[0] - self.output_cap_bytes
        dropped_bytes = dropped_lines = 0
        rows = await (
            await db.execute(
                "SELECT seq, bytes, line_count FROM command_output WHERE command_id = ? ORDER BY seq",
                (command_id,),
            )
        ).fetchall()
        seqs = []
        for seq, size, lines in rows:
            if dropped_bytes >= excess:
                break
            seqs.append(seq)
            dropped_bytes += size
            dropped_lines += lines
        await db.executemany(
            "DELETE FROM command_output WHERE command_id = ? AND seq = ?", [(command_id, s) for s in seqs]
        )
        await db.execute(
            "UPDATE commands SET output_bytes = output_bytes - ?, output_lines = output_lines - ?, "
            "truncated_bytes = truncated_bytes + ? WHERE id = ?",
            (dropped_bytes, dropped_lines, dropped_bytes, command_id),
        )

    async def read_output(self, command_id: str, from_line: int) -> list[pb.OutputLine]:
        rows = await self._db.all(
            "SELECT chunk FROM command_output WHERE command_id = ? AND first_line + line_count > ? ORDER BY seq",
            (command_id, from_line),
        )
        lines: list[pb.OutputLine] = []
        for (data,) in rows:
            chunk = parse(agent_pb.OutputChunk, data)
            lines.extend(line for line in chunk.lines if line.number >= from_line)
        return lines
