"""Log lines a flood cannot multiply: the first one at once, then one summary every few seconds."""

from __future__ import annotations

import collections
import logging
import time


class SummarizedLog:
    """Logs `what` with the counts of its reasons: the first at once, then at most every `seconds`."""

    def __init__(self, logger: logging.Logger, what: str, seconds: float = 10.0) -> None:
        self.logger = logger
        self.what = what
        self.seconds = seconds
        self._since = -float("inf")
        self._counts: collections.Counter[str] = collections.Counter()

    def note(self, reason: str, now: float | None = None) -> None:
        """Count one occurrence; log the counts so far when the last line is old enough."""
        now = time.monotonic() if now is None else now
        self._counts[reason] += 1
        if now - self._since >= self.seconds:
            total = sum(self._counts.values())
            summary = "; ".join(f"{n} {why}" for why, n in self._counts.most_common())
            self.logger.warning("%s %d time(s) (%s)", self.what, total, summary)
            self._counts.clear()
            self._since = now
