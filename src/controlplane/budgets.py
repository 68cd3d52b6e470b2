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

    def take(self, now: float, cost: float = 1.0) -> bool:
        """Spend `cost` if the bucket holds it (`now`: a monotonic clock)."""
        if self.tokens < 0:
            self.tokens, self.updated = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= cost:
            self.tokens -= cost
            self.refusing = False
            return True
        self.refusing = True
        return False
