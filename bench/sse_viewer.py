"""A cheap SSE client for the fan-out bench: one HTTP/1.1 GET on a raw asyncio connection, the chunked
body decoded in place, frames split at the blank line, and only what the bench needs looked at (the
snapshot's arrival, a change's sequence number and send time). A thousand of them cost the machine
a fraction of what httpx clients would, so the servers' figures are less the client's.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field

NOTE = re.compile(rb"bench (\d+) ([0-9.]+)")
"""What every measured change carries: its sequence number and the time it was sent."""


@dataclass
class Viewer:
    """One SSE client: when it had its snapshot, and every change it got with its latency."""

    started: float = 0.0
    live_at: float | None = None
    got: dict[int, tuple[float, float]] = field(default_factory=dict)
    """Sequence number -> (send time, latency) of every change received."""
    errors: int = 0
    why: str = ""
    snapshot_bytes: int = 0
    live: asyncio.Event = field(default_factory=asyncio.Event)


class Stream(asyncio.Protocol):
    """One `GET /events`; `ended` resolves when the connection is gone (with the reason, if any)."""

    def __init__(self, request: bytes, viewer: Viewer) -> None:
        self.request = request
        self.viewer = viewer
        self.ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self._head = bytearray()  # the response head, until its blank line
        self._in_body = False
        self._chunk_left = 0  # bytes of the current chunk still to come
        self._size_line = bytearray()  # a chunk-size line being read
        self._after_chunk = 0  # CR LF bytes after a chunk still to skip
        self._frames = bytearray()  # decoded body not yet split into frames
        self._scanned = 0  # where the search for the end of the frame in _frames goes on

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ended.done():
            self.ended.set_result(f"{type(exc).__name__}: {exc}" if exc else "closed by the server")

    def data_received(self, data: bytes) -> None:
        received = time.time()
        if not self._in_body:
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                return
            head, data = bytes(self._head[:end]), bytes(self._head[end + 4 :])
            status = head.split(b" ", 2)[1] if head.startswith(b"HTTP/1.1 ") else b"?"
            if status != b"200" or b"chunked" not in head.lower():
                self._fail(f"HTTP {status.decode(errors='replace')}")
                return
            self._in_body = True
        self._dechunk(data)
        self._split(received)

    def _dechunk(self, data: bytes) -> None:
        at, size = 0, len(data)
        while at < size:
            if self._after_chunk:
                skip = min(self._after_chunk, size - at)
                self._after_chunk -= skip
                at += skip
            elif self._chunk_left:
                take = min(self._chunk_left, size - at)
                self._frames += data[at : at + take]
                self._chunk_left -= take
                at += take
                if not self._chunk_left:
                    self._after_chunk = 2
            else:
                end = data.find(b"\n", at)
                if end < 0:
                    self._size_line += data[at:]
                    return
                self._size_line += data[at:end]
                at = end + 1
                length = int(bytes(self._size_line).strip().split(b";")[0] or b"0", 16)
                self._size_line.clear()
                if length == 0:
                    self._fail("the server ended the stream")
                    return
                self._chunk_left = length

    def _split(self, received: float) -> None:
        frames = self._frames
        start = 0
        while (end := frames.find(b"\r\n\r\n", max(start, self._scanned))) >= 0:
            frame = frames[start:end]
            start = end + 4
            viewer = self.viewer
            if viewer.live_at is None and frame.startswith(b"id: ") and b"event: snapshot" in frame[:64]:
                viewer.live_at = time.monotonic()
                viewer.snapshot_bytes = len(frame)
                viewer.live.set()
            elif b"event: host" in frame[:64] and (note := NOTE.search(frame)):
                sent = float(note[2])
                viewer.got[int(note[1])] = (sent, received - sent)
        del frames[:start]
        # A frame still arriving (a snapshot of a megabyte comes in pieces) is not searched again.
        self._scanned = max(0, len(frames) - 3)

    def _fail(self, why: str) -> None:
        if not self.ended.done():
            self.ended.set_result(why)
        self.close()


async def follow(
    host: str, port: int, path: str, headers: dict[str, str], viewer: Viewer, stop: asyncio.Event
) -> None:
    """Keep one SSE stream open until `stop`; a refused or dropped stream is counted and reopened."""
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Accept: text/event-stream"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    loop = asyncio.get_running_loop()
    viewer.started = time.monotonic()
    while not stop.is_set():
        stream = Stream(request, viewer)
        try:
            await loop.create_connection(lambda s=stream: s, host, port)  # type: ignore[misc]
            stopped = asyncio.ensure_future(stop.wait())
            try:
                done, _ = await asyncio.wait({stream.ended, stopped}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopped.cancel()
            if stream.ended in done and not stop.is_set():
                raise ConnectionError(stream.ended.result())
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            viewer.errors += 1
            viewer.why = f"{type(exc).__name__}: {exc}"
            await asyncio.sleep(0.5)
        finally:
            stream.close()
