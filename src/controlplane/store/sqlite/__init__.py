"""The SQLite engine of the store: one file in WAL mode, one writer.

`database` holds the connections, the writer lock and the migrations (`schema`); `connection` adapts
aiosqlite to the aggregates' queries (`store/queries`), which both engines share; `Database` is
their `Sql`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..interface import OUTPUT_CAP_BYTES, Store
from ..queries import Queries
from ..replication import ReplicationStore
from ..tables import TableSource
from .database import Database


class SqliteStore(Queries):
    """The `Store` on one SQLite file."""

    def __init__(self, path: Path, output_cap_bytes: int = OUTPUT_CAP_BYTES) -> None:
        self.path = path
        self.output_cap_bytes = output_cap_bytes
        self._db = Database(path)
        self.replication: ReplicationStore | None = None  # one process owns a SQLite file
        self._db = self._sql = Database(path)  # the aggregates run on the database as it stands

    async def open(self) -> None:
        """Open the database, apply migrations; safe to call twice."""
        await self._db.open()

    async def close(self) -> None:
        """Close the connections; safe to call twice."""
        await self._db.close()

    async def schema_version(self) -> int:
        """The schema version of the open database."""
        return await self._db.schema_version()

    async def reserve_versions(self, at_least: int) -> int:
        """Start version for this process; versions below the reserved end are never handed out again."""
        return await self._db.reserve_versions(at_least)

    async def extend_version_reservation(self, reserved: int) -> None:
        """Persist that versions up to `reserved` may be handed out."""
        await self._db.extend_version_reservation(reserved)

    def observe_writes(self, observer: Callable[[float], None]) -> None:
        """Call `observer` with the seconds of every write transaction, from asking to committed."""
        self._db.write_observers.append(observer)

    async def table_columns(self, table: str) -> list[str]:
        """The columns of a table, in their order (a source of `fleetdeck db copy`)."""
        return await self._db.table_columns(table)

    def table_rows(self, table: str, columns: Sequence[str]) -> AsyncIterator[list[tuple[Any, ...]]]:
        """Every row of a table, in batches (a source of `fleetdeck db copy`)."""
        return self._db.table_rows(table, columns)


if TYPE_CHECKING:
    _implements: type[Store] = SqliteStore  # mypy checks the engine against the whole contract here
    _copies_from: type[TableSource] = SqliteStore

__all__ = ["SqliteStore"]
