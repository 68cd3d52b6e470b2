"""Reading output line by line: long lines split, no hang without a final newline."""

from __future__ import annotations

import asyncio

from agent.lines import MAX_LINE_BYTES, LineBatcher, read_lines
from agent.outbox import Line
from fleetdeck.v1 import types_pb2


async def _lines(data: bytes) -> list[str]:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    async with asyncio.timeout(5):
        return [line async for line in read_lines(reader)]


async def test_lines_over_64_kib_are_split() -> None:
    long = b"x" * (MAX_LINE_BYTES * 3 + 100)
    lines = await _lines(b"short\n" + long + b"\nafter\n")
    assert lines[0] == "short"
    assert [len(x) for x in lines[1:5]] == [MAX_LINE_BYTES] * 3 + [100]
    assert lines[5] == "after"
    assert "".join(lines[1:5]) == long.decode()


async def test_a_last_line_without_newline_and_crlf() -> None:
    assert await _lines(b"one\r\ntwo") == ["one", "two"]


async def test_a_line_of_exactly_64_kib_is_one_line() -> None:
    assert await _lines(b"y" * MAX_LINE_BYTES + b"\n") == ["y" * MAX_LINE_BYTES]


async def test_batcher_flushes_at_64_lines_and_after_a_delay() -> None:
    batches: list[list[Line]] = []
    flushed = asyncio.Event()

    def sink(lines: list[Line]) -> None:
        batches.append(lines)
        flushed.set()

    batcher = LineBatcher(sink, delay=0.05)
    for i in range(70):
        batcher.add((types_pb2.OUTPUT_STREAM_STDOUT, str(i)))
    assert [len(b) for b in batches] == [64]
    flushed.clear()
    async with asyncio.timeout(2):
        await flushed.wait()
    assert [len(b) for b in batches] == [64, 6]
