"""Fixtures for the agent's tests: shell scripts in tmp_path, a real control plane with its fleet."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from agent_world import Fleet, World, control_plane_config, write_script


@pytest.fixture
def script(tmp_path: Path) -> Callable[..., Path]:
    """Make a script under tmp_path: script("tests/10-ok.sh", "exit 0")."""

    def make(name: str, body: str, executable: bool = True) -> Path:
        return write_script(tmp_path / name, body, executable)

    return make


@pytest.fixture(autouse=True)
def _no_inherited_fleetdeck_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("FLEETDECK_"):
            monkeypatch.delenv(name)


@pytest.fixture
async def world(tmp_path: Path, plane_database: Path | str) -> AsyncIterator[World]:
    """A real control plane on port 0 and a FleetService client; agents are stopped at the end."""
    from controlplane.app import ControlPlane

    cp = ControlPlane(control_plane_config(tmp_path, database=plane_database))
    await cp.start()
    fleet = Fleet(cp.grpc_target)
    w = World(tmp_path, cp, fleet, database=plane_database)
    try:
        yield w
    finally:
        for agent in w.agents:
            await agent.stop()
        await fleet.close()
        await w.cp.stop()
        for agent in w.agents:
            log = agent.world.log
            if log.exists():
                print(f"--- {log}\n{log.read_text()[-4000:]}")
