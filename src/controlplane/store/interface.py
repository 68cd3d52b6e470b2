"""What the control plane may ask of its store: one protocol per aggregate, `Store` for all of them.

Callers type against these protocols; each engine (SQLite, PostgreSQL) implements them.
Messages go in and out as `fleetdeck.v1` protos; where a proto alone would not say enough, a named
record from `records.py`. Every write is durable when its coroutine returns. Longer than most
modules because it is the store's whole contract, every method documented, in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from fleetdeck.v1 import audit_pb2 as audit_pb
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import history_pb2 as history_pb
from fleetdeck.v1 import notifications_pb2 as notifications_pb
from fleetdeck.v1 import rollouts_pb2 as rollouts_pb
from fleetdeck.v1 import types_pb2 as pb

from .records import (
    AuditQuery,
    HostLabels,
    Notification,
    OutboxItem,
    OutputAppend,
    Page,
    StoredHost,
    StoredOutput,
    TokenRecord,
    UserRecord,
    WebSessionRecord,
)
from .replication import ReplicationStore

VERSION_BLOCK = 100_000  # fleet versions reserved ahead, so a restart never reuses one
OUTPUT_CAP_BYTES = 10 * 1024 * 1024  # stored output per command; the oldest lines go first


class HostStore(Protocol):
    """Hosts, their settings overrides, the fleet-wide settings and the desired state."""

    async def load_hosts(self) -> list[StoredHost]:
        """Every stored host (without compartments) and its settings override, by name."""
        ...

    async def save_hosts(self, hosts: Iterable[pb.Host]) -> None:
        """Write hosts' facts in one transaction (the write-behind flush and durable updates)."""
        ...

    async def save_last_seen(self, hosts: Iterable[pb.Host]) -> None:
        """Write hosts' last-seen time and metrics only, in one transaction."""
        ...

    async def save_host_override(self, host: str, override: pb.TestSettingsOverride) -> None:
        """Persist a host's test settings override (the host is created if it is not stored yet)."""
        ...

    async def load_settings(self) -> pb.Settings:
        """The fleet-wide settings."""
        ...

    async def save_settings(self, settings: pb.Settings) -> None:
        """Persist the fleet-wide settings."""
        ...

    async def load_desired(self) -> pb.DesiredState | None:
        """The desired state, or None when it was never set."""
        ...

    async def save_desired(self, desired: pb.DesiredState) -> None:
        """Persist the desired state."""
        ...


class TargetStore(Protocol):
    """Host labels, desired states per selector, rollouts and the offline queue: what addresses and
    moves groups of hosts."""

    async def load_host_labels(self) -> dict[str, HostLabels]:
        """Every host's declared labels and API overrides, by host name."""
        ...

    async def save_host_labels(self, host: str, labels: HostLabels) -> None:
        """Persist a host's declared labels and overrides."""
        ...

    async def save_hosts_labels(self, labels: dict[str, HostLabels]) -> None:
        """Persist the declared labels and overrides of many hosts, in one transaction."""
        ...

    async def load_selector_desired(self) -> list[pb.DesiredState]:
        """The desired states set for selectors (each with its selector)."""
        ...

    async def save_selector_desired(self, desired: pb.DesiredState) -> None:
        """Persist the desired state of one selector (replacing the one set before for it)."""
        ...

    async def save_rollout(self, rollout: rollouts_pb.Rollout, expected_state: int | None = None) -> bool:
        """Create or rewrite a rollout (durable before it advances further). With `expected_state`,
        only a stored rollout still in that state is rewritten (another replica may have paused or
        resumed it meanwhile); False when it was not."""
        ...

    async def get_rollout(self, rollout_id: str) -> rollouts_pb.Rollout | None:
        """A rollout, or None."""
        ...

    async def list_rollouts(self, limit: int, active_only: bool = False) -> list[rollouts_pb.Rollout]:
        """Rollouts newest first (only those not finished, when `active_only`), `limit` at most."""
        ...

    async def queue_command(self, command: pb.Command) -> None:
        """Store a QUEUED command with its queue_expires_at in one transaction."""
        ...

    async def queued_commands(self) -> list[pb.Command]:
        """Commands still QUEUED, oldest first, each with its queue_expires_at."""
        ...


class CommandStore(Protocol):
    """Commands, their output (deduplicated, capped) and their results."""

    async def insert_command(self, command: pb.Command) -> None:
        """Store a new command (durable before it is sent to the agent); it lists after all before it."""
        ...

    async def update_command(self, command: pb.Command) -> None:
        """Persist a command's state, times, exit code and message."""
        ...

    async def finish_command(
        self,
        command: pb.Command,
        seq: int,
        host: pb.Host | None,
        notifications: Sequence[Notification] = (),
    ) -> None:
        """Record a result in one transaction: the command, its acknowledged `seq`, the host's facts
        and the notifications it causes (queued for every subscribed webhook)."""
        ...

    async def get_command(self, command_id: str) -> pb.Command | None:
        """A stored command, or None."""
        ...

    async def list_commands(self, host: str, limit: int, cursor: int | None) -> Page[pb.Command]:
        """Commands (of one host, or all when `host` is empty) newest first, `limit` to a page."""
        ...

    async def unfinished_commands(
        self, host: str = "", include_interrupted: bool = False
    ) -> list[pb.Command]:
        """Commands pending or running (and optionally interrupted), of one host or all, oldest first."""
        ...

    async def command_hosts(self, command_ids: set[str]) -> dict[str, str]:
        """The host of each known command among `command_ids`."""
        ...

    async def max_seqs(self, command_ids: Sequence[str]) -> dict[str, int]:
        """Highest stored output/result sequence number per known command."""
        ...

    async def append_output(self, appends: Sequence[OutputAppend]) -> dict[str, StoredOutput]:
        """Store output chunks in one transaction, deduplicated on (command, seq), capped per command.

        A seq at or below the highest stored one is a resend and is skipped, even when the cap has
        evicted that chunk. Returns where each command's output stands once committed.
        """
        ...

    async def read_output(self, command_id: str, from_line: int) -> list[pb.OutputLine]:
        """Stored output lines from line number `from_line` on, in order."""
        ...


class TestRunStore(Protocol):
    """Test runs and their cases (a run's id is the id of the TEST command that ran it)."""

    async def put_test_run(
        self,
        run: pb.TestRun,
        seq: int = 0,
        host: pb.Host | None = None,
        summaries: Sequence[history_pb.CaseSummary] = (),
    ) -> None:
        """Store (or replace) a run and its cases in one transaction, with the command's acknowledged
        `seq` (when not 0), the host's test status (when a host is given) and the case summaries the
        run changed."""
        ...

    async def get_test_run(self, run_id: str, with_output: bool = True) -> pb.TestRun | None:
        """A test run with its cases (their output left empty unless `with_output`), or None."""
        ...

    async def list_test_runs(self, host: str, limit: int, cursor: int | None) -> Page[pb.TestRun]:
        """A host's runs newest first (cases without output), `limit` to a page."""
        ...

    async def prune_test_runs(self, host: str, keep: int) -> int:
        """Delete a host's runs beyond the newest `keep`, never its latest passing or failing run;
        returns how many were deleted."""
        ...


class CaseHistoryStore(Protocol):
    """A case's results across a host's retained runs, and its summary, which outlives retention."""

    async def case_summaries(self, host: str, names: Sequence[str] = ()) -> dict[str, history_pb.CaseSummary]:
        """The summaries of a host's cases by name (only `names` when given; with none, every case
        and its retained counts)."""
        ...

    async def case_summary(self, host: str, name: str) -> history_pb.CaseSummary | None:
        """One case's summary with its retained counts, or None when the host never ran it."""
        ...

    async def list_case_results(
        self, host: str, name: str, limit: int, cursor: int | None
    ) -> Page[history_pb.CaseResult]:
        """One case's results on a host, newest first, `limit` to a page."""
        ...

    async def failing_case_summaries(self) -> list[history_pb.CaseSummary]:
        """Every (host, case) summary whose latest result failed, by case name and host."""
        ...


class NotificationStore(Protocol):
    """Webhook subscriptions and the durable outbox of their notifications."""

    async def add_webhook(self, webhook: notifications_pb.Webhook, secret: str, events_mask: int) -> None:
        """Store a subscription; `events_mask` has bit (1 << event) set per event (0: every event)."""
        ...

    async def list_webhooks(self) -> list[notifications_pb.Webhook]:
        """Subscriptions, oldest first, with their last delivery and pending count, without secrets."""
        ...

    async def delete_webhook(self, webhook_id: str) -> bool:
        """Remove a subscription and its queued notifications; False when there is none."""
        ...

    async def enqueue_notifications(self, notifications: Sequence[Notification], now: float) -> None:
        """Queue notifications for their subscribers in one transaction (an event id queues once)."""
        ...

    async def cancel_notifications(self, host: str, event: int) -> int:
        """Drop a host's queued notifications of one event not attempted yet; how many."""
        ...

    async def due_notifications(self, now: float, limit: int) -> list[OutboxItem]:
        """Pending deliveries due at `now`, oldest first."""
        ...

    async def next_notification_at(self) -> float | None:
        """When the next pending delivery is due; None when nothing is pending."""
        ...

    async def record_delivery(
        self, webhook_id: str, delivery: notifications_pb.WebhookDelivery, retry_at: float | None, now: float
    ) -> None:
        """Record an attempt: delivered, to be retried at `retry_at`, or given up (None and not
        delivered); it becomes the subscription's last delivery in the same transaction."""
        ...

    async def prune_notifications(self, before: float) -> int:
        """Forget delivered and given-up notifications finished before `before`; how many."""
        ...


class CredentialStore(Protocol):
    """Agent tokens, API tokens, web users with their sessions and failed logins, and secrets.

    Tokens and sessions are stored and looked up by the SHA-256 of their secret, never the secret.
    """

    async def add_token(
        self,
        token_id: str,
        host: str,
        sha256: str,
        *,
        enrollment: bool = False,
        expires_at: float | None = None,
    ) -> None:
        """Store a new agent token's hash."""
        ...

    async def find_token(self, sha256: str) -> TokenRecord | None:
        """The agent token whose hash matches, revoked or not."""
        ...

    async def touch_tokens(
        self, last_used: dict[str, float], rotations: Sequence[tuple[str, str, float, float]] = ()
    ) -> None:
        """Record when agent tokens were last used, and start the rotation overlaps of tokens used the
        first time: (host, newer token_id, used_at, until), in order; each as `expire_older_tokens` for
        the tokens created by `used_at`. One transaction."""
        ...

    async def expire_older_tokens(self, host: str, newer_token_id: str, until: float) -> int:
        """Start the rotation overlap: the host's other valid tokens (created until now) stop being
        accepted at `until`."""
        ...

    async def consume_token(self, token_id: str) -> bool:
        """Use up a one-time token; False when it was already used or revoked."""
        ...

    async def list_tokens(self, host: str = "") -> list[fleet_pb.AgentToken]:
        """Agent tokens (of one host, or all), newest first, without secrets."""
        ...

    async def revoke_token(self, token_id: str) -> bool:
        """Mark an agent token revoked; False when there is no such token."""
        ...

    async def add_api_token(self, token_id: str, name: str, role: int, sha256: str) -> fleet_pb.ApiToken:
        """Store a new API token's hash."""
        ...

    async def find_api_token(self, sha256: str) -> fleet_pb.ApiToken | None:
        """The valid (not revoked) API token whose hash matches."""
        ...

    async def list_api_tokens(self) -> list[fleet_pb.ApiToken]:
        """API tokens, newest first, without secrets."""
        ...

    async def revoke_api_token(self, token_id: str) -> bool:
        """Mark an API token revoked; False when there is no such token."""
        ...

    async def count_api_tokens(self) -> int:
        """How many API tokens were ever created."""
        ...

    async def get_user(self, username: str) -> UserRecord | None:
        """A web user's password hash and role, or None."""
        ...

    async def put_user(self, username: str, password_hash: str, role: int) -> None:
        """Create a user or replace its password and role; its sessions end in the same transaction."""
        ...

    async def count_users(self) -> int:
        """How many web users exist."""
        ...

    async def add_web_session(self, token_sha256: str, username: str, expires_at: float) -> None:
        """Store a new session (by the hash of its token)."""
        ...

    async def get_web_session(self, token_sha256: str) -> WebSessionRecord | None:
        """A session that has not expired, or None."""
        ...

    async def delete_web_session(self, token_sha256: str) -> None:
        """End a session (and, on the way, every expired one)."""
        ...

    async def login_failures(self, client: str, username: str, since: float) -> list[float]:
        """When this client failed to log in as this user after `since`, oldest first."""
        ...

    async def record_login_failure(self, client: str, username: str, older_than: float) -> None:
        """Remember a failed login; forget failures from before `older_than`."""
        ...

    async def clear_login_failures(self, client: str, username: str) -> None:
        """Forget a client's failed logins as a user after it logged in."""
        ...

    async def secret(self, name: str) -> bytes:
        """A random secret of this control plane (e.g. the web UI's cookie key), made on first use."""
        ...


class AuditStore(Protocol):
    """The audit log: append-only, nothing in it is ever changed or deleted."""

    async def append_audit_event(self, event: audit_pb.AuditEvent) -> audit_pb.AuditEvent:
        """Store an event (its `time` set); returns it with its `sequence`."""
        ...

    async def list_audit_events(
        self, query: AuditQuery, limit: int, cursor: int | None
    ) -> Page[audit_pb.AuditEvent]:
        """Events matching `query`, newest first, `limit` to a page."""
        ...


class Store(
    HostStore,
    TargetStore,
    CommandStore,
    TestRunStore,
    CaseHistoryStore,
    NotificationStore,
    CredentialStore,
    AuditStore,
    Protocol,
):
    """The whole store: every aggregate, its lifecycle and the fleet version reservation."""

    # What replicas sharing the database use; None for an engine that one process owns (SQLite).
    replication: ReplicationStore | None

    async def open(self) -> None:
        """Open (creating or migrating the schema as needed); safe to call twice."""
        ...

    async def close(self) -> None:
        """Close; safe to call twice."""
        ...

    async def reserve_versions(self, at_least: int) -> int:
        """Start version for this process; versions below the reserved end are never handed out again."""
        ...

    async def extend_version_reservation(self, reserved: int) -> None:
        """Persist that versions up to `reserved` may be handed out."""
        ...

    def observe_writes(self, observer: Callable[[float], None]) -> None:
        """Call `observer` with the seconds of every write transaction, from asking to committed."""
        ...
