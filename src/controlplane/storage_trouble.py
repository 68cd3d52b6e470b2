"""Storage trouble: a locked database or a full disk is the server's condition, not the caller's fault.

`trouble(error)` names it as an Unavailable the caller may retry; anything else is not storage trouble.
"""

from __future__ import annotations

import errno
import sqlite3

from .errors import Unavailable

LOCKED = "the database is locked by another process; retry shortly"
DISK_FULL = "the disk holding the database is full; retry once space is freed"


class StorageUnavailable(Unavailable):
    """The store cannot write right now (locked, disk full); the caller should retry later."""

    retry_after = 5


def trouble(error: BaseException) -> StorageUnavailable | None:
    """The storage condition behind `error`, or None when it is something else."""
    if isinstance(error, StorageUnavailable):
        return error
    text = str(error).lower()
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return StorageUnavailable(DISK_FULL)
    if isinstance(error, sqlite3.OperationalError | sqlite3.DatabaseError):
        if "locked" in text or "busy" in text:
            return StorageUnavailable(LOCKED)
        if "disk is full" in text or "disk i/o" in text:
            return StorageUnavailable(DISK_FULL)
    name = type(error).__name__
    if name in ("DiskFullError",):  # asyncpg's, without importing the driver here
        return StorageUnavailable(DISK_FULL)
    if name in ("LockNotAvailableError", "DeadlockDetectedError"):
        return StorageUnavailable(LOCKED)
    return None
