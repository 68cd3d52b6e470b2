"""Copying a whole database from one engine to another, table by table, in one transaction on the
target (`fleetdeck db copy --from fleet.db --to postgresql://…`).

Both stores are opened first, so both hold the same schema version (the migrations are shared) and
every table copies column for column, in the order the migrations create them (a table after those
it references). Any engine that can list a table's rows is a source; the target must be empty.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from .location import is_postgres, make_store, redacted
from .schema import tables
from .tables import CopyError, TableSource, TableTarget


async def copy_database(source: TableSource, target: TableTarget) -> dict[str, int]:
    """Copy every table of `source` into the empty `target` (both opened); rows copied per table."""
    return await target.load_tables(source, tables())


def check_locations(source: str, target: str) -> None:
    """Refuse a copy that is not from an existing SQLite file into a postgresql:// URI."""
    if is_postgres(source) or not Path(source).is_file():
        raise CopyError(f"no SQLite database at {redacted(source)}; --from takes the path of a fleet.db")
    if not is_postgres(target):
        raise CopyError(
            f"{redacted(target) or 'no target'} is not a postgresql:// URI; the copy goes into PostgreSQL"
        )


async def copy_locations(source: str, target: str) -> dict[str, int]:
    """Copy the SQLite database at `source` into the empty PostgreSQL database `target` (a URI)."""
    await asyncio.to_thread(check_locations, source, target)  # before opening creates anything
    from_store, to_store = make_store(source), make_store(target)
    from .postgres import PostgresStore
    from .sqlite import SqliteStore

    assert isinstance(from_store, SqliteStore) and isinstance(to_store, PostgresStore)
    await from_store.open()
    try:
        await to_store.open()
        try:
            return await copy_database(from_store, to_store)
        finally:
            await to_store.close()
    finally:
        await from_store.close()
