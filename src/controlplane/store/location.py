"""Where the database is: a SQLite file path or a PostgreSQL connection URI, and the engine for it.

The location comes from `--db`, else from the file `--db-file` names (its first line), else from
`FLEETDECK_DB_FILE` or `FLEETDECK_DB`; a file or the environment keeps a password out of process
listings (so do libpq's own PGPASSWORD and ~/.pgpass, which asyncpg reads too).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .interface import OUTPUT_CAP_BYTES, Store
from .postgres import PostgresStore
from .sqlite import SqliteStore

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(location: str | Path) -> bool:
    """Whether a location names a PostgreSQL database (a postgresql:// or postgres:// URI)."""
    return isinstance(location, str) and location.startswith(POSTGRES_SCHEMES)


def resolve_location(
    db: str | None,
    db_file: Path | None = None,
    environ: Mapping[str, str] = os.environ,
    default: str = "fleetdeck.db",
) -> str:
    """The database location from a flag, a file or the environment, in that order."""
    if db:
        return db
    file = db_file or (Path(environ["FLEETDECK_DB_FILE"]) if environ.get("FLEETDECK_DB_FILE") else None)
    if file is not None:
        try:
            lines = file.read_text().splitlines()
        except OSError as e:
            raise ValueError(f"cannot read the database location from {file}: {e.strerror}") from e
        if not lines or not lines[0].strip():
            raise ValueError(f"{file} is empty; its first line should be a file path or postgresql://…")
        return lines[0].strip()
    return environ.get("FLEETDECK_DB") or default


def redacted(location: str | Path) -> str:
    """A location fit for a log line: a URI's password is replaced by ***."""
    if not is_postgres(location):
        return str(location)
    parts = urlsplit(str(location))
    if parts.password is not None:
        user, host = parts.netloc.rsplit("@", 1)
        parts = parts._replace(netloc=f"{user.split(':', 1)[0]}:***@{host}")
    query = re.sub(r"(^|&)password=[^&]*", r"\1password=***", parts.query)
    return urlunsplit(parts._replace(query=query))


def make_store(location: str | Path, output_cap_bytes: int = OUTPUT_CAP_BYTES) -> Store:
    """The store for a location, not opened yet: PostgreSQL for a postgresql:// URI, else SQLite."""
    if is_postgres(location):
        return PostgresStore(str(location), output_cap_bytes)
    return SqliteStore(Path(location), output_cap_bytes)
