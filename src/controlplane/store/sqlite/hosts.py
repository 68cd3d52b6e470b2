"""Hosts, their test settings overrides, the fleet-wide settings and the desired state in SQLite."""

from __future__ import annotations

import time
from collections.abc import Iterable

import aiosqlite

from fleetdeck.v1 import types_pb2 as pb

from ...timeutil import from_ts, to_ts
from ..records import StoredHost
from .codec import blob, duration, field_blob, ms, parse
from .database import Database

_LAST_OPERATIONS = ("last_switch", "last_pull", "last_rollback")


async def write_host_result(db: aiosqlite.Connection, host: pb.Host) -> None:
    """Inside a transaction: what a finished command changed on a host (facts, Tests, last operations)."""
    await db.execute(
        "UPDATE hosts SET facts=?, test_status=?, last_switch=?, last_pull=?, last_rollback=?, "
        "current_deployment_id=? WHERE name=?",
        (
            blob(host.facts),
            blob(host.test_status),
            *(field_blob(host, field) for field in _LAST_OPERATIONS),
            host.current_deployment_id,
            host.name,
        ),
    )


async def write_test_status(db: aiosqlite.Connection, host: pb.Host) -> None:
    """Inside a transaction: a host's test status."""
    await db.execute("UPDATE hosts SET test_status = ? WHERE name = ?", (blob(host.test_status), host.name))


class SqliteHosts:
    """The host aggregate of `SqliteStore`."""

    _db: Database

    async def load_hosts(self) -> list[StoredHost]:
        rows = await self._db.all(
            "SELECT h.name, h.registered_at, h.last_seen, h.facts, h.metrics, h.test_status, "
            "h.declared_tests, h.last_switch, h.last_pull, h.last_rollback, h.current_deployment_id, "
            "s.test_settings_override FROM hosts h LEFT JOIN host_settings s ON s.host = h.name "
            "ORDER BY h.name"
        )
        hosts = []
        for r in rows:
            host = pb.Host(
                name=r[0],
                registered_at=to_ts(r[1]),
                facts=parse(pb.HostFacts, r[3]),
                metrics=parse(pb.Metrics, r[4]),
                test_status=parse(pb.TestStatus, r[5]),
                declared_test_settings=parse(pb.DeclaredTestSettings, r[6]),
                current_deployment_id=r[10],
            )
            if r[2] is not None:
                host.last_seen.CopyFrom(to_ts(r[2]))
            for field, data in zip(_LAST_OPERATIONS, (r[7], r[8], r[9]), strict=True):
                if data:
                    getattr(host, field).CopyFrom(parse(pb.LastOperation, data))
            hosts.append(StoredHost(host, parse(pb.TestSettingsOverride, r[11])))
        return hosts

    async def save_hosts(self, hosts: Iterable[pb.Host]) -> None:
        rows = [
            (
                h.name,
                from_ts(h.registered_at) or time.time(),
                from_ts(h.last_seen),
                blob(h.facts),
                blob(h.metrics),
                blob(h.test_status),
                blob(h.declared_test_settings),
                *(field_blob(h, field) for field in _LAST_OPERATIONS),
                h.current_deployment_id,
            )
            for h in hosts
        ]
        if not rows:
            return
        async with self._db.transaction() as db:
            await db.executemany(
                "INSERT INTO hosts(name, registered_at, last_seen, facts, metrics, test_status, "
                "declared_tests, last_switch, last_pull, last_rollback, current_deployment_id) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET "
                "last_seen=excluded.last_seen, facts=excluded.facts, metrics=excluded.metrics, "
                "test_status=excluded.test_status, declared_tests=excluded.declared_tests, "
                "last_switch=excluded.last_switch, last_pull=excluded.last_pull, "
                "last_rollback=excluded.last_rollback, current_deployment_id=excluded.current_deployment_id",
                rows,
            )

    async def save_last_seen(self, hosts: Iterable[pb.Host]) -> None:
        rows = [(from_ts(h.last_seen), blob(h.metrics), h.name) for h in hosts]
        if not rows:
            return
        async with self._db.transaction() as db:
            await db.executemany("UPDATE hosts SET last_seen = ?, metrics = ? WHERE name = ?", rows)

    async def save_host_override(self, host: str, override: pb.TestSettingsOverride) -> None:
        async with self._db.transaction() as db:
            await db.execute(
                "INSERT OR IGNORE INTO hosts(name, registered_at) VALUES (?, ?)", (host, time.time())
            )
            await db.execute(
                "INSERT INTO host_settings(host, test_settings_override) VALUES (?, ?) "
                "ON CONFLICT(host) DO UPDATE SET test_settings_override = excluded.test_settings_override",
                (host, blob(override)),
            )

    async def load_settings(self) -> pb.Settings:
        r = await self._db.one(
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
        async with self._db.transaction() as db:
            await db.execute(
                "UPDATE settings SET test_timeout_ms=?, heartbeat_interval_ms=?, test_history_limit=?, "
                "operation_timeout_ms=? WHERE id = 1",
                (
                    ms(settings.test_timeout),
                    ms(settings.heartbeat_interval),
                    settings.test_history_limit,
                    ms(settings.operation_timeout),
                ),
            )

    async def load_desired(self) -> pb.DesiredState | None:
        r = await self._db.one("SELECT commit_sha, lock_hash, agent_version, updated_at FROM desired_state")
        if r is None:
            return None
        return pb.DesiredState(commit=r[0], lock_hash=r[1], agent_version=r[2], updated_at=to_ts(r[3]))

    async def save_desired(self, desired: pb.DesiredState) -> None:
        async with self._db.transaction() as db:
            await db.execute(
                "INSERT INTO desired_state VALUES (1, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                "commit_sha=excluded.commit_sha, lock_hash=excluded.lock_hash, "
                "agent_version=excluded.agent_version, updated_at=excluded.updated_at",
                (desired.commit, desired.lock_hash, desired.agent_version, from_ts(desired.updated_at)),
            )
