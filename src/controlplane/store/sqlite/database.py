"""One SQLite file (WAL): the schema's migrations, the one write connection behind one lock, a
read-only connection, the transaction context and the persisted sequences (fleet versions, order).
It is the aggregates' `Sql` (`store/queries`) as it stands."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from ..interface import VERSION_BLOCK
from ..queries.connection import SQLITE
from ..schema import MIGRATIONS, statements
from .connection import SqliteConnection

log = logging.getLogger(__name__)


class Database:
    """The connections to one database file; every write transaction holds the one lock."""

    dialect = SQLITE

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        # Reads use their own connection: in WAL mode it sees only committed data, never the open
        # transaction of the writer (so nothing is reported as stored before it is).
        self._read_db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._next_ord = 0
        self.write_observers: list[Callable[[float], None]] = []  # seconds of each committed write

    async def open(self) -> None:
        """Open the database, apply migrations; safe to call twice."""
        if self._db is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = await aiosqlite.connect(self.path, isolation_level=None)
        await self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit survives power loss, as an acknowledgement to an agent promises (WAL with
        # NORMAL may roll the last commits back); batching keeps it to a few fsyncs a second.
        await self._db.execute("PRAGMA synchronous=FULL")
        await self._db.execute("PRAGMA foreign_keys=ON")
        await self._db.execute("PRAGMA busy_timeout=5000")
        await self._migrate()
        self._read_db = await aiosqlite.connect(self.path, isolation_level=None)
        await self._read_db.execute("PRAGMA query_only=ON")
        await self._read_db.execute("PRAGMA busy_timeout=5000")
        row = await self.one("SELECT MAX(ord) FROM commands")
        self._next_ord = (row[0] or 0) + 1

    async def close(self) -> None:
        """Close both connections; safe to call twice."""
        if self._read_db is not None:
            reader, self._read_db = self._read_db, None
            await reader.close()
        if self._db is not None:
            db, self._db = self._db, None
            await db.close()

    @property
    def _writer(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("store is not open")
        return self._db

    async def schema_version(self) -> int:
        """The schema version of the open database (`PRAGMA user_version`)."""
        row = await self.one("PRAGMA user_version")
        return int(row[0])

    async def _migrate(self) -> None:
        current = await self.schema_version()
        for number, migration in enumerate(MIGRATIONS[current:], start=current + 1):
            async with self.transaction() as db:
                for statement in statements(migration, "sqlite"):
                    await db.execute(statement)
                await db.execute(f"PRAGMA user_version = {number}")
            log.info("database %s migrated to schema %d", self.path, number)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteConnection]:
        """One write transaction; committed on success, rolled back on error."""
        asked = time.perf_counter()
        async with self._lock:
            db = self._writer
            # A cancelled await does not stop a statement already handed to aiosqlite's thread, so the
            # statements that open and close a transaction are shielded and always run to the end:
            # a cancelled caller can never leave a transaction open for the next one.
            begin = asyncio.ensure_future(db.execute("BEGIN IMMEDIATE"))
            try:
                await asyncio.shield(begin)
                yield SqliteConnection(db)
            except BaseException:
                with contextlib.suppress(BaseException):
                    await asyncio.shield(begin)
                if db.in_transaction:
                    await asyncio.shield(db.execute("ROLLBACK"))
                raise
            await asyncio.shield(db.execute("COMMIT"))
        for observe in self.write_observers:
            observe(time.perf_counter() - asked)

    async def one(self, sql: str, args: Sequence[Any] = ()) -> Any:
        """The first row of a read (committed data only), or None."""
        rows = await self.all(sql, args)
        return rows[0] if rows else None

    async def all(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        """Every row of a read (committed data only). One trip to the database's thread, not three
        (execute, fetch, close): a welcome storm reads a token per hello."""
        return list(await (self._read_db or self._writer).execute_fetchall(sql, args))

    # --- sequences -----------------------------------------------------------------------------

    async def take_ord(self, db: object) -> int:
        """The order number of a new command, or of a test run without one (inside the transaction
        that inserts it: one writer per process, so a counter in memory)."""
        ord_, self._next_ord = self._next_ord, self._next_ord + 1
        return ord_

    async def reserve_versions(self, at_least: int) -> int:
        """Start version for this process; versions below the returned block end are never reused."""
        row = await self.one("SELECT value FROM meta WHERE key = 'version_reserved'")
        start = max(int(row[0]) if row else 0, at_least)
        await self.extend_version_reservation(start + VERSION_BLOCK)
        return start

    async def extend_version_reservation(self, reserved: int) -> None:
        """Persist that versions up to `reserved` may be handed out."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO meta(key, value) VALUES ('version_reserved', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                str(reserved),
            )

    # --- whole tables (for `fleetdeck db copy`) --------------------------------------------------

    async def table_columns(self, table: str) -> list[str]:
        """The columns of a table, in their order."""
        return [r[1] for r in await self.all(f"PRAGMA table_info({table})")]

    async def table_rows(
        self, table: str, columns: Sequence[str], batch: int = 5000
    ) -> AsyncIterator[list[tuple[Any, ...]]]:
        """Every row of a table, `batch` rows at a time."""
        async with (self._read_db or self._writer).execute(
            f"SELECT {', '.join(columns)} FROM {table}"
        ) as cursor:
            while rows := await cursor.fetchmany(batch):
                yield [tuple(r) for r in rows]
