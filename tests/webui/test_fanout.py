"""The web UI's fan-out: one WatchFleet for every browser, each event framed once, cheap connects."""

from __future__ import annotations

import asyncio
import json
import time

import grpc
import httpx
import liveview
import pytest
from scripted_agent import TIMEOUT
from webui_support import Connect, SSEReader, User, logged_in, set_desired

from controlplane.app import ControlPlane
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc
from fleetdeck.v1 import types_pb2 as pb
from webui.fanout import Fanout, Viewer
from webui.gate import SessionCache
from webui.relay import Status


def parse(chunk: bytes) -> list[tuple[str, str | None, str]]:
    """(event, id, data) of every frame in `chunk`."""
    frames = []
    for block in chunk.decode().replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            key, _, value = line.partition(": ")
            if key in ("event", "id", "data"):
                fields[key] = value
        if "event" in fields:
            frames.append((fields["event"], fields.get("id"), fields.get("data", "")))
    return frames


async def next_chunk(viewer: Viewer) -> bytes:
    async with asyncio.timeout(TIMEOUT):
        chunk = await viewer.next()
    assert chunk is not None
    return chunk


def fed(fanout: Fanout, hosts: int, version: int = 100) -> Fanout:
    """`fanout` after the control plane said it is live and sent a snapshot of `hosts` hosts."""
    fanout.apply(Status(True, "live"))
    fanout.apply(liveview.snapshot(liveview.fleet(hosts), version))
    return fanout


async def test_every_browser_gets_the_same_bytes_from_one_watch(
    cp: ControlPlane, fleet: fleet_grpc.FleetServiceAsyncStub, connect: Connect
) -> None:
    await connect("gpc0")
    fanout = Fanout(fleet)
    try:
        with fanout.viewer(0, 64) as first, fanout.viewer(0, 64) as second:
            opening = parse(await next_chunk(first))
            while opening[-1][0] == "status":  # the status may come ahead, while the snapshot is on its way
                opening += parse(await next_chunk(first))
            assert opening[0][0] == "status" and opening[-1][0] == "snapshot"
            assert [h["name"] for h in json.loads(opening[-1][2])["hosts"]] == ["gpc0"]
            while parse(await next_chunk(second))[-1][0] == "status":
                pass
            await set_desired(fleet)
            a, b = await next_chunk(first), await next_chunk(second)
            assert a is b  # one frame, made once, written to both
            assert parse(a)[0][0] == "host"
            assert fanout.viewers == 2
    finally:
        await fanout.stop()


async def test_a_resuming_browser_gets_only_what_it_missed_and_a_stale_one_a_snapshot(
    fleet: fleet_grpc.FleetServiceAsyncStub,
) -> None:
    fanout = fed(Fanout(fleet, history=3), hosts=3)
    for version in (101, 102, 103):
        fanout.apply(liveview.change(liveview.host(1, tests=pb.COMPARTMENT_STATUS_ERROR), version))
    assert [(e, i) for e, i, _ in parse(fanout.opening(101))] == [
        ("status", None),
        ("host", "102"),
        ("host", "103"),
    ]
    assert [e for e, _, _ in parse(fanout.opening(103))] == ["status"]
    fanout.apply(liveview.change(liveview.host(2), 104))  # history holds 102..104 now
    for too_old_or_unknown in (0, 100, 105, 10**9):
        assert [e for e, _, _ in parse(fanout.opening(too_old_or_unknown))] == ["status", "snapshot"]


def test_the_snapshot_is_kept_current_as_ready_made_json() -> None:
    fanout = fed(Fanout(None), hosts=3)  # fed by hand: no subscription
    fanout.apply(liveview.change(liveview.host(1, tests=pb.COMPARTMENT_STATUS_ERROR), 101))
    fanout.apply(liveview.change(liveview.host(2, seen=1_700_000_000), 102))
    (_, event_id, data), *_ = [f for f in parse(fanout.opening(0)) if f[0] == "snapshot"]
    hosts = {h["name"]: h for h in json.loads(data)["hosts"]}
    assert event_id == "102"
    assert hosts["host00001"]["compartments"][4]["status"] == "COMPARTMENT_STATUS_ERROR"
    assert hosts["host00002"]["last_seen"] == "2023-11-14T22:13:20Z"
    assert fanout.events == 3


async def test_a_slow_browser_is_dropped_to_a_snapshot_and_the_others_get_everything() -> None:
    fanout = fed(Fanout(None), hosts=2)
    with fanout.viewer(0, 2) as slow, fanout.viewer(0, 100) as healthy:
        await next_chunk(slow)  # both take their opening (it covers everything up to now)
        await next_chunk(healthy)
        for version in range(101, 106):
            fanout.apply(liveview.change(liveview.host(0), version))
        assert slow.fell_behind.is_set() and not healthy.fell_behind.is_set()
        assert [i for _, i, _ in parse(await next_chunk(healthy))] == ["101", "102", "103", "104", "105"]
        assert [e for e, _, _ in parse(await next_chunk(slow))] == ["resync", "status", "snapshot"]
        fanout.apply(liveview.change(liveview.host(1), 106))
        assert [i for _, i, _ in parse(await next_chunk(slow))] == ["106"]  # and it follows again


def test_a_connect_costs_less_than_5_ms_of_cpu_at_1000_hosts() -> None:
    fanout = fed(Fanout(None), hosts=1000)
    connects = 200
    spent = 0.0
    for version in range(101, 101 + connects):
        # A change before every connect: the snapshot cannot even be reused from the previous one.
        fanout.apply(liveview.change(liveview.host(version % 1000), version))
        started = time.process_time()
        opening = fanout.opening(0)
        spent += time.process_time() - started
        assert len(opening) > 1_000_000
    per_connect = spent / connects
    assert per_connect < 0.005, f"{per_connect * 1000:.2f} ms of CPU per connect"


async def test_concurrent_checks_of_one_session_share_one_call(cp: ControlPlane) -> None:
    calls = 0

    class Counted(fleet_grpc.FleetServiceServicer):
        async def GetWebSession(  # the RPC's name
            self, request: fleet_pb.GetWebSessionRequest, context: grpc.aio.ServicerContext[object, object]
        ) -> fleet_pb.GetWebSessionResponse:
            nonlocal calls
            calls += 1
            if request.session_token == "revoked":
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, "no such session")
            return fleet_pb.GetWebSessionResponse(session=fleet_pb.WebSession(username="alice"))

    server = grpc.aio.server()
    fleet_grpc.add_FleetServiceServicer_to_server(Counted(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub: fleet_grpc.FleetServiceAsyncStub = fleet_grpc.FleetServiceStub(channel)  # type: ignore[assignment]
            cache = SessionCache(ttl=60)
            sessions = await asyncio.gather(*(cache.lookup(stub, "tok") for _ in range(1000)))
            assert {s.username for s in sessions} == {"alice"} and calls == 1
            await cache.lookup(stub, "tok")
            assert calls == 1  # served from the cache
            await cache.lookup(stub, "tok", max_age=0)
            assert calls == 2  # a recheck that wants a fresh answer asks
            cache.forget("tok")  # a logout here
            await cache.lookup(stub, "tok")
            assert calls == 3
            for _ in range(2):  # a revoked session is never cached
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await cache.lookup(stub, "revoked")
                assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert calls == 5
    finally:
        await server.stop(None)


async def test_many_browsers_connecting_at_once_are_all_live_and_none_told_unreachable(
    cp: ControlPlane, connect: Connect, user: User
) -> None:
    await connect("gpc0")
    viewers = 200
    async with logged_in(cp.http_url, user) as login_client:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
        async with httpx.AsyncClient(
            base_url=cp.http_url, cookies=login_client.cookies, limits=limits, timeout=TIMEOUT
        ) as client:

            async def watch() -> list[str]:
                async with client.stream("GET", "/events") as response:
                    reader = SSEReader(response.aiter_lines())
                    statuses = []
                    while (event := await reader.next_of("status", "snapshot", within=TIMEOUT * 2))[
                        0
                    ] != "snapshot":
                        statuses.append(json.loads(event[2])["message"])
                    return statuses

            async with asyncio.timeout(TIMEOUT * 2):
                statuses = await asyncio.gather(*(watch() for _ in range(viewers)))
    assert all(message == "live" for seen in statuses for message in seen), {m for s in statuses for m in s}
