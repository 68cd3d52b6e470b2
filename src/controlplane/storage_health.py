"""Whether the store works: storage trouble (a locked database, a full disk) is noticed wherever it
shows, logged once when it starts and once when it ends, reported through health, and probed with a
small write until it clears, so that the control plane recovers without a restart."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from fleetdeck.tasks import cancel_and_wait

from .errors import StorageUnavailable, storage_trouble

log = logging.getLogger(__name__)

PROBE_SECONDS = 1.0


class StorageHealth:
    """The store's condition; `noticed(error)` is the hook every write path calls with its failure."""

    def __init__(
        self,
        probe: Callable[[], Awaitable[None]],
        on_change: Callable[[bool], Awaitable[None]],
        probe_seconds: float = PROBE_SECONDS,
    ) -> None:
        self._probe = probe
        self._on_change = on_change
        self._probe_seconds = probe_seconds
        self.trouble: StorageUnavailable | None = None
        self._working = asyncio.Event()
        self._working.set()
        self._prober: asyncio.Task[None] | None = None

    @property
    def ok(self) -> bool:
        return self.trouble is None

    def noticed(self, error: BaseException) -> bool:
        """True when `error` is storage trouble (then it is reported, once); False otherwise."""
        trouble = storage_trouble(error)
        if trouble is None:
            return False
        if self.trouble is None or str(self.trouble) != str(trouble):
            log.warning("storage trouble: %s; health says NOT_SERVING until it clears", trouble)
            first = self.trouble is None
            self.trouble = trouble
            self._working.clear()
            if first:
                self._prober = asyncio.create_task(self._until_working(), name="storage-probe")
        return True

    async def working(self) -> None:
        """Return once the store works (at once when it does)."""
        await self._working.wait()

    async def _until_working(self) -> None:
        await self._on_change(False)
        while True:
            # Nothing announces that a lock was released or space freed: try a small write again.
            await asyncio.sleep(self._probe_seconds)
            try:
                await self._probe()
            except Exception as error:
                if not self.noticed(error):
                    log.warning("probing the store failed: %s", error)
                continue
            break
        log.info("storage works again (%s no longer)", self.trouble)
        self.trouble = None
        self._working.set()
        await self._on_change(True)

    async def stop(self) -> None:
        """Stop probing; safe to call twice."""
        if self._prober is not None:
            task, self._prober = self._prober, None
            await cancel_and_wait(task)
