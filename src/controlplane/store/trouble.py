"""Which engine errors are storage trouble — the server's condition, not the caller's fault.

Only the store knows its drivers' errors; callers get a sentence (or None) and map it to a status.
"""

from __future__ import annotations

import errno
import sqlite3

DATABASE_LOCKED = "the database is locked by another process; retry shortly"
DISK_FULL = "the disk holding the database is full; retry once space is freed"


def trouble(error: BaseException) -> str | None:
    """The sentence for the storage condition behind `error`, or None when it is none."""
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return DISK_FULL
    if isinstance(error, sqlite3.Error):
        text = str(error).lower()
        if "locked" in text or "busy" in text:
            return DATABASE_LOCKED
        if "disk is full" in text:
            return DISK_FULL
    name = type(error).__name__  # asyncpg's, named rather than imported: the engine may be absent
    if name == "DiskFullError":
        return DISK_FULL
    if name in ("LockNotAvailableError", "DeadlockDetectedError"):
        return DATABASE_LOCKED
    return None
