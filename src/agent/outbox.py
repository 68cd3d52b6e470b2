"""The outbox: output and results waiting for the control plane's acknowledgement.

Sequence and line numbers are assigned when an entry is first sent, so output dropped from a full
spool (only entries never sent) leaves no gap: a SYSTEM marker line takes its place.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from fleetdeck.v1 import agent_service_pb2, types_pb2

from .lines import BATCH_BYTES, BATCH_LINES, MAX_LINE_BYTES
from .spool import Mark

logger = logging.getLogger(__name__)

Line = tuple[types_pb2.OutputStream, str]
Result = agent_service_pb2.CommandFinished | types_pb2.TestRun

_LINE_OVERHEAD = 16


def dropped_marker(n_bytes: int) -> str:
    """The SYSTEM line that stands in for output dropped from a full spool."""
    return f"[fleetdeck] {n_bytes} bytes of output dropped (agent spool full)"


@dataclass
class Entry:
    """One acknowledged-kind message of a command: an output chunk, a test run or the finish."""

    command_id: str
    lines: list[Line] = field(default_factory=list)
    result: Result | None = None
    dropped_bytes: int = 0
    seq: int = 0
    first_line: int = 0
    size: int = 0
    # Where this entry's output ends in the command's spool on disk (shimmed commands only).
    mark: Mark | None = None

    @property
    def is_output(self) -> bool:
        """Whether this is an output chunk (droppable while never sent)."""
        return self.result is None

    @property
    def is_finish(self) -> bool:
        """Whether this is the command's CommandFinished."""
        return isinstance(self.result, agent_service_pb2.CommandFinished)

    def to_request(self) -> agent_service_pb2.ConnectRequest:
        """The message to send (the entry must be numbered)."""
        if isinstance(self.result, agent_service_pb2.CommandFinished):
            finished = agent_service_pb2.CommandFinished()
            finished.CopyFrom(self.result)
            finished.command_id = self.command_id
            finished.seq = self.seq
            return agent_service_pb2.ConnectRequest(command_finished=finished)
        if isinstance(self.result, types_pb2.TestRun):
            report = agent_service_pb2.TestRunReport(command_id=self.command_id, seq=self.seq)
            report.run.CopyFrom(self.result)
            return agent_service_pb2.ConnectRequest(test_run=report)
        chunk = agent_service_pb2.OutputChunk(command_id=self.command_id, seq=self.seq)
        for i, (stream, text) in enumerate(self.lines):
            chunk.lines.add(number=self.first_line + i, stream=stream, text=text)
        return agent_service_pb2.ConnectRequest(output=chunk)


def _batches(lines: list[Line]) -> list[list[Line]]:
    """Lines split at MAX_LINE_BYTES and grouped BATCH_LINES (and at most BATCH_BYTES) at a time."""
    batches: list[list[Line]] = []
    current: list[Line] = []
    size = 0
    for stream, text in lines:
        pieces = [text] if len(text) <= MAX_LINE_BYTES // 4 else _split(text)
        for piece in pieces:
            piece_size = len(piece.encode()) + _LINE_OVERHEAD
            if current and (len(current) >= BATCH_LINES or size + piece_size > BATCH_BYTES):
                batches.append(current)
                current, size = [], 0
            current.append((stream, piece))
            size += piece_size
    if current:
        batches.append(current)
    return batches


def _split(text: str) -> list[str]:
    """A long line in pieces of at most MAX_LINE_BYTES bytes of UTF-8."""
    pieces: list[str] = []
    piece: list[str] = []
    size = 0
    for char in text:
        n = len(char.encode())
        if size + n > MAX_LINE_BYTES:
            pieces.append("".join(piece))
            piece, size = [], 0
        piece.append(char)
        size += n
    pieces.append("".join(piece))
    return pieces


def _lines_size(lines: list[Line]) -> int:
    return sum(len(text) + _LINE_OVERHEAD for _, text in lines)


@dataclass
class _Counters:
    next_seq: int | None
    next_line: int
    acked_seq: int = 0
    acked_lines: int = 0
    # From an earlier life of the agent: (seq, lines through it) it saw acknowledged.
    known: tuple[int, int] | None = None


NumberedHook = Callable[[Entry], None]
AckedHook = Callable[[str, int, int], None]


class Outbox:
    """Entries in send order; [0, numbered) carry seq numbers, [0, cursor) went out on this stream."""

    def __init__(
        self, spool_bytes: int, on_numbered: NumberedHook | None = None, on_acked: AckedHook | None = None
    ) -> None:
        self.spool_bytes = spool_bytes
        self.in_flight_limit = max(1, spool_bytes // 2)
        self._entries: list[Entry] = []
        self._numbered = 0
        self._cursor = 0
        self._size = 0
        self._counters: dict[str, _Counters] = {}
        self._changed = asyncio.Event()
        self._on_numbered = on_numbered
        self._on_acked = on_acked

    @property
    def size(self) -> int:
        """Bytes held (approximately: text plus a per-line overhead)."""
        return self._size

    def __len__(self) -> int:
        return len(self._entries)

    def begin(
        self,
        command_id: str,
        next_seq: int | None = 1,
        next_line: int = 0,
        known: tuple[int, int] | None = None,
    ) -> None:
        """Start numbering a command; next_seq None waits for the control plane's ack to set it.

        For a command of an earlier life of the agent, `next_line` is a safe guess (past any line
        it may have sent) and `known` the (seq, lines) it saw acknowledged: when the welcome's ack
        matches that seq, numbering resumes exactly where the stored output ends.
        """
        self._counters[command_id] = _Counters(next_seq, next_line, known=known)

    def knows(self, command_id: str) -> bool:
        """Whether the command was begun and not yet fully acknowledged."""
        return command_id in self._counters

    def next_line(self, command_id: str) -> int:
        """The next line number the command would get."""
        return self._counters[command_id].next_line

    def command_ids(self) -> list[str]:
        """Commands with entries not yet acknowledged."""
        return list(dict.fromkeys(e.command_id for e in self._entries))

    def add_output(self, command_id: str, lines: list[Line], mark: Mark | None = None) -> None:
        """Queue lines of output; drops the oldest unsent output while the spool is over its bound.

        However many lines come at once (output spilled while the agent was down can be megabytes),
        each entry holds at most BATCH_LINES lines of at most MAX_LINE_BYTES, so every message fits
        the stream's message limit. `mark` (where the lines end in the spool) goes on the last entry.
        """
        entries = [Entry(command_id, lines=batch, size=_lines_size(batch)) for batch in _batches(lines)]
        if entries:
            entries[-1].mark = mark
        for entry in entries:
            self._append(entry)
        self._enforce_bound()

    def add_result(self, command_id: str, result: Result, seq: int = 0) -> None:
        """Queue a result (never dropped); `seq` when it was numbered before (journal)."""
        entry = Entry(command_id, result=result, size=result.ByteSize() + _LINE_OVERHEAD, seq=seq)
        if seq:
            # Numbered in an earlier life of the agent: it goes before anything unnumbered.
            self._entries.insert(self._numbered, entry)
            self._numbered += 1
            self._size += entry.size
            self._changed.set()
        else:
            self._append(entry)

    def _append(self, entry: Entry) -> None:
        self._entries.append(entry)
        self._size += entry.size
        self._changed.set()

    def _enforce_bound(self) -> None:
        i = self._numbered
        while self._size > self.spool_bytes and i < len(self._entries):
            entry = self._entries[i]
            if not entry.is_output:
                i += 1
                continue
            if entry.dropped_bytes:
                nxt = self._entries[i + 1] if i + 1 < len(self._entries) else None
                if nxt is None or not nxt.is_output or nxt.command_id != entry.command_id:
                    i += 1
                    continue
                dropped = nxt.dropped_bytes or sum(len(text.encode()) + 1 for _, text in nxt.lines)
                del self._entries[i + 1]
                self._size -= nxt.size
                entry.mark = nxt.mark or entry.mark
                self._set_marker(entry, entry.dropped_bytes + dropped)
                continue
            dropped = sum(len(text.encode()) + 1 for _, text in entry.lines)
            self._size -= entry.size
            self._set_marker(entry, dropped)
            logger.warning(
                "outbox over %d bytes: dropped output of command %s", self.spool_bytes, entry.command_id
            )

    def _set_marker(self, entry: Entry, dropped: int) -> None:
        self._size -= entry.size if entry.dropped_bytes else 0
        entry.dropped_bytes = dropped
        entry.lines = [(types_pb2.OUTPUT_STREAM_SYSTEM, dropped_marker(dropped))]
        entry.size = _lines_size(entry.lines)
        self._size += entry.size

    def ack(self, command_id: str, seq: int) -> bool:
        """Drop the command's entries up to seq; True when that included its CommandFinished."""
        finished = False
        kept: list[Entry] = []
        numbered = cursor = 0
        lines_through = 0
        for i, entry in enumerate(self._entries):
            if entry.command_id == command_id and 0 < entry.seq <= seq:
                finished = finished or entry.is_finish
                if entry.is_output:
                    lines_through = max(lines_through, entry.first_line + len(entry.lines))
                self._size -= entry.size
                continue
            kept.append(entry)
            numbered += i < self._numbered
            cursor += i < self._cursor
        self._entries, self._numbered, self._cursor = kept, numbered, cursor
        counters = self._counters.get(command_id)
        if counters is not None and seq > counters.acked_seq and counters.next_seq is not None:
            counters.acked_seq = seq
            counters.acked_lines = max(counters.acked_lines, lines_through)
            if self._on_acked is not None and not finished:
                self._on_acked(command_id, counters.acked_seq, counters.acked_lines)
        if finished:
            self._counters.pop(command_id, None)
        self._changed.set()
        return finished

    def restart_stream(self, acks: dict[str, int]) -> None:
        """A new stream: apply the welcome's acks, set pending seq bases, resend from the start."""
        for command_id, counters in self._counters.items():
            if counters.next_seq is None:
                highest = max(
                    [acks.get(command_id, 0)]
                    + [e.seq for e in self._entries if e.command_id == command_id and e.seq]
                )
                counters.next_seq = highest + 1
                acked = acks.get(command_id, 0)
                if counters.known is not None and counters.known[0] == acked and highest == acked:
                    counters.next_line = counters.known[1]
                counters.acked_seq, counters.acked_lines = acked, counters.next_line
        for command_id, seq in acks.items():
            if seq:
                self.ack(command_id, seq)
        self._cursor = 0
        self._changed.set()

    def _in_flight(self) -> int:
        return sum(e.size for e in self._entries[: self._cursor])

    def _ready(self) -> Entry | None:
        if self._cursor >= len(self._entries):
            return None
        entry = self._entries[self._cursor]
        counters = self._counters.get(entry.command_id)
        if not entry.seq and (counters is None or counters.next_seq is None):
            return None
        if self._cursor > 0 and self._in_flight() >= self.in_flight_limit:
            return None
        return entry

    def _number(self, entry: Entry) -> None:
        counters = self._counters[entry.command_id]
        assert counters.next_seq is not None
        entry.seq = counters.next_seq
        counters.next_seq += 1
        if entry.is_output:
            entry.first_line = counters.next_line
            counters.next_line += len(entry.lines)
        self._numbered += 1
        if self._on_numbered is not None:
            self._on_numbered(entry)

    def take_ready(self) -> agent_service_pb2.ConnectRequest | None:
        """The next message to send on this stream if one may go now, numbering it on first send."""
        entry = self._ready()
        if entry is None:
            return None
        if not entry.seq:
            self._number(entry)
        self._cursor += 1
        return entry.to_request()

    async def next_request(self) -> agent_service_pb2.ConnectRequest:
        """The next message to send on this stream; waits for one."""
        while True:
            self._changed.clear()
            request = self.take_ready()
            if request is not None:
                return request
            await self._changed.wait()
