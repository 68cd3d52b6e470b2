"""The SSE relay driven directly: snapshot, resume, resync of a stalled reader, reconnect after restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
from scripted_agent import TIMEOUT
from webui_support import Connect, set_desired

from controlplane.app import ControlPlane, ControlPlaneConfig
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc
from webui.relay import Drain, FleetWatch, Item, Resync, Status


async def next_fleet_event(watch: FleetWatch) -> fleet_pb.WatchFleetResponse:
    """The next WatchFleetResponse, skipping status items."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            item = await watch.get()
            if isinstance(item, fleet_pb.WatchFleetResponse):
                return item


async def next_item(watch: FleetWatch) -> Item:
    """The next item of any kind."""
    async with asyncio.timeout(TIMEOUT):
        return await watch.get()


async def test_watch_starts_with_status_and_snapshot(
    cp: ControlPlane, fleet: fleet_grpc.FleetServiceAsyncStub, connect: Connect
) -> None:
    await connect("gpc0")
    await connect("hsb1")
    async with FleetWatch(fleet, 0) as watch:
        assert await next_item(watch) == Status(True, "live")
        first = await next_fleet_event(watch)
    assert first.WhichOneof("event") == "snapshot"
    assert sorted(h.name for h in first.snapshot.hosts) == ["gpc0", "hsb1"]
    assert all(len(h.compartments) == 5 for h in first.snapshot.hosts)


async def test_resume_sends_only_what_was_missed(
    cp: ControlPlane, fleet: fleet_grpc.FleetServiceAsyncStub, connect: Connect
) -> None:
    await connect("gpc0")
    async with FleetWatch(fleet, 0) as watch:
        seen = (await next_fleet_event(watch)).version
    await set_desired(fleet)
    async with FleetWatch(fleet, seen) as watch:
        missed = await next_fleet_event(watch)
    assert missed.WhichOneof("event") == "host"
    assert missed.version > seen


async def test_unknown_version_falls_back_to_a_snapshot(
    cp: ControlPlane, fleet: fleet_grpc.FleetServiceAsyncStub, connect: Connect
) -> None:
    await connect("gpc0")
    async with FleetWatch(fleet, 10**9) as watch:
        first = await next_fleet_event(watch)
    assert first.WhichOneof("event") == "snapshot"


async def test_stalled_reader_is_dropped_to_a_snapshot_without_slowing_others(
    cp: ControlPlane, fleet: fleet_grpc.FleetServiceAsyncStub, connect: Connect
) -> None:
    for name in ("a1", "a2", "a3", "a4"):
        await connect(name)
    async with FleetWatch(fleet, 0, limit=3) as stalled, FleetWatch(fleet, 0, limit=1000) as healthy:
        snapshot = await next_fleet_event(healthy)
        # Every SetDesiredState changes all four hosts: far more than the stalled queue holds.
        for i in range(3):
            await set_desired(fleet, commit=f"{i:x}" * 40)
        version = (await fleet.ListHosts(fleet_pb.ListHostsRequest(), timeout=TIMEOUT)).version
        last = snapshot.version
        while last < version:  # the healthy reader gets every change, in order, with no resync
            event = await next_fleet_event(healthy)
            assert event.WhichOneof("event") != "snapshot" and event.version > last
            last = event.version
        async with asyncio.timeout(TIMEOUT):
            await stalled.fell_behind.wait()
        assert isinstance(await next_item(stalled), Resync)
        fresh = await next_fleet_event(stalled)
        assert fresh.WhichOneof("event") == "snapshot" and fresh.version >= version


async def test_relay_reconnects_after_a_control_plane_restart(tmp_path: Path) -> None:
    config = ControlPlaneConfig(
        require_api_tokens=False,
        database=tmp_path / "fleet.db",
        grpc_address="127.0.0.1:0",
        shutdown_grace_seconds=0.5,
    )
    async with ControlPlane(config) as first:
        target = first.grpc_target
        channel = grpc.aio.insecure_channel(target)
        stub: fleet_grpc.FleetServiceAsyncStub = fleet_grpc.FleetServiceStub(channel)  # type: ignore[assignment]
        watch = FleetWatch(stub, 0, backoff_max=0.5)
        await watch.__aenter__()
        assert await next_item(watch) == Status(True, "live")
        before = await next_fleet_event(watch)
    try:
        down = await next_item(watch)
        assert isinstance(down, Status) and not down.connected
        restarted = ControlPlaneConfig(
            require_api_tokens=False,
            database=tmp_path / "fleet.db",
            grpc_address=target,
            shutdown_grace_seconds=0.5,
        )
        async with ControlPlane(restarted):
            assert await next_item(watch) == Status(True, "live")
            await set_desired(stub)
            after = await next_fleet_event(watch)
            assert after.version > before.version
    finally:
        await watch.stop()
        await channel.close()


async def test_a_drain_survives_a_slow_reader_falling_behind(
    cp: ControlPlane, fleet: fleet_grpc.FleetServiceAsyncStub, connect: Connect
) -> None:
    for name in ("a1", "a2", "a3", "a4"):
        await connect(name)
    async with FleetWatch(fleet, 0, limit=3) as watch:
        assert await next_item(watch) == Status(True, "live")
        watch.drain()  # a logout, an expiry or a graceful stop, while the reader is slow
        for i in range(3):  # four hosts change each time: far more than the queue holds
            await set_desired(fleet, commit=f"{i:x}" * 40)
        async with asyncio.timeout(TIMEOUT):
            await watch.pump_ended.wait()  # it stops at the first change after the drain
        assert not watch.fell_behind.is_set()
        assert isinstance(await next_item(watch), Drain)


async def test_a_failed_pump_ends_the_stream_with_a_drain(
    cp: ControlPlane, fleet: fleet_grpc.FleetServiceAsyncStub
) -> None:
    async with FleetWatch(fleet, 10**25) as watch:  # beyond int64: the request cannot be built
        assert isinstance(await next_item(watch), Drain)
        assert watch.pump_ended.is_set()
