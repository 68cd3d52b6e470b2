"""aiosqlite behind the aggregates' engine-neutral write connection; SQL runs as written (`?`)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import aiosqlite

from ..queries.connection import SQLITE, Column

# SQLite's default limit of parameters in one statement (SQLITE_MAX_VARIABLE_NUMBER since 3.32).
_MAX_PARAMETERS = 32766


@functools.lru_cache(maxsize=64)
def _values(width: int, count: int) -> str:
    """`VALUES` with `count` rows of `width` placeholders."""
    row = f"({','.join('?' * width)})"
    return "VALUES " + ",".join([row] * count)


class SqliteConnection:
    """The write connection inside one transaction (`queries.connection.Connection`)."""

    dialect = SQLITE

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def execute(self, sql: str, *args: Any) -> int:
        cursor = await self._db.execute(sql, args)
        return cursor.rowcount

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._db.executemany(sql, rows)

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        async with self._db.execute(sql, args) as cursor:
            return list(await cursor.fetchall())

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        async with self._db.execute(sql, args) as cursor:
            return await cursor.fetchone()

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        return None if row is None else row[0]

    async def insert_many(
        self,
        table: str,
        columns: Sequence[Column],
        rows: Sequence[Sequence[Any]],
        *,
        conflict: str = "",
        key: Sequence[str] = (),
        returning: str = "",
    ) -> list[Any]:
        # `key` is for engines that insert a batch in one statement; here rows go in one by one.
        names = ", ".join(name for name, _ in columns)
        head = f"INSERT INTO {table}({names}) "
        if not returning:
            await self._db.executemany(f"{head}{_values(len(columns), 1)} {conflict}", rows)
            return []
        # executemany returns no rows: as many rows per statement as its parameters allow.
        found: list[Any] = []
        per_statement = _MAX_PARAMETERS // len(columns)
        for start in range(0, len(rows), per_statement):
            part = rows[start : start + per_statement]
            sql = f"{head}{_values(len(columns), len(part))} {conflict} RETURNING {returning}"
            found.extend(await self.fetch(sql, *(value for row in part for value in row)))
        return found

    async def update_many(
        self, table: str, columns: Sequence[Column], key: Column, rows: Sequence[Sequence[Any]]
    ) -> None:
        assignments = ", ".join(f"{name} = ?" for name, _ in columns)
        await self._db.executemany(f"UPDATE {table} SET {assignments} WHERE {key[0]} = ?", rows)

    async def lock_table(self, table: str) -> None:
        pass  # BEGIN IMMEDIATE already holds off every other writer of the file
