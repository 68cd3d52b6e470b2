"""The command shim: runs one operation's argv so that it outlives the agent.

`python -m agent.shim EXIT_FILE SPOOL_PREFIX [CAP_BYTES] -- ARGV...` starts ARGV in the shim's own
process group and tees its stdout and stderr: first to the spool (agent/spool.py, in state_dir), then
to the shim's own (the agent's pipes), so output the agent read but never had stored can be sent again
from the spool after the agent died. When the agent is gone (broken pipe) only the spool is written.
When ARGV ends, its exit code and how much each stream printed go to EXIT_FILE (JSON, written
atomically), so a restarted agent learns the outcome and what the spool lost.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import BinaryIO

from agent.spool import SPOOL_CAP_BYTES, Position, SpoolWriter


def command(exit_file: str, spool_prefix: str, argv: Sequence[str], cap: int = SPOOL_CAP_BYTES) -> list[str]:
    """The argv that runs `argv` under the shim with this interpreter."""
    return [sys.executable, "-m", "agent.shim", exit_file, spool_prefix, str(cap), "--", *argv]


def read_exit_file(path: str) -> dict[str, object] | None:
    """What the shim recorded when its command ended: {"exit_code", "error", "finished_at", "spool"}."""
    if not path:
        return None
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("exit_code"), int) else None


def spool_totals(exit_info: dict[str, object] | None) -> dict[str, Position]:
    """How much each stream printed in all, as the exit file records it (empty when unknown)."""
    spool = exit_info.get("spool") if exit_info is not None else None
    totals: dict[str, Position] = {}
    if isinstance(spool, dict):
        for stream, value in spool.items():
            if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
                totals[str(stream)] = Position(value[0], value[1])
    return totals


class _Tee:
    """One stream: to the spool first, then to the agent's pipe while the agent reads it."""

    def __init__(self, spool: SpoolWriter, fd: int) -> None:
        self.spool = spool
        self._fd = fd
        self._pipe_open = True

    def write(self, data: bytes) -> None:
        self.spool.write(data)
        if self._pipe_open:
            try:
                os.write(self._fd, data)
            except OSError:
                self._pipe_open = False  # the agent is gone; the spool has it all


def _copy(src: BinaryIO, tee: _Tee) -> None:
    while True:
        data = src.read1(65536)  # type: ignore[attr-defined]
        if not data:
            break
        tee.write(data)
    tee.spool.close()


def _write_exit(path: str, exit_code: int, error: str, tees: dict[str, _Tee]) -> None:
    tmp = f"{path}.tmp"
    spool = {name: [t.spool.position.bytes, t.spool.position.newlines] for name, t in tees.items()}
    with open(tmp, "w") as f:
        json.dump({"exit_code": exit_code, "error": error, "finished_at": time.time(), "spool": spool}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _ignore(signum: int, frame: FrameType | None) -> None:
    """SIGTERM reaches the whole group; the shim stays to record the child's exit."""


def main(argv: list[str]) -> int:
    """Run the command; returns its exit code (128 + signal when killed)."""
    cut = argv.index("--") if "--" in argv else -1
    if cut not in (2, 3) or len(argv) <= cut + 1 or (cut == 3 and not argv[2].isdigit()):
        print("usage: python -m agent.shim EXIT_FILE SPOOL_PREFIX [CAP_BYTES] -- ARGV...", file=sys.stderr)
        return 2
    exit_file, spool_prefix, command = argv[0], argv[1], argv[cut + 1 :]
    cap = int(argv[2]) if cut == 3 else SPOOL_CAP_BYTES
    signal.signal(signal.SIGTERM, _ignore)
    signal.signal(signal.SIGINT, _ignore)
    tees = {
        "stdout": _Tee(SpoolWriter(spool_prefix, "stdout", cap), 1),
        "stderr": _Tee(SpoolWriter(spool_prefix, "stderr", cap), 2),
    }
    try:
        child = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except OSError as exc:
        message = f"[fleetdeck] cannot run {command[0]}: {exc.strerror}\n"
        tees["stderr"].write(message.encode())
        tees["stderr"].spool.close()
        _write_exit(exit_file, 127, message.strip(), tees)
        return 127
    assert child.stdout is not None and child.stderr is not None
    copiers = [
        threading.Thread(target=_copy, args=(child.stdout, tees["stdout"]), daemon=True),
        threading.Thread(target=_copy, args=(child.stderr, tees["stderr"]), daemon=True),
    ]
    for t in copiers:
        t.start()
    code = child.wait()
    for t in copiers:
        # Leftover processes of the command may hold its pipes open; the agent kills them.
        t.join(timeout=2.0)
    _write_exit(exit_file, code, "", tees)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
