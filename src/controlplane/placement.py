"""Where hosts' agent streams are held: in this process alone, or spread over replicas.

`Fleet` tells its placement what happened to the hosts whose streams it holds, and hands it what
must reach a host whose stream another replica holds. Alone (SQLite, or one process) every host is
held here and there is nothing to tell; `replicas.Replicas` is the placement of a control plane
among others on one PostgreSQL database.
"""

from __future__ import annotations

from typing import Protocol

# What mail for the replica holding a host carries (`Placement.post`).
MAIL_AGENT = "agent"  # a ConnectResponse for the agent (a command to run or to stop)
MAIL_OVERRIDE = "override"  # the host's new test settings override (stored already)
MAIL_LABELS = "labels"  # the host's new label overrides as JSON (stored already)


class Placement(Protocol):
    """What `Fleet` asks of the placement of its hosts."""

    @property
    def leading(self) -> bool:
        """Whether this process runs the fleet's background duties (one process at a time does)."""
        ...

    async def claim(self, host: str) -> None:
        """An agent of `host` connected here: its stream is held here from now on."""
        ...

    def released(self, host: str) -> None:
        """The stream of `host` held here ended."""
        ...

    async def post(self, host: str, kind: str, body: bytes) -> None:
        """Hand `body` (a MAIL_* kind) to the replica holding `host`'s stream."""
        ...

    async def config_changed(self, what: str) -> None:
        """Fleet-wide settings or desired states were stored: every other replica reloads them."""
        ...

    async def revoked(self, what: str) -> None:
        """A credential was revoked here ("agent <host> <token id>", "api <token id>"): every other
        replica ends the streams it opened too."""
        ...

    async def held_elsewhere(self, hosts: list[str]) -> set[str]:
        """Which of `hosts` another replica holds now (whatever this one heard so far): not to be
        written here."""
        ...


class Alone:
    """One process holds every host: nothing to claim, tell or hand over."""

    @property
    def leading(self) -> bool:
        return True

    async def claim(self, host: str) -> None:
        return None

    def released(self, host: str) -> None:
        return None

    async def post(self, host: str, kind: str, body: bytes) -> None:
        raise AssertionError(f"no other replica holds {host}")  # held_by is never set when alone

    async def config_changed(self, what: str) -> None:
        return None

    async def revoked(self, what: str) -> None:
        return None

    async def held_elsewhere(self, hosts: list[str]) -> set[str]:
        return set()
