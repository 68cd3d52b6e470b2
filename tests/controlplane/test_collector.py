"""What `fleetdeck controlplane` built at its start is kept out of the garbage collector's full passes:
under a flood of junk streams each full pass otherwise walked all of it (60-90 ms, measured by
bench/abuse.py), and a call caught in one waited that long."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from controlplane import cli
from controlplane.config import ControlPlaneConfig


async def test_the_command_freezes_what_its_start_built_once_it_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = ControlPlaneConfig(
        require_api_tokens=False, database=tmp_path / "fleet.db", grpc_address="127.0.0.1:0"
    )
    ready = tmp_path / "ready.json"
    frozen = asyncio.Event()

    def freeze() -> None:
        assert not ready.exists(), "frozen after it said it serves: calls may have come in already"
        frozen.set()

    monkeypatch.setattr(cli.gc, "freeze", freeze)  # the real one would keep this test's garbage too
    serving = asyncio.create_task(cli._serve(config, ready))
    try:
        async with asyncio.timeout(20):
            await frozen.wait()
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
