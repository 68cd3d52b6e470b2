"""Secret tokens on the wire and at rest: read from `authorization: Bearer` metadata, stored hashed.

Shared by agent tokens, API tokens and web sessions.
"""

from __future__ import annotations

import hashlib

from .errors import Unauthenticated


def token_hash(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def bearer_token(
    metadata: tuple[tuple[str, str | bytes], ...] | None, what: str = "the host's agent token"
) -> str:
    """The token from `authorization: Bearer …` metadata; Unauthenticated when absent."""
    for key, value in metadata or ():
        if key.lower() == "authorization":
            text = value.decode() if isinstance(value, bytes) else value
            scheme, _, token = text.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    raise Unauthenticated(f"missing 'authorization: Bearer <token>' metadata; send {what}")
