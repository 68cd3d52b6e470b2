"""The output spool: what a shimmed command printed, on disk before the agent may send it.

The shim appends each stream to segment files `<prefix>.<stream>.<bytes>-<newlines>` (named for where
the segment starts in the stream), keeping at most two per stream so a command's spool stays under
SPOOL_CAP_BYTES (the tail is kept; what fell out is counted as missing when replayed). The agent
numbers output entries and appends, before sending, each entry's spool position to `<prefix>.marks`;
after a restart the control plane's acknowledged sequence number picks the position to replay from.

Nothing here is fsynced: the spool guards against the agent's death (kill -9, OOM, a bug), which the
page cache survives; on a power loss the command dies too, and what the cache lost shows as missing.
Free of protobuf: the shim imports this module before every switch.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from agent.lines import take_lines

SPOOL_CAP_BYTES = 10 * 1024 * 1024  # per command, like the control plane's stored output
STREAMS = ("stdout", "stderr")


@dataclass(frozen=True)
class Position:
    """A place in one stream of a command's output: bytes and newlines before it."""

    bytes: int = 0
    newlines: int = 0

    def after(self, n_bytes: int, newline: bool) -> Position:
        """The position after `n_bytes` more, the last of them a newline or not."""
        return Position(self.bytes + n_bytes, self.newlines + newline)


@dataclass(frozen=True)
class Mark:
    """Where an output entry ends in both streams of the spool."""

    stdout: Position = Position()
    stderr: Position = Position()

    def of(self, stream: str) -> Position:
        """The position in one stream ("stdout" or "stderr")."""
        return self.stdout if stream == "stdout" else self.stderr


class SpoolWriter:
    """Appends one stream to its segment files (the shim's side); a failed write starts a new segment."""

    def __init__(self, prefix: str, stream: str, cap: int = SPOOL_CAP_BYTES) -> None:
        self._prefix = prefix
        self._stream = stream
        self._segment_cap = max(1, cap // (2 * len(STREAMS)))  # two segments per stream
        self._fd = -1
        self._size = 0
        self._segments: list[str] = []
        self.position = Position()

    def write(self, data: bytes) -> None:
        """Append `data`; a full disk loses it from the spool (counted as missing later), never the pipe."""
        try:
            if self._fd < 0 or (self._size and self._size + len(data) > self._segment_cap):
                self._rotate()
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            self._size += len(data)
        except OSError:
            self.close()
        self.position = Position(self.position.bytes + len(data), self.position.newlines + data.count(b"\n"))

    def _rotate(self) -> None:
        self.close()
        path = segment_path(self._prefix, self._stream, self.position)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        self._size = 0
        self._segments.append(path)
        while len(self._segments) > 2:
            with contextlib.suppress(OSError):
                os.unlink(self._segments.pop(0))

    def close(self) -> None:
        """Close the current segment."""
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1


def segment_path(prefix: str, stream: str, start: Position) -> str:
    """The file of the segment of `stream` that starts at `start`."""
    return f"{prefix}.{stream}.{start.bytes}-{start.newlines}"


def segments(prefix: str, stream: str) -> list[tuple[Position, Path]]:
    """The segments of a stream on disk, in stream order."""
    base = Path(prefix)
    found: list[tuple[Position, Path]] = []
    for path in base.parent.glob(f"{base.name}.{stream}.*-*"):
        start_bytes, _, start_newlines = path.name.rsplit(".", 1)[1].partition("-")
        if start_bytes.isdigit() and start_newlines.isdigit():
            found.append((Position(int(start_bytes), int(start_newlines)), path))
    legacy = base.with_name(f"{base.name}.{stream}")
    if not found and legacy.is_file():
        # A shim from before the spool (still running across the agent's upgrade) wrote only what
        # nobody read, and its agent recorded no marks: all of that file is unsent.
        found.append((Position(), legacy))
    return sorted(found, key=lambda item: item[0].bytes)


@dataclass
class Replay:
    """What the spool still holds of one stream from a position on, and where lines are gone."""

    lines: list[str]
    gaps: list[tuple[int, int]]  # (index in lines where it is, lines missing there)
    end: Position  # where the replay ends in the stream


def replay(prefix: str, stream: str, start: Position, total: Position | None) -> Replay:
    """Lines of `stream` from `start` on, cut as the live pipe cut them.

    `total` (from the exit file) says how much the stream printed in all, so a lost tail is counted.
    """
    lines: list[str] = []
    gaps: list[tuple[int, int]] = []
    buf = bytearray()
    at = start
    for seg_start, path in segments(prefix, stream):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if seg_start.bytes + len(data) <= at.bytes:
            continue
        if seg_start.bytes > at.bytes:
            # A gap: capped away, or lost to a full disk. The partial line before it ends here.
            lines += [text for text, _, _ in take_lines(buf, final=True)]
            gaps.append((len(lines), max(seg_start.newlines - at.newlines, 1)))
            at = seg_start
        chunk = data[at.bytes - seg_start.bytes :]
        buf += chunk
        lines += [text for text, _, _ in take_lines(buf, final=False)]
        at = Position(at.bytes + len(chunk), at.newlines + chunk.count(b"\n"))
    lines += [text for text, _, _ in take_lines(buf, final=True)]
    if total is not None and total.bytes > at.bytes:
        gaps.append((len(lines), max(total.newlines - at.newlines, 1)))
        at = total
    return Replay(lines, gaps, at)


def missing_marker(n_lines: int, stream: str) -> str:
    """The SYSTEM line that says output is gone for good."""
    return f"[fleetdeck] {n_lines} lines missing from {stream} (lost from the agent's spool)"


# -- the marks log: where each numbered output entry ends in the spool ---------------------------------


def record_mark(path: Path, seq: int, mark: Mark) -> None:
    """Append an entry's mark before the entry is sent."""
    o, e = mark.stdout, mark.stderr
    with path.open("a") as f:
        f.write(f"{seq} {o.bytes} {o.newlines} {e.bytes} {e.newlines}\n")


def _records(path: Path) -> list[tuple[int, Mark]]:
    try:
        text = path.read_text()
    except OSError:
        return []
    records: list[tuple[int, Mark]] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 5 and all(f.isdigit() for f in fields):
            n, ob, on, eb, en = (int(f) for f in fields)
            records.append((n, Mark(Position(ob, on), Position(eb, en))))
    return records


def _rewrite(path: Path, records: list[tuple[int, Mark]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    lines = (
        f"{n} {m.stdout.bytes} {m.stdout.newlines} {m.stderr.bytes} {m.stderr.newlines}\n" for n, m in records
    )
    tmp.write_text("".join(lines))
    os.replace(tmp, path)


def mark_through(path: Path, seq: int) -> Mark:
    """The spool position through sequence number `seq`; forgets the marks of later (unstored) entries.

    Those later numbers are numbered again by this agent's life, so their old marks must go.
    """
    kept = [(n, mark) for n, mark in _records(path) if n <= seq]
    if path.exists():
        with contextlib.suppress(OSError):  # a full disk: the stale marks stay, a later replay may repeat
            _rewrite(path, kept)
    return max(kept, key=lambda r: r[0])[1] if kept else Mark()


def compact_marks(path: Path, acked_seq: int, keep_bytes: int = 64 * 1024) -> None:
    """Once the log is over `keep_bytes`, drop the marks the acknowledgement of `acked_seq` made useless."""
    try:
        if path.stat().st_size <= keep_bytes:
            return
    except OSError:
        return
    records = _records(path)
    through = [r for r in records if r[0] <= acked_seq]
    with contextlib.suppress(OSError):  # only a size bound; the log stays correct uncompacted
        _rewrite(path, through[-1:] + [r for r in records if r[0] > acked_seq])


def remove(directory: Path, command_id: str) -> None:
    """Delete a command's exit file, spool segments and marks (its result is acknowledged)."""
    for path in directory.glob(f"{command_id}.*"):
        path.unlink(missing_ok=True)
