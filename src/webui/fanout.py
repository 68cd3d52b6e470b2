"""The web UI's one WatchFleet: every event framed as SSE bytes once, the same bytes to every browser.

The fan-out keeps the fleet as ready-made JSON per host, so a browser that connects costs a join of
strings (cached per fleet version), not a conversion of the fleet, and a short history of frames, so
a browser that reconnects with Last-Event-ID gets only what it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Iterator

from sse_starlette import ServerSentEvent

from fleetdeck.tasks import cancel_and_wait
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc
from webui.convert import to_dict
from webui.relay import Drain, FleetWatch, Item, Resync, Status

log = logging.getLogger(__name__)

HISTORY = 4096
"""Frames kept for browsers that resume; one further back gets a snapshot."""

UPSTREAM_LIMIT = 8192
"""The fan-out's own WatchFleet queue: it only falls behind if the event loop starves."""


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def status_frame(connected: bool, message: str) -> bytes:
    """The `status` event the page shows as its banner."""
    data = _dumps({"connected": connected, "message": message})
    return ServerSentEvent(data=data, event="status").encode()


RESYNC_FRAME = ServerSentEvent(data="{}", event="resync").encode()


def _frame(kind: str, version: int, data: str | bytes) -> bytes:
    """An SSE event of one line of JSON (JSON text holds no CR or LF: those are always escaped)."""
    body = data.encode() if isinstance(data, str) else data
    return b"".join((b"id: %d\r\nevent: %s\r\ndata: " % (version, kind.encode()), body, b"\r\n\r\n"))


class Viewer:
    """One browser's place in the fan-out: a bounded queue of frames shared with every browser.

    A browser that falls `limit` frames behind loses what is queued and gets a `resync` and a fresh
    snapshot the next time it reads; nobody waits for it.
    """

    def __init__(self, fanout: Fanout, from_version: int, limit: int) -> None:
        if limit < 2:
            raise ValueError("the queue limit must be at least 2")
        self._fanout = fanout
        self._limit = limit
        self._frames: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self._start: int | None = from_version
        """Set while the browser still needs its start (a snapshot, or what it missed from here)."""
        self._resync = False
        self._drained = False
        self.fell_behind = asyncio.Event()
        """Set once the browser fell behind and was dropped to a resync."""

    def offer(self, frame: bytes) -> None:
        """Queue a fleet event's frame; never blocks. Skipped while the start (which covers it) is due."""
        if self._drained or self._start is not None:
            return
        if len(self._frames) >= self._limit:
            self._frames.clear()
            self._start, self._resync = 0, True
            self.fell_behind.set()
            log.info("a browser fell behind; dropping it to a fresh snapshot")
        else:
            self._frames.append(frame)
        self._wake.set()

    def offer_status(self, frame: bytes) -> None:
        """Queue a status frame: it goes out even while the start waits for the fleet (a start that
        can be served now carries the current status itself)."""
        if self._start is not None and self._fanout.ready:
            return
        if not self._drained and len(self._frames) < self._limit:
            self._frames.append(frame)
            self._wake.set()

    def wake(self) -> None:
        """The fan-out has a fleet now: a waiting start can be served."""
        self._wake.set()

    def drain(self) -> None:
        """End the browser's stream at its next read (logout, expiry, a control plane stopping)."""
        self._drained = True
        self._frames.clear()
        self._wake.set()

    async def next(self) -> bytes | None:
        """The next bytes to write to the browser (possibly several frames); None once drained."""
        while True:
            if self._drained:
                return None
            if self._frames:
                chunk = b"".join(self._frames)
                self._frames.clear()
                return chunk
            if self._start is not None and self._fanout.ready:
                chunk = self._fanout.opening(self._start, resync=self._resync)
                self._start, self._resync = None, False
                return chunk
            self._wake.clear()
            await self._wake.wait()


class Fanout:
    """One WatchFleet subscription for the whole web UI process, relayed to every browser's Viewer."""

    def __init__(self, stub: fleet_grpc.FleetServiceAsyncStub | None, *, history: int = HISTORY) -> None:
        """Subscribes through `stub` once the first browser attaches; with None it relays only what
        is handed to `apply` (a fan-out fed by hand, as the tests and the bench do)."""
        self._stub = stub
        self._host_json: dict[str, bytes] = {}
        self._history: deque[tuple[int, bytes]] = deque()
        self._history_limit = history
        self._base: int | None = None
        """Every event after this version is in the history; None until the first snapshot."""
        self.version = 0
        self._status: bytes | None = None
        self._snapshot: tuple[int, bytes] | None = None
        self._viewers: set[Viewer] = set()
        self._task: asyncio.Task[None] | None = None
        self.events = 0
        """Fleet events relayed so far (each framed once)."""

    @property
    def ready(self) -> bool:
        """Whether a fleet snapshot arrived: only then can a browser start."""
        return self._base is not None

    @property
    def viewers(self) -> int:
        """How many browsers are attached."""
        return len(self._viewers)

    def opening(self, from_version: int, *, resync: bool = False) -> bytes:
        """What a browser gets first: the status, then what it missed after `from_version`, or (when
        that is 0, unknown or too old) a snapshot of the fleet."""
        parts = [RESYNC_FRAME] if resync else []
        if self._status is not None:
            parts.append(self._status)
        assert self._base is not None
        if from_version > 0 and self._base <= from_version <= self.version:
            missed = []
            for version, frame in reversed(self._history):
                if version <= from_version:
                    break
                missed.append(frame)
            parts.extend(reversed(missed))
        else:
            parts.append(self._snapshot_frame())
        return b"".join(parts)

    def _snapshot_frame(self) -> bytes:
        if self._snapshot is None or self._snapshot[0] != self.version:
            data = b'{"hosts":[' + b",".join(self._host_json.values()) + b"]}"
            self._snapshot = (self.version, _frame("snapshot", self.version, data))
        return self._snapshot[1]

    @contextlib.contextmanager
    def viewer(self, from_version: int, limit: int) -> Iterator[Viewer]:
        """A browser attached from `from_version` while open (starting the subscription if need be)."""
        if self._task is None and self._stub is not None:
            self._task = asyncio.create_task(self._run(), name="webui-fanout")
        viewer = Viewer(self, from_version, limit)
        self._viewers.add(viewer)
        try:
            yield viewer
        finally:
            self._viewers.discard(viewer)

    async def stop(self) -> None:
        """Cancel the subscription; safe to call twice."""
        task, self._task = self._task, None
        if task is None:
            return
        await cancel_and_wait(task)

    async def _run(self) -> None:
        assert self._stub is not None
        while True:
            async with FleetWatch(self._stub, self.version, limit=UPSTREAM_LIMIT) as watch:
                while not isinstance(item := await watch.get(), Drain):
                    self.apply(item)
            # The relay failed (it logged why): watch again after a pause, from where it was.
            await asyncio.sleep(1.0)

    def apply(self, item: Item) -> None:
        """Take one relay item: update the fleet and frame it once for every browser."""
        if isinstance(item, Status):
            self._status = status_frame(item.connected, item.message)
            for viewer in self._viewers:
                viewer.offer_status(self._status)
            return
        if isinstance(item, Resync | Drain):
            return  # a snapshot follows
        kind = item.WhichOneof("event")
        if kind is None:
            return
        self.version = item.version
        self.events += 1
        if kind == "snapshot":
            self._take_snapshot(item.snapshot)
            frame = self._snapshot_frame()
            for viewer in self._viewers:
                viewer.offer(frame)
                viewer.wake()
            return
        if kind == "host":
            data = _dumps(to_dict(item.host))
            self._host_json[item.host.name] = data.encode()
        else:
            data = _dumps(to_dict(getattr(item, kind)))
        frame = _frame(kind, item.version, data)
        self._remember(item.version, frame)
        for viewer in self._viewers:
            viewer.offer(frame)

    def _take_snapshot(self, snapshot: fleet_pb.FleetSnapshot) -> None:
        self._host_json = {host.name: _dumps(to_dict(host)).encode() for host in snapshot.hosts}
        self._history.clear()
        self._base = self.version

    def _remember(self, version: int, frame: bytes) -> None:
        self._history.append((version, frame))
        if len(self._history) > self._history_limit:
            self._base, _ = self._history.popleft()
