"""Running one process in its own process group: output line by line, deadline, stop, cleanup."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from agent.lines import read_pieces
from agent.outbox import Line
from fleetdeck.tasks import cancel_and_wait, spawn_logged
from fleetdeck.v1 import types_pb2

logger = logging.getLogger(__name__)

_DRAIN_SECONDS = 2.0
_POLL_SECONDS = 0.5
_CHILD_POLL_SECONDS = 0.05


class StopReason(enum.Enum):
    """Why a process was stopped before it ended by itself."""

    CANCELLED = "cancelled"
    TIMED_OUT = "timed out"


@dataclass(frozen=True)
class ProcessResult:
    """How a process ended."""

    exit_code: int
    stopped: StopReason | None = None
    error: str = ""


def kill_group(pgid: int, sig: signal.Signals) -> None:
    """Send `sig` to a process group; a group that is gone already is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


PieceHook = Callable[[types_pb2.OutputStream, int, bool], None]


async def _pump(
    pipe: IO[bytes] | None,
    stream: types_pb2.OutputStream,
    on_line: Callable[[Line], None],
    on_piece: PieceHook | None,
) -> None:
    if pipe is None:
        return
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    try:
        async for text, n_bytes, newline in read_pieces(reader):
            if on_piece is not None:
                on_piece(stream, n_bytes, newline)  # first: a batch flushed by on_line includes it
            on_line((stream, text))
    finally:
        transport.close()


def _pidfd(pid: int) -> int | None:
    """A pidfd for `pid`, or None where the OS has none; ProcessLookupError when it is gone."""
    if not hasattr(os, "pidfd_open"):
        return None
    try:
        return os.pidfd_open(pid)
    except ProcessLookupError:
        raise
    except OSError:
        return None


async def _wait_pidfd(fd: int) -> None:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not done.done():
            done.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await done
    finally:
        loop.remove_reader(fd)
        os.close(fd)


async def wait_exit(pid: int) -> None:
    """Wait until a process that is not our child has ended (pidfd where the OS has it, else a poll)."""
    try:
        fd = _pidfd(pid)
    except ProcessLookupError:
        return
    if fd is not None:
        await _wait_pidfd(fd)
        return
    # No pidfd (macOS): a slow poll is the portable way to wait for a process that is not our child.
    while pid_alive(pid) and not _is_zombie(pid):  # noqa: ASYNC110
        await asyncio.sleep(_POLL_SECONDS)


async def _wait_child(popen: subprocess.Popen[bytes]) -> int:
    if popen.poll() is not None:
        return popen.returncode
    try:
        fd = _pidfd(popen.pid)
    except ProcessLookupError:
        fd = None
    if fd is not None:
        await _wait_pidfd(fd)
    else:
        while popen.poll() is None:  # noqa: ASYNC110 - no pidfd on this OS
            await asyncio.sleep(_CHILD_POLL_SECONDS)
    return popen.wait()


async def _wait_or_stop(
    popen: subprocess.Popen[bytes], stop: asyncio.Event, deadline: float | None
) -> StopReason | None:
    waiter = asyncio.ensure_future(_wait_child(popen))
    stopper = asyncio.ensure_future(stop.wait())
    try:
        timeout = None if deadline is None else max(0.0, deadline - asyncio.get_running_loop().time())
        done, _ = await asyncio.wait({waiter, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        stopper.cancel()
    if waiter in done:
        return None
    return StopReason.CANCELLED if stopper in done else StopReason.TIMED_OUT


async def terminate(popen: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM to the process group, SIGKILL after `grace` seconds."""
    kill_group(popen.pid, signal.SIGTERM)
    try:
        async with asyncio.timeout(grace):
            await _wait_child(popen)
    except TimeoutError:
        logger.info("process group %d still running %.1f s after SIGTERM; sending SIGKILL", popen.pid, grace)
    kill_group(popen.pid, signal.SIGKILL)


async def run_process(
    argv: Sequence[str],
    *,
    on_line: Callable[[Line], None],
    stop: asyncio.Event,
    grace: float,
    deadline: float | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    on_start: Callable[[int], None] | None = None,
    detach: asyncio.Event | None = None,
    on_piece: PieceHook | None = None,
) -> ProcessResult:
    """Run argv in a new session until it ends, `stop` is set or the loop-time `deadline` passes.

    When `detach` is set as the run is cancelled, the process is left running (the agent is shutting
    down and the command must outlive it); otherwise its group is killed and awaited. `on_piece`
    hears the bytes each line took from its pipe (and whether a newline ended it), before the line.
    """
    try:
        # subprocess.Popen, not asyncio's: an asyncio transport kills a still-running child when it
        # is garbage collected, and a detached switch must outlive the agent.
        popen = subprocess.Popen(  # noqa: ASYNC220
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            cwd=cwd,
            env=dict(env) if env is not None else None,
        )
    except OSError as exc:
        return ProcessResult(exit_code=-1, error=f"cannot run {argv[0]}: {exc.strerror or exc}")
    if on_start is not None:
        on_start(popen.pid)
    stopped: StopReason | None = None
    try:
        pumps = [
            spawn_logged(
                _pump(pipe, stream, on_line, on_piece), name=f"pump-{popen.pid}-{stream}", logger=logger
            )
            for pipe, stream in (
                (popen.stdout, types_pb2.OUTPUT_STREAM_STDOUT),
                (popen.stderr, types_pb2.OUTPUT_STREAM_STDERR),
            )
        ]
        try:
            stopped = await _wait_or_stop(popen, stop, deadline)
            if stopped is not None:
                await terminate(popen, grace)
            else:
                # Whatever the command left behind in its group is part of it.
                kill_group(popen.pid, signal.SIGKILL)
            _, pending = await asyncio.wait(pumps, timeout=_DRAIN_SECONDS)
            if pending:
                logger.warning("output of process %d still open after it ended; closing", popen.pid)
        finally:
            await cancel_and_wait(*pumps)
    finally:
        for pipe in (popen.stdout, popen.stderr):
            if pipe is not None:
                pipe.close()
        if popen.poll() is None and not (detach is not None and detach.is_set()):
            kill_group(popen.pid, signal.SIGKILL)
            await asyncio.shield(_wait_child(popen))
    code = popen.returncode if popen.returncode is not None else -1
    return ProcessResult(exit_code=code if code >= 0 else -1, stopped=stopped)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"
