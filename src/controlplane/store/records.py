"""The named values the store hands back where a proto message alone would not say enough."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import notifications_pb2 as notifications_pb
from fleetdeck.v1 import types_pb2 as pb

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing, newest first; `next_cursor` continues it (None: this was the last page)."""

    items: list[T]
    next_cursor: int | None


@dataclass(frozen=True, slots=True)
class HostLabels:
    """A host's labels as declared in its agent.toml and as overridden through the API."""

    declared: dict[str, str]
    overrides: dict[str, str]


@dataclass(frozen=True, slots=True)
class StoredHost:
    """A stored host (without compartments) and its test settings override."""

    host: pb.Host
    override: pb.TestSettingsOverride


@dataclass(frozen=True, slots=True)
class OutputAppend:
    """One output chunk to store, as the agent sent it."""

    command_id: str
    chunk: agent_pb.OutputChunk


@dataclass(frozen=True, slots=True)
class StoredOutput:
    """Where a command's stored output stands after a batch was committed."""

    max_seq: int  # the highest sequence number stored: what may be acknowledged to the agent
    lines: int  # lines kept (after the cap dropped the oldest)
    truncated_bytes: int  # bytes the cap dropped so far


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A stored agent token, without its secret."""

    token_id: str
    host: str
    revoked: bool
    expires_at: float | None = None
    enrollment: bool = False
    used: bool = False


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A web user as stored: the password's hash, never the password."""

    password_hash: str
    role: int  # a fleetdeck.v1.Role value


@dataclass(frozen=True, slots=True)
class WebSessionRecord:
    """A web session that has not expired, and the role of its user."""

    username: str
    role: int  # a fleetdeck.v1.Role value
    expires_at: float


@dataclass(frozen=True, slots=True)
class Notification:
    """A notification to queue for every webhook subscribed to its event."""

    event_id: str  # deduplicates: a notification queued twice is delivered once per subscription
    event: int  # a fleetdeck.v1.NotificationEvent value
    host: str
    payload: bytes  # the versioned JSON body
    not_before: float  # wall clock: the first attempt waits until then
    webhook_id: str = ""  # only this subscription (a test delivery); empty for every subscriber


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A pending delivery with what it needs to be sent."""

    event_id: str
    webhook: notifications_pb.Webhook
    secret: str
    event: int  # a fleetdeck.v1.NotificationEvent value
    payload: bytes
    attempts: int  # made so far


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Which audit events to list: every given condition must hold."""

    host: str = ""
    actor: str = ""
    since: float | None = None  # at or after (Unix seconds)
    until: float | None = None  # before
