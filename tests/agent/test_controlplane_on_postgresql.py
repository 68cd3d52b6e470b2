"""`fleetdeck controlplane --db-file db.uri` as a real process on PostgreSQL, with a real agent: a
switch, its tests, then a restart of the control plane with hosts, commands, test runs, compartments
and the fleet version intact, and the password of the URI never in the process listing or its log."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from agent_world import Fleet, World, git
from controlplane_process import READY, ControlPlaneProcess, free_port
from postgres import Cluster

from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import types_pb2 as pb

ADMIN_TOKEN = "fdapi_" + "p" * 40
PASSWORD = "not-in-any-listing"


def _tests(host: pb.Host) -> pb.Compartment:
    return host.compartments[4]


async def _everything(fleet: Fleet) -> tuple[object, ...]:
    """What a restart must keep: the host's compartments, its commands and test runs, and the version."""
    host = (await fleet.stub.GetHost(fleet_pb.GetHostRequest(name="gpc0"))).host
    commands = (await fleet.stub.ListCommands(fleet_pb.ListCommandsRequest(host="gpc0"))).commands
    runs = (await fleet.stub.ListTestRuns(fleet_pb.ListTestRunsRequest(host="gpc0"))).runs
    return (
        [(c.kind, c.status, c.message) for c in host.compartments],
        host.last_switch,
        host.facts.generation,
        [(c.id, c.operation, c.state, c.exit_code) for c in commands],
        [(r.id, r.state, list(r.cases)) for r in runs],
    )


async def test_a_control_plane_process_on_postgresql_keeps_everything_across_a_restart(
    tmp_path: Path, postgres_cluster: Cluster
) -> None:
    uri = postgres_cluster.new_database()
    user = f"{postgres_cluster.user}@"
    (tmp_path / "db.uri").write_text(uri.replace(user, f"{postgres_cluster.user}:{PASSWORD}@", 1) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETDECK_")}
    env["FLEETDECK_ADMIN_TOKEN"] = ADMIN_TOKEN
    args = ["--db-file", str(tmp_path / "db.uri"), "--grpc", f"127.0.0.1:{free_port()}"]
    plane = ControlPlaneProcess(args, env)
    await plane.start()
    world = World(tmp_path, plane, Fleet(plane.grpc_target, api_token=ADMIN_TOKEN))
    try:
        assert PASSWORD not in plane.command_line() and "postgresql://" not in plane.command_line()
        gpc0 = await world.host("gpc0", tests={"10-network.sh": "echo 'ping ok'"})
        commit = git(gpc0.repo, "rev-parse", "HEAD")
        lock = hashlib.sha256((gpc0.repo / "flake.lock").read_bytes()).hexdigest()
        await world.fleet.stub.SetDesiredState(fleet_pb.SetDesiredStateRequest(commit=commit, lock_hash=lock))
        await world.agent(gpc0)

        switch_id = await world.fleet.run("gpc0", pb.OPERATION_SWITCH)
        assert (await world.fleet.finished(switch_id)).state == pb.COMMAND_STATE_SUCCEEDED
        host = await world.fleet.wait_host("gpc0", lambda h: _tests(h).status == pb.COMPARTMENT_STATUS_OK)
        assert host.facts.generation == "system-2-link"
        before = await _everything(world.fleet)
        version = (await world.fleet.stub.ListHosts(fleet_pb.ListHostsRequest())).version
        commands, runs = before[3], before[4]
        assert [c[1] for c in commands] == [pb.OPERATION_TEST, pb.OPERATION_SWITCH]  # newest first
        assert [(r[0], r[1], [(c.name, c.outcome) for c in r[2]]) for r in runs] == [
            (commands[0][0], pb.TEST_STATE_PASSED, [("Network", pb.TEST_OUTCOME_PASSED)])
        ]

        assert await plane.stop() == 0
        await world.fleet.close()
        await plane.start()  # the same database, the same port: the agent reconnects by itself
        world.fleet = Fleet(plane.grpc_target, api_token=ADMIN_TOKEN)
        await world.fleet.wait_host("gpc0", lambda h: h.online)
        assert await _everything(world.fleet) == before
        assert (await world.fleet.stub.ListHosts(fleet_pb.ListHostsRequest())).version > version
        output = [line.text for line in await world.fleet.output(switch_id)]
        assert "activating system-2-link" in output
    finally:
        for agent in world.agents:
            await agent.stop()
        await world.fleet.close()
        await plane.stop()
    assert not [line for line in plane.lines if PASSWORD in line]
    assert any("***" in line and READY in line for line in plane.lines)  # the URI, redacted
