"""Budgets a client may spend: rates as token buckets, and the control plane's limits in one table.

The limits on what a message may hold are shared with the agents and live in `fleetdeck.limits`.
"""

from __future__ import annotations

from dataclasses import dataclass

FACT_CHANGES_BURST = 20
"""Fact changes a host may report in a row (a pull, a switch and its tests change a few each)."""
FACT_CHANGES_PER_SECOND = 1 / 3
"""...and then at most one every 3 s; faster changes are not applied (nor published) until it slows."""


@dataclass
class TokenBucket:
    """`burst` at once, refilled at `rate` a second; `take` says whether one more is allowed now."""

    burst: float
    rate: float
    tokens: float = -1.0
    updated: float = 0.0
    refusing: bool = False  # the last take was refused: callers log the start of a refusal once

    def available(self, now: float) -> float:
        """What the bucket holds at `now` (a monotonic clock), refilled."""
        if self.tokens < 0:
            self.tokens, self.updated = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        return self.tokens

    def take(self, now: float, cost: float = 1.0) -> bool:
        """Spend `cost` if the bucket holds it (`now`: a monotonic clock)."""
        if self.available(now) >= cost:
            self.tokens -= cost
            self.refusing = False
            return True
        self.refusing = True
        return False


@dataclass(frozen=True)
class Budgets:
    """What one client, one peer or one token may hold of the control plane (see docs/operating.md)."""

    hello_timeout_seconds: float = 10.0
    """An agent stream that has not said hello by then is closed (INVALID_ARGUMENT)."""
    handshake_timeout_seconds: float = 10.0
    """A TCP connection that has not finished its TLS/HTTP/2 handshake by then is closed."""
    connection_idle_seconds: float = 300.0
    """A connection with no call open for this long is closed (GOAWAY); clients reconnect on demand."""
    pending_calls: int = 20_000
    """Calls gRPC holds until the servicer takes them (grpc's default, 1,000 to 3,000, cancels most of
    a welcome storm of 10,000 agents; they would only come back)."""
    streams_per_connection: int = 1_000
    """Concurrent calls one HTTP/2 connection may carry."""
    api_reserve: int = 1_000
    """Of the server's concurrent-call limit, kept for FleetService and health: agents never get it."""
    agent_streams_per_peer: int = 4_096
    """Agent streams one IP address may hold (a site behind one NAT address counts as one peer)."""
    agent_streams_per_token: int = 4
    """Agent streams one token may hold: its current stream and a few replacements in flight."""
    token_lookups_per_peer: int = 16
    """Agent-token lookups one IP address may have in flight; its other new streams wait their turn."""
    failed_logins_burst: int = 200
    """Agent streams with a bad token one IP address may open in a row..."""
    failed_logins_per_second: float = 100.0
    """...and then this many a second; beyond, its streams are refused before any lookup."""
    refusals_log_seconds: float = 10.0
    """Refused agent streams are logged once, then summed up at most this often."""

    def agent_streams(self, max_concurrent_rpcs: int) -> int:
        """Agent streams the whole server may hold: the call limit less the API's reserve."""
        return max(1, max_concurrent_rpcs - min(self.api_reserve, max_concurrent_rpcs // 10))

    def grpc_options(self) -> list[tuple[str, int]]:
        """The gRPC server options that enforce the connection budgets."""
        return [
            ("grpc.server_handshake_timeout_ms", int(self.handshake_timeout_seconds * 1000)),
            ("grpc.max_connection_idle_ms", int(self.connection_idle_seconds * 1000)),
            ("grpc.max_concurrent_streams", self.streams_per_connection),
            ("grpc.server.max_pending_requests", self.pending_calls),
            ("grpc.server.max_pending_requests_hard_limit", self.pending_calls),
            ("grpc.http2.max_ping_strikes", 2),  # pings more often than allowed close the connection
        ]
