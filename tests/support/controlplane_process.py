"""`fleetdeck controlplane` as a real process: started, watched line by line, stopped or killed."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

from agent_world import COMMAND_TIMEOUT

READY = "control plane serving gRPC on"


class ControlPlaneProcess:
    """`fleetdeck controlplane` in a process group of its own; its output is kept, line by line."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.args = args
        self.env = env
        self.lines: list[str] = []
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    @property
    def grpc_target(self) -> str:
        return self.args[self.args.index("--grpc") + 1]

    async def start(self) -> None:
        """Start it and return once it serves."""
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "fleetdeck.cli", "controlplane", *self.args,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env=self.env, start_new_session=True,
        )  # fmt: skip
        serving = asyncio.Event()
        self._reader = asyncio.create_task(self._read(serving))
        try:
            async with asyncio.timeout(COMMAND_TIMEOUT):
                await serving.wait()
        except TimeoutError:
            raise AssertionError("the control plane never served:\n" + "\n".join(self.lines)) from None

    async def _read(self, serving: asyncio.Event) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))
            if READY in self.lines[-1]:
                serving.set()

    def command_line(self) -> str:
        """What a process listing shows of it."""
        assert self.proc is not None
        return Path(f"/proc/{self.proc.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()

    def kill(self) -> None:
        """kill -9, as a crash or a lost machine would end it."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)

    async def stop(self) -> int:
        """SIGTERM and its exit status (SIGKILL if it lingers)."""
        assert self.proc is not None and self._reader is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(COMMAND_TIMEOUT):
                code = await self.proc.wait()
        except TimeoutError:
            os.killpg(self.proc.pid, signal.SIGKILL)
            code = await self.proc.wait()
        await self._reader
        return code


def free_port() -> int:
    """A port nothing listens on now (for a process told where to listen)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
