"""The fleet's event hub: a monotonic version, a ring of recent events, bounded per-watcher queues."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from fleetdeck.v1 import fleet_service_pb2 as fleet_pb

log = logging.getLogger(__name__)

RING_BYTES = 64 * 1024 * 1024  # recent events kept for resuming watchers, at most

Event = fleet_pb.WatchFleetResponse


class _Resync(Exception):
    """A watcher fell behind and must start over from a snapshot."""


class _Closed(Exception):
    """The hub closed; the watch ends."""


class Watcher:
    """One subscriber: a bounded queue that is flagged for resync instead of ever blocking the hub."""

    def __init__(self, limit: int) -> None:
        self._queue: asyncio.Queue[Event] = asyncio.Queue(limit)
        self.overflowed = False
        self.closed = False

    def close(self) -> None:
        """End the watch after what it already has."""
        self.closed = True
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(Event())

    def offer(self, event: Event) -> None:
        """Queue an event; on overflow drop everything and mark the watcher for a resync."""
        if self.overflowed:
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(Event())  # wake the reader so it notices the overflow

    async def get(self) -> Event:
        """The next event; raises _Resync once the watcher overflowed."""
        event = await self._queue.get()
        if self.overflowed:
            raise _Resync
        if self.closed and self._queue.empty():
            raise _Closed
        return event


class Hub:
    """Numbers every fleet change and fans it out; a slow watcher is dropped to a snapshot."""

    def __init__(
        self,
        start_version: int,
        ring_size: int = 10_000,
        watcher_limit: int = 1_000,
        ring_bytes: int = RING_BYTES,
    ) -> None:
        self.version = start_version
        self._first_version = start_version + 1  # oldest version a resume can start after
        # Bounded in count and in bytes: a resume older than the ring gets a snapshot instead.
        self._ring: collections.deque[tuple[Event, int]] = collections.deque()
        self._ring_size = ring_size
        self._ring_bytes = ring_bytes
        self.ring_bytes_used = 0
        self._watchers: set[Watcher] = set()
        self._watcher_limit = watcher_limit
        self.closed = False

    def publish(self, event: Event) -> Event:
        """Give the event the next version, remember it and offer it to every watcher."""
        self.version += 1
        event.version = self.version
        size = event.ByteSize()
        self._ring.append((event, size))
        self.ring_bytes_used += size
        while len(self._ring) > self._ring_size or self.ring_bytes_used > self._ring_bytes:
            gone, gone_size = self._ring.popleft()
            self.ring_bytes_used -= gone_size
            self._first_version = gone.version + 1
        for watcher in self._watchers:
            watcher.offer(event)
        return event

    def _missed_since(self, version: int) -> list[Event] | None:
        """Events after `version`, or None when they are no longer all in the ring."""
        if version == self.version:
            return []
        if version < self._first_version - 1 or version > self.version:
            return None
        return [e for e, _ in self._ring if e.version > version]

    async def watch(
        self, from_version: int, snapshot: Callable[[], fleet_pb.FleetSnapshot]
    ) -> AsyncIterator[Event]:
        """A snapshot (or only what was missed since from_version), then every change."""
        watcher = Watcher(self._watcher_limit)
        self._watchers.add(watcher)
        if self.closed:
            watcher.close()
        floor = 0  # events at or below this version were already covered by what was sent
        try:
            missed = self._missed_since(from_version) if from_version else None
            if missed is None:
                floor = self.version
                yield Event(version=floor, snapshot=snapshot())
            else:
                floor = from_version
                for event in missed:
                    floor = event.version
                    yield event
            while True:
                try:
                    event = await watcher.get()
                except _Closed:
                    return
                except _Resync:
                    log.info("watcher fell behind; sending a fresh snapshot")
                    watcher = self._replace(watcher)
                    floor = self.version
                    yield Event(version=floor, snapshot=snapshot())
                    continue
                if event.version > floor:
                    floor = event.version
                    yield event
        finally:
            self._watchers.discard(watcher)

    def close(self) -> None:
        """End every watch (at shutdown), so no stream holds the server open."""
        self.closed = True
        for watcher in self._watchers:
            watcher.close()

    def _replace(self, old: Watcher) -> Watcher:
        self._watchers.discard(old)
        new = Watcher(self._watcher_limit)
        self._watchers.add(new)
        return new
