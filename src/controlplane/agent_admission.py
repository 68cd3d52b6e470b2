"""Who may hold an agent stream: a slot of the agents' own budget, per peer and per token.

Checked after the token and before anything else is kept for the stream, so that junk never waits for
a hello and real agents can never take the slots FleetService and health need. The token lookup
itself is budgeted per peer too: a few at a time, none while the peer's bad tokens are over budget,
so that a flood of junk streams never queues thousands of store reads ahead of everyone else's.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

from .budgets import Budgets, TokenBucket
from .errors import ResourceExhausted, Unauthenticated
from .ratelog import SummarizedLog

PEERS_KEPT = 10_000  # peers whose failed logins are counted, most recent first

log = logging.getLogger(__name__)


def peer_address(peer: str) -> str:
    """The IP address of a gRPC peer string (`ipv4:10.0.0.1:5000`, `ipv6:[::1]:5000`)."""
    kind, _, rest = peer.partition(":")
    if kind in ("ipv4", "ipv6"):
        return rest.rsplit(":", 1)[0]
    return peer


@dataclass
class _Lookups:
    """The token lookups of one peer: a few at a time, and how many streams are in or waiting."""

    gate: asyncio.Semaphore
    streams: int = field(default=0)  # in a lookup or waiting for one
    looking: int = field(default=0)  # in a lookup: each may still turn out a bad token


class AgentAdmission:
    """Counts open agent streams overall, per peer and per token; `admit` holds one slot."""

    def __init__(self, budgets: Budgets, slots: int) -> None:
        self.budgets = budgets
        self.slots = slots
        self.open = 0
        self._per_peer: collections.Counter[str] = collections.Counter()
        self._per_token: collections.Counter[str] = collections.Counter()
        self.refusals = SummarizedLog(log, "refused agent streams", budgets.refusals_log_seconds)
        self._failed_logins: collections.OrderedDict[str, TokenBucket] = collections.OrderedDict()
        self._lookups: dict[str, _Lookups] = {}

    @contextlib.asynccontextmanager
    async def login(self, peer: str) -> AsyncIterator[None]:
        """Around the lookup of a stream's token: refused (ResourceExhausted) before any lookup while
        the peer's bad tokens are over budget; at most `token_lookups_per_peer` of a peer at once, the
        others wait their turn; an Unauthenticated raised inside counts as a bad token of the peer."""
        self.check_logins(peer)
        address = peer_address(peer)
        lookups = self._lookups.get(address)
        if lookups is None:
            lookups = self._lookups[address] = _Lookups(
                asyncio.Semaphore(self.budgets.token_lookups_per_peer)
            )
        lookups.streams += 1
        try:
            async with lookups.gate:
                # Those it waited behind, and those still looking, may each turn out a bad token.
                self.check_logins(peer, looking=lookups.looking)
                lookups.looking += 1
                try:
                    yield
                except Unauthenticated:
                    self.login_failed(peer)
                    self.refusals.note("with a missing or unknown token")
                    raise
                finally:
                    lookups.looking -= 1
        finally:
            lookups.streams -= 1
            if lookups.streams == 0:
                del self._lookups[address]

    def check_logins(self, peer: str, looking: int = 0) -> None:
        """ResourceExhausted, before any lookup, for a peer that keeps sending bad tokens (with
        `looking` of its lookups under way, each of which may still fail)."""
        bucket = self._failed_logins.get(peer_address(peer))
        if bucket is not None and bucket.available(time.monotonic()) < 1 + looking:
            self.refusals.note("from a peer sending bad tokens")
            raise ResourceExhausted("too many agent streams with bad tokens from this address; retry later")

    def login_failed(self, peer: str) -> None:
        """Count a bad token from `peer`."""
        address = peer_address(peer)
        bucket = self._failed_logins.pop(address, None)
        if bucket is None:
            bucket = TokenBucket(self.budgets.failed_logins_burst, self.budgets.failed_logins_per_second)
        bucket.take(time.monotonic())
        self._failed_logins[address] = bucket
        while len(self._failed_logins) > PEERS_KEPT:
            self._failed_logins.popitem(last=False)

    @contextlib.contextmanager
    def admit(self, peer: str, token_id: str) -> Iterator[None]:
        """Hold a slot for the stream's lifetime; ResourceExhausted when a budget is spent."""
        address = peer_address(peer)
        reason = self._over(address, token_id)
        if reason is not None:
            self.refusals.note(reason)
            raise ResourceExhausted(f"too many agent streams {reason}; retry later")
        self.open += 1
        self._per_peer[address] += 1
        self._per_token[token_id] += 1
        try:
            yield
        finally:
            self.open -= 1
            for counter, key in ((self._per_peer, address), (self._per_token, token_id)):
                counter[key] -= 1
                if counter[key] <= 0:
                    del counter[key]

    def _over(self, address: str, token_id: str) -> str | None:
        if self.open >= self.slots:
            return "on this control plane"
        if self._per_peer[address] >= self.budgets.agent_streams_per_peer:
            return f"from {address}"
        if self._per_token[token_id] >= self.budgets.agent_streams_per_token:
            return "with this token"
        return None
