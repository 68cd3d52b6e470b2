"""Which engine errors are storage trouble — the server's condition, not the caller's fault.

Only the store knows its drivers' errors; callers get a sentence (or None) and map it to a status.
"""

from __future__ import annotations

import errno
import sqlite3

DATABASE_LOCKED = "the database is locked by another process; retry shortly"
DISK_FULL = "the disk holding the database is full; retry once space is freed"
DATABASE_UNREACHABLE = "the database server cannot be reached; retry once it is back"

# PostgreSQL's connection exceptions (class 08) and an administrator's or a crash's shutdown, or a
# server still starting (57P01-57P03).
_CONNECTION_LOST_STATES = ("57P01", "57P02", "57P03")


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
    if isinstance(error, ConnectionError) or _every_address_failed(error):
        return DATABASE_UNREACHABLE  # refused, reset or aborted on the way to the database server
    name = type(error).__name__  # asyncpg's, named rather than imported: the engine may be absent
    if name == "DiskFullError":
        return DISK_FULL
    if name in ("LockNotAvailableError", "DeadlockDetectedError"):
        return DATABASE_LOCKED
    state = getattr(error, "sqlstate", None)
    if isinstance(state, str) and (state.startswith("08") or state in _CONNECTION_LOST_STATES):
        return DATABASE_UNREACHABLE
    if name == "InterfaceError" and "connection is closed" in str(error):
        return DATABASE_UNREACHABLE
    return None


def _every_address_failed(error: BaseException) -> bool:
    """asyncio's error when a host name has several addresses and connecting to each one failed."""
    text = str(error)
    return isinstance(error, OSError) and text.startswith("Multiple exceptions:") and "Connect call" in text
