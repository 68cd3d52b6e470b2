"""The output spool: segments, replay from a position, what is missing, and the marks log."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.spool import (
    Mark,
    Position,
    SpoolWriter,
    compact_marks,
    mark_through,
    record_mark,
    remove,
    replay,
)


def _write(tmp_path: Path, chunks: list[bytes], cap: int = 1 << 20) -> Position:
    writer = SpoolWriter(str(tmp_path / "c"), "stdout", cap)
    for chunk in chunks:
        writer.write(chunk)
    writer.close()
    return writer.position


def test_a_writer_counts_bytes_and_newlines_and_keeps_two_segments(tmp_path: Path) -> None:
    total = _write(tmp_path, [b"a\n", b"bb\n", b"ccc\n", b"dddd\n"], cap=16)  # segments of 4 bytes
    assert total == Position(14, 4)
    names = sorted(p.name for p in tmp_path.glob("c.stdout.*"))
    assert names == ["c.stdout.5-2", "c.stdout.9-3"]


@pytest.mark.parametrize(
    ("start", "expected_lines", "expected_gaps"),
    [
        (Position(0, 0), ["one", "two", "three"], []),
        (Position(4, 1), ["two", "three"], []),
        (Position(14, 3), [], []),
    ],
)
def test_replay_starts_where_the_control_plane_stopped_storing(
    tmp_path: Path, start: Position, expected_lines: list[str], expected_gaps: list[tuple[int, int]]
) -> None:
    total = _write(tmp_path, [b"one\ntwo\n", b"three\n"])
    got = replay(str(tmp_path / "c"), "stdout", start, total)
    assert (got.lines, got.gaps, got.end) == (expected_lines, expected_gaps, total)


def test_a_capped_head_and_a_lost_tail_are_counted_where_they_were(tmp_path: Path) -> None:
    total = _write(tmp_path, [b"1\n2\n", b"3\n4\n", b"5\n6\n", b"7\n8\n"], cap=16)
    # The cap kept the last two segments (lines 5-8); then the last one lost its tail.
    last = max(tmp_path.glob("c.stdout.*"), key=lambda p: int(p.name.rsplit(".", 1)[1].split("-")[0]))
    last.write_bytes(b"7\n")
    got = replay(str(tmp_path / "c"), "stdout", Position(2, 1), total)
    assert got.lines == ["5", "6", "7"]
    assert got.gaps == [(0, 3), (3, 1)]  # lines 2-4 capped away, line 8 lost


def test_the_marks_log_gives_the_mark_through_a_stored_seq_and_forgets_later_ones(tmp_path: Path) -> None:
    path = tmp_path / "c.marks"
    marks = {seq: Mark(Position(seq * 10, seq), Position(seq, 0)) for seq in (2, 3, 5)}
    for seq, mark in marks.items():
        record_mark(path, seq, mark)
    assert mark_through(path, 4) == marks[3]  # 4 was a line of the agent's own, without a mark
    assert mark_through(path, 9) == marks[3]  # 5 was forgotten: it is numbered again in this life
    assert mark_through(path, 1) == Mark()
    assert mark_through(tmp_path / "none.marks", 7) == Mark()


def test_remove_deletes_only_that_commands_files(tmp_path: Path) -> None:
    for name in ("a.exit", "a.marks", "a.stdout.0-0", "b.stdout.0-0"):
        (tmp_path / name).write_text("x")
    remove(tmp_path, "a")
    assert [p.name for p in tmp_path.iterdir()] == ["b.stdout.0-0"]


def test_the_marks_log_is_compacted_to_what_an_acknowledgement_still_needs(tmp_path: Path) -> None:
    path = tmp_path / "c.marks"
    for seq in range(1, 101):
        record_mark(path, seq, Mark(Position(seq, seq)))
    compact_marks(path, 90, keep_bytes=1 << 20)
    assert len(path.read_text().splitlines()) == 100  # under its bound: left alone
    compact_marks(path, 90, keep_bytes=100)
    assert [int(line.split()[0]) for line in path.read_text().splitlines()] == list(range(90, 101))
    assert mark_through(path, 95) == Mark(Position(95, 95))


def test_a_spill_file_of_a_shim_from_before_the_spool_is_replayed_whole(tmp_path: Path) -> None:
    (tmp_path / "c.stdout").write_bytes(b"printed while the agent was down\n")
    got = replay(str(tmp_path / "c"), "stdout", Position(), None)
    assert got.lines == ["printed while the agent was down"]
