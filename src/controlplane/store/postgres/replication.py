"""Replicas sharing one PostgreSQL database: who holds each host's agent stream, the fleet log in one
global order, mail for agents whose stream another replica holds, and the LISTEN/NOTIFY channels that
wake the replicas when any of these changes.

Every notification is sent inside the transaction that made the change, so PostgreSQL delivers it
only once the change is committed and readable. Notifications are not durable (a replica whose
listening connection is down misses them), so each one only says where to look: a replica that
reconnects reads the log, the owners and its mail from where it was.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence

import asyncpg

from ..replication import (
    CHANNELS,
    CONFIG_CHANNEL,
    LOG_CHANNEL,
    MAIL_CHANNEL,
    OUTPUT_CHANNEL,
    OWNER_CHANNEL,
    REVOKED_CHANNEL,
    LogEntry,
    Mail,
    Owner,
    Published,
    owner_payload,
    payloads,
)
from .database import Connection, Database, rowcount

log = logging.getLogger(__name__)

# Held by the replica that runs the fleet's background duties (one at a time), on its listening
# connection: PostgreSQL lets go of it when that connection ends, however the replica ended.
_LEADER_LOCK = 0x666C6564  # "fled"


class Listener:
    """A connection of its own that LISTENs on every channel (and holds the leader lock, if taken)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.leading = False

    @property
    def alive(self) -> bool:
        return not self._conn.is_closed()

    async def try_lead(self) -> bool:
        """Take the leader lock if no other replica holds it; True while this replica leads."""
        if not self.leading:
            self.leading = bool(await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", _LEADER_LOCK))
        return self.leading

    async def close(self) -> None:
        """Stop listening (and leading)."""
        self.leading = False
        if not self._conn.is_closed():
            with contextlib.suppress(Exception):
                await self._conn.close(timeout=2)
            if not self._conn.is_closed():
                self._conn.terminate()


class PostgresReplication:
    """The replication tables of one database, and listening to its channels."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # --- listening -----------------------------------------------------------------------------

    async def listen(self, notice: Callable[[str, str], None], lost: Callable[[], None]) -> Listener:
        """A listening connection: `notice(channel, payload)` for each notification, `lost()` once
        when the connection ends."""
        conn = await asyncpg.connect(self._db.dsn)
        try:
            for channel in CHANNELS:
                await conn.add_listener(channel, lambda _c, _pid, ch, payload: notice(ch, payload))
            conn.add_termination_listener(lambda _c: lost())
        except BaseException:
            conn.terminate()
            raise
        return Listener(conn)

    # --- replicas ------------------------------------------------------------------------------

    async def register(self, replica: str) -> None:
        """A replica started."""
        now = time.time()
        async with self._db.transaction() as db:
            await db.execute(
                "INSERT INTO replicas(id, started_at, seen_at) VALUES ($1, $2, $2)", replica, now
            )

    async def beat(self, replica: str) -> None:
        """A replica is alive (re-registered if another replica had given it up for dead)."""
        now = time.time()
        async with self._db.transaction() as db:
            await db.execute(
                "INSERT INTO replicas(id, started_at, seen_at) VALUES ($1, $2, $2) "
                "ON CONFLICT(id) DO UPDATE SET seen_at = excluded.seen_at",
                replica,
                now,
            )

    async def silent_replicas(self, longer_than: float) -> list[str]:
        """Replicas that have not said they are alive for `longer_than` seconds."""
        rows = await self._db.all(
            "SELECT id FROM replicas WHERE seen_at < $1 ORDER BY id", (time.time() - longer_than,)
        )
        return [r[0] for r in rows]

    async def retire(self, replica: str) -> list[str]:
        """A replica is gone (stopped, or silent for too long): forget it and let go of its hosts;
        the hosts it held, once (a second caller gets none)."""
        async with self._db.transaction() as db:
            await db.execute("DELETE FROM replicas WHERE id = $1", replica)
            rows = await db.fetch(
                "UPDATE host_owners SET replica = '' WHERE replica = $1 RETURNING host, epoch", replica
            )
            for host, epoch in rows:
                await _notify(db, OWNER_CHANNEL, owner_payload(host, Owner("", epoch)))
        return sorted(r[0] for r in rows)

    # --- who holds each host -------------------------------------------------------------------

    async def owners(self) -> dict[str, Owner]:
        """Every host's holder and epoch."""
        rows = await self._db.all("SELECT host, replica, epoch FROM host_owners")
        return {r[0]: Owner(r[1], r[2]) for r in rows}

    async def claim(self, host: str, replica: str) -> tuple[Owner, int]:
        """`replica` holds `host`'s stream from now on, with a higher epoch than any claim before; the
        host's mail for earlier streams is dropped (how many: the second value)."""
        async with self._db.transaction() as db:
            dropped = rowcount(await db.execute("DELETE FROM agent_mail WHERE host = $1", host))
            epoch = await db.fetchval(
                "INSERT INTO host_owners(host, replica, epoch) VALUES ($1, $2, 1) "
                "ON CONFLICT(host) DO UPDATE SET replica = excluded.replica, epoch = host_owners.epoch + 1 "
                "RETURNING epoch",
                host,
                replica,
            )
            owner = Owner(replica, int(epoch))
            await _notify(db, OWNER_CHANNEL, owner_payload(host, owner))
        return owner, dropped

    async def release(self, host: str, owner: Owner) -> bool:
        """The stream of `owner`'s claim ended; False when a newer claim took the host meanwhile."""
        async with self._db.transaction() as db:
            released = await db.fetchval(
                "UPDATE host_owners SET replica = '' WHERE host = $1 AND replica = $2 AND epoch = $3 "
                "RETURNING epoch",
                host,
                owner.replica,
                owner.epoch,
            )
            if released is not None:
                await _notify(db, OWNER_CHANNEL, owner_payload(host, Owner("", owner.epoch)))
        return released is not None

    async def held_elsewhere(self, replica: str, hosts: Sequence[str]) -> set[str]:
        """Which of `hosts` a replica other than `replica` holds."""
        rows = await self._db.all(
            "SELECT host FROM host_owners WHERE host = ANY($2::text[]) AND replica <> '' AND replica <> $1",
            (replica, list(hosts)),
        )
        return {r[0] for r in rows}

    async def seen_elsewhere(self, replica: str) -> list[tuple[str, float | None, bytes | None]]:
        """(host, last-seen time, metrics) of every host a replica other than `replica` holds."""
        rows = await self._db.all(
            "SELECT h.name, h.last_seen, h.metrics FROM hosts h JOIN host_owners o ON o.host = h.name "
            "WHERE o.replica <> '' AND o.replica <> $1",
            (replica,),
        )
        return [(r[0], r[1], None if r[2] is None else bytes(r[2])) for r in rows]

    # --- the fleet log -------------------------------------------------------------------------

    async def append(self, replica: str, events: Sequence[Published]) -> int:
        """Give `events` the next versions of the global order and store them; the last version.

        The counter row is locked until commit, so appends commit in version order: a reader that
        saw version v never later finds a version below v appear."""
        async with self._db.transaction() as db:
            last = int(
                await db.fetchval(
                    "UPDATE meta SET value = (value::bigint + $1)::text WHERE key = 'log_version' "
                    "RETURNING value",
                    len(events),
                )
            )
            first = last - len(events) + 1
            await db.execute(
                "INSERT INTO fleet_log(version, replica, host, epoch, event) "
                "SELECT $5::bigint + i - 1, $4, h, p, e "
                "FROM unnest($1::bytea[], $2::text[], $3::bigint[]) WITH ORDINALITY AS x(e, h, p, i)",
                [e.event for e in events],
                [e.host for e in events],
                [e.epoch for e in events],
                replica,
                first,
            )
            await _notify(db, LOG_CHANNEL, str(last))
        return last

    async def log_version(self) -> int:
        """The newest version of the global order."""
        row = await self._db.one("SELECT value FROM meta WHERE key = 'log_version'")
        return int(row[0])

    async def read_log(self, after: int, limit: int = 5_000) -> list[LogEntry]:
        """Entries after version `after`, oldest first."""
        rows = await self._db.all(
            "SELECT version, replica, host, epoch, event FROM fleet_log WHERE version > $1 "
            "ORDER BY version LIMIT $2",
            (after, limit),
        )
        return [LogEntry(r[0], r[1], r[2], r[3], bytes(r[4])) for r in rows]

    async def latest_host_events(self) -> list[LogEntry]:
        """Each host's newest entry in the log, oldest first."""
        rows = await self._db.all(
            "SELECT * FROM (SELECT DISTINCT ON (host) version, replica, host, epoch, event FROM fleet_log "
            "WHERE host <> '' ORDER BY host, version DESC) AS newest ORDER BY version"
        )
        return [LogEntry(r[0], r[1], r[2], r[3], bytes(r[4])) for r in rows]

    async def prune_log(self, keep: int) -> int:
        """Forget all but the newest `keep` entries (watchers further behind get a snapshot)."""
        async with self._db.transaction() as db:
            status = await db.execute(
                "DELETE FROM fleet_log WHERE version <= "
                "(SELECT value::bigint FROM meta WHERE key = 'log_version') - $1",
                keep,
            )
        return int(status.rsplit(" ", 1)[-1])

    # --- mail for the replica holding a host ----------------------------------------------------

    async def post(self, host: str, kind: str, body: bytes) -> None:
        """Leave a message for whichever replica holds `host` (it is woken by MAIL_CHANNEL)."""
        async with self._db.transaction() as db:
            await db.execute("INSERT INTO agent_mail(host, kind, body) VALUES ($1, $2, $3)", host, kind, body)
            await _notify(db, MAIL_CHANNEL, host)

    async def take_mail(self, hosts: Sequence[str]) -> list[Mail]:
        """Remove and return the messages for `hosts`, oldest first."""
        if not hosts:
            return []
        async with self._db.transaction() as db:
            rows = await db.fetch(
                "DELETE FROM agent_mail WHERE host = ANY($1::text[]) RETURNING id, host, kind, body",
                list(hosts),
            )
        return sorted((Mail(r[0], r[1], r[2], bytes(r[3])) for r in rows), key=lambda m: m.id)

    # --- wake-ups without a table --------------------------------------------------------------

    async def output_stored(self, replica: str, command_ids: Sequence[str]) -> None:
        """`replica` stored new output of these commands (followers on other replicas read it)."""
        async with self._db.transaction() as db:
            for payload in payloads(command_ids, room=len(replica) + 1):
                await _notify(db, OUTPUT_CHANNEL, f"{replica} {payload}")

    async def revoked(self, what: str) -> None:
        """A credential was revoked (every replica ends the streams it opened)."""
        async with self._db.transaction() as db:
            await _notify(db, REVOKED_CHANNEL, what)

    async def config_changed(self, what: str) -> None:
        """Fleet-wide settings or desired states changed (every replica reloads them)."""
        async with self._db.transaction() as db:
            await _notify(db, CONFIG_CHANNEL, what)


async def _notify(db: Connection, channel: str, payload: str) -> None:
    await db.execute("SELECT pg_notify($1, $2)", channel, payload)
