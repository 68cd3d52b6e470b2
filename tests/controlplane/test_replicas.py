"""Two control-plane replicas on one PostgreSQL database: one fleet, whichever replica is asked.

Real parts: two in-process control planes (each its own gRPC server on port 0) on one database of the
session's PostgreSQL cluster, agents speaking the real protocol to one replica or the other."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import grpc
import pytest

from controlplane.app import ControlPlane, ControlPlaneConfig
from fleetdeck.client import aio_channel
from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc
from fleetdeck.v1 import rollouts_pb2 as rpb
from fleetdeck.v1 import types_pb2 as pb
from tests.support.agent_world import Fleet
from tests.support.postgres import Cluster
from tests.support.scripted_agent import ScriptedAgent, create_token

TIMEOUT = 10


class Replica:
    """One running replica and a FleetService client of it (the agent tests' `Fleet`: its waits
    watch WatchFleet, never sleep)."""

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane
        self.client = Fleet(plane.grpc_target)
        self.fleet = self.client.stub

    async def agent(self, host: str) -> ScriptedAgent:
        """An agent of `host` connected to this replica (welcomed)."""
        agent = ScriptedAgent(self.plane.grpc_target, host, await create_token(self.plane.grpc_target, host))
        await agent.hello()
        return agent

    async def host(self, name: str) -> pb.Host:
        return (await self.fleet.GetHost(fleet_pb.GetHostRequest(name=name))).host

    async def until(self, name: str, check: Callable[[pb.Host], bool]) -> pb.Host:
        """The host as this replica's watchers see it, once `check` holds."""
        host: pb.Host = await self.client.wait_host(name, check, within=TIMEOUT)
        return host


@pytest.fixture
async def replicas(postgres_cluster: Cluster) -> AsyncIterator[tuple[Replica, Replica]]:
    database = postgres_cluster.new_database()
    config = ControlPlaneConfig(require_api_tokens=False, database=database, grpc_address="127.0.0.1:0")
    async with ControlPlane(config) as a, ControlPlane(config) as b:
        found = Replica(a), Replica(b)
        try:
            yield found
        finally:
            for replica in found:
                await replica.client.close()


async def test_an_operation_sent_through_one_replica_runs_on_an_agent_of_the_other(replicas) -> None:
    a, b = replicas
    agent = await b.agent("web1")
    await a.until("web1", lambda h: h.online)
    started = await a.fleet.RunOperation(
        fleet_pb.RunOperationRequest(hosts=["web1"], operation=pb.OPERATION_SWITCH)
    )
    command_id = started.results[0].command_id
    run = (await agent.recv("run_command")).run_command  # handed to replica B, sent down its stream
    assert (run.command_id, run.operation) == (command_id, pb.OPERATION_SWITCH)
    output = a.fleet.StreamCommandOutput(fleet_pb.StreamCommandOutputRequest(command_id=command_id))
    agent.send(command_started=agent_pb.CommandStarted(command_id=command_id))
    await agent.ack(command_id, agent.output(command_id, "building", "activating"))
    agent.finish(command_id, 0, generation="system-2-link")
    lines, final = [], None
    async with asyncio.timeout(TIMEOUT):
        async for message in output:  # followed on replica A while replica B stores the lines
            lines += [line.text for line in message.lines]
            if message.HasField("command"):
                final = message.command
    assert lines == ["building", "activating"]
    assert final is not None and final.state == pb.COMMAND_STATE_SUCCEEDED and final.exit_code == 0
    on_a = await a.until("web1", lambda h: h.last_switch.command_id == command_id)
    on_b = await b.host("web1")
    assert on_a.last_switch == on_b.last_switch
    assert [(c.kind, c.status) for c in on_a.compartments] == [(c.kind, c.status) for c in on_b.compartments]
    await agent.close()


async def test_a_watcher_on_one_replica_sees_a_switch_started_on_the_other_in_one_order(replicas) -> None:
    a, b = replicas
    agent = await a.agent("db1")
    await b.until("db1", lambda h: h.online)
    watch_a = a.fleet.WatchFleet(fleet_pb.WatchFleetRequest())
    watch_b = b.fleet.WatchFleet(fleet_pb.WatchFleetRequest())
    start_a, start_b = await watch_a.read(), await watch_b.read()
    started = await a.fleet.RunOperation(
        fleet_pb.RunOperationRequest(hosts=["db1"], operation=pb.OPERATION_SWITCH)
    )
    command_id = started.results[0].command_id
    await agent.recv("run_command")
    agent.finish(command_id, 0, generation="system-2-link")

    async def events_until_finished(watch) -> list[fleet_pb.WatchFleetResponse]:
        seen = []
        async with asyncio.timeout(TIMEOUT):
            while True:
                event = await watch.read()
                seen.append(event)
                if event.command.id == command_id and event.command.state == pb.COMMAND_STATE_SUCCEEDED:
                    return seen

    on_a, on_b = await events_until_finished(watch_a), await events_until_finished(watch_b)
    watch_a.cancel()
    watch_b.cancel()
    # The same events, numbered by the log, in the same order on both replicas; never backwards.
    tail = min(len(on_a), len(on_b))
    assert [(e.version, e.WhichOneof("event")) for e in on_a[-tail:]] == [
        (e.version, e.WhichOneof("event")) for e in on_b[-tail:]
    ]
    for start, seen in ((start_a, on_a), (start_b, on_b)):
        versions = [start.version, *(e.version for e in seen)]
        assert versions == sorted(set(versions))
    assert any(e.command.id == command_id and e.command.state == pb.COMMAND_STATE_PENDING for e in on_b)
    await agent.close()


async def test_a_host_whose_agent_connects_to_the_other_replica_moves_there(replicas) -> None:
    a, b = replicas
    first = await a.agent("cache1")
    await b.until("cache1", lambda h: h.online)
    second = await b.agent("cache1")  # newest wins: replica A lets go of its stream
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        await first.recv()
    assert ended.value.code() == grpc.StatusCode.ABORTED
    assert "another control-plane replica" in (ended.value.details() or "")
    # A's stale stream publishes nothing: both replicas show the host online, held by B.
    await a.until("cache1", lambda h: h.online)
    assert (await b.host("cache1")).online
    assert a.plane.fleet is not None and a.plane.fleet.hosts["cache1"].held_by
    # A command given to A reaches the agent on B, and a test-settings change given to A does too.
    started = await a.fleet.RunOperation(
        fleet_pb.RunOperationRequest(hosts=["cache1"], operation=pb.OPERATION_PULL)
    )
    assert (await second.recv("run_command")).run_command.command_id == started.results[0].command_id
    await a.fleet.UpdateHostSettings(
        fleet_pb.UpdateHostSettingsRequest(
            host="cache1", test_settings_override=pb.TestSettingsOverride(enabled=False)
        )
    )
    pushed = (await second.recv("settings")).settings
    assert not pushed.tests.enabled
    await second.close()
    await a.until("cache1", lambda h: not h.online)  # B let go; A's watchers see it


async def test_one_replica_leads_and_another_takes_over_when_it_stops(postgres_cluster: Cluster) -> None:
    database = postgres_cluster.new_database()
    config = ControlPlaneConfig(require_api_tokens=False, database=database, grpc_address="127.0.0.1:0")
    async with ControlPlane(config) as a, ControlPlane(config) as b:
        assert a.replicas is not None and b.replicas is not None
        assert [a.replicas.leading, b.replicas.leading] == [True, False]
        took_over = asyncio.Event()
        b.replicas.on_leading.append(took_over.set)
        await a.stop()
        async with asyncio.timeout(TIMEOUT):
            await took_over.wait()
        assert b.replicas.leading


async def test_a_rollout_created_on_a_replica_that_does_not_lead_is_run_by_the_one_that_does(
    replicas,
) -> None:
    a, b = replicas
    assert a.plane.replicas is not None and a.plane.replicas.leading
    agent = await b.agent("web1")
    await a.until("web1", lambda h: h.online)
    spec = rpb.RolloutSpec(commit="c" * 40, lock_hash="d" * 64, selector="", batch_size=1)
    rollout = (await b.fleet.CreateRollout(rpb.CreateRolloutRequest(spec=spec))).rollout
    run = (await agent.recv("run_command")).run_command  # the leader (A) started it, B handed it down
    assert run.operation == pb.OPERATION_PULL and run.target_commit == "c" * 40
    on_b = await b.until("web1", lambda h: h.rollout_id == rollout.id)
    assert on_b.desired_state.commit == "c" * 40  # B knows the rollout's target too
    await agent.close()


async def test_revoking_an_agent_token_on_one_replica_ends_its_stream_on_the_other(replicas) -> None:
    a, b = replicas
    agent = await b.agent("web1")
    await a.until("web1", lambda h: h.online)
    token = (await a.fleet.ListAgentTokens(fleet_pb.ListAgentTokensRequest(host="web1"))).tokens[0]
    await a.fleet.RevokeAgentToken(fleet_pb.RevokeAgentTokenRequest(token_id=token.token_id))
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        await agent.recv("run_command")
    assert ended.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_revoking_an_api_token_on_one_replica_ends_its_watch_on_the_other(
    postgres_cluster: Cluster,
) -> None:
    admin = "fdapi_" + "a" * 40
    config = ControlPlaneConfig(
        database=postgres_cluster.new_database(), grpc_address="127.0.0.1:0", admin_token=admin
    )
    async with (
        ControlPlane(config) as a,
        ControlPlane(config) as b,
        aio_channel(a.grpc_target, admin) as as_admin,
    ):
        created = await fleet_grpc.FleetServiceStub(as_admin).CreateApiToken(
            fleet_pb.CreateApiTokenRequest(name="dashboard", role=pb.ROLE_VIEWER)
        )
        async with aio_channel(b.grpc_target, created.token) as as_viewer:
            watch = fleet_grpc.FleetServiceStub(as_viewer).WatchFleet(fleet_pb.WatchFleetRequest())
            assert (await watch.read()).HasField("snapshot")
            await fleet_grpc.FleetServiceStub(as_admin).RevokeApiToken(
                fleet_pb.RevokeApiTokenRequest(token_id=created.api_token.token_id)
            )
            with pytest.raises(grpc.aio.AioRpcError) as ended:
                async with asyncio.timeout(TIMEOUT):
                    while True:
                        await watch.read()
            assert ended.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_last_seen_and_metrics_of_a_host_held_elsewhere_are_read_from_its_holders_writes(
    replicas,
) -> None:
    a, b = replicas
    agent = await b.agent("web1")
    await a.until("web1", lambda h: h.online)
    agent.send(
        heartbeat=agent_pb.Heartbeat(
            facts=agent.facts(commit="e" * 40),
            metrics=pb.Metrics(cpu_percent=42.0),
            test_status=agent.test_status,
        )
    )
    await b.until("web1", lambda h: h.facts.commit == "e" * 40)  # B has the heartbeat
    assert a.plane.fleet is not None and b.plane.fleet is not None and a.plane.replicas is not None
    await b.plane.fleet.flush()  # B writes behind, as it does every second
    await a.plane.replicas.read_seen_elsewhere()  # A reads them, as it does every few seconds
    on_a, on_b = await a.host("web1"), await b.host("web1")
    assert on_a.metrics.cpu_percent == on_b.metrics.cpu_percent == 42.0
    assert on_a.last_seen == on_b.last_seen
    await agent.close()
