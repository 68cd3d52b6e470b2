"""spawn() logs what a background task fails with; cancel_and_wait() keeps the caller's cancellation."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from fleetdeck.tasks import cancel_and_wait, spawn

logger = logging.getLogger("tests.tasks")


async def _finishes_when(release: asyncio.Event, cancelled: asyncio.Event) -> None:
    """Block; once cancelled, take until `release` to finish (cleanup that needs the loop)."""
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        cancelled.set()
        await release.wait()
        raise


async def test_cancel_and_wait_returns_once_the_task_has_ended() -> None:
    task = asyncio.create_task(asyncio.Event().wait())
    await cancel_and_wait(task)
    assert task.cancelled()


async def test_cancel_and_wait_accepts_none_and_a_finished_task() -> None:
    await cancel_and_wait(None)
    task = asyncio.create_task(asyncio.sleep(0, "done"))
    await task
    await cancel_and_wait(task)
    assert task.result() == "done"


async def test_the_callers_own_cancellation_is_not_swallowed() -> None:
    release, child_cancelled = asyncio.Event(), asyncio.Event()
    child = asyncio.create_task(_finishes_when(release, child_cancelled))
    caller_went_on = False

    async def caller() -> None:
        nonlocal caller_went_on
        await cancel_and_wait(child)
        caller_went_on = True

    outer = asyncio.create_task(caller())
    async with asyncio.timeout(5):
        await child_cancelled.wait()
        # The child finishes and the caller is cancelled in the same step: the race that
        # `with suppress(CancelledError): await child` loses by swallowing the caller's cancellation.
        release.set()
        outer.cancel()
        await asyncio.wait({outer})
    assert outer.cancelled()
    assert not caller_went_on
    assert child.done()


async def test_a_caller_cancelled_before_it_cleans_up_stays_cancelled() -> None:
    child = asyncio.create_task(asyncio.Event().wait())
    started = asyncio.Event()

    async def caller() -> None:
        try:
            started.set()
            await asyncio.Event().wait()
        finally:
            await cancel_and_wait(child)

    outer = asyncio.create_task(caller())
    async with asyncio.timeout(5):
        await started.wait()
        outer.cancel()
        await asyncio.wait({outer})
    assert outer.cancelled()
    assert child.cancelled()


async def test_spawn_logs_a_failure_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    async def fails() -> None:
        raise ValueError("the disk is on fire")

    tasks: set[asyncio.Task[Any]] = set()
    task = spawn(fails(), name="writer", tasks=tasks, logger=logger)
    assert task in tasks
    await asyncio.wait({task})
    # spawn's done callback was added first, so it has run before asyncio.wait's own.
    assert tasks == set()
    [record] = [r for r in caplog.records if r.name == "tests.tasks"]
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "task writer failed"
    assert record.exc_info is not None and "the disk is on fire" in str(record.exc_info[1])


async def test_spawn_logs_nothing_for_a_result_or_a_cancellation(caplog: pytest.LogCaptureFixture) -> None:
    tasks: set[asyncio.Task[Any]] = set()
    done = spawn(asyncio.sleep(0, 7), name="quick", tasks=tasks, logger=logger)
    waiting = spawn(asyncio.Event().wait(), name="waiting", tasks=tasks, logger=logger)
    assert await done == 7
    await cancel_and_wait(waiting)
    assert tasks == set()
    assert [r for r in caplog.records if r.name == "tests.tasks"] == []
