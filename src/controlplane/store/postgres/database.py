"""One PostgreSQL database: a pool of read connections, the one write connection behind one lock, the
transaction context, the migrations (shared with SQLite) and the persisted sequences."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeAlias, TypeVar

import asyncpg

from ..interface import VERSION_BLOCK
from ..schema import MIGRATIONS, statements

log = logging.getLogger(__name__)

T = TypeVar("T")

# Held while migrating, so replicas starting together migrate once.
_MIGRATION_LOCK = 0x666C6565  # "flee"

Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record]"


def rowcount(status: str) -> int:
    """The number of rows a command touched, from its status ("UPDATE 3", "DELETE 0")."""
    return int(status.rsplit(" ", 1)[-1])


async def _to_the_end(step: asyncio.Future[str]) -> str:
    """Await a statement until it is done even when cancelled meanwhile; the cancellation follows."""
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(step)
            break
        except asyncio.CancelledError:
            if step.cancelled():
                raise
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return result


class Database:
    """The connections to one database; every write transaction holds the one lock."""

    def __init__(self, dsn: str, readers: int = 4) -> None:
        self.dsn = dsn
        self._readers = readers
        self._writer_conn: Connection | None = None
        # Reads use pooled connections of their own: they see only committed data, never the open
        # transaction of the writer (so nothing is reported as stored before it is).
        self._pool: asyncpg.Pool[asyncpg.Record] | None = None
        self._lock = asyncio.Lock()
        self._writer_lost = False
        self.write_observers: list[Callable[[float], None]] = []  # seconds of each committed write

    async def open(self) -> None:
        """Connect, apply migrations; safe to call twice."""
        if self._writer_conn is not None:
            return
        writer = await asyncpg.connect(self.dsn)
        try:
            await self._migrate(writer)
            self._pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=self._readers)
        except BaseException:
            await writer.close()
            raise
        self._writer_conn = writer

    async def close(self) -> None:
        """Close the pool and the writer; safe to call twice."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
        if self._writer_conn is not None:
            writer, self._writer_conn = self._writer_conn, None
            await writer.close()

    @property
    def _writer(self) -> Connection:
        if self._writer_conn is None:
            raise RuntimeError("store is not open")
        return self._writer_conn

    @property
    def _reader(self) -> asyncpg.Pool[asyncpg.Record]:
        if self._pool is None:
            raise RuntimeError("store is not open")
        return self._pool

    async def schema_version(self) -> int:
        """The number of migrations applied."""
        row = await self.one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        return int(row[0])

    async def _migrate(self, db: Connection) -> None:
        # Replicas starting together take turns: the first migrates, the others find it done.
        await db.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        try:
            await db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                "version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            current = await db.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            for number, migration in enumerate(MIGRATIONS[current:], start=current + 1):
                async with db.transaction():
                    for statement in statements(migration, "postgres"):
                        await db.execute(statement)
                    await db.execute("INSERT INTO schema_migrations(version) VALUES ($1)", number)
                log.info("PostgreSQL database migrated to schema %d", number)
        finally:
            await db.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """One write transaction; committed on success, rolled back on error."""
        asked = time.perf_counter()
        async with self._lock:
            # asyncpg runs one statement at a time per connection, and a cancelled caller must never
            # leave a transaction open for the next one: BEGIN, COMMIT and ROLLBACK always run to
            # their end before the lock is released (a statement of the body that was cancelled is
            # cancelled on the server too, and asyncpg waits for that before the ROLLBACK).
            try:
                db = await self._begin()
                yield db
            except BaseException:
                current = self._writer_conn
                if current is not None and not current.is_closed() and current.is_in_transaction():
                    await _to_the_end(asyncio.ensure_future(current.execute("ROLLBACK")))
                raise
            await _to_the_end(asyncio.ensure_future(db.execute("COMMIT")))
        for observe in self.write_observers:
            observe(time.perf_counter() - asked)

    async def _begin(self) -> Connection:
        """BEGIN on the write connection; one that the database dropped is replaced first."""
        db = self._writer
        if db.is_closed():
            db = await self._reconnect()
        try:
            await _to_the_end(asyncio.ensure_future(db.execute("BEGIN")))
        except (asyncpg.PostgresConnectionError, asyncpg.InterfaceError):
            if not db.is_closed():
                raise
            # Dropped while idle (a restart, a failover, an idle timeout): nothing was written yet.
            db = await self._reconnect()
            await _to_the_end(asyncio.ensure_future(db.execute("BEGIN")))
        return db

    async def _reconnect(self) -> Connection:
        if not self._writer_lost:  # said once per outage; storage health reports the rest
            log.warning("PostgreSQL dropped the write connection; connecting again")
            self._writer_lost = True
        db = await asyncpg.connect(self.dsn)
        self._writer_lost = False
        old, self._writer_conn = self._writer_conn, db
        if old is not None:
            old.terminate()
        return db

    async def one(self, sql: str, args: Sequence[Any] = ()) -> Any:
        """The first row of a read (committed data only), or None."""
        return await self._read(lambda: self._reader.fetchrow(sql, *args))

    async def all(self, sql: str, args: Sequence[Any] = ()) -> list[asyncpg.Record]:
        """Every row of a read (committed data only)."""
        return await self._read(lambda: self._reader.fetch(sql, *args))

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[asyncpg.pool.PoolConnectionProxy[asyncpg.Record]]:
        """A read connection of the pool, for a cursor or a snapshot."""
        async with self._reader.acquire() as conn:
            yield conn

    @staticmethod
    async def _read(read: Callable[[], Awaitable[T]]) -> T:
        try:
            return await read()
        except asyncpg.ConnectionDoesNotExistError:
            # A pooled connection the database dropped while idle: the pool connects anew.
            return await read()

    # --- sequences -----------------------------------------------------------------------------

    async def reserve_versions(self, at_least: int) -> int:
        """Start version for this process; versions below the returned block end are never reused."""
        async with self.transaction() as db:
            stored = await db.fetchval("SELECT value FROM meta WHERE key = 'version_reserved' FOR UPDATE")
            start = max(int(stored) if stored is not None else 0, at_least)
            await self._write_reservation(db, start + VERSION_BLOCK)
        return start

    async def extend_version_reservation(self, reserved: int) -> None:
        """Persist that versions up to `reserved` may be handed out."""
        async with self.transaction() as db:
            await self._write_reservation(db, reserved)

    @staticmethod
    async def _write_reservation(db: Connection, reserved: int) -> None:
        await db.execute(
            "INSERT INTO meta(key, value) VALUES ('version_reserved', $1) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            str(reserved),
        )
