"""cancel_and_wait and spawn_logged: what they absorb and what they never absorb."""

from __future__ import annotations

import asyncio
import logging

import pytest

from fleetdeck.tasks import cancel_and_wait, spawn_logged


async def test_cancel_and_wait_ends_a_running_task() -> None:
    task = asyncio.create_task(asyncio.Event().wait())
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    assert task.cancelled()


async def test_cancel_and_wait_absorbs_a_task_that_failed() -> None:
    async def fail() -> None:
        raise ValueError("boom")

    task = asyncio.create_task(fail())
    await asyncio.sleep(0)
    await cancel_and_wait(task, None)
    assert isinstance(task.exception(), ValueError)


async def test_cancel_and_wait_never_absorbs_the_callers_cancellation() -> None:
    stubborn_started = asyncio.Event()
    release = asyncio.Event()

    async def stubborn() -> None:
        stubborn_started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await release.wait()  # takes its time to stop

    inner = asyncio.create_task(stubborn())
    await stubborn_started.wait()
    caller = asyncio.create_task(cancel_and_wait(inner))
    await asyncio.sleep(0)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    release.set()
    await asyncio.wait([inner])
    assert inner.done()


async def test_spawn_logged_logs_a_failure_and_forgets_the_task(caplog: pytest.LogCaptureFixture) -> None:
    keep: set[asyncio.Task[None]] = set()

    async def fail() -> None:
        raise RuntimeError("disk full")

    task = spawn_logged(fail(), name="prune", keep=keep)
    assert task in keep
    with caplog.at_level(logging.ERROR):
        await asyncio.wait([task])
        await asyncio.sleep(0)  # done callbacks run on the next loop iteration
    assert not keep
    assert "background task prune failed" in caplog.text and "disk full" in caplog.text


async def test_spawn_logged_does_not_log_a_cancellation(caplog: pytest.LogCaptureFixture) -> None:
    task = spawn_logged(asyncio.Event().wait(), name="idle")
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR):
        await cancel_and_wait(task)
        await asyncio.sleep(0)
    assert caplog.text == ""
