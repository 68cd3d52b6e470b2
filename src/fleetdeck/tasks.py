"""Background tasks done one way: spawn them so failures are logged, cancel them and wait."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel `task` and wait until it has ended; never swallows the caller's own cancellation.

    The task's CancelledError stays here. An exception it ended with is not raised here either: it
    is the task's failure, not the caller's (spawn() logs it; asyncio reports any other unretrieved
    one). When the calling task is itself being cancelled, that cancellation goes on up.
    """
    if task is None:
        return
    task.cancel()
    await asyncio.wait({task})  # a cancellation of the caller interrupts this wait and goes on up
    current = asyncio.current_task()
    if current is not None and current.cancelling():
        # Cancelled while the task was finishing (or before): swallowing that is the bug we avoid.
        raise asyncio.CancelledError


def spawn(
    coro: Coroutine[Any, Any, Any],
    *,
    name: str,
    tasks: set[asyncio.Task[Any]] | None = None,
    logger: logging.Logger,
) -> asyncio.Task[Any]:
    """Start `coro` as a task; its failure is logged with a traceback, never lost.

    With `tasks`, the set holds a strong reference until the task ends (the loop keeps only a weak one).
    """
    task = asyncio.create_task(coro, name=name)
    if tasks is not None:
        tasks.add(task)

    def done(ended: asyncio.Task[Any]) -> None:
        if tasks is not None:
            tasks.discard(ended)
        if ended.cancelled():
            return
        error = ended.exception()
        if error is not None:
            logger.error("task %s failed", ended.get_name(), exc_info=error)

    task.add_done_callback(done)
    return task
