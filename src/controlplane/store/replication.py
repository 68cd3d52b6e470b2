"""What replicas sharing one database ask of it (PostgreSQL only: SQLite is one process), and the
values it answers with. The channels and their payloads are named here; `postgres/replication.py`
keeps the tables and LISTEN/NOTIFY."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

# The channels that wake replicas; a notification's payload says what changed.
LOG_CHANNEL = "fleetdeck_log"  # the newest version of the fleet log
OWNER_CHANNEL = "fleetdeck_owner"  # "host replica epoch" of a claim or a release ("-" for none)
MAIL_CHANNEL = "fleetdeck_mail"  # the host that has mail
OUTPUT_CHANNEL = "fleetdeck_output"  # "replica id,id,...": commands with new stored output
CONFIG_CHANNEL = "fleetdeck_config"  # what fleet-wide configuration changed
REVOKED_CHANNEL = "fleetdeck_revoked"  # "agent <host> <token id>" or "api <token id>"
CHANNELS = (LOG_CHANNEL, OWNER_CHANNEL, MAIL_CHANNEL, OUTPUT_CHANNEL, CONFIG_CHANNEL, REVOKED_CHANNEL)

_PAYLOAD_BYTES = 7_900  # PostgreSQL's NOTIFY takes at most 8,000 bytes


@dataclass(frozen=True, slots=True)
class Owner:
    """Who holds a host's agent stream ("" when no replica does), and the claim's number."""

    replica: str
    epoch: int


@dataclass(frozen=True, slots=True)
class Published:
    """A fleet event on its way into the log: of a host (with the epoch of the claim it was
    published under) or of the fleet (host "")."""

    event: bytes
    host: str = ""
    epoch: int = 0


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One fleet event in the global order, and the replica that published it."""

    version: int
    replica: str
    host: str
    epoch: int
    event: bytes


@dataclass(frozen=True, slots=True)
class Mail:
    """A message for the replica that holds `host`'s stream: `kind` says what `body` is."""

    id: int
    host: str
    kind: str
    body: bytes


def owner_payload(host: str, owner: Owner) -> str:
    """The OWNER_CHANNEL payload: host, replica and epoch (host names hold no spaces)."""
    return f"{host} {owner.replica or '-'} {owner.epoch}"


def parse_owner_payload(payload: str) -> tuple[str, Owner]:
    """The host and its owner from an OWNER_CHANNEL payload."""
    host, replica, epoch = payload.split(" ")
    return host, Owner("" if replica == "-" else replica, int(epoch))


def payloads(items: Sequence[str], room: int = 0) -> list[str]:
    """Comma-separated payloads that fit NOTIFY's size with `room` characters to spare."""
    parts: list[str] = []
    current = ""
    for item in items:
        if current and len(current) + 1 + len(item) > _PAYLOAD_BYTES - room:
            parts.append(current)
            current = ""
        current = f"{current},{item}" if current else item
    if current:
        parts.append(current)
    return parts


class Listener(Protocol):
    """A connection of its own that listens on every channel and may hold the leader lock."""

    leading: bool

    @property
    def alive(self) -> bool:
        """Whether the connection is still open."""
        ...

    async def try_lead(self) -> bool:
        """Take the leader lock if no other replica holds it; True while this replica leads."""
        ...

    async def close(self) -> None:
        """Stop listening (and leading)."""
        ...


class ReplicationStore(Protocol):
    """The shared state of replicas: registry, host claims, the fleet log, mail, wake-ups."""

    async def listen(self, notice: Callable[[str, str], None], lost: Callable[[], None]) -> Listener:
        """A listening connection: `notice(channel, payload)` for each notification, `lost()` once
        when it ends."""
        ...

    async def register(self, replica: str) -> None:
        """A replica started."""
        ...

    async def beat(self, replica: str) -> None:
        """A replica is alive."""
        ...

    async def silent_replicas(self, longer_than: float) -> list[str]:
        """Replicas that have not said they are alive for `longer_than` seconds."""
        ...

    async def retire(self, replica: str) -> list[str]:
        """Forget a replica and let go of its hosts; the hosts it held (once)."""
        ...

    async def owners(self) -> dict[str, Owner]:
        """Every host's holder and epoch."""
        ...

    async def claim(self, host: str, replica: str) -> tuple[Owner, int]:
        """`replica` holds `host` from now on, with a higher epoch than any claim before; the host's
        mail for earlier streams is dropped (how many: the second value)."""
        ...

    async def release(self, host: str, owner: Owner) -> bool:
        """The claim `owner` ended; False when a newer claim took the host meanwhile."""
        ...

    async def held_elsewhere(self, replica: str, hosts: Sequence[str]) -> set[str]:
        """Which of `hosts` a replica other than `replica` holds."""
        ...

    async def seen_elsewhere(self, replica: str) -> list[tuple[str, float | None, bytes | None]]:
        """(host, last-seen time, metrics) of every host a replica other than `replica` holds, as that
        replica last wrote them."""
        ...

    async def append(self, replica: str, events: Sequence[Published]) -> int:
        """Append events to the global order; the last version given."""
        ...

    async def latest_host_events(self) -> list[LogEntry]:
        """Each host's newest entry in the log (a replica starting catches up on them)."""
        ...

    async def log_version(self) -> int:
        """The newest version of the global order."""
        ...

    async def read_log(self, after: int, limit: int = 5_000) -> list[LogEntry]:
        """Entries after version `after`, oldest first."""
        ...

    async def prune_log(self, keep: int) -> int:
        """Forget all but the newest `keep` entries."""
        ...

    async def post(self, host: str, kind: str, body: bytes) -> None:
        """Leave a message for whichever replica holds `host`."""
        ...

    async def take_mail(self, hosts: Sequence[str]) -> list[Mail]:
        """Remove and return the messages for `hosts`, oldest first."""
        ...

    async def output_stored(self, replica: str, command_ids: Sequence[str]) -> None:
        """`replica` stored new output of these commands."""
        ...

    async def config_changed(self, what: str) -> None:
        """Fleet-wide settings or desired states changed."""
        ...

    async def revoked(self, what: str) -> None:
        """A credential was revoked: every replica ends the streams it opened (REVOKED_CHANNEL)."""
        ...
