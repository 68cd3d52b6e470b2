"""The PostgreSQL engine of the store: the same `Store` as SQLite's, for several control-plane replicas.

Driver: asyncpg. It speaks PostgreSQL's binary protocol natively on asyncio (no libpq, no threads),
pipelines `executemany` and takes arrays, so a write-behind batch of thousands of heartbeats or
output chunks is a few round trips; it has a pool built in, `COPY` for `fleetdeck db copy`, and
LISTEN/NOTIFY on a connection (what replicas will use to hand each other events); asyncpg-stubs
types it for mypy. psycopg 3 would do as well (typed, pipelined), but it goes through libpq and
needs a second package for its pool, and its strengths (a DB-API shape, sync and async from one
code base) are nothing this engine uses.

As with SQLite there is one writer per process: `database` holds one write connection behind one
lock (batches are formed in memory by the callers and written in one transaction) and a small pool
of read connections that see committed data only. `connection` adapts asyncpg to the aggregates'
queries and the schema comes from the migrations, both shared with SQLite (`store/queries`,
`store/schema.py`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..interface import OUTPUT_CAP_BYTES, Store
from ..queries import Queries
from ..replication import ReplicationStore
from ..tables import TableSource, TableTarget
from .connection import PostgresSql
from .database import Database
from .replication import PostgresReplication
from .tables import load_tables, table_columns, table_rows


class PostgresStore(Queries):
    """The `Store` on one PostgreSQL database, named by a libpq connection URI (postgresql://…)."""

    def __init__(self, dsn: str, output_cap_bytes: int = OUTPUT_CAP_BYTES) -> None:
        self.dsn = dsn
        self.output_cap_bytes = output_cap_bytes
        self._db = Database(dsn)
        self.replication: ReplicationStore | None = PostgresReplication(self._db)
        self._sql = PostgresSql(self._db)

    def __repr__(self) -> str:
        return "PostgresStore(<dsn>)"  # the DSN may hold a password

    async def open(self) -> None:
        """Connect, apply migrations; safe to call twice."""
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
        """The columns of a table, in their order (a source of a copy)."""
        return await table_columns(self._db, table)

    def table_rows(self, table: str, columns: Sequence[str]) -> AsyncIterator[list[tuple[Any, ...]]]:
        """Every row of a table, in batches (a source of a copy)."""
        return table_rows(self._db, table, columns)

    async def load_tables(self, source: TableSource, tables: Sequence[str]) -> dict[str, int]:
        """Copy whole tables from another store into this empty one (`fleetdeck db copy`)."""
        return await load_tables(self._db, source, tables)


if TYPE_CHECKING:
    _implements: type[Store] = PostgresStore  # mypy checks the engine against the whole contract here
    _copies_into: type[TableTarget] = PostgresStore
    _copies_from: type[TableSource] = PostgresStore

__all__ = ["PostgresStore"]
