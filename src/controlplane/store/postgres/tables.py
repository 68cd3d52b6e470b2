"""Whole tables in PostgreSQL: reading them in batches, and loading a copy of another database with
COPY, in one transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from ..tables import TableSource, TargetNotEmpty
from .database import Database

# A new database holds the default settings row and the fleet log's counter; a copy replaces them
# with the source's (the counter continues the source's versions, or starts like a migration would).
_SEEDED = {"settings", "meta"}


async def load_tables(db: Database, source: TableSource, tables: Sequence[str]) -> dict[str, int]:
    """Copy the tables' rows from `source` in one transaction; how many rows each got."""
    counts: dict[str, int] = {}
    async with db.transaction() as conn:
        for table in tables:
            if table not in _SEEDED and await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table})"):
                raise TargetNotEmpty(
                    f"the target database already holds data (table {table}); copy into a new, empty database"
                )
        for table in _SEEDED:
            await conn.execute(f"DELETE FROM {table}")
        for table in tables:
            columns = await source.table_columns(table)
            counted = _Counted(source.table_rows(table, columns))
            await conn.copy_records_to_table(table, records=counted.rows(), columns=columns)
            counts[table] = counted.count
        await conn.execute(
            "SELECT setval('command_ord', COALESCE((SELECT MAX(ord) FROM commands), 0) + 1, false)"
        )
        await conn.execute(
            "INSERT INTO meta(key, value) SELECT 'log_version', "
            "COALESCE((SELECT value FROM meta WHERE key = 'version_reserved'), '1') ON CONFLICT DO NOTHING"
        )
    return counts


class _Counted:
    """A source table's batches as rows, counted on the way."""

    def __init__(self, batches: AsyncIterator[Sequence[tuple[Any, ...]]]) -> None:
        self._batches = batches
        self.count = 0

    async def rows(self) -> AsyncIterator[tuple[Any, ...]]:
        async for batch in self._batches:
            self.count += len(batch)
            for row in batch:
                yield row


async def table_columns(db: Database, table: str) -> list[str]:
    """The columns of a table (in the schema the connection uses), in their order."""
    rows = await db.all(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        (table,),
    )
    return [r[0] for r in rows]


async def table_rows(
    db: Database, table: str, columns: Sequence[str], batch: int = 5000
) -> AsyncIterator[list[tuple[Any, ...]]]:
    """Every row of a table, `batch` rows at a time, from one snapshot."""
    async with db.reading() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        cursor = await conn.cursor(f"SELECT {', '.join(columns)} FROM {table}")
        while rows := await cursor.fetch(batch):
            yield [tuple(r) for r in rows]
