"""`fleetdeck controlplane --db-file db.uri` as a real process on PostgreSQL, with a real agent: a
switch, its tests, then a restart of the control plane with hosts, commands, test runs, compartments
and the fleet version intact, and the password of the URI never in the process listing or its log."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import socket
import sys
from pathlib import Path

from agent_world import COMMAND_TIMEOUT, Fleet, World, git
from postgres import Cluster

from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import types_pb2 as pb

ADMIN_TOKEN = "fdapi_" + "p" * 40
PASSWORD = "not-in-any-listing"
READY = "control plane serving gRPC on"


class ControlPlaneProcess:
    """`fleetdeck controlplane` in a process group of its own; its output is kept, line by line."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.args = args
        self.env = env
        self.lines: list[str] = []
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    @property
    def grpc_target(self) -> str:
        return self.args[self.args.index("--grpc") + 1]

    async def start(self) -> None:
        """Start it and return once it serves."""
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "fleetdeck.cli", "controlplane", *self.args,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env=self.env, start_new_session=True,
        )  # fmt: skip
        serving = asyncio.Event()
        self._reader = asyncio.create_task(self._read(serving))
        try:
            async with asyncio.timeout(COMMAND_TIMEOUT):
                await serving.wait()
        except TimeoutError:
            raise AssertionError("the control plane never served:\n" + "\n".join(self.lines)) from None

    async def _read(self, serving: asyncio.Event) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))
            if READY in self.lines[-1]:
                serving.set()

    def command_line(self) -> str:
        """What a process listing shows of it."""
        assert self.proc is not None
        return Path(f"/proc/{self.proc.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()

    async def stop(self) -> int:
        """SIGTERM and its exit status (SIGKILL if it lingers)."""
        assert self.proc is not None and self._reader is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(COMMAND_TIMEOUT):
                code = await self.proc.wait()
        except TimeoutError:
            os.killpg(self.proc.pid, signal.SIGKILL)
            code = await self.proc.wait()
        await self._reader
        return code


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    args = ["--db-file", str(tmp_path / "db.uri"), "--grpc", f"127.0.0.1:{_free_port()}"]
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
