"""Unauthenticated or greedy clients cannot exhaust the server: token first, agent slots of their
own, per-peer and per-token limits, a short hello deadline, idle connections closed, refusals logged
in few lines."""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from controlplane.agent_admission import AgentAdmission, peer_address
from controlplane.app import ControlPlane, ControlPlaneConfig
from controlplane.budgets import Budgets
from controlplane.errors import ResourceExhausted, Unauthenticated
from controlplane.ratelog import SummarizedLog
from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import agent_service_pb2_grpc as agent_grpc
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc

TIGHT = Budgets(hello_timeout_seconds=1.0, handshake_timeout_seconds=1.0, agent_streams_per_token=100)


@pytest.fixture
async def tight(tmp_path: Path) -> AsyncIterator[ControlPlane]:
    config = ControlPlaneConfig(
        require_api_tokens=False,
        database=tmp_path / "fleet.db",
        grpc_address="127.0.0.1:0",
        max_concurrent_rpcs=20,
        budgets=TIGHT,
    )
    async with ControlPlane(config) as plane:
        yield plane


async def _silent_stream(stub: agent_grpc.AgentServiceStub, token: str):  # type: ignore[no-untyped-def]
    """A Connect stream that never sends anything."""
    never: asyncio.Event = asyncio.Event()

    async def nothing() -> AsyncIterator[agent_pb.ConnectRequest]:
        await never.wait()
        yield agent_pb.ConnectRequest()

    return stub.Connect(nothing(), metadata=(("authorization", f"Bearer {token}"),))


async def _code(call) -> grpc.StatusCode:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async with asyncio.timeout(5):
            await call.read()
    return caught.value.code()


async def test_a_bad_token_is_refused_before_the_hello_wait(tight) -> None:
    async with grpc.aio.insecure_channel(tight.grpc_target) as channel:
        started = time.monotonic()
        call = await _silent_stream(agent_grpc.AgentServiceStub(channel), "junk")
        assert await _code(call) == grpc.StatusCode.UNAUTHENTICATED
        assert time.monotonic() - started < TIGHT.hello_timeout_seconds


async def test_a_silent_agent_is_closed_at_the_hello_deadline(tight) -> None:
    async with grpc.aio.insecure_channel(tight.grpc_target) as channel:
        fleet = fleet_grpc.FleetServiceStub(channel)
        token = (await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0"))).token
        call = await _silent_stream(agent_grpc.AgentServiceStub(channel), token)
        assert await _code(call) == grpc.StatusCode.INVALID_ARGUMENT


async def test_fleet_service_and_health_answer_while_agent_slots_are_full(tight, caplog) -> None:
    caplog.set_level(logging.WARNING)
    async with grpc.aio.insecure_channel(tight.grpc_target) as channel:
        fleet = fleet_grpc.FleetServiceStub(channel)
        token = (await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0"))).token
        agents = agent_grpc.AgentServiceStub(channel)
        slots = TIGHT.agent_streams(20)
        held = [await _silent_stream(agents, token) for _ in range(slots)]
        # Every slot is taken once the server counted them; one more is refused at once.
        async with asyncio.timeout(5):
            while True:
                extra = await _silent_stream(agents, token)
                try:
                    await asyncio.wait_for(extra.read(), 0.2)
                except grpc.aio.AioRpcError as error:
                    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                    break
                except TimeoutError:
                    held.append(extra)  # admitted before the others were counted; keep it open
        assert (await fleet.ListHosts(fleet_pb.ListHostsRequest(), timeout=5)).version >= 0
        health = health_pb2_grpc.HealthStub(channel)
        answer = await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
        for call in held:
            call.cancel()
    refused = [r for r in caplog.records if "refused agent streams" in r.getMessage()]
    assert len(refused) == 1


async def test_a_connection_that_never_speaks_is_closed(tight) -> None:
    host, port = tight.grpc_target.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        async with asyncio.timeout(TIGHT.handshake_timeout_seconds + 4):
            said = await reader.read()  # until the server hangs up (after a GOAWAY)
        assert b"handshake timeout" in said
    finally:
        writer.close()


def test_admission_limits_per_peer_and_per_token() -> None:
    admission = AgentAdmission(Budgets(agent_streams_per_peer=2, agent_streams_per_token=1), slots=10)
    with admission.admit("ipv4:10.0.0.1:5000", "t1"), admission.admit("ipv4:10.0.0.1:5001", "t2"):
        with (
            pytest.raises(ResourceExhausted, match=r"from 10\.0\.0\.1"),
            admission.admit("ipv4:10.0.0.1:5002", "t3"),
        ):
            pass
        with (
            pytest.raises(ResourceExhausted, match="with this token"),
            admission.admit("ipv4:10.0.0.2:5000", "t1"),
        ):
            pass
        with admission.admit("ipv6:[::1]:5000", "t3"):
            assert admission.open == 3
    assert admission.open == 0
    with admission.admit("ipv4:10.0.0.1:5003", "t1"):
        pass  # the slots were given back


@pytest.mark.parametrize(
    ("peer", "address"),
    [
        ("ipv4:10.0.0.1:5000", "10.0.0.1"),
        ("ipv6:[::1]:5000", "[::1]"),
        ("unix:/run/x.sock", "unix:/run/x.sock"),
    ],
)
def test_peer_address(peer, address) -> None:
    assert peer_address(peer) == address


def test_refusals_are_logged_once_then_summed_up(caplog) -> None:
    caplog.set_level(logging.WARNING)
    refusals = SummarizedLog(logging.getLogger("test"), "refused agent streams", seconds=10)
    for i in range(100):
        refusals.note("with a missing or unknown token", now=float(i) / 10)
    refusals.note("on this control plane", now=10.5)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "refused agent streams 1 time(s) (1 with a missing or unknown token)",
        "refused agent streams 100 time(s) (99 with a missing or unknown token; 1 on this control plane)",
    ]


async def test_a_peer_sending_bad_tokens_is_refused_before_any_lookup() -> None:
    admission = AgentAdmission(Budgets(failed_logins_burst=3, failed_logins_per_second=0.001), slots=10)
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            async with admission.login("ipv4:10.0.0.9:5000"):
                raise Unauthenticated("junk")
    with pytest.raises(ResourceExhausted, match="bad tokens"):
        async with admission.login("ipv4:10.0.0.9:6000"):
            pytest.fail("looked up a token of a peer over its bad-token budget")
    async with admission.login("ipv4:10.0.0.10:5000"):
        pass  # another address is not affected


async def test_a_peers_lookups_run_a_few_at_a_time_and_stop_at_its_bad_token_budget() -> None:
    """Streams arriving together cannot all pass the bad-token check before the first failure is
    counted: a peer's lookups run a few at a time, and those beyond its budget are never looked up."""
    budgets = Budgets(token_lookups_per_peer=4, failed_logins_burst=10, failed_logins_per_second=0.001)
    admission = AgentAdmission(budgets, slots=10)
    in_flight, most, lookups = 0, 0, 0
    full, go = asyncio.Event(), asyncio.Event()

    async def junk(port: int) -> type[Exception]:
        nonlocal in_flight, most, lookups
        try:
            async with admission.login(f"ipv6:[2001:db8::1]:{port}"):
                in_flight, lookups = in_flight + 1, lookups + 1
                most = max(most, in_flight)
                if in_flight == budgets.token_lookups_per_peer:
                    full.set()
                await go.wait()  # a slow store
                in_flight -= 1
                raise Unauthenticated("junk")
        except (Unauthenticated, ResourceExhausted) as error:
            return type(error)

    streams = [asyncio.create_task(junk(port)) for port in range(1_000)]
    async with asyncio.timeout(5):
        await full.wait()
        go.set()
        refused = collections.Counter(await asyncio.gather(*streams))
    assert most == budgets.token_lookups_per_peer
    assert lookups == refused[Unauthenticated] == budgets.failed_logins_burst
    assert refused[ResourceExhausted] == 1_000 - budgets.failed_logins_burst
    async with admission.login("ipv4:10.0.0.10:5000"):
        pass  # another address looks its tokens up as before


def _counted_lookups(plane: ControlPlane, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The agent-token digests the store is asked for from now on."""
    lookups: list[str] = []
    find = plane.store.find_token

    async def counted(digest: str):  # type: ignore[no-untyped-def]
        lookups.append(digest)
        return await find(digest)

    monkeypatch.setattr(plane.store, "find_token", counted)
    return lookups


async def test_a_flood_of_junk_streams_costs_the_store_only_the_peers_budget(tmp_path, monkeypatch) -> None:
    budgets = Budgets(failed_logins_burst=20, failed_logins_per_second=0.001)
    config = ControlPlaneConfig(
        require_api_tokens=False, database=tmp_path / "fleet.db", grpc_address="127.0.0.1:0", budgets=budgets
    )
    async with ControlPlane(config) as plane:
        lookups = _counted_lookups(plane, monkeypatch)
        async with grpc.aio.insecure_channel(plane.grpc_target) as channel:
            agents = agent_grpc.AgentServiceStub(channel)
            calls = [await _silent_stream(agents, f"fdat_junk{i:040d}") for i in range(300)]
            codes = collections.Counter(await asyncio.gather(*(_code(call) for call in calls)))
    assert codes[grpc.StatusCode.RESOURCE_EXHAUSTED] > 0, codes
    assert len(lookups) <= budgets.failed_logins_burst


async def test_an_unknown_token_is_refused_from_memory_the_second_time(cp, monkeypatch) -> None:
    lookups = _counted_lookups(cp, monkeypatch)
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            await cp.tokens.find("fdat_" + "j" * 43)
    assert len(lookups) == 1
    token, _, _ = await cp.tokens.create("gpc0")
    assert (await cp.tokens.find(token)).host == "gpc0"
