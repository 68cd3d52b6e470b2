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


def take_lines(buf: bytearray, final: bool, max_bytes: int = MAX_LINE_BYTES) -> list[tuple[str, int, bool]]:
    """Cut the complete lines off the front of `buf`: (text, bytes taken, whether a newline ended it).

    A line longer than max_bytes comes out in max_bytes pieces; with `final` the rest is a line too.
    The live pipe and the spool file both go through here, so their pieces always match.
    """
    pieces: list[tuple[str, int, bool]] = []
    while buf:
        end = buf.find(b"\n", 0, max_bytes + 1)
        if end != -1:
            pieces.append((_decode(buf[:end]), end + 1, True))
            del buf[: end + 1]
        elif len(buf) > max_bytes or final:
            n = min(len(buf), max_bytes)
            pieces.append((_decode(buf[:n]), n, False))
            del buf[:n]
        else:
            break
    return pieces


async def read_pieces(
    reader: asyncio.StreamReader, max_bytes: int = MAX_LINE_BYTES
) -> AsyncIterator[tuple[str, int, bool]]:
    """Lines as take_lines cuts them, until the end of the stream."""
    buf = bytearray()
    while True:
        data = await reader.read(65536)
        buf += data
        for piece in take_lines(buf, final=not data, max_bytes=max_bytes):
            yield piece
        if not data:
            return


async def read_lines(reader: asyncio.StreamReader, max_bytes: int = MAX_LINE_BYTES) -> AsyncIterator[str]:
    """Lines without their newline; a line longer than max_bytes comes out in max_bytes pieces."""
    async for text, _, _ in read_pieces(reader, max_bytes):
        yield text


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
