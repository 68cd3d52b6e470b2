"""The aggregates' `Sql` on PostgreSQL: asyncpg behind the engine-neutral connection. `?` placeholders
become asyncpg's numbered ones; a bulk statement binds each column as one array (`unnest`), so a
write-behind batch of thousands of rows is one round trip."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from ..queries.connection import POSTGRES, Column
from ..queries.connection import Connection as SqlConnection
from .database import Connection, Database, rowcount


@functools.lru_cache(maxsize=1024)
def numbered(sql: str) -> str:
    """SQL with its `?` placeholders numbered `$1`, `$2`, … as PostgreSQL takes them."""
    parts = sql.split("?")
    if len(parts) == 1:
        return sql
    return "".join(f"{part}${n}" for n, part in enumerate(parts[:-1], start=1)) + parts[-1]


def _arrays(columns: Sequence[Column]) -> str:
    """The columns as array parameters, in order: `$1::text[], $2::bytea[]`…"""
    return ", ".join(f"${n}::{sql_type}[]" for n, (_, sql_type) in enumerate(columns, start=1))


def distinct_runs(rows: Sequence[Sequence[Any]], key: Sequence[int]) -> Iterator[Sequence[Sequence[Any]]]:
    """The rows in runs in which no key repeats (one statement may not update a row twice)."""
    if not key:
        yield rows
        return
    seen: set[tuple[Any, ...]] = set()
    start = 0
    for i, row in enumerate(rows):
        value = tuple(row[k] for k in key)
        if value in seen:
            yield rows[start:i]
            seen.clear()
            start = i
        seen.add(value)
    yield rows[start:]


class PostgresConnection:
    """The write connection inside one transaction (`queries.connection.Connection`)."""

    dialect = POSTGRES

    def __init__(self, db: Connection) -> None:
        self._db = db

    async def execute(self, sql: str, *args: Any) -> int:
        return rowcount(await self._db.execute(numbered(sql), *args))

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._db.executemany(numbered(sql), rows)

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        return await self._db.fetch(numbered(sql), *args)

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        return await self._db.fetchrow(numbered(sql), *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._db.fetchval(numbered(sql), *args)

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
        names = [name for name, _ in columns]
        sql = f"INSERT INTO {table}({', '.join(names)}) SELECT * FROM unnest({_arrays(columns)}) {conflict}"
        if returning:
            sql += f" RETURNING {returning}"
        found: list[Any] = []
        for run in distinct_runs(rows, [names.index(k) for k in key]):
            if run:
                found.extend(await self._db.fetch(sql, *(list(c) for c in zip(*run, strict=True))))
        return found

    async def update_many(
        self, table: str, columns: Sequence[Column], key: Column, rows: Sequence[Sequence[Any]]
    ) -> None:
        latest = {row[-1]: row for row in rows}  # one statement updates a row once: the last word wins
        if not latest:
            return
        names = [name for name, _ in (*columns, key)]
        assignments = ", ".join(f"{name} = u.{name}" for name, _ in columns)
        await self._db.execute(
            f"UPDATE {table} SET {assignments} FROM unnest({_arrays((*columns, key))}) "
            f"AS u({', '.join(names)}) WHERE {table}.{key[0]} = u.{key[0]}",
            *(list(c) for c in zip(*latest.values(), strict=True)),
        )

    async def lock_table(self, table: str) -> None:
        # One writer per process, and the table lock orders the writers of several replicas.
        await self._db.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")


class PostgresSql:
    """The aggregates' view of one PostgreSQL database (`queries.connection.Sql`)."""

    dialect = POSTGRES

    def __init__(self, db: Database) -> None:
        self._db = db

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlConnection]:
        async with self._db.transaction() as db:
            yield PostgresConnection(db)

    async def one(self, sql: str, args: Sequence[Any] = ()) -> Any:
        return await self._db.one(numbered(sql), args)

    async def all(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        return await self._db.all(numbered(sql), args)

    async def take_ord(self, db: SqlConnection) -> int:
        return int(await db.fetchval("SELECT nextval('command_ord')"))
