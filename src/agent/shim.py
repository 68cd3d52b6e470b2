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
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from fleetdeck.v1 import types_pb2


def command(exit_file: str, spill_prefix: str, argv: Sequence[str]) -> list[str]:
    """The argv that runs `argv` under the shim with this interpreter."""
    return [sys.executable, "-m", "agent.shim", exit_file, spill_prefix, "--", *argv]


def read_exit_file(path: str) -> dict[str, object] | None:
    """What the shim recorded when its command ended: {"exit_code", "error", "finished_at"}."""
    if not path:
        return None
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("exit_code"), int) else None


def read_spill(prefix: str) -> list[tuple[types_pb2.OutputStream, str]]:
    """Output the shim wrote to its spill files while no agent was reading."""
    # Imported here: the shim itself starts before every switch and stays free of protobuf.
    from fleetdeck.v1 import types_pb2

    lines: list[tuple[types_pb2.OutputStream, str]] = []
    streams = ((".stdout", types_pb2.OUTPUT_STREAM_STDOUT), (".stderr", types_pb2.OUTPUT_STREAM_STDERR))
    for suffix, stream in streams:
        try:
            data = Path(prefix + suffix).read_bytes() if prefix else b""
        except OSError:
            continue
        lines += [(stream, t) for t in data.decode("utf-8", errors="replace").splitlines()]
    return lines


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
