"""The shim: records the exit code and how much was printed, and tees all output to its spool."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from agent.shim import command, read_exit_file, spool_totals
from agent.spool import SPOOL_CAP_BYTES, Position, replay


def _shim(tmp_path: Path, argv: list[str], read: bool, cap: int = SPOOL_CAP_BYTES) -> tuple[int, bytes]:
    shim = command(str(tmp_path / "c.exit"), str(tmp_path / "c"), argv, cap)
    proc = subprocess.Popen(shim, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    if read:
        out = proc.stdout.read()
    else:
        proc.stdout.close()  # the agent is gone: nobody reads the shim's stdout any more
        out = b""
    return proc.wait(timeout=15), out


def test_the_exit_code_is_recorded(tmp_path: Path, script: Callable[..., Path]) -> None:
    path = script("cmd.sh", "echo hello\nexit 3")
    assert _shim(tmp_path, [str(path)], read=True) == (3, b"hello\n")
    assert json.loads((tmp_path / "c.exit").read_text())["exit_code"] == 3


def test_output_the_agent_reads_is_in_the_spool_too(tmp_path: Path, script: Callable[..., Path]) -> None:
    path = script("cmd.sh", "echo one\necho two >&2\necho three\nexit 0")
    assert _shim(tmp_path, [str(path)], read=True) == (0, b"one\nthree\n")
    assert (tmp_path / "c.stdout.0-0").read_bytes() == b"one\nthree\n"
    assert (tmp_path / "c.stderr.0-0").read_bytes() == b"two\n"
    totals = spool_totals(read_exit_file(str(tmp_path / "c.exit")))
    assert totals == {"stdout": Position(10, 2), "stderr": Position(4, 1)}


def test_output_nobody_reads_goes_to_the_spool(tmp_path: Path, script: Callable[..., Path]) -> None:
    path = script("cmd.sh", "sleep 0.3\necho after the agent died\nexit 0")
    code, _ = _shim(tmp_path, [str(path)], read=False)
    assert code == 0
    assert (tmp_path / "c.stdout.0-0").read_text() == "after the agent died\n"
    assert json.loads((tmp_path / "c.exit").read_text())["exit_code"] == 0


def test_a_spool_over_its_cap_keeps_the_tail_and_counts_what_fell_out(
    tmp_path: Path, script: Callable[..., Path]
) -> None:
    # Each line is written on its own (a pipe read per echo), so segments turn over at line ends.
    path = script("cmd.sh", 'for i in $(seq 1 400); do echo "line $i"; sleep 0.001; done')
    code, _ = _shim(tmp_path, [str(path)], read=False, cap=4000)
    assert code == 0
    assert len(list(tmp_path.glob("c.stdout.*"))) <= 2
    assert sum(p.stat().st_size for p in tmp_path.glob("c.std*")) <= 4000
    total = spool_totals(read_exit_file(str(tmp_path / "c.exit")))["stdout"]
    got = replay(str(tmp_path / "c"), "stdout", Position(), total)
    [(at, missing)] = got.gaps
    assert at == 0 and got.lines[-1] == "line 400"
    assert missing + len(got.lines) == 400
    assert got.lines == [f"line {i}" for i in range(missing + 1, 401)]


def test_a_missing_program_is_exit_127(tmp_path: Path) -> None:
    code, _ = _shim(tmp_path, [str(tmp_path / "nope")], read=True)
    assert code == 127
    assert "cannot run" in json.loads((tmp_path / "c.exit").read_text())["error"]
