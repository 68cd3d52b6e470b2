"""Whole tables: what an engine implements to be the source or the target of a database copy, and
why a copy is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol


class CopyError(Exception):
    """A copy that cannot be made, with a sentence saying why."""


class TargetNotEmpty(CopyError):
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
