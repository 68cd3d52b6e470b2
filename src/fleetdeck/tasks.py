"""Two asyncio habits shared by the agent and the control plane: cancel-and-wait, spawn-and-log.

`contextlib.suppress(CancelledError)` after `task.cancel()` also swallows the *caller's* own
cancellation; `cancel_and_wait` never does. A task started with a bare `create_task` fails silently;
`spawn_logged` logs its failure once, where it happens.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_log = logging.getLogger(__name__)


async def cancel_and_wait(*tasks: asyncio.Task[Any] | None) -> None:
    """Cancel the tasks and wait until each has ended.

    The tasks' own ending (cancelled, finished or failed) is absorbed: whoever supervises a task
    reports its failure (see `spawn_logged`). A cancellation of the caller while it waits is never
    absorbed: it propagates, and the tasks are still cancelled.
    """
    pending = [t for t in tasks if t is not None]
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
    for task in pending:
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not warn that it never was


def spawn_logged(
    coro: Coroutine[Any, Any, T],
    *,
    name: str,
    logger: logging.Logger | None = None,
    keep: set[asyncio.Task[Any]] | None = None,
) -> asyncio.Task[T]:
    """Start `coro` as a task named `name`; log its failure (not its cancellation) when it ends.

    With `keep`, the task is held in that set while it runs (asyncio keeps only weak references to
    tasks) and removed when it ends.
    """
    task = asyncio.create_task(coro, name=name)
    target = logger or _log

    def done(finished: asyncio.Task[T]) -> None:
        if keep is not None:
            keep.discard(finished)
        if finished.cancelled():
            return
        error = finished.exception()
        if error is not None:
            target.error("background task %s failed", finished.get_name(), exc_info=error)

    if keep is not None:
        keep.add(task)
    task.add_done_callback(done)
    return task
