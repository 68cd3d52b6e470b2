"""The shim: records the exit code, and spills output to files once nobody reads its pipes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path


def _shim(tmp_path: Path, argv: list[str], read: bool) -> tuple[int, bytes]:
    shim = [sys.executable, "-m", "agent.shim", str(tmp_path / "c.exit"), str(tmp_path / "c"), "--", *argv]
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


def test_output_nobody_reads_goes_to_the_spill_file(tmp_path: Path, script: Callable[..., Path]) -> None:
    path = script("cmd.sh", "sleep 0.3\necho after the agent died\nexit 0")
    code, _ = _shim(tmp_path, [str(path)], read=False)
    assert code == 0
    assert (tmp_path / "c.stdout").read_text() == "after the agent died\n"
    assert json.loads((tmp_path / "c.exit").read_text())["exit_code"] == 0


def test_a_missing_program_is_exit_127(tmp_path: Path) -> None:
    code, _ = _shim(tmp_path, [str(tmp_path / "nope")], read=True)
    assert code == 127
    assert "cannot run" in json.loads((tmp_path / "c.exit").read_text())["error"]
