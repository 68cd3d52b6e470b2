"""The command shim: runs one operation's argv so that it outlives the agent.

`python -m agent.shim EXIT_FILE SPILL_PREFIX -- ARGV...` starts ARGV in the shim's own process group,
copies its stdout and stderr to the shim's (the agent's pipes), and when the agent is gone (broken
pipe) appends them to SPILL_PREFIX.stdout / .stderr instead. When ARGV ends, its exit code goes to
EXIT_FILE (JSON, written atomically), so an agent restarted by its own switch learns the outcome.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from types import FrameType
from typing import BinaryIO


def _copy(src: BinaryIO, fd: int, spill_path: str) -> None:
    spill: BinaryIO | None = None
    while True:
        data = src.read1(65536)  # type: ignore[attr-defined]
        if not data:
            break
        if spill is None:
            try:
                os.write(fd, data)
                continue
            except OSError:
                spill = open(spill_path, "ab")  # noqa: SIM115
        spill.write(data)
        spill.flush()
    if spill is not None:
        spill.close()


def _write_exit(path: str, exit_code: int, error: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump({"exit_code": exit_code, "error": error, "finished_at": time.time()}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _ignore(signum: int, frame: FrameType | None) -> None:
    """SIGTERM reaches the whole group; the shim stays to record the child's exit."""


def main(argv: list[str]) -> int:
    """Run the command; returns its exit code (128 + signal when killed)."""
    if len(argv) < 4 or argv[2] != "--":
        print("usage: python -m agent.shim EXIT_FILE SPILL_PREFIX -- ARGV...", file=sys.stderr)
        return 2
    exit_file, spill_prefix, command = argv[0], argv[1], argv[3:]
    signal.signal(signal.SIGTERM, _ignore)
    signal.signal(signal.SIGINT, _ignore)
    try:
        child = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except OSError as exc:
        message = f"[fleetdeck] cannot run {command[0]}: {exc.strerror}\n"
        with contextlib.suppress(OSError):
            os.write(2, message.encode())
        _write_exit(exit_file, 127, message.strip())
        return 127
    assert child.stdout is not None and child.stderr is not None
    copiers = [
        threading.Thread(target=_copy, args=(child.stdout, 1, f"{spill_prefix}.stdout"), daemon=True),
        threading.Thread(target=_copy, args=(child.stderr, 2, f"{spill_prefix}.stderr"), daemon=True),
    ]
    for t in copiers:
        t.start()
    code = child.wait()
    for t in copiers:
        # Leftover processes of the command may hold its pipes open; the agent kills them.
        t.join(timeout=2.0)
    _write_exit(exit_file, code, "")
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
