"""A real PostgreSQL 15 (Debian's `postgresql` package) for the tests: one throw-away cluster per test
session, owned by an unprivileged user (the server refuses to run as root), on a unix socket in a temp
directory and a free TCP port on 127.0.0.1. Each test gets a fresh, empty namespace of its own: a new
schema of the session's one database, named in the URI's search_path (CREATE DATABASE takes a third of
a second here, a schema a few milliseconds; the store never names a schema, so it cannot tell)."""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


def _binaries() -> Path:
    """The server binaries of Debian's newest installed PostgreSQL (15 on Debian 12)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


BINARIES = _binaries()
DATABASE = "fleetdeck"


@dataclass
class Cluster:
    """A running cluster: where it listens, a counter for database names, and how to stop and start it."""

    host: str
    port: int
    user: str
    _numbers: Iterator[int]
    data: Path
    options: str
    owner: str | None

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`fast`: its clients' connections are ended); its data stays."""
        subprocess.run(
            _as_owner(self.owner, BINARIES / "pg_ctl", "-D", self.data, "-m", mode, "-w", "stop"),
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        """Start the server on its port again (pg_ctl waits until it accepts connections)."""
        log = self.data.parent / "server.log"
        subprocess.run(
            _as_owner(
                self.owner, BINARIES / "pg_ctl", "-D", self.data, "-l", log, "-o", self.options, "-w", "start"
            ),
            check=True,
            capture_output=True,
        )

    def dsn(self, database: str) -> str:
        """The connection URI of a database of this cluster."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL with psql (as the cluster's superuser) and return its unaligned output."""
        return subprocess.run(
            [BINARIES / "psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", "-d", self.dsn(database), "-c", sql],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    def new_database(self) -> str:
        """The connection URI of a fresh, empty schema of the tests' database."""
        name = f"test_{next(self._numbers)}"
        self.psql(f"CREATE SCHEMA {name}", DATABASE)
        return f"{self.dsn(DATABASE)}?search_path={name}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner(owner: str | None, *command: str | Path) -> list[str]:
    args = [str(part) for part in command]
    return ["runuser", "-u", owner, "--", *args] if owner else args


def require_postgres() -> None:
    """Skip the test when PostgreSQL is not installed (fail it on CI, which must have it)."""
    if not (BINARIES / "initdb").exists():
        message = "PostgreSQL 15 is not installed (scripts/setup --test installs Debian's postgresql)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    """A PostgreSQL cluster for this test session, removed afterwards."""
    require_postgres()
    with running_cluster() as cluster:
        yield cluster


@contextlib.contextmanager
def running_cluster(durable: bool = False) -> Iterator[Cluster]:
    """Start a throw-away cluster (`durable`: with PostgreSQL's default fsync and synchronous commit,
    for a measurement); stop and remove it afterwards."""
    # Root may not run the server: the cluster then belongs to the `postgres` user the package made.
    owner = "postgres" if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="fleetdeck-pg-"))
    data, sockets = base / "data", base / "run"
    sockets.mkdir()
    if owner:
        entry = pwd.getpwnam(owner)
        for path in (base, sockets):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    user = owner or pwd.getpwuid(os.geteuid()).pw_name
    subprocess.run(
        _as_owner(
            owner,
            BINARIES / "initdb",
            "-D",
            data,
            "-U",
            user,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ),
        check=True,
        capture_output=True,
    )
    port = _free_port()
    options = f"-k {sockets} -p {port} -c listen_addresses=127.0.0.1"
    if not durable:
        # Durability is the server's business, not these tests': a crash loses a throw-away cluster.
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    cluster = Cluster("127.0.0.1", port, user, itertools.count(1), data, options, owner)
    cluster.start()
    try:
        cluster.psql(f"CREATE DATABASE {DATABASE}")
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # a test may have stopped it
            cluster.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)
