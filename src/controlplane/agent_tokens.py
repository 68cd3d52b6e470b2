"""Agent tokens: random secrets handed out once, stored and looked up only as SHA-256."""

from __future__ import annotations

import asyncio
import re
import secrets
import time

from .credentials import token_hash
from .errors import InvalidArgument, PermissionDenied, Unauthenticated
from .store import Store, TokenRecord

TOKEN_PREFIX = "fdat_"
_HOST_NAME = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def check_host_name(name: str) -> str:
    """Return `name` if it is an RFC 1123 label (lower case); InvalidArgument otherwise."""
    if not _HOST_NAME.match(name):
        raise InvalidArgument(
            f"host name {name[:80]!r} is not a valid RFC 1123 label (a-z, 0-9 and '-', at most 63 characters)"
        )
    return name


ENROLLMENT_TTL_SECONDS = 30 * 60
ROTATION_OVERLAP_SECONDS = 5 * 60
# The longest a first use may wait for the once-a-second write-behind: a rotation overlap shorter than
# this is written at once, so that an older token is never accepted past its end for want of a flush.
WRITE_BEHIND_BOUND_SECONDS = 30.0


class AgentTokens:
    """Creates and verifies per-host agent tokens, one-time enrollment tokens and rotation overlap."""

    def __init__(self, store: Store, rotation_overlap_seconds: float = ROTATION_OVERLAP_SECONDS) -> None:
        self.store = store
        self.rotation_overlap_seconds = rotation_overlap_seconds
        self._last_used: dict[str, float] = {}  # written behind by flush_last_used
        # First uses of host tokens not written yet, in order: token_id -> (host, used_at, until).
        self._rotations: dict[str, tuple[str, float, float]] = {}
        self._writing: dict[str, tuple[str, float, float]] = {}  # ... and those being written now
        self._flushing = asyncio.Lock()
        # Digests the store did not know, until when: a flood of junk tokens costs no store reads.
        self._unknown: dict[str, float] = {}

    async def create(
        self, host: str, *, enrollment: bool = False, ttl_seconds: float = ENROLLMENT_TTL_SECONDS
    ) -> tuple[str, str, float | None]:
        """A new token for `host`: (token, token_id, expires_at). The token itself is not stored."""
        check_host_name(host)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self._unknown.pop(token_hash(token), None)
        token_id = secrets.token_hex(8)
        expires_at = time.time() + ttl_seconds if enrollment else None
        await self.store.add_token(
            token_id, host, token_hash(token), enrollment=enrollment, expires_at=expires_at
        )
        return token, token_id, expires_at

    async def accept(self, record: TokenRecord) -> str | None:
        """A token just authenticated a hello: use up an enrollment token (returning the host token
        that replaces it), or start the rotation overlap when a host token is used the first time."""
        if record.enrollment:
            if not await self.store.consume_token(record.token_id):
                raise Unauthenticated("this enrollment token was already used; create a new one")
            token, _, _ = await self.create(record.host)
            return token
        now = time.time()
        self._last_used[record.token_id] = now
        if record.used or record.token_id in self._rotations or record.token_id in self._writing:
            return None  # a reconnect storm must not become a storm of write transactions
        # The first use of a host token starts the rotation overlap now. A welcome storm of fresh
        # tokens is written behind too, once a second with the last-used times; an overlap too short
        # to wait for that flush is written at once.
        self._rotations[record.token_id] = (record.host, now, now + self.rotation_overlap_seconds)
        if self.rotation_overlap_seconds < WRITE_BEHIND_BOUND_SECONDS:
            await self.flush_last_used()
        return None

    async def flush_last_used(self) -> None:
        """Write the last-used times and first uses gathered since the previous flush, in one
        transaction; kept for the next flush if it fails."""
        async with self._flushing:
            used, self._last_used = self._last_used, {}
            self._writing, self._rotations = self._rotations, {}
            if not used and not self._writing:
                return
            try:
                rotations = [(h, t, at, until) for t, (h, at, until) in self._writing.items()]
                await self.store.touch_tokens(used, rotations)
            except BaseException:
                self._last_used = used | self._last_used
                self._rotations = self._writing | self._rotations
                raise
            finally:
                self._writing = {}

    async def verify(self, token: str, claimed_host: str) -> TokenRecord:
        """The token's record; Unauthenticated if unknown or revoked, PermissionDenied for another host."""
        return check_token_host(await self.find(token), claimed_host)

    def _remember_unknown(self, digest: str, now: float) -> None:
        """Refuse this digest from memory for a while (tokens are random: it will not appear later
        unless created, and a created token's digest is forgotten here at once)."""
        self._unknown.pop(digest, None)
        self._unknown[digest] = now + UNKNOWN_TOKEN_SECONDS
        _expire_oldest(self._unknown, now)

    async def find(self, token: str) -> TokenRecord:
        """The token's record; Unauthenticated if unknown, revoked or expired."""
        digest = token_hash(token)
        now = time.monotonic()
        if self._unknown.get(digest, 0.0) > now:
            raise Unauthenticated("the agent token is not valid (unknown or revoked); create a new one")
        record = await self.store.find_token(digest)
        # Looked up by its SHA-256: lookup timing can reveal at most a prefix of a hash, never the secret.
        if record is None or record.revoked:
            if record is None:
                self._remember_unknown(digest, now)
            raise Unauthenticated("the agent token is not valid (unknown or revoked); create a new one")
        if record.expires_at is not None and record.expires_at <= time.time():
            raise Unauthenticated(
                "the agent token has expired (an enrollment token's time ran out, or a newer token of "
                "this host replaced it); use the host's current token"
            )
        return record


UNKNOWN_TOKENS_KEPT = 100_000
UNKNOWN_TOKEN_SECONDS = 10.0


def _expire_oldest(unknown: dict[str, float], now: float) -> None:
    while unknown and (len(unknown) > UNKNOWN_TOKENS_KEPT or next(iter(unknown.values())) <= now):
        del unknown[next(iter(unknown))]


def check_token_host(record: TokenRecord, claimed_host: str) -> TokenRecord:
    """`record`, or PermissionDenied when the token belongs to another host."""
    if record.host != claimed_host:
        raise PermissionDenied(
            f"this token belongs to host {record.host}, not {claimed_host}; each host needs its own token"
        )
    return record


def check_certificate_names(auth_context: dict[str, list[bytes]], host: str) -> None:
    """The agent's client certificate must name its host (common name or a DNS SAN)."""
    if auth_context.get("transport_security_type") != [b"ssl"] or not auth_context.get("x509_pem_cert"):
        raise Unauthenticated("this control plane requires agents to present a client certificate")
    names = {n.decode() for n in auth_context.get("x509_common_name", [])}
    names |= {n.decode() for n in auth_context.get("x509_subject_alternative_name", [])}
    if host not in names and not any(n.split(".", 1)[0] == host for n in names):
        raise PermissionDenied(
            f"the client certificate names {', '.join(sorted(names)) or 'no host'}, not {host}"
        )
