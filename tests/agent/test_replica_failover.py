"""Losing a control-plane replica loses nothing: two real `fleetdeck controlplane` processes on one
PostgreSQL database, five real agents listing both, and the replica holding them killed (kill -9) while
their switches write output. Every agent reconnects to the other replica, every line is stored exactly
once, and every switch finishes with its real exit code, as watchers on the surviving replica see."""

from __future__ import annotations

import os
from pathlib import Path

from agent_world import Fleet, HostWorld, World
from controlplane_process import ControlPlaneProcess, free_port
from postgres import Cluster

from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import types_pb2 as pb

ADMIN_TOKEN = "fdapi_" + "r" * 40
HOSTS = [f"web{i}" for i in range(1, 6)]
FIRST, TOTAL = 40, 80  # lines before the replica dies, and in all

# Writes FIRST lines, waits for the test's go-ahead (a file), writes the rest and exits 3: a real,
# non-zero exit code that must survive the loss of the replica the switch started on.
SWITCH = f"""
for i in $(seq 1 {FIRST}); do echo "line $i"; done
while [ ! -e "$(dirname "$0")/../go" ]; do sleep 0.05; done
for i in $(seq {FIRST + 1} {TOTAL}); do echo "line $i"; done
exit 3
"""


async def _lines(fleet: Fleet, command_id: str) -> list[str]:
    return [line.text for line in await fleet.output(command_id)]


async def test_a_replica_killed_mid_output_loses_no_line_and_no_exit_code(
    tmp_path: Path, postgres_cluster: Cluster
) -> None:
    database = postgres_cluster.new_database()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETDECK_")}
    env.update(FLEETDECK_ADMIN_TOKEN=ADMIN_TOKEN, FLEETDECK_DB=database)
    a = ControlPlaneProcess(["--grpc", f"127.0.0.1:{free_port()}"], env)
    b = ControlPlaneProcess(["--grpc", f"127.0.0.1:{free_port()}"], env)
    await a.start()
    await b.start()
    fleet_b = Fleet(b.grpc_target, api_token=ADMIN_TOKEN)
    world = World(tmp_path, a, fleet_b)
    try:
        hosts: list[HostWorld] = []
        for name in HOSTS:  # each agent lists A first: all of them connect to A
            host = await world.host(name, target=a.grpc_target, also=(b.grpc_target,), switch=SWITCH)
            hosts.append(host)
            await world.agent(host)  # online as replica B's watchers see it
        started = await fleet_b.stub.RunOperation(  # asked of B, run by agents A holds
            fleet_pb.RunOperationRequest(hosts=HOSTS, operation=pb.OPERATION_SWITCH)
        )
        commands = {r.host: r.command_id for r in started.results}
        assert all(commands.values()), started
        for command_id in commands.values():  # stored (and acknowledged) before the kill
            await fleet_b.follow_until(command_id, lambda lines: len(lines) >= FIRST)

        a.kill()
        for host in hosts:
            (host.root / "go").touch()

        finished = {name: await fleet_b.finished(command_id) for name, command_id in commands.items()}
        for name, command in finished.items():
            assert (command.state, command.exit_code) == (pb.COMMAND_STATE_FAILED, 3), (name, command)
            first, *lines = await _lines(fleet_b, commands[name])  # the agent's "$ <command>" first
            assert first.startswith("$ ") and lines == [f"line {i}" for i in range(1, TOTAL + 1)], name
        for name in HOSTS:  # back on B, and shown online there
            host = await fleet_b.wait_host(name, lambda h: h.online and h.last_switch.exit_code == 3)
            assert host.last_switch.command_id == commands[name]
        assert sum("unreachable" in (h.log.read_text()) for h in hosts) == len(hosts)
    finally:
        for agent in world.agents:
            await agent.stop()
        await fleet_b.close()
        await b.stop()
        await a.stop()
    assert not [line for line in b.lines if "Traceback" in line], "\n".join(b.lines)
