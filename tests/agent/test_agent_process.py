"""Running one process: its own group, stop with a grace period, leftovers, long lines."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.outbox import Line
from agent.process import ProcessResult, StopReason, run_process


async def _run(
    argv: list[str], stop: asyncio.Event | None = None, deadline: float | None = None
) -> tuple[ProcessResult, list[Line]]:
    lines: list[Line] = []
    async with asyncio.timeout(15):
        result = await run_process(
            argv, on_line=lines.append, stop=stop or asyncio.Event(), grace=0.5, deadline=deadline
        )
    return result, lines


async def test_stdout_and_stderr_lines_and_the_exit_code(script: Callable[..., Path]) -> None:
    path = script("p.sh", "echo out\necho err >&2\nexit 4")
    result, lines = await _run([str(path)])
    assert result == ProcessResult(exit_code=4)
    assert sorted(text for _, text in lines) == ["err", "out"]


async def test_a_huge_line_without_newline_arrives_split(script: Callable[..., Path]) -> None:
    path = script("p.sh", "head -c 200000 /dev/zero | tr '\\0' 'a'")
    result, lines = await _run([str(path)])
    assert result.exit_code == 0
    assert [len(text) for _, text in lines] == [65536, 65536, 65536, 200000 - 3 * 65536]


async def test_stop_sends_sigterm_then_sigkill_to_the_group(script: Callable[..., Path]) -> None:
    path = script("p.sh", "trap 'echo term' TERM\necho ready\nwhile true; do sleep 0.05; done")
    stop = asyncio.Event()
    lines: list[Line] = []

    def on_line(line: Line) -> None:
        lines.append(line)
        if line[1] == "ready":
            stop.set()

    async with asyncio.timeout(15):
        result = await run_process([str(path)], on_line=on_line, stop=stop, grace=0.5)
    assert result == ProcessResult(exit_code=-1, stopped=StopReason.CANCELLED)
    assert "term" in [text for _, text in lines]


async def test_the_deadline_kills_a_command_that_runs_too_long(script: Callable[..., Path]) -> None:
    path = script("p.sh", "sleep 30")
    deadline = asyncio.get_running_loop().time() + 0.3
    result, _ = await _run([str(path)], deadline=deadline)
    assert result == ProcessResult(exit_code=-1, stopped=StopReason.TIMED_OUT)


async def test_leftover_background_processes_do_not_hang_the_run(script: Callable[..., Path]) -> None:
    path = script("p.sh", "sleep 300 &\necho done")
    loop = asyncio.get_running_loop()
    started = loop.time()
    result, lines = await _run([str(path)])
    assert result.exit_code == 0 and lines == [(1, "done")]
    assert loop.time() - started < 2


async def test_a_missing_program_is_an_error_not_a_crash(tmp_path: Path) -> None:
    result, _ = await _run([str(tmp_path / "nope")])
    assert result.exit_code == -1 and result.error.startswith("cannot run")


async def test_without_pidfd_as_on_macos(
    script: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("agent.process._pidfd", lambda pid: None)
    path = script("p.sh", "echo hi\nexit 2")
    result, lines = await _run([str(path)])
    assert result == ProcessResult(exit_code=2) and lines == [(1, "hi")]
    stop = asyncio.Event()
    stop.set()
    result, _ = await _run([str(script("q.sh", "sleep 30"))], stop=stop)
    assert result.stopped is StopReason.CANCELLED
