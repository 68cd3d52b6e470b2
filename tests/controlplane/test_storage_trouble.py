"""Storage trouble is the server's condition, not the caller's fault: UNAVAILABLE with a sentence,
health NOT_SERVING (and /healthz 503) while it lasts, one log line when it starts and one when it
ends, hosts stay online, and the control plane recovers without a restart."""

from __future__ import annotations

import asyncio
import errno
import logging
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from controlplane.app import ControlPlane, ControlPlaneConfig
from controlplane.errors import storage_trouble
from controlplane.store.trouble import DATABASE_LOCKED, DISK_FULL
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc

from .conftest import ScriptedAgent

NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVING = health_pb2.HealthCheckResponse.SERVING
DESIRED = fleet_pb.SetDesiredStateRequest(commit="a" * 40, lock_hash="b" * 64)

HOLD_LOCK = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")  # the write lock, until this process is told to let go
print("locked", flush=True)
sys.stdin.readline()
db.execute("ROLLBACK")
"""


@pytest.fixture
async def plane(tmp_path: Path) -> AsyncIterator[ControlPlane]:
    config = ControlPlaneConfig(
        require_api_tokens=False,
        database=tmp_path / "fleet.db",
        grpc_address="127.0.0.1:0",
        http_address="127.0.0.1:0",
    )
    async with ControlPlane(config) as started:
        yield started


async def _overall(channel: grpc.aio.Channel, wanted: int) -> None:
    """Wait (watching, not polling) until the server's overall health is `wanted`."""
    async with asyncio.timeout(10):
        async for answer in health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest()):
            if answer.status == wanted:
                return


def _storage_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "controlplane.storage_health"]


async def test_a_database_locked_by_another_process_is_unavailable_then_recovers(plane, caplog) -> None:
    caplog.set_level(logging.INFO)
    async with grpc.aio.insecure_channel(plane.grpc_target) as channel:
        fleet = fleet_grpc.FleetServiceStub(channel)
        token = (await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0"))).token
        agent = ScriptedAgent(plane.grpc_target, "gpc0", token)
        holder = await asyncio.create_subprocess_exec(
            sys.executable, "-c", HOLD_LOCK, str(plane.config.database),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await agent.hello()
            assert holder.stdout is not None and holder.stdin is not None
            assert await holder.stdout.readline() == b"locked\n"
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await fleet.SetDesiredState(DESIRED, timeout=15)  # waits the bounded busy timeout
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            assert caught.value.details() == DATABASE_LOCKED
            await _overall(channel, NOT_SERVING)
            async with httpx.AsyncClient(base_url=plane.http_url) as http:
                healthz = await http.get("/healthz")
            assert (healthz.status_code, healthz.json()["controlplane"]) == (503, "degraded"), healthz.text
            agent.heartbeat(generation="system-2-link")  # reads and heartbeats go on meanwhile
            hosts = (await fleet.ListHosts(fleet_pb.ListHostsRequest(), timeout=5)).hosts
            assert [h.online for h in hosts] == [True]
            holder.stdin.write(b"go\n")
            await holder.wait()
            await _overall(channel, SERVING)
            await fleet.SetDesiredState(DESIRED, timeout=5)  # works again, no restart
            hosts = (await fleet.ListHosts(fleet_pb.ListHostsRequest(), timeout=5)).hosts
            assert [h.online for h in hosts] == [True]
        finally:
            if holder.returncode is None:
                holder.kill()
                await holder.wait()
            await agent.close()
    lines = _storage_lines(caplog)
    assert len(lines) == 2 and "locked" in lines[0] and "works again" in lines[1]
    assert not [r for r in caplog.records if r.exc_info]


async def test_a_full_disk_is_unavailable_and_recovers(plane, caplog, monkeypatch) -> None:
    # A full disk injected at the store boundary (no tiny filesystem can be mounted here).
    caplog.set_level(logging.INFO)
    full = OSError(errno.ENOSPC, "No space left on device")
    real_save, real_probe = plane.store.save_desired, plane.store.extend_version_reservation

    async def no_space(*args: object) -> None:
        raise full

    monkeypatch.setattr(plane.store, "save_desired", no_space)
    monkeypatch.setattr(plane.store, "extend_version_reservation", no_space)
    async with grpc.aio.insecure_channel(plane.grpc_target) as channel:
        fleet = fleet_grpc.FleetServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await fleet.SetDesiredState(DESIRED, timeout=5)
        assert (caught.value.code(), caught.value.details()) == (grpc.StatusCode.UNAVAILABLE, DISK_FULL)
        assert dict(caught.value.trailing_metadata() or ())["retry-after"] == "5"
        await _overall(channel, NOT_SERVING)
        monkeypatch.setattr(plane.store, "save_desired", real_save)
        monkeypatch.setattr(plane.store, "extend_version_reservation", real_probe)
        await _overall(channel, SERVING)
        await fleet.SetDesiredState(DESIRED, timeout=5)
    lines = _storage_lines(caplog)
    assert len(lines) == 2 and "full" in lines[0]
    assert not [r for r in caplog.records if r.exc_info]


@pytest.mark.parametrize(
    ("error", "sentence"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), DISK_FULL),
        (__import__("sqlite3").OperationalError("database is locked"), DATABASE_LOCKED),
        (__import__("sqlite3").OperationalError("database or disk is full"), DISK_FULL),
        (type("DiskFullError", (Exception,), {})("could not extend file"), DISK_FULL),
        (ValueError("database is locked"), None),
        (OSError(errno.EACCES, "Permission denied"), None),
    ],
)
def test_storage_trouble_is_recognised(error, sentence) -> None:
    found = storage_trouble(error)
    assert (None if found is None else str(found)) == sentence
