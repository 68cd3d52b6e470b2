"""One browser's WatchFleet: a bounded queue fed by a pump that resumes, backs off and resyncs."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from types import TracebackType

import grpc

from fleetdeck.tasks import cancel_and_wait
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Status:
    """Whether the relay's WatchFleet stream to the control plane is up, for the page's banner."""

    connected: bool
    message: str


@dataclass(frozen=True)
class Resync:
    """The browser fell behind: what it was sent is dropped and a fresh snapshot follows."""


@dataclass(frozen=True)
class Drain:
    """The control plane is shutting down: end the browser's stream so it reconnects later."""


Item = fleet_pb.WatchFleetResponse | Status | Resync | Drain


def _why(exc: grpc.aio.AioRpcError) -> str:
    """What the page says while the live view is down."""
    if exc.code() in (
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
    ):
        return "The control plane is unreachable; reconnecting…"
    return f"The control plane refused the live view: {exc.details()}; retrying…"


class FleetWatch:
    """Relays WatchFleet(from_version) into a bounded queue; a stalled reader is dropped to a resync.

    The pump never blocks on the reader: when the queue is full it discards everything queued,
    leaves a single Resync, cancels its gRPC stream and, once the reader has taken the Resync,
    watches again from version 0 (a fresh snapshot). A broken stream is resumed from the last
    version received, with exponential backoff while the control plane is unreachable.
    """

    def __init__(
        self,
        stub: fleet_grpc.FleetServiceAsyncStub,
        from_version: int = 0,
        *,
        limit: int = 256,
        backoff_initial: float = 0.2,
        backoff_max: float = 3.0,
    ) -> None:
        if limit < 2:
            raise ValueError("the queue limit must be at least 2")
        self._stub = stub
        self.version = from_version
        self._queue: asyncio.Queue[Item] = asyncio.Queue(limit)
        self._drained = asyncio.Event()
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._connected: bool | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.pump_ended = asyncio.Event()
        """Set once the pump is done: after a drain, or when it failed (the reader then gets Drain)."""
        self.fell_behind = asyncio.Event()
        """Set once the reader fell behind and was dropped to a resync."""

    async def __aenter__(self) -> FleetWatch:
        self._task = asyncio.create_task(self._pump(), name="webui-watch-pump")
        self._task.add_done_callback(self._pump_done)
        return self

    def _pump_done(self, task: asyncio.Task[None]) -> None:
        """A pump that ended by itself ends the reader's stream too, instead of leaving it silent."""
        self.pump_ended.set()
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("the WatchFleet relay failed; ending the browser's stream", exc_info=exc)
        if not self._closing:
            self.drain()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def stop(self) -> None:
        """Cancel the pump and its gRPC stream; safe to call twice."""
        task, self._task = self._task, None
        if task is None:
            return
        await cancel_and_wait(task)  # a failure was logged already

    async def get(self) -> Item:
        """The next item for the browser."""
        item = await self._queue.get()
        if isinstance(item, Resync):
            self._drained.set()
        return item

    def drain(self) -> None:
        """Make the reader's next item a Drain, dropping whatever is queued; for good: the pump
        queues nothing more, so no overflow can replace the Drain with a Resync."""
        self._closing = True
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(Drain())

    def _offer(self, item: Item) -> bool:
        """Queue an item; False (after leaving a lone Resync) when the reader is too far behind,
        and False (queueing nothing: the Drain stays next) once draining."""
        if self._closing:
            return False
        try:
            self._queue.put_nowait(item)
            return True
        except asyncio.QueueFull:
            while not self._queue.empty():
                self._queue.get_nowait()
            self._drained.clear()
            self._queue.put_nowait(Resync())
            self.fell_behind.set()
            log.info("a browser fell behind; dropping it to a fresh snapshot")
            return False

    def _set_connected(self, connected: bool, message: str) -> bool:
        if self._connected == connected:
            return True
        self._connected = connected
        return self._offer(Status(connected, message))

    async def _pump(self) -> None:
        delay = self._backoff_initial
        while True:
            call = self._stub.WatchFleet(fleet_pb.WatchFleetRequest(from_version=self.version))
            overflowed = False
            try:
                await call.wait_for_connection()
                overflowed = not self._set_connected(True, "live")
                delay = self._backoff_initial
                if not overflowed:
                    async for response in call:
                        if not self._offer(response):
                            overflowed = True
                            break
                        self.version = response.version
            except grpc.aio.AioRpcError as exc:
                log.info("WatchFleet to the control plane broke (%s); reconnecting", exc.code().name)
                overflowed = not self._set_connected(False, _why(exc))
            finally:
                call.cancel()
            if self._closing:
                return
            if overflowed:
                await self._drained.wait()
                self.version = 0
                continue
            # Jitter keeps many browsers from reconnecting in lockstep after a restart.
            await asyncio.sleep(delay * (0.5 + random.random() / 2))
            delay = min(delay * 2, self._backoff_max)
