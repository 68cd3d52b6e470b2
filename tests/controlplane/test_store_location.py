"""Where the database is: a path or a postgresql:// URI from a flag, a file or the environment, the
engine chosen for it, and a URI's password kept out of log lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlplane.store import PostgresStore, SqliteStore, make_store, redacted, resolve_location


@pytest.mark.parametrize(
    ("location", "engine"),
    [
        ("fleet.db", SqliteStore),
        ("/var/lib/fleetdeck/fleet.db", SqliteStore),
        (Path("fleet.db"), SqliteStore),
        ("postgresql://fleetdeck@db.internal/fleet", PostgresStore),
        ("postgres://fleetdeck:pw@127.0.0.1:5432/fleet?sslmode=require", PostgresStore),
        ("postgresql:///fleet?host=/run/postgresql", PostgresStore),
    ],
)
def test_the_engine_follows_the_location(location: str | Path, engine: type) -> None:
    assert isinstance(make_store(location), engine)


URI = "postgresql://fleetdeck:pw@db/fleet"


@pytest.mark.parametrize(
    ("db", "file_text", "environ", "expected"),
    [
        ("given.db", URI, {"FLEETDECK_DB": "env.db"}, "given.db"),  # the flag wins
        (None, URI + "\n# a comment on the second line\n", {"FLEETDECK_DB": "env.db"}, URI),  # then the file
        (None, None, {"FLEETDECK_DB_FILE": "FILE", "FLEETDECK_DB": "env.db"}, URI),  # a file named by env
        (None, None, {"FLEETDECK_DB": URI}, URI),  # then the environment
        (None, None, {}, "fleetdeck.db"),  # then the default
    ],
)
def test_the_location_comes_from_a_flag_a_file_or_the_environment(
    tmp_path: Path, db: str | None, file_text: str | None, environ: dict[str, str], expected: str
) -> None:
    file = tmp_path / "db-url"
    file.write_text(URI + "\n")
    if file_text is not None:
        file.write_text(file_text)
    environ = {k: str(file) if v == "FILE" else v for k, v in environ.items()}
    assert resolve_location(db, file if file_text is not None else None, environ) == expected


def test_an_unreadable_or_empty_location_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read the database location from"):
        resolve_location(None, tmp_path / "missing", {})
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ValueError, match="is empty"):
        resolve_location(None, tmp_path / "empty", {})


@pytest.mark.parametrize(
    ("location", "shown"),
    [
        ("postgresql://fleetdeck:s3cret@db:5432/fleet", "postgresql://fleetdeck:***@db:5432/fleet"),
        ("postgresql://fleetdeck@db/fleet", "postgresql://fleetdeck@db/fleet"),
        ("postgresql://db/fleet?user=f&password=s3cret", "postgresql://db/fleet?user=f&password=***"),
        ("/var/lib/fleetdeck/fleet.db", "/var/lib/fleetdeck/fleet.db"),
    ],
)
def test_a_password_never_reaches_a_log_line(location: str, shown: str) -> None:
    assert redacted(location) == shown
