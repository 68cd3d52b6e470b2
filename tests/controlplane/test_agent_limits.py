"""One compromised host cannot exhaust memory: field sizes, the event ring's bytes, fact churn."""

from __future__ import annotations

import logging

import grpc
import pytest

from controlplane.budgets import FACT_CHANGES_BURST, TokenBucket
from controlplane.hub import Hub
from fleetdeck.limits import MAX_ITEMS, MAX_TEXT_BYTES, problem
from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import types_pb2 as pb

BIG = "x" * (1024 * 1024)


async def _closed_with(agent) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        while True:
            await agent.recv()
    return caught.value.code()


async def test_a_heartbeat_with_a_huge_agent_version_closes_the_stream_and_changes_nothing(
    connect, fleet
) -> None:
    agent = await connect("gpc0")
    await agent.hello()
    agent.heartbeat(agent_version=BIG)
    assert await _closed_with(agent) == grpc.StatusCode.INVALID_ARGUMENT
    host = (await fleet.GetHost(fleet_pb.GetHostRequest(name="gpc0"))).host
    assert host.facts.agent_version == "0.1.0"


async def test_a_hello_with_a_huge_field_is_refused(connect, fleet) -> None:
    agent = await connect("gpc0")
    agent.send(hello=agent_pb.Hello(host="gpc0", facts=agent.facts(generation=BIG)))
    assert await _closed_with(agent) == grpc.StatusCode.INVALID_ARGUMENT
    assert not (await fleet.ListHosts(fleet_pb.ListHostsRequest())).hosts


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (agent_pb.ConnectRequest(heartbeat=agent_pb.Heartbeat(running_command_id="c" * 2000)), "longer than"),
        (agent_pb.ConnectRequest(hello=agent_pb.Hello(running_command_ids=["c"] * 1001)), "more than"),
        (
            agent_pb.ConnectRequest(output=agent_pb.OutputChunk(lines=[pb.OutputLine(text="é" * 2_100_000)])),
            "longer than 4194304",
        ),
        (
            agent_pb.ConnectRequest(output=agent_pb.OutputChunk(lines=[pb.OutputLine()] * 100_001)),
            "more than",
        ),
        (agent_pb.ConnectRequest(heartbeat=agent_pb.Heartbeat(facts=pb.HostFacts(os="é" * 600))), "longer"),
        (
            agent_pb.ConnectRequest(output=agent_pb.OutputChunk(lines=[pb.OutputLine(text="é" * 30_000)])),
            None,
        ),
        (agent_pb.ConnectRequest(heartbeat=agent_pb.Heartbeat(facts=pb.HostFacts(os="x" * 1024))), None),
    ],
)
def test_every_field_an_agent_sends_is_bounded(message, expected) -> None:
    found = problem(message)
    assert (found is None) if expected is None else (expected in (found or ""))
    assert MAX_TEXT_BYTES == 1024 and MAX_ITEMS == 1000


def test_the_event_ring_is_bounded_in_bytes_and_an_old_resume_gets_a_snapshot() -> None:
    hub = Hub(0, ring_size=10_000, ring_bytes=1_000_000)
    for i in range(100):
        hub.publish(
            fleet_pb.WatchFleetResponse(host=pb.Host(name=f"h{i}", facts=pb.HostFacts(os="x" * 100_000)))
        )
    assert hub.ring_bytes_used <= 1_000_000
    assert hub._missed_since(1) is None  # evicted: the watcher starts from a snapshot
    assert [e.host.name for e in hub._missed_since(98) or []] == ["h98", "h99"]


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = TokenBucket(burst=3, rate=1.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.refusing
    assert bucket.take(1.0) and not bucket.refusing
    assert not bucket.take(1.0)


async def test_a_host_whose_facts_churn_is_rate_limited(cp, connect, caplog) -> None:
    caplog.set_level(logging.INFO)
    agent = await connect("gpc0")
    await agent.hello()
    before = cp.hub.version
    for i in range(FACT_CHANGES_BURST * 3):
        agent.heartbeat(generation=f"system-{i}-link")
    # A message the control plane answers: every heartbeat before it was handled.
    agent.send(output=agent_pb.OutputChunk(command_id="unknown", seq=1))
    await agent.ack("unknown", 1)
    assert cp.hub.version - before <= FACT_CHANGES_BURST + 1
    warnings = [r for r in caplog.records if "changes its facts more often" in r.getMessage()]
    assert len(warnings) == 1
