"""Agent tokens, API tokens, web users, their sessions and failed logins, and secrets.

Tokens and sessions are stored by the SHA-256 of their secret; the secret itself never reaches SQL.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from typing import cast

from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import types_pb2 as pb

from ...timeutil import to_ts
from ..records import TokenRecord, UserRecord, WebSessionRecord
from .connection import Sql

# The rotation overlap: a host's other valid (non-enrollment) tokens created before the newer token's
# first use stop being accepted at `until`.
_EXPIRE_OLDER = (
    "UPDATE agent_tokens SET expires_at = ? WHERE host = ? AND token_id != ? AND revoked_at IS NULL "
    "AND enrollment = 0 AND (expires_at IS NULL OR expires_at > ?) AND created_at <= ?"
)


class CredentialQueries:
    """The credential aggregate of both engines' stores (methods documented on `CredentialStore`)."""

    _sql: Sql

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
        async with self._sql.transaction() as db:
            await db.execute(
                "INSERT INTO agent_tokens(token_id, host, sha256, created_at, enrollment, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                token_id,
                host,
                sha256,
                time.time(),
                int(enrollment),
                expires_at,
            )

    async def find_token(self, sha256: str) -> TokenRecord | None:
        r = await self._sql.one(
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

    async def touch_tokens(
        self, last_used: dict[str, float], rotations: Sequence[tuple[str, str, float, float]] = ()
    ) -> None:
        async with self._sql.transaction() as db:
            await db.executemany(
                "UPDATE agent_tokens SET last_used_at = ? WHERE token_id = ?",
                [(when, token_id) for token_id, when in last_used.items()],
            )
            # In order: a later first use of the same host wins, as when written one by one.
            await db.executemany(
                _EXPIRE_OLDER,
                [(until, host, token_id, until, used_at) for host, token_id, used_at, until in rotations],
            )

    async def expire_older_tokens(self, host: str, newer_token_id: str, until: float) -> int:
        async with self._sql.transaction() as db:
            return await db.execute(_EXPIRE_OLDER, until, host, newer_token_id, until, time.time())

    async def consume_token(self, token_id: str) -> bool:
        async with self._sql.transaction() as db:
            count = await db.execute(
                "UPDATE agent_tokens SET revoked_at = ?, last_used_at = ? WHERE token_id = ? AND revoked_at IS NULL",
                time.time(),
                time.time(),
                token_id,
            )
            return count > 0

    async def list_tokens(self, host: str = "") -> list[fleet_pb.AgentToken]:
        sql = "SELECT token_id, host, created_at, last_used_at, revoked_at, expires_at, enrollment FROM agent_tokens"
        args: tuple[str, ...] = ()
        if host:
            sql += " WHERE host = ?"
            args = (host,)
        tokens = []
        for r in await self._sql.all(sql + " ORDER BY created_at DESC", args):
            token = fleet_pb.AgentToken(
                token_id=r[0], host=r[1], created_at=to_ts(r[2]), enrollment=bool(r[6])
            )
            for field, value in (("last_used_at", r[3]), ("revoked_at", r[4]), ("expires_at", r[5])):
                if value is not None:
                    getattr(token, field).CopyFrom(to_ts(value))
            tokens.append(token)
        return tokens

    async def revoke_token(self, token_id: str) -> bool:
        async with self._sql.transaction() as db:
            count = await db.execute(
                "UPDATE agent_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE token_id = ?",
                time.time(),
                token_id,
            )
            return count > 0

    # --- API tokens ----------------------------------------------------------------------------

    async def add_api_token(self, token_id: str, name: str, role: int, sha256: str) -> fleet_pb.ApiToken:
        now = time.time()
        async with self._sql.transaction() as db:
            await db.execute(
                "INSERT INTO api_tokens(token_id, name, role, sha256, created_at) VALUES (?, ?, ?, ?, ?)",
                token_id,
                name,
                role,
                sha256,
                now,
            )
        return fleet_pb.ApiToken(
            token_id=token_id, name=name, role=cast(pb.Role, role), created_at=to_ts(now)
        )

    async def find_api_token(self, sha256: str) -> fleet_pb.ApiToken | None:
        r = await self._sql.one(
            "SELECT token_id, name, role, created_at FROM api_tokens WHERE sha256 = ? AND revoked_at IS NULL",
            (sha256,),
        )
        return (
            None
            if r is None
            else fleet_pb.ApiToken(token_id=r[0], name=r[1], role=r[2], created_at=to_ts(r[3]))
        )

    async def list_api_tokens(self) -> list[fleet_pb.ApiToken]:
        tokens = []
        for r in await self._sql.all(
            "SELECT token_id, name, role, created_at, revoked_at FROM api_tokens ORDER BY created_at DESC"
        ):
            token = fleet_pb.ApiToken(token_id=r[0], name=r[1], role=r[2], created_at=to_ts(r[3]))
            if r[4] is not None:
                token.revoked_at.CopyFrom(to_ts(r[4]))
            tokens.append(token)
        return tokens

    async def revoke_api_token(self, token_id: str) -> bool:
        async with self._sql.transaction() as db:
            count = await db.execute(
                "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE token_id = ?",
                time.time(),
                token_id,
            )
            return count > 0

    async def count_api_tokens(self) -> int:
        row = await self._sql.one("SELECT COUNT(*) FROM api_tokens")
        return int(row[0])

    # --- web users, sessions and failed logins -------------------------------------------------

    async def get_user(self, username: str) -> UserRecord | None:
        r = await self._sql.one("SELECT password_hash, role FROM users WHERE username = ?", (username,))
        return None if r is None else UserRecord(password_hash=r[0], role=r[1])

    async def put_user(self, username: str, password_hash: str, role: int) -> None:
        now = time.time()
        async with self._sql.transaction() as db:
            await db.execute(
                "INSERT INTO users VALUES (?, ?, ?, ?, ?) ON CONFLICT(username) DO UPDATE SET "
                "password_hash = excluded.password_hash, role = excluded.role, updated_at = excluded.updated_at",
                username,
                password_hash,
                role,
                now,
                now,
            )
            await db.execute("DELETE FROM web_sessions WHERE username = ?", username)

    async def count_users(self) -> int:
        row = await self._sql.one("SELECT COUNT(*) FROM users")
        return int(row[0])

    async def add_web_session(self, token_sha256: str, username: str, expires_at: float) -> None:
        async with self._sql.transaction() as db:
            await db.execute(
                "INSERT INTO web_sessions VALUES (?, ?, ?, ?)",
                token_sha256,
                username,
                time.time(),
                expires_at,
            )

    async def get_web_session(self, token_sha256: str) -> WebSessionRecord | None:
        r = await self._sql.one(
            "SELECT s.username, u.role, s.expires_at FROM web_sessions s "
            "JOIN users u ON u.username = s.username WHERE s.token_sha256 = ? AND s.expires_at > ?",
            (token_sha256, time.time()),
        )
        return None if r is None else WebSessionRecord(username=r[0], role=r[1], expires_at=r[2])

    async def delete_web_session(self, token_sha256: str) -> None:
        async with self._sql.transaction() as db:
            await db.execute(
                "DELETE FROM web_sessions WHERE token_sha256 = ? OR expires_at <= ?",
                token_sha256,
                time.time(),
            )

    async def login_failures(self, client: str, username: str, since: float) -> list[float]:
        rows = await self._sql.all(
            "SELECT failed_at FROM login_failures WHERE client = ? AND username = ? AND failed_at > ? "
            "ORDER BY failed_at",
            (client, username, since),
        )
        return [r[0] for r in rows]

    async def record_login_failure(self, client: str, username: str, older_than: float) -> None:
        async with self._sql.transaction() as db:
            await db.execute("DELETE FROM login_failures WHERE failed_at <= ?", older_than)
            await db.execute("INSERT INTO login_failures VALUES (?, ?, ?)", client, username, time.time())

    async def clear_login_failures(self, client: str, username: str) -> None:
        async with self._sql.transaction() as db:
            await db.execute("DELETE FROM login_failures WHERE client = ? AND username = ?", client, username)

    # --- secrets -------------------------------------------------------------------------------

    async def secret(self, name: str) -> bytes:
        key = f"secret:{name}"
        row = await self._sql.one("SELECT value FROM meta WHERE key = ?", (key,))
        if row is not None:
            return bytes.fromhex(row[0])
        async with self._sql.transaction() as db:
            await db.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
                key,
                secrets.token_hex(32),
            )
        row = await self._sql.one("SELECT value FROM meta WHERE key = ?", (key,))
        return bytes.fromhex(row[0])
