"""Hosts, their test settings overrides, the fleet-wide settings and the desired state."""

from __future__ import annotations

import time
from collections.abc import Iterable

from fleetdeck.v1 import types_pb2 as pb

from ...timeutil import from_ts, to_ts
from ..codec import blob, duration, ms
from ..records import StoredHost
from ..rows import HOST_COLUMNS, host_result_values, host_values, stored_host
from .connection import Column, Connection, Sql

_HOST: tuple[Column, ...] = (
    ("name", "text"),
    ("registered_at", "float8"),
    ("last_seen", "float8"),
    ("facts", "bytea"),
    ("metrics", "bytea"),
    ("test_status", "bytea"),
    ("declared_tests", "bytea"),
    ("last_switch", "bytea"),
    ("last_pull", "bytea"),
    ("last_rollback", "bytea"),
    ("current_deployment_id", "text"),
)  # the columns of `rows.host_values`
_SAVED_AGAIN = ", ".join(
    f"{name}=excluded.{name}" for name, _ in _HOST if name not in ("name", "registered_at")
)
_LAST_SEEN: tuple[Column, ...] = (("last_seen", "float8"), ("metrics", "bytea"))


async def write_host_result(db: Connection, host: pb.Host) -> None:
    """Inside a transaction: what a finished command changed on a host (facts, Tests, last operations)."""
    await db.execute(
        "UPDATE hosts SET facts=?, test_status=?, last_switch=?, last_pull=?, last_rollback=?, "
        "current_deployment_id=? WHERE name=?",
        *host_result_values(host),
    )


async def write_test_status(db: Connection, host: pb.Host) -> None:
    """Inside a transaction: a host's test status."""
    await db.execute("UPDATE hosts SET test_status = ? WHERE name = ?", blob(host.test_status), host.name)


class HostQueries:
    """The host aggregate of both engines' stores (methods documented on `HostStore`)."""

    _sql: Sql

    async def load_hosts(self) -> list[StoredHost]:
        rows = await self._sql.all(
            f"SELECT {HOST_COLUMNS} FROM hosts h LEFT JOIN host_settings s ON s.host = h.name ORDER BY h.name"
        )
        return [stored_host(r) for r in rows]

    async def save_hosts(self, hosts: Iterable[pb.Host]) -> None:
        rows = [host_values(h) for h in hosts]
        if not rows:
            return
        # A host given twice keeps its first registration time and its last facts, as row by row.
        async with self._sql.transaction() as db:
            await db.insert_many(
                "hosts", _HOST, rows, conflict=f"ON CONFLICT(name) DO UPDATE SET {_SAVED_AGAIN}", key=["name"]
            )

    async def save_last_seen(self, hosts: Iterable[pb.Host]) -> None:
        # The write-behind flush of every connected host: one batch, the last word on each host.
        rows = [(from_ts(h.last_seen), blob(h.metrics), h.name) for h in hosts]
        if not rows:
            return
        async with self._sql.transaction() as db:
            await db.update_many("hosts", _LAST_SEEN, ("name", "text"), rows)

    async def save_host_override(self, host: str, override: pb.TestSettingsOverride) -> None:
        async with self._sql.transaction() as db:
            await db.execute(
                "INSERT INTO hosts(name, registered_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                host,
                time.time(),
            )
            await db.execute(
                "INSERT INTO host_settings(host, test_settings_override) VALUES (?, ?) "
                "ON CONFLICT(host) DO UPDATE SET test_settings_override = excluded.test_settings_override",
                host,
                blob(override),
            )

    async def load_settings(self) -> pb.Settings:
        r = await self._sql.one(
            "SELECT test_timeout_ms, heartbeat_interval_ms, test_history_limit, operation_timeout_ms "
            "FROM settings WHERE id = 1"
        )
        return pb.Settings(
            test_timeout=duration(r[0]),
            heartbeat_interval=duration(r[1]),
            test_history_limit=r[2],
            operation_timeout=duration(r[3]),
        )

    async def save_settings(self, settings: pb.Settings) -> None:
        async with self._sql.transaction() as db:
            await db.execute(
                "UPDATE settings SET test_timeout_ms=?, heartbeat_interval_ms=?, test_history_limit=?, "
                "operation_timeout_ms=? WHERE id = 1",
                ms(settings.test_timeout),
                ms(settings.heartbeat_interval),
                settings.test_history_limit,
                ms(settings.operation_timeout),
            )

    async def load_desired(self) -> pb.DesiredState | None:
        r = await self._sql.one("SELECT commit_sha, lock_hash, agent_version, updated_at FROM desired_state")
        if r is None:
            return None
        return pb.DesiredState(commit=r[0], lock_hash=r[1], agent_version=r[2], updated_at=to_ts(r[3]))

    async def save_desired(self, desired: pb.DesiredState) -> None:
        async with self._sql.transaction() as db:
            await db.execute(
                "INSERT INTO desired_state VALUES (1, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                "commit_sha=excluded.commit_sha, lock_hash=excluded.lock_hash, "
                "agent_version=excluded.agent_version, updated_at=excluded.updated_at",
                desired.commit,
                desired.lock_hash,
                desired.agent_version,
                from_ts(desired.updated_at),
            )
