"""Web users: Argon2id password hashes, sessions by token hash, and a failed-login limit."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
import time
from typing import cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from fleetdeck.roles import check_role
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import types_pb2 as pb

from .credentials import token_hash
from .errors import InvalidArgument, ResourceExhausted, Unauthenticated
from .store import Store
from .timeutil import to_ts

log = logging.getLogger(__name__)

SESSION_SECONDS = 12 * 3600
FAILURE_WINDOW_SECONDS = 5 * 60
FAILURES_ALLOWED = 5
MIN_PASSWORD_LENGTH = 12
_USERNAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def csrf_token(session_token: str) -> str:
    """A session's CSRF token: derived from its secret, so it is never stored (nor logged with SQL)."""
    return hmac.new(session_token.encode(), b"fleetdeck csrf", hashlib.sha256).hexdigest()


class TooManyFailures(ResourceExhausted):
    """Too many failed logins for one client and user name; retry after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after} s")
        self.retry_after = retry_after


class Accounts:
    """Checks passwords and keeps web sessions; the web UI is its only caller."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # Argon2id with OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): memory-hard, and
        # about 50 ms here, so a start-up or a login never stalls.
        self._hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
        # Verified against when the user does not exist, so both cases take the same time.
        self._dummy_hash = ""
        # One login attempt at a time per (client, user): otherwise parallel guesses would all pass
        # the failure count before any of them is recorded.
        self._attempts: dict[tuple[str, str], tuple[asyncio.Lock, list[int]]] = {}

    async def bootstrap(self, password: str | None) -> str | None:
        """On an empty user table create "admin"; the generated password when none was given."""
        self._dummy_hash = await asyncio.to_thread(self._hasher.hash, secrets.token_urlsafe(16))
        if await self.store.count_users():
            return None
        chosen = password or secrets.token_urlsafe(18)
        await self.put_user("admin", chosen, pb.ROLE_ADMIN)
        log.info("created the web user admin")
        return None if password else chosen

    async def put_user(self, username: str, password: str, role: int) -> None:
        """Create or update a user."""
        if not _USERNAME.match(username):
            raise InvalidArgument("user names are 1 to 64 letters, digits, '.', '_' or '-'")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidArgument(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
        try:
            check_role(role)
        except ValueError as error:
            raise InvalidArgument(str(error)) from None
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        await self.store.put_user(username, password_hash, role)

    async def login(
        self, username: str, password: str, client: str, previous_session_token: str = ""
    ) -> fleet_pb.LoginResponse:
        """Check the password and open a new session; failures count towards the limit."""
        key = (client, username)
        lock, users = self._attempts.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                return await self._login(username, password, client, previous_session_token)
        finally:
            users[0] -= 1
            if not users[0]:
                del self._attempts[key]

    async def _login(
        self, username: str, password: str, client: str, previous_session_token: str
    ) -> fleet_pb.LoginResponse:
        now = time.time()
        failures = await self.store.login_failures(client, username, now - FAILURE_WINDOW_SECONDS)
        if len(failures) >= FAILURES_ALLOWED:
            raise TooManyFailures(max(1, int(failures[0] + FAILURE_WINDOW_SECONDS - now) + 1))
        user = await self.store.get_user(username)
        stored_hash = user.password_hash if user is not None else self._dummy_hash
        role = user.role if user is not None else pb.ROLE_UNSPECIFIED
        if not await asyncio.to_thread(self._verify, stored_hash, password) or user is None:
            await self.store.record_login_failure(client, username, now - FAILURE_WINDOW_SECONDS)
            log.info("failed web login for user %r from %s", username[:64], client[:64])
            raise Unauthenticated("wrong user name or password")
        await self.store.clear_login_failures(client, username)
        if previous_session_token:
            await self.store.delete_web_session(token_hash(previous_session_token))
        token = secrets.token_urlsafe(32)
        session = fleet_pb.WebSession(
            username=username,
            role=cast(pb.Role, role),
            csrf_token=csrf_token(token),
            expires_at=to_ts(now + SESSION_SECONDS),
        )
        await self.store.add_web_session(token_hash(token), username, now + SESSION_SECONDS)
        log.info("web user %s logged in from %s", username, client[:64])
        return fleet_pb.LoginResponse(session_token=token, session=session)

    def _verify(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async def session(self, token: str) -> fleet_pb.WebSession:
        """The live session of a token; Unauthenticated otherwise."""
        found = await self.store.get_web_session(token_hash(token)) if token else None
        if found is None:
            raise Unauthenticated("not logged in, or the session ended; log in again")
        username, role, expires_at = found.username, found.role, found.expires_at
        return fleet_pb.WebSession(
            username=username,
            role=cast(pb.Role, role),
            csrf_token=csrf_token(token),
            expires_at=to_ts(expires_at),
        )

    async def logout(self, token: str) -> None:
        """End a session."""
        if token:
            await self.store.delete_web_session(token_hash(token))
