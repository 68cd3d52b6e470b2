"""The fleet's event hub: a monotonic version, a ring of recent events, bounded per-watcher queues.

Alone, the hub numbers the events it is given. With replicas, `publish` hands each event to a sink
(the fleet log, which numbers the events of every replica in one order) and the events come back,
numbered, through `deliver`: every replica's watchers see the same events in the same order."""

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
            self.offer_resync()

    def offer_resync(self) -> None:
        """Drop what is queued and make the watcher start over from a snapshot (the reader is woken
        so that it notices)."""
        self.overflowed = True
        while not self._queue.empty():
            self._queue.get_nowait()
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(Event())

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
        self.sink: Callable[[Event], None] | None = None  # where events go to be numbered, if not here

    def publish(self, event: Event) -> None:
        """Number the event and offer it to every watcher (or hand it to the sink for numbering)."""
        if self.sink is not None:
            self.sink(event)
        else:
            self.deliver(event, self.version + 1)

    def deliver(self, event: Event, version: int) -> None:
        """Remember an event numbered `version` (above every version before) and offer it to every
        watcher."""
        self.version = version
        event.version = version
        size = event.ByteSize()
        self._ring.append((event, size))
        self.ring_bytes_used += size
        while len(self._ring) > self._ring_size or self.ring_bytes_used > self._ring_bytes:
            gone, gone_size = self._ring.popleft()
            self.ring_bytes_used -= gone_size
            self._first_version = gone.version + 1
        for watcher in self._watchers:
            watcher.offer(event)

    def skip_to(self, version: int) -> None:
        """Events up to `version` will never be delivered here (they were missed): every watcher
        starts over from a snapshot, and a resume from before that gets one too."""
        self.version = max(self.version, version)
        self._ring.clear()
        self.ring_bytes_used = 0
        self._first_version = self.version + 1
        for watcher in self._watchers:
            watcher.offer_resync()

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
