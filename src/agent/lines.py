"""Reading a process's output line by line (long lines split) and batching lines for the outbox."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # outbox imports this module's limits
    from agent.outbox import Line

MAX_LINE_BYTES = 64 * 1024
BATCH_LINES = 64
BATCH_BYTES = 1024 * 1024
BATCH_SECONDS = 0.05


def _decode(data: bytes | bytearray) -> str:
    return bytes(data).decode("utf-8", errors="replace").removesuffix("\r")


async def read_lines(reader: asyncio.StreamReader, max_bytes: int = MAX_LINE_BYTES) -> AsyncIterator[str]:
    """Lines without their newline; a line longer than max_bytes comes out in max_bytes pieces."""
    buf = bytearray()
    while True:
        data = await reader.read(65536)
        if not data:
            while buf:
                yield _decode(buf[:max_bytes])
                del buf[:max_bytes]
            return
        buf += data
        while True:
            end = buf.find(b"\n", 0, max_bytes + 1)
            if end == -1:
                if len(buf) <= max_bytes:
                    break
                yield _decode(buf[:max_bytes])
                del buf[:max_bytes]
                continue
            yield _decode(buf[:end])
            del buf[: end + 1]


class LineBatcher:
    """Collects lines and hands them to `sink` in batches: at 64 lines, 1 MiB, or 50 ms after the first."""

    def __init__(self, sink: Callable[[list[Line]], None], delay: float = BATCH_SECONDS) -> None:
        self._sink = sink
        self._delay = delay
        self._lines: list[Line] = []
        self._bytes = 0
        self._timer: asyncio.TimerHandle | None = None

    def add(self, line: Line) -> None:
        """Queue one line."""
        self._lines.append(line)
        self._bytes += len(line[1])
        if len(self._lines) >= BATCH_LINES or self._bytes >= BATCH_BYTES:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._delay, self.flush)

    def flush(self) -> None:
        """Hand over what is queued now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._lines:
            lines, self._lines, self._bytes = self._lines, [], 0
            self._sink(lines)
