"""Real stores for the tests, on every engine: `database` is a fresh, empty database (a SQLite file in
tmp_path, or a database of the session's PostgreSQL cluster) and `store` is a store opened on it; both
fixtures are parametrized over the engines, so a store test runs once per engine. Also the small rows
store tests build on.

A control plane's tests take their database from `plane_database`: SQLite, unless the test is marked
`both_engines` (a module says `pytestmark = pytest.mark.both_engines`), which runs it once per engine."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType

import pytest

from controlplane.store import PostgresStore, SqliteStore, make_store
from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import types_pb2 as pb

ENGINES = ("sqlite", "postgres")

EngineStore = SqliteStore | PostgresStore


class DiskError(Exception):
    """A failure injected into a transaction part way."""


def aggregate_module(aggregate: str) -> ModuleType:
    """The module of one aggregate's queries, both engines' (where a test injects a failure)."""
    return importlib.import_module(f"controlplane.store.queries.{aggregate}")


@asynccontextmanager
async def opened_store(
    location: str | Path, output_cap_bytes: int | None = None
) -> AsyncIterator[EngineStore]:
    """A store opened on `location` (created and migrated as needed), closed afterwards."""
    store = make_store(location) if output_cap_bytes is None else make_store(location, output_cap_bytes)
    assert isinstance(store, SqliteStore | PostgresStore)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """The engine a store test runs on."""
    return str(request.param)


def fresh_database(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> Path | str:
    """A fresh, empty database of `engine`: a file in tmp_path, or a new schema's postgresql:// URI."""
    if engine == "sqlite":
        return tmp_path / "fleet.db"
    return str(request.getfixturevalue("postgres_cluster").new_database())


@pytest.fixture
def database(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database of the engine: a file path or a postgresql:// URI."""
    return str(fresh_database(engine, tmp_path, request))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked `both_engines` that runs a control plane runs once per engine."""
    if "plane_engine" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_engines"):
        metafunc.parametrize("plane_engine", ENGINES, indirect=True)


@pytest.fixture
def plane_engine(request: pytest.FixtureRequest) -> str:
    """The engine under a test's control plane: SQLite unless the test is marked `both_engines`."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def plane_database(plane_engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> Path | str:
    """A fresh, empty database for a test's control plane (restart it on the same one to restart)."""
    return fresh_database(plane_engine, tmp_path, request)


@pytest.fixture
async def store(database: str) -> AsyncIterator[EngineStore]:
    """A store opened on a fresh database of the engine."""
    async with opened_store(database) as opened:
        yield opened


def command(
    command_id: str,
    host: str = "gpc0",
    operation: int = pb.OPERATION_SWITCH,
    state: int = pb.COMMAND_STATE_PENDING,
) -> pb.Command:
    """A command as the command manager inserts it (exit code -1 until it finishes)."""
    return pb.Command(id=command_id, host=host, operation=operation, state=state, exit_code=-1)


def chunk(command_id: str, seq: int, *texts: str, first_line: int = 0) -> agent_pb.OutputChunk:
    """An output chunk with one line per text, numbered from `first_line`."""
    lines = [pb.OutputLine(number=first_line + i, text=text) for i, text in enumerate(texts)]
    return agent_pb.OutputChunk(command_id=command_id, seq=seq, lines=lines)
