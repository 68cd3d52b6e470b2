"""Logging set-up shared by every process: text from outside cannot forge or split a log line."""

from __future__ import annotations

import logging
import re
from typing import IO

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escaped(text: str) -> str:
    """`text` with every control character (newlines included) written as a visible escape."""
    return _CONTROL.sub(lambda m: _NAMED.get(m.group(), m.group().encode("unicode_escape").decode()), text)


def _safe(value: object) -> object:
    if value is None or isinstance(value, bool | int | float):
        return value  # numbers keep their %d / %.1f formatting
    return escaped(str(value))


class EscapingFilter(logging.Filter):
    """Escapes control characters in a record's arguments (host names, versions, token names... all
    come from outside); the message format itself is ours and kept as written."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, dict):
            record.args = {key: _safe(value) for key, value in record.args.items()}
        elif record.args:
            record.args = tuple(_safe(value) for value in record.args)
        elif isinstance(record.msg, str):
            record.msg = escaped(record.msg)  # a message logged without arguments may hold anything
        return True


def install(handler: logging.Handler) -> logging.Handler:
    """Put the escaping filter on `handler` (once)."""
    if not any(isinstance(f, EscapingFilter) for f in handler.filters):
        handler.addFilter(EscapingFilter())
    return handler


# Libraries whose DEBUG lines carry SQL parameters (webhook secrets, token hashes): never below INFO.
QUIET_LIBRARIES = ("aiosqlite", "asyncpg")


def setup(level: int | str, stream: IO[str] | None = None, fmt: str = FORMAT) -> None:
    """The process's logging: `fmt` lines on `stream` (stderr), every handler of the root escaping."""
    logging.basicConfig(level=level, format=fmt, stream=stream)
    for handler in logging.getLogger().handlers:
        install(handler)
    for name in QUIET_LIBRARIES:
        library = logging.getLogger(name)
        library.setLevel(max(library.getEffectiveLevel(), logging.INFO))
