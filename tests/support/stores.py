"""A real SQLite store in a temporary directory, and the small rows store tests build on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from controlplane.store import SqliteStore
from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import types_pb2 as pb


@asynccontextmanager
async def opened_store(path: Path, output_cap_bytes: int | None = None) -> AsyncIterator[SqliteStore]:
    """A store opened on `path` (created and migrated as needed), closed afterwards."""
    store = SqliteStore(path) if output_cap_bytes is None else SqliteStore(path, output_cap_bytes)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


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
