"""The one module that speaks SQL: fleet state in SQLite (WAL), rows in and out as proto messages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import aiosqlite
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message

from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import types_pb2 as pb

from .timeutil import from_ts, to_ts

log = logging.getLogger(__name__)

VERSION_BLOCK = 100_000  # fleet versions reserved ahead, so a restart never reuses one
OUTPUT_CAP_BYTES = 10 * 1024 * 1024

MIGRATIONS: list[str] = [
    # 1: the whole schema
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE hosts (
        name TEXT PRIMARY KEY,
        registered_at REAL NOT NULL,
        last_seen REAL,
        facts BLOB, metrics BLOB, test_status BLOB, declared_tests BLOB,
        last_switch BLOB, last_pull BLOB, last_rollback BLOB,
        current_deployment_id TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE host_settings (
        host TEXT PRIMARY KEY REFERENCES hosts(name),
        test_settings_override BLOB NOT NULL
    );
    CREATE TABLE settings (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        test_timeout_ms INTEGER NOT NULL,
        heartbeat_interval_ms INTEGER NOT NULL,
        test_history_limit INTEGER NOT NULL,
        operation_timeout_ms INTEGER NOT NULL
    );
    INSERT INTO settings VALUES (1, 60000, 5000, 200, 1800000);
    CREATE TABLE desired_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        commit_sha TEXT NOT NULL, lock_hash TEXT NOT NULL, agent_version TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE agent_tokens (
        token_id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        sha256 TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        last_used_at REAL,
        revoked_at REAL
    );
    CREATE INDEX idx_agent_tokens_host ON agent_tokens(host);
    CREATE TABLE commands (
        id TEXT PRIMARY KEY,
        ord INTEGER NOT NULL UNIQUE,
        host TEXT NOT NULL,
        operation INTEGER NOT NULL,
        state INTEGER NOT NULL,
        exit_code INTEGER NOT NULL DEFAULT -1,
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        trigger INTEGER NOT NULL DEFAULT 0,
        message TEXT NOT NULL DEFAULT '',
        timeout_ms INTEGER NOT NULL,
        triggered_by TEXT NOT NULL DEFAULT '',
        output_lines INTEGER NOT NULL DEFAULT 0,
        output_bytes INTEGER NOT NULL DEFAULT 0,
        truncated_bytes INTEGER NOT NULL DEFAULT 0,
        max_seq INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX idx_commands_host ON commands(host, ord DESC);
    CREATE INDEX idx_commands_state ON commands(state);
    CREATE TABLE command_output (
        command_id TEXT NOT NULL REFERENCES commands(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        first_line INTEGER NOT NULL,
        line_count INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        chunk BLOB NOT NULL,
        PRIMARY KEY (command_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE test_runs (
        id TEXT PRIMARY KEY,
        ord INTEGER NOT NULL,
        host TEXT NOT NULL,
        state INTEGER NOT NULL,
        passed INTEGER NOT NULL,
        failed INTEGER NOT NULL,
        started_at REAL,
        finished_at REAL,
        run BLOB NOT NULL
    );
    CREATE INDEX idx_test_runs_host ON test_runs(host, ord DESC);
    CREATE TABLE test_cases (
        run_id TEXT NOT NULL REFERENCES test_runs(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        name TEXT NOT NULL,
        outcome INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL,
        exit_code INTEGER NOT NULL,
        file TEXT NOT NULL,
        output TEXT NOT NULL,
        PRIMARY KEY (run_id, idx)
    ) WITHOUT ROWID;
    """,
    # 2: API tokens with roles
    """
    CREATE TABLE api_tokens (
        token_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role INTEGER NOT NULL,
        sha256 TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        revoked_at REAL
    );
    """,
    # 3: enrollment tokens and rotation overlap for agent tokens
    """
    ALTER TABLE agent_tokens ADD COLUMN expires_at REAL;
    ALTER TABLE agent_tokens ADD COLUMN enrollment INTEGER NOT NULL DEFAULT 0;
    """,
    # 4: web users, their sessions, and failed logins (the login limit survives restarts)
    """
    CREATE TABLE users (
        username TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        role INTEGER NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE web_sessions (
        token_sha256 TEXT PRIMARY KEY,
        username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE TABLE login_failures (client TEXT NOT NULL, username TEXT NOT NULL, failed_at REAL NOT NULL);
    CREATE INDEX idx_login_failures ON login_failures(client, username, failed_at);
    """,
]


def _blob(message: Message | None) -> bytes | None:
    return None if message is None else message.SerializeToString()


M = TypeVar("M", bound=Message)


def _parse(cls: type[M], data: bytes | None) -> M:
    message = cls()
    if data:
        message.ParseFromString(data)
    return message


def _ms(duration: Duration) -> int:
    return duration.seconds * 1000 + duration.nanos // 1_000_000


def _duration(ms: int) -> Duration:
    d = Duration()
    d.FromMilliseconds(ms)
    return d


@dataclass(frozen=True)
class TokenRecord:
    """A stored agent token, without its secret."""

    token_id: str
    host: str
    revoked: bool
    expires_at: float | None = None
    enrollment: bool = False
    used: bool = False


@dataclass(frozen=True)
class OutputAppend:
    """One output chunk to store, as the agent sent it."""

    command_id: str
    chunk: agent_pb.OutputChunk


class Store:
    """All persistence. One connection; every write transaction holds one lock."""

    def __init__(self, path: Path, output_cap_bytes: int = OUTPUT_CAP_BYTES) -> None:
        self.path = path
        self.output_cap_bytes = output_cap_bytes
        self._db: aiosqlite.Connection | None = None
        # Reads use their own connection: in WAL mode it sees only committed data, never the open
        # transaction of the writer (so nothing is reported as stored before it is).
        self._read_db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._next_ord = 0

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
        row = await self._one("SELECT MAX(ord) FROM commands")
        self._next_ord = (row[0] or 0) + 1

    async def close(self) -> None:
        """Close the connection; safe to call twice."""
        if self._read_db is not None:
            reader, self._read_db = self._read_db, None
            await reader.close()
        if self._db is not None:
            db, self._db = self._db, None
            await db.close()

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("store is not open")
        return self._db

    async def _migrate(self) -> None:
        row = await self._one("PRAGMA user_version")
        current = row[0]
        for number, script in enumerate(MIGRATIONS[current:], start=current + 1):
            async with self.transaction() as db:
                for statement in script.split(";"):
                    if statement.strip():
                        await db.execute(statement)
                await db.execute(f"PRAGMA user_version = {number}")
            log.info("database %s migrated to schema %d", self.path, number)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction; committed on success, rolled back on error."""
        async with self._lock:
            # A cancelled await does not stop a statement already handed to aiosqlite's thread, so the
            # statements that open and close a transaction are shielded and always run to the end:
            # a cancelled caller can never leave a transaction open for the next one.
            begin = asyncio.ensure_future(self.db.execute("BEGIN IMMEDIATE"))
            try:
                await asyncio.shield(begin)
                yield self.db
            except BaseException:
                with contextlib.suppress(BaseException):
                    await asyncio.shield(begin)
                if self.db.in_transaction:
                    await asyncio.shield(self.db.execute("ROLLBACK"))
                raise
            await asyncio.shield(self.db.execute("COMMIT"))

    async def _one(self, sql: str, args: Sequence[Any] = ()) -> Any:
        async with (self._read_db or self.db).execute(sql, args) as cursor:
            return await cursor.fetchone()

    async def _all(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        async with (self._read_db or self.db).execute(sql, args) as cursor:
            return list(await cursor.fetchall())

    # --- fleet version -------------------------------------------------------------------------

    async def reserve_versions(self, at_least: int) -> int:
        """Start version for this process; versions below the returned block end are never reused."""
        row = await self._one("SELECT value FROM meta WHERE key = 'version_reserved'")
        start = max(int(row[0]) if row else 0, at_least)
        await self.extend_version_reservation(start + VERSION_BLOCK)
        return start

    async def extend_version_reservation(self, reserved: int) -> None:
        """Persist that versions up to `reserved` may be handed out."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO meta(key, value) VALUES ('version_reserved', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (str(reserved),),
            )

    # --- hosts ---------------------------------------------------------------------------------

    async def load_hosts(self) -> list[tuple[pb.Host, pb.TestSettingsOverride]]:
        """Every stored host (without compartments) and its settings override."""
        rows = await self._all(
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
                facts=_parse(pb.HostFacts, r[3]),
                metrics=_parse(pb.Metrics, r[4]),
                test_status=_parse(pb.TestStatus, r[5]),
                declared_test_settings=_parse(pb.DeclaredTestSettings, r[6]),
                current_deployment_id=r[10],
            )
            if r[2] is not None:
                host.last_seen.CopyFrom(to_ts(r[2]))
            for field, data in (("last_switch", r[7]), ("last_pull", r[8]), ("last_rollback", r[9])):
                if data:
                    getattr(host, field).CopyFrom(_parse(pb.LastOperation, data))
            hosts.append((host, _parse(pb.TestSettingsOverride, r[11])))
        return hosts

    async def save_hosts(self, hosts: Iterable[pb.Host]) -> None:
        """Write hosts' facts in one transaction (the write-behind flush and durable updates)."""
        rows = [
            (
                h.name,
                from_ts(h.registered_at) or time.time(),
                from_ts(h.last_seen),
                _blob(h.facts),
                _blob(h.metrics),
                _blob(h.test_status),
                _blob(h.declared_test_settings),
                _blob(h.last_switch) if h.HasField("last_switch") else None,
                _blob(h.last_pull) if h.HasField("last_pull") else None,
                _blob(h.last_rollback) if h.HasField("last_rollback") else None,
                h.current_deployment_id,
            )
            for h in hosts
        ]
        if not rows:
            return
        async with self.transaction() as db:
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
        """Write hosts' last-seen time and metrics only, in one transaction."""
        rows = [(from_ts(h.last_seen), _blob(h.metrics), h.name) for h in hosts]
        if not rows:
            return
        async with self.transaction() as db:
            await db.executemany("UPDATE hosts SET last_seen = ?, metrics = ? WHERE name = ?", rows)

    async def save_host_override(self, host: str, override: pb.TestSettingsOverride) -> None:
        """Persist a host's test settings override."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT OR IGNORE INTO hosts(name, registered_at) VALUES (?, ?)", (host, time.time())
            )
            await db.execute(
                "INSERT INTO host_settings(host, test_settings_override) VALUES (?, ?) "
                "ON CONFLICT(host) DO UPDATE SET test_settings_override = excluded.test_settings_override",
                (host, _blob(override)),
            )

    # --- settings and desired state ------------------------------------------------------------

    async def load_settings(self) -> pb.Settings:
        """The fleet-wide settings."""
        r = await self._one(
            "SELECT test_timeout_ms, heartbeat_interval_ms, test_history_limit, operation_timeout_ms "
            "FROM settings WHERE id = 1"
        )
        return pb.Settings(
            test_timeout=_duration(r[0]),
            heartbeat_interval=_duration(r[1]),
            test_history_limit=r[2],
            operation_timeout=_duration(r[3]),
        )

    async def save_settings(self, settings: pb.Settings) -> None:
        """Persist the fleet-wide settings."""
        async with self.transaction() as db:
            await db.execute(
                "UPDATE settings SET test_timeout_ms=?, heartbeat_interval_ms=?, test_history_limit=?, "
                "operation_timeout_ms=? WHERE id = 1",
                (
                    _ms(settings.test_timeout),
                    _ms(settings.heartbeat_interval),
                    settings.test_history_limit,
                    _ms(settings.operation_timeout),
                ),
            )

    async def load_desired(self) -> pb.DesiredState | None:
        """The desired state, or None when it was never set."""
        r = await self._one("SELECT commit_sha, lock_hash, agent_version, updated_at FROM desired_state")
        if r is None:
            return None
        return pb.DesiredState(commit=r[0], lock_hash=r[1], agent_version=r[2], updated_at=to_ts(r[3]))

    async def save_desired(self, desired: pb.DesiredState) -> None:
        """Persist the desired state."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO desired_state VALUES (1, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                "commit_sha=excluded.commit_sha, lock_hash=excluded.lock_hash, "
                "agent_version=excluded.agent_version, updated_at=excluded.updated_at",
                (desired.commit, desired.lock_hash, desired.agent_version, from_ts(desired.updated_at)),
            )

    # --- agent tokens --------------------------------------------------------------------------

    async def add_token(
        self,
        token_id: str,
        host: str,
        sha256: str,
        *,
        enrollment: bool = False,
        expires_at: float | None = None,
    ) -> None:
        """Store a new token's hash."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO agent_tokens(token_id, host, sha256, created_at, enrollment, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (token_id, host, sha256, time.time(), int(enrollment), expires_at),
            )

    async def find_token(self, sha256: str) -> TokenRecord | None:
        """The token whose hash matches, revoked or not."""
        r = await self._one(
            "SELECT token_id, host, revoked_at, expires_at, enrollment, last_used_at FROM agent_tokens "
            "WHERE sha256 = ?",
            (sha256,),
        )
        if r is None:
            return None
        return TokenRecord(
            token_id=r[0],
            host=r[1],
            revoked=r[2] is not None,
            expires_at=r[3],
            enrollment=bool(r[4]),
            used=r[5] is not None,
        )

    async def touch_token(self, token_id: str) -> None:
        """Record that a token was just used."""
        async with self.transaction() as db:
            await db.execute(
                "UPDATE agent_tokens SET last_used_at = ? WHERE token_id = ?", (time.time(), token_id)
            )

    async def touch_tokens(self, last_used: dict[str, float]) -> None:
        """Record when tokens were last used, in one transaction."""
        async with self.transaction() as db:
            await db.executemany(
                "UPDATE agent_tokens SET last_used_at = ? WHERE token_id = ?",
                [(when, token_id) for token_id, when in last_used.items()],
            )

    async def expire_older_tokens(self, host: str, newer_token_id: str, until: float) -> int:
        """Start the rotation overlap: the host's other valid tokens stop being accepted at `until`."""
        async with self.transaction() as db:
            cursor = await db.execute(
                "UPDATE agent_tokens SET expires_at = ? WHERE host = ? AND token_id != ? AND revoked_at IS NULL "
                "AND enrollment = 0 AND (expires_at IS NULL OR expires_at > ?)",
                (until, host, newer_token_id, until),
            )
            return cursor.rowcount

    async def consume_token(self, token_id: str) -> bool:
        """Use up a one-time token; False when it was already used or revoked."""
        async with self.transaction() as db:
            cursor = await db.execute(
                "UPDATE agent_tokens SET revoked_at = ?, last_used_at = ? WHERE token_id = ? AND revoked_at IS NULL",
                (time.time(), time.time(), token_id),
            )
            return cursor.rowcount > 0

    async def list_tokens(self, host: str = "") -> list[fleet_pb.AgentToken]:
        """Tokens, newest first, without secrets."""
        sql = "SELECT token_id, host, created_at, last_used_at, revoked_at, expires_at, enrollment FROM agent_tokens"
        args: tuple[str, ...] = ()
        if host:
            sql += " WHERE host = ?"
            args = (host,)
        tokens = []
        for r in await self._all(sql + " ORDER BY created_at DESC", args):
            token = fleet_pb.AgentToken(
                token_id=r[0], host=r[1], created_at=to_ts(r[2]), enrollment=bool(r[6])
            )
            for field, value in (("last_used_at", r[3]), ("revoked_at", r[4]), ("expires_at", r[5])):
                if value is not None:
                    getattr(token, field).CopyFrom(to_ts(value))
            tokens.append(token)
        return tokens

    async def revoke_token(self, token_id: str) -> bool:
        """Mark a token revoked; False when there is no such token."""
        async with self.transaction() as db:
            cursor = await db.execute(
                "UPDATE agent_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE token_id = ?",
                (time.time(), token_id),
            )
            return cursor.rowcount > 0

    # --- API tokens ----------------------------------------------------------------------------

    async def add_api_token(self, token_id: str, name: str, role: int, sha256: str) -> fleet_pb.ApiToken:
        """Store a new API token's hash."""
        now = time.time()
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO api_tokens(token_id, name, role, sha256, created_at) VALUES (?, ?, ?, ?, ?)",
                (token_id, name, role, sha256, now),
            )
        return fleet_pb.ApiToken(
            token_id=token_id, name=name, role=cast(pb.Role, role), created_at=to_ts(now)
        )

    async def find_api_token(self, sha256: str) -> fleet_pb.ApiToken | None:
        """The valid (not revoked) API token whose hash matches."""
        r = await self._one(
            "SELECT token_id, name, role, created_at FROM api_tokens WHERE sha256 = ? AND revoked_at IS NULL",
            (sha256,),
        )
        return (
            None
            if r is None
            else fleet_pb.ApiToken(token_id=r[0], name=r[1], role=r[2], created_at=to_ts(r[3]))
        )

    async def list_api_tokens(self) -> list[fleet_pb.ApiToken]:
        """API tokens, newest first, without secrets."""
        tokens = []
        for r in await self._all(
            "SELECT token_id, name, role, created_at, revoked_at FROM api_tokens ORDER BY created_at DESC"
        ):
            token = fleet_pb.ApiToken(token_id=r[0], name=r[1], role=r[2], created_at=to_ts(r[3]))
            if r[4] is not None:
                token.revoked_at.CopyFrom(to_ts(r[4]))
            tokens.append(token)
        return tokens

    async def revoke_api_token(self, token_id: str) -> bool:
        """Mark an API token revoked; False when there is no such token."""
        async with self.transaction() as db:
            cursor = await db.execute(
                "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE token_id = ?",
                (time.time(), token_id),
            )
            return cursor.rowcount > 0

    async def count_api_tokens(self) -> int:
        """How many API tokens were ever created."""
        row = await self._one("SELECT COUNT(*) FROM api_tokens")
        return int(row[0])

    # --- web users and sessions ----------------------------------------------------------------

    async def get_user(self, username: str) -> tuple[str, int] | None:
        """A user's password hash and role."""
        r = await self._one("SELECT password_hash, role FROM users WHERE username = ?", (username,))
        return None if r is None else (r[0], r[1])

    async def put_user(self, username: str, password_hash: str, role: int) -> None:
        """Create a user or replace its password and role; its sessions end when the password changes."""
        now = time.time()
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO users VALUES (?, ?, ?, ?, ?) ON CONFLICT(username) DO UPDATE SET "
                "password_hash = excluded.password_hash, role = excluded.role, updated_at = excluded.updated_at",
                (username, password_hash, role, now, now),
            )
            await db.execute("DELETE FROM web_sessions WHERE username = ?", (username,))

    async def secret(self, name: str) -> bytes:
        """A random secret of this control plane (e.g. the web UI's cookie key), made on first use."""
        row = await self._one("SELECT value FROM meta WHERE key = ?", (f"secret:{name}",))
        if row is not None:
            return bytes.fromhex(row[0])
        async with self.transaction() as db:
            await db.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)",
                (f"secret:{name}", secrets.token_hex(32)),
            )
        row = await self._one("SELECT value FROM meta WHERE key = ?", (f"secret:{name}",))
        return bytes.fromhex(row[0])

    async def count_users(self) -> int:
        """How many web users exist."""
        row = await self._one("SELECT COUNT(*) FROM users")
        return int(row[0])

    async def add_web_session(self, token_sha256: str, username: str, expires_at: float) -> None:
        """Store a new session (by the hash of its token)."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO web_sessions VALUES (?, ?, ?, ?)",
                (token_sha256, username, time.time(), expires_at),
            )

    async def get_web_session(self, token_sha256: str) -> tuple[str, int, float] | None:
        """(username, role, expires_at) of a session that has not expired."""
        r = await self._one(
            "SELECT s.username, u.role, s.expires_at FROM web_sessions s "
            "JOIN users u ON u.username = s.username WHERE s.token_sha256 = ? AND s.expires_at > ?",
            (token_sha256, time.time()),
        )
        return None if r is None else (r[0], r[1], r[2])

    async def delete_web_session(self, token_sha256: str) -> None:
        """End a session (and, on the way, every expired one)."""
        async with self.transaction() as db:
            await db.execute(
                "DELETE FROM web_sessions WHERE token_sha256 = ? OR expires_at <= ?",
                (token_sha256, time.time()),
            )

    async def login_failures(self, client: str, username: str, since: float) -> list[float]:
        """When this client failed to log in as this user since `since`, oldest first."""
        rows = await self._all(
            "SELECT failed_at FROM login_failures WHERE client = ? AND username = ? AND failed_at > ? "
            "ORDER BY failed_at",
            (client, username, since),
        )
        return [r[0] for r in rows]

    async def record_login_failure(self, client: str, username: str, older_than: float) -> None:
        """Remember a failed login; forget failures from before `older_than`."""
        async with self.transaction() as db:
            await db.execute("DELETE FROM login_failures WHERE failed_at <= ?", (older_than,))
            await db.execute("INSERT INTO login_failures VALUES (?, ?, ?)", (client, username, time.time()))

    async def clear_login_failures(self, client: str, username: str) -> None:
        """Forget a client's failed logins as a user after it logged in."""
        async with self.transaction() as db:
            await db.execute(
                "DELETE FROM login_failures WHERE client = ? AND username = ?", (client, username)
            )

    # --- commands ------------------------------------------------------------------------------

    _COMMAND_COLUMNS = (
        "id, host, operation, state, exit_code, created_at, started_at, finished_at, trigger, message, "
        "timeout_ms, triggered_by, output_lines, truncated_bytes, max_seq"
    )

    @staticmethod
    def _command(r: Sequence[Any]) -> tuple[pb.Command, int]:
        command = pb.Command(
            id=r[0],
            host=r[1],
            operation=r[2],
            state=r[3],
            exit_code=r[4],
            created_at=to_ts(r[5]),
            trigger=r[8],
            message=r[9],
            timeout=_duration(r[10]),
            triggered_by_command_id=r[11],
            output_lines=r[12],
            output_truncated_bytes=r[13],
        )
        if r[6] is not None:
            command.started_at.CopyFrom(to_ts(r[6]))
        if r[7] is not None:
            command.finished_at.CopyFrom(to_ts(r[7]))
        return command, r[14]

    async def insert_command(self, command: pb.Command) -> None:
        """Store a new command (durable before it is sent to the agent)."""
        async with self.transaction() as db:
            ord_, self._next_ord = self._next_ord, self._next_ord + 1
            await db.execute(
                "INSERT INTO commands(id, ord, host, operation, state, created_at, trigger, timeout_ms, "
                "triggered_by) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    command.id,
                    ord_,
                    command.host,
                    command.operation,
                    command.state,
                    from_ts(command.created_at) or time.time(),
                    command.trigger,
                    _ms(command.timeout),
                    command.triggered_by_command_id,
                ),
            )

    async def update_command(self, command: pb.Command) -> None:
        """Persist a command's state, times, exit code and message."""
        async with self.transaction() as db:
            await self._update_command(db, command)

    @staticmethod
    async def _update_command(db: aiosqlite.Connection, command: pb.Command) -> None:
        await db.execute(
            "UPDATE commands SET state=?, exit_code=?, started_at=?, finished_at=?, message=? WHERE id=?",
            (
                command.state,
                command.exit_code,
                from_ts(command.started_at) if command.HasField("started_at") else None,
                from_ts(command.finished_at) if command.HasField("finished_at") else None,
                command.message,
                command.id,
            ),
        )

    async def get_command(self, command_id: str) -> tuple[pb.Command, int] | None:
        """A command and the highest output/result sequence number stored for it."""
        r = await self._one(f"SELECT {self._COMMAND_COLUMNS} FROM commands WHERE id = ?", (command_id,))
        return None if r is None else self._command(r)

    async def list_commands(
        self, host: str, limit: int, before_ord: int | None
    ) -> list[tuple[pb.Command, int]]:
        """Commands newest first, with their order numbers for paging."""
        where: list[str] = []
        args: list[Any] = []
        if host:
            where.append("host = ?")
            args.append(host)
        if before_ord is not None:
            where.append("ord < ?")
            args.append(before_ord)
        sql = f"SELECT {self._COMMAND_COLUMNS}, ord FROM commands"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = await self._all(sql + " ORDER BY ord DESC LIMIT ?", [*args, limit])
        return [(self._command(r)[0], r[15]) for r in rows]

    async def unfinished_commands(
        self, host: str = "", include_interrupted: bool = False
    ) -> list[pb.Command]:
        """Commands pending or running (and optionally interrupted), of one host or all."""
        states = [pb.COMMAND_STATE_PENDING, pb.COMMAND_STATE_RUNNING]
        if include_interrupted:
            states.append(pb.COMMAND_STATE_INTERRUPTED)
        sql = f"SELECT {self._COMMAND_COLUMNS} FROM commands WHERE state IN ({','.join('?' * len(states))})"
        args: list[Any] = list(states)
        if host:
            sql += " AND host = ?"
            args.append(host)
        rows = await self._all(sql + " ORDER BY ord", args)
        return [self._command(r)[0] for r in rows]

    async def command_hosts(self, command_ids: set[str]) -> dict[str, str]:
        """The host of each known command among `command_ids`."""
        if not command_ids:
            return {}
        ids = list(command_ids)
        marks = ",".join("?" * len(ids))
        rows = await self._all(f"SELECT id, host FROM commands WHERE id IN ({marks})", ids)
        return {r[0]: r[1] for r in rows}

    async def max_seqs(self, command_ids: Sequence[str]) -> dict[str, int]:
        """Highest stored sequence number per command."""
        if not command_ids:
            return {}
        marks = ",".join("?" * len(command_ids))
        rows = await self._all(f"SELECT id, max_seq FROM commands WHERE id IN ({marks})", command_ids)
        return {r[0]: r[1] for r in rows}

    # --- output --------------------------------------------------------------------------------

    async def append_output(self, appends: Sequence[OutputAppend]) -> dict[str, tuple[int, int, int]]:
        """Store output chunks in one transaction, deduplicated on (command, seq), capped per command.

        Returns per command: (highest stored seq, lines stored, bytes truncated so far).
        """
        result: dict[str, tuple[int, int, int]] = {}
        async with self.transaction() as db:
            touched: set[str] = set()
            stored_up_to: dict[str, int] = {}
            for item in appends:
                chunk = item.chunk
                if item.command_id not in stored_up_to:
                    row = await (
                        await db.execute("SELECT max_seq FROM commands WHERE id = ?", (item.command_id,))
                    ).fetchone()
                    stored_up_to[item.command_id] = row[0] if row else 0
                touched.add(item.command_id)
                # Chunks arrive in order on a stream and are resent from the first unacknowledged one,
                # so a seq at or below what is stored is a resend, even of a chunk the cap evicted.
                if chunk.seq <= stored_up_to[item.command_id]:
                    continue
                stored_up_to[item.command_id] = chunk.seq
                size = sum(len(line.text) + 1 for line in chunk.lines)
                first = chunk.lines[0].number if chunk.lines else 0
                cursor = await db.execute(
                    "INSERT OR IGNORE INTO command_output(command_id, seq, first_line, line_count, bytes, chunk) "
                    "VALUES (?,?,?,?,?,?)",
                    (item.command_id, chunk.seq, first, len(chunk.lines), size, chunk.SerializeToString()),
                )
                if cursor.rowcount:
                    await db.execute(
                        "UPDATE commands SET output_lines = output_lines + ?, output_bytes = output_bytes + ?, "
                        "max_seq = MAX(max_seq, ?) WHERE id = ?",
                        (len(chunk.lines), size, chunk.seq, item.command_id),
                    )
            for command_id in touched:
                await self._enforce_cap(db, command_id)
                r = await (
                    await db.execute(
                        "SELECT max_seq, output_lines, truncated_bytes FROM commands WHERE id = ?",
                        (command_id,),
                    )
                ).fetchone()
                if r is not None:
                    result[command_id] = (r[0], r[1], r[2])
        return result

    async def _enforce_cap(self, db: aiosqlite.Connection, command_id: str) -> None:
        """Drop the oldest chunks until the stored output fits the cap; record what was dropped."""
        r = await (
            await db.execute("SELECT output_bytes FROM commands WHERE id = ?", (command_id,))
        ).fetchone()
        if r is None or r[0] <= self.output_cap_bytes:
            return
        excess = r[0] - self.output_cap_bytes
        dropped_bytes = dropped_lines = 0
        rows = await (
            await db.execute(
                "SELECT seq, bytes, line_count FROM command_output WHERE command_id = ? ORDER BY seq",
                (command_id,),
            )
        ).fetchall()
        seqs = []
        for seq, size, lines in rows:
            if dropped_bytes >= excess:
                break
            seqs.append(seq)
            dropped_bytes += size
            dropped_lines += lines
        await db.executemany(
            "DELETE FROM command_output WHERE command_id = ? AND seq = ?", [(command_id, s) for s in seqs]
        )
        await db.execute(
            "UPDATE commands SET output_bytes = output_bytes - ?, output_lines = output_lines - ?, "
            "truncated_bytes = truncated_bytes + ? WHERE id = ?",
            (dropped_bytes, dropped_lines, dropped_bytes, command_id),
        )

    async def read_output(self, command_id: str, from_line: int) -> list[pb.OutputLine]:
        """Stored output lines from line number `from_line` on, in order."""
        rows = await self._all(
            "SELECT chunk FROM command_output WHERE command_id = ? AND first_line + line_count > ? ORDER BY seq",
            (command_id, from_line),
        )
        lines: list[pb.OutputLine] = []
        for (data,) in rows:
            chunk = _parse(agent_pb.OutputChunk, data)
            lines.extend(line for line in chunk.lines if line.number >= from_line)
        return lines

    # --- results (durable at once) -------------------------------------------------------------

    async def finish_command(
        self, command: pb.Command, seq: int, host: pb.Host | None, run: pb.TestRun | None = None
    ) -> None:
        """Record a result in one transaction: the command, its test run (if any) and the host."""
        async with self.transaction() as db:
            await self._update_command(db, command)
            await db.execute("UPDATE commands SET max_seq = MAX(max_seq, ?) WHERE id = ?", (seq, command.id))
            if run is not None:
                await self._put_test_run(db, run)
            if host is not None:
                await db.execute(
                    "UPDATE hosts SET facts=?, test_status=?, last_switch=?, last_pull=?, last_rollback=?, "
                    "current_deployment_id=? WHERE name=?",
                    (
                        _blob(host.facts),
                        _blob(host.test_status),
                        _blob(host.last_switch) if host.HasField("last_switch") else None,
                        _blob(host.last_pull) if host.HasField("last_pull") else None,
                        _blob(host.last_rollback) if host.HasField("last_rollback") else None,
                        host.current_deployment_id,
                        host.name,
                    ),
                )

    async def put_test_run(self, run: pb.TestRun, seq: int = 0, host: pb.Host | None = None) -> None:
        """Store (or replace) a test run and its cases, and the host's test status with it."""
        async with self.transaction() as db:
            await self._put_test_run(db, run)
            if seq:
                await db.execute("UPDATE commands SET max_seq = MAX(max_seq, ?) WHERE id = ?", (seq, run.id))
            if host is not None:
                await db.execute(
                    "UPDATE hosts SET test_status = ? WHERE name = ?", (_blob(host.test_status), host.name)
                )

    async def _put_test_run(self, db: aiosqlite.Connection, run: pb.TestRun) -> None:
        summary = pb.TestRun()
        summary.CopyFrom(run)
        del summary.cases[:]
        r = await (await db.execute("SELECT ord FROM commands WHERE id = ?", (run.id,))).fetchone()
        ord_ = r[0] if r else self._next_ord
        await db.execute(
            "INSERT INTO test_runs(id, ord, host, state, passed, failed, started_at, finished_at, run) "
            "VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET state=excluded.state, "
            "passed=excluded.passed, failed=excluded.failed, started_at=excluded.started_at, "
            "finished_at=excluded.finished_at, run=excluded.run",
            (
                run.id,
                ord_,
                run.host,
                run.state,
                run.passed,
                run.failed,
                from_ts(run.started_at) if run.HasField("started_at") else None,
                from_ts(run.finished_at) if run.HasField("finished_at") else None,
                summary.SerializeToString(),
            ),
        )
        if run.cases:
            await db.execute("DELETE FROM test_cases WHERE run_id = ?", (run.id,))
            await db.executemany(
                "INSERT INTO test_cases VALUES (?,?,?,?,?,?,?,?)",
                [
                    (run.id, i, c.name, c.outcome, _ms(c.duration), c.exit_code, c.file, c.output)
                    for i, c in enumerate(run.cases)
                ],
            )

    async def get_test_run(self, run_id: str, with_output: bool = True) -> pb.TestRun | None:
        """A test run with its cases."""
        r = await self._one("SELECT run FROM test_runs WHERE id = ?", (run_id,))
        if r is None:
            return None
        run = _parse(pb.TestRun, r[0])
        output = "output" if with_output else "''"
        for c in await self._all(
            f"SELECT name, outcome, duration_ms, exit_code, file, {output} FROM test_cases "
            "WHERE run_id = ? ORDER BY idx",
            (run_id,),
        ):
            run.cases.add(
                name=c[0], outcome=c[1], duration=_duration(c[2]), exit_code=c[3], file=c[4], output=c[5]
            )
        return run

    async def list_test_runs(
        self, host: str, limit: int, before_ord: int | None
    ) -> list[tuple[pb.TestRun, int]]:
        """A host's runs newest first (cases without output), with order numbers for paging."""
        sql = "SELECT id, ord FROM test_runs WHERE host = ?"
        args: list[Any] = [host]
        if before_ord is not None:
            sql += " AND ord < ?"
            args.append(before_ord)
        rows = await self._all(sql + " ORDER BY ord DESC LIMIT ?", [*args, limit])
        runs = []
        for run_id, ord_ in rows:
            run = await self.get_test_run(run_id, with_output=False)
            if run is not None:
                runs.append((run, ord_))
        return runs

    async def prune_test_runs(self, host: str, keep: int) -> int:
        """Delete a host's runs beyond the newest `keep`, never its latest passing or failing run."""
        async with self.transaction() as db:
            cursor = await db.execute(
                "DELETE FROM test_runs WHERE host = ? AND id IN ("
                "  SELECT id FROM test_runs WHERE host = ? ORDER BY ord DESC LIMIT -1 OFFSET ?"
                ") AND id NOT IN ("
                "  SELECT id FROM (SELECT id FROM test_runs WHERE host = ? AND state = ? ORDER BY ord DESC LIMIT 1)"
                "  UNION SELECT id FROM (SELECT id FROM test_runs WHERE host = ? AND state = ? "
                "  ORDER BY ord DESC LIMIT 1))",
                (host, host, keep, host, pb.TEST_STATE_PASSED, host, pb.TEST_STATE_FAILED),
            )
            return cursor.rowcount
