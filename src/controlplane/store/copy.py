"""Copying a whole database from one engine to another, table by table, in one transaction on the
target (`fleetdeck db copy --from fleet.db --to postgresql://…`).

Both stores are opened first, so both hold the same schema version (the migrations are shared) and
every table copies column for column, in the order the migrations create them (a table after those
it references). Any engine that can list a table's rows is a source; the target must be empty.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

from .schema import tables


class TargetNotEmpty(Exception):
    """The target database already holds data; a copy goes only into a new, empty database."""


class TableSource(Protocol):
    """A store whose tables can be read whole."""

    async def table_columns(self, table: str) -> list[str]:
        """The columns of a table, in their order."""
        ...

    def table_rows(self, table: str, columns: Sequence[str]) -> AsyncIterator[Sequence[tuple[Any, ...]]]:
        """Every row of a table (those columns), in batches."""
        ...


class TableTarget(Protocol):
    """A store that can load tables from a source in one transaction."""

    async def load_tables(self, source: TableSource, tables: Sequence[str]) -> dict[str, int]:
        """Copy the tables' rows in one transaction; how many rows each got. Raises `TargetNotEmpty`."""
        ...


async def copy_database(source: TableSource, target: TableTarget) -> dict[str, int]:
    """Copy every table of `source` into the empty `target` (both opened); rows copied per table."""
    return await target.load_tables(source, tables())
