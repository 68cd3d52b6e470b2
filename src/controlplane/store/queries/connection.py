"""What the aggregates' queries run on: an engine-neutral database and write connection, and the SQL
dialect of an engine.

SQL is written once with `?` placeholders (never inside a string literal); an engine that numbers
its parameters translates them. Rows are read by position (`rows.Row`).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

Column = tuple[str, str]
"""A column of a bulk statement: its name and its PostgreSQL type (which an array of it is cast to)."""


@dataclass(frozen=True)
class SqlDialect:
    """The SQL text that differs between the engines."""

    greatest: str  # the larger of two values: MAX(a, b) in SQLite, GREATEST(a, b) in PostgreSQL
    no_limit: str  # a LIMIT that limits nothing (SQLite takes an OFFSET only after a LIMIT)
    arrays: bool  # whether a list of values binds as one array parameter

    def among(self, values: Sequence[Any], sql_type: str) -> tuple[str, list[Any]]:
        """A membership test to follow a column (`IN (?,?)` or `= ANY(?::type[])`) and its arguments."""
        if self.arrays:
            return f"= ANY(?::{sql_type}[])", [list(values)]
        return f"IN ({','.join('?' * len(values))})", list(values)


SQLITE = SqlDialect(greatest="MAX", no_limit="LIMIT -1", arrays=False)
POSTGRES = SqlDialect(greatest="GREATEST", no_limit="LIMIT ALL", arrays=True)


class Connection(Protocol):
    """The write connection inside one transaction."""

    dialect: SqlDialect

    async def execute(self, sql: str, *args: Any) -> int:
        """Run one statement; how many rows it touched."""
        ...

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement once per row of arguments, in order."""
        ...

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        """Every row a statement returns."""
        ...

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        """The first row a statement returns, or None."""
        ...

    async def fetchval(self, sql: str, *args: Any) -> Any:
        """The first column of the first row a statement returns, or None."""
        ...

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
        """Insert rows as if one by one, in order: `conflict` is the ON CONFLICT clause, `key` the
        columns it updates on (rows repeating a key apply in turn), `returning` the RETURNING list;
        the rows returned."""
        ...

    async def update_many(
        self, table: str, columns: Sequence[Column], key: Column, rows: Sequence[Sequence[Any]]
    ) -> None:
        """Set `columns` in the row whose `key` is the last value of each of `rows` (the last word
        on a key wins)."""
        ...

    async def lock_table(self, table: str) -> None:
        """Hold off other writers of `table` until the transaction ends (other processes included)."""
        ...


class Sql(Protocol):
    """A database as the aggregates see it: one write transaction at a time, reads of committed data."""

    dialect: SqlDialect

    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        """One write transaction; committed on success, rolled back on error."""
        ...

    async def one(self, sql: str, args: Sequence[Any] = ()) -> Any:
        """The first row of a read (committed data only), or None."""
        ...

    async def all(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        """Every row of a read (committed data only)."""
        ...

    async def take_ord(self, db: Connection) -> int:
        """The order number of a new command, or of a test run without one (inside the transaction
        that inserts it); with replicas, drawn from one sequence in the database."""
        ...
