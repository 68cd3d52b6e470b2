"""The README's grpcurl lines keep the API token out of the process list (-expand-headers)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from controlplane.app import ControlPlane, ControlPlaneConfig

ADMIN_TOKEN = "fdapi_" + "g" * 40
README = Path(__file__).parents[2] / "README.md"


@pytest.fixture
async def secured(tmp_path: Path) -> AsyncIterator[ControlPlane]:
    config = ControlPlaneConfig(
        database=tmp_path / "fleet.db", grpc_address="127.0.0.1:0", admin_token=ADMIN_TOKEN
    )
    async with ControlPlane(config) as plane:
        yield plane


def _readme_line(starts: str) -> str:
    lines = [line for line in README.read_text().splitlines() if line.startswith(starts)]
    assert lines, f"README.md has no line starting {starts!r}"
    return lines[0]


async def test_the_readme_grpcurl_lines_keep_the_token_out_of_the_process_list(secured) -> None:
    watch_fleet = (
        "grpcurl \"${auth[@]}\" -d '{}' $FLEETDECK_CONTROLPLANE fleetdeck.v1.FleetService/WatchFleet"
    )
    script = "\n".join([_readme_line("auth="), "exec " + watch_fleet])
    env = {
        **os.environ,
        "FLEETDECK_TOKEN": ADMIN_TOKEN,
        "FLEETDECK_CONTROLPLANE": secured.grpc_target,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    watch = await asyncio.create_subprocess_exec(
        "bash", "-c", script, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        assert watch.stdout is not None
        async with asyncio.timeout(15):
            first = await watch.stdout.readline()
        assert first.startswith(b"{"), first  # the snapshot: the token was accepted
        cmdline = await asyncio.to_thread(Path(f"/proc/{watch.pid}/cmdline").read_bytes)
        assert b"grpcurl" in cmdline and b"expand-headers" in cmdline
        assert ADMIN_TOKEN.encode() not in cmdline
    finally:
        watch.kill()
        await watch.wait()
