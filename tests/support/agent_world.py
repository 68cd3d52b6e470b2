"""The agent tests' world: shell scripts, host checkouts, real agent processes, a FleetService client."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import field_mask_pb2

from fleetdeck.client import aio_channel
from fleetdeck.v1 import fleet_service_pb2, fleet_service_pb2_grpc, types_pb2


def write_script(path: Path, body: str, executable: bool = True) -> Path:
    """Write a shell script (a bash shebang is added) and set or clear its executable bits."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/usr/bin/env bash\n" + body.lstrip("\n"))
    mode = path.stat().st_mode
    bits = stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
    path.chmod(mode | bits if executable else mode & ~bits)
    return path


# --- end-to-end: a real control plane, real agent processes, real git repos and scripts ------------

COMMAND_TIMEOUT = 20.0
# INTERRUPTED is left out: the control plane says so until the agent reports the command again.
FINISHED_STATES = (
    types_pb2.COMMAND_STATE_SUCCEEDED,
    types_pb2.COMMAND_STATE_FAILED,
    types_pb2.COMMAND_STATE_CANCELLED,
    types_pb2.COMMAND_STATE_TIMED_OUT,
    types_pb2.COMMAND_STATE_REFUSED,
)

GIT_ENV = {
    "GIT_AUTHOR_NAME": "fleet",
    "GIT_AUTHOR_EMAIL": "fleet@example.org",
    "GIT_COMMITTER_NAME": "fleet",
    "GIT_COMMITTER_EMAIL": "fleet@example.org",
}


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` and return its stripped stdout."""
    env = {**os.environ, **GIT_ENV}
    done = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    )
    return done.stdout.strip()


SWITCH = """
gen_file="$FLEETDECK_GENERATION_PATH"
n=$(sed -E 's/[^0-9]//g' "$gen_file")
echo "building the system configuration..."
echo "system-$((n + 1))-link" > "$gen_file"
echo "activating system-$((n + 1))-link"
"""

ROLLBACK = """
gen_file="$FLEETDECK_GENERATION_PATH"
n=$(sed -E 's/[^0-9]//g' "$gen_file")
echo "system-$((n - 1))-link" > "$gen_file"
echo "rolled back to system-$((n - 1))-link"
"""


@dataclass
class HostWorld:
    """One host on disk: its fleet repo checkout (with a bare origin), scripts, state and config."""

    name: str
    root: Path
    target: str
    token: str
    switch: str = SWITCH
    rollback: str = ROLLBACK
    tests: dict[str, str] = field(default_factory=dict)
    config_extra: str = ""
    also: tuple[str, ...] = ()  # more control-plane addresses (replicas), after `target`

    def __post_init__(self) -> None:
        self.origin = self.root / "origin.git"
        self.repo = self.root / "checkout"
        self.state_dir = self.root / "state"
        self.generation = self.root / "generation"
        self.config_path = self.root / "agent.toml"
        self.log = self.root / "agent.log"
        seed = self.root / "seed"
        seed.mkdir(parents=True)
        git(seed, "init", "-q", "-b", "main")
        (seed / "flake.lock").write_text('{"nodes": {}, "version": 7}\n')
        for name, body in self.tests.items():
            write_script(seed / "hosts" / self.name / "tests" / name, body)
        (seed / "hosts" / self.name / "README").parent.mkdir(parents=True, exist_ok=True)
        (seed / "hosts" / self.name / "README").write_text(f"host {self.name}\n")
        git(seed, "add", "-A")
        git(seed, "commit", "-q", "-m", "initial")
        subprocess.run(["git", "clone", "-q", "--bare", str(seed), str(self.origin)], check=True)
        subprocess.run(["git", "clone", "-q", str(self.origin), str(self.repo)], check=True)
        self.seed = seed
        self.generation.write_text("system-1-link\n")
        bin_dir = self.root / "bin"
        write_script(bin_dir / "switch", self.switch)
        write_script(bin_dir / "rollback", self.rollback)
        (self.root / "token").write_text(self.token + "\n")
        listed = ", ".join(f'"{address}"' for address in (self.target, *self.also))
        planes = f"[{listed}]" if self.also else f'"{self.target}"'
        self.config_path.write_text(
            f"controlplane = {planes}\n"
            f'host = "{self.name}"\n'
            f'token_file = "token"\n'
            f'repo_dir = "checkout"\n'
            f'state_dir = "state"\n'
            f'generation_path = "generation"\n'
            "stop_grace_seconds = 1\n"
            "backoff_initial_seconds = 0.2\n"
            "backoff_max_seconds = 1\n"
            f"{self.config_extra}\n"
            "[operations]\n"
            f'switch = ["{bin_dir / "switch"}"]\n'
            f'rollback = ["{bin_dir / "rollback"}"]\n'
        )

    def push_commit(self, message: str, lock: str | None = None) -> str:
        """Commit to the origin (through the seed clone); returns the new commit."""
        (self.seed / "CHANGES").write_text(message + "\n")
        if lock is not None:
            (self.seed / "flake.lock").write_text(lock)
        git(self.seed, "add", "-A")
        git(self.seed, "commit", "-q", "-m", message)
        git(self.seed, "push", "-q", str(self.origin), "main")
        return git(self.seed, "rev-parse", "HEAD")


class AgentProcess:
    """A real `fleetdeck agent` process (python -m agent.cli), in its own process group."""

    def __init__(self, world: HostWorld) -> None:
        self.world = world
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> AgentProcess:
        """Start the agent; its log goes to the host's agent.log."""
        with self.world.log.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "agent.cli",
                "--config",
                str(self.world.config_path),
                "--log-level",
                "DEBUG",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        """The agent's process id."""
        assert self.proc is not None
        return self.proc.pid

    async def wait(self) -> int:
        """Wait for the agent to exit."""
        assert self.proc is not None
        async with asyncio.timeout(COMMAND_TIMEOUT):
            return await self.proc.wait()

    def kill(self) -> None:
        """SIGKILL the agent only (not the commands it started: they have their own groups)."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.terminate()
        try:
            async with asyncio.timeout(10):
                await self.proc.wait()
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


class Fleet:
    """The FleetService of a running control plane, with helpers that await events, never sleep."""

    def __init__(
        self, target: str, credentials: grpc.ChannelCredentials | None = None, api_token: str | None = None
    ) -> None:
        if credentials is None:
            self.channel = aio_channel(target, api_token)
        else:
            self.channel = grpc.aio.secure_channel(target, credentials)
        self.stub = fleet_service_pb2_grpc.FleetServiceStub(self.channel)

    async def close(self) -> None:
        """Close the channel."""
        await self.channel.close()

    async def token(self, host: str, enrollment: bool = False) -> str:
        """A new agent token for `host` (a one-time enrollment token if asked)."""
        request = fleet_service_pb2.CreateAgentTokenRequest(host=host, enrollment=enrollment)
        response = await self.stub.CreateAgentToken(request)
        return str(response.token)

    async def run(self, host: str, operation: types_pb2.Operation, seconds: float | None = None) -> str:
        """Start an operation on one host; its command id."""
        request = fleet_service_pb2.RunOperationRequest(hosts=[host], operation=operation)
        if seconds is not None:
            request.timeout.FromNanoseconds(int(seconds * 1e9))
        response = await self.stub.RunOperation(request)
        result = response.results[0]
        assert result.command_id, result.refused_reason
        return str(result.command_id)

    async def wait_host(
        self, name: str, predicate: Callable[[Any], bool], within: float = COMMAND_TIMEOUT
    ) -> Any:
        """The host once `predicate(host)` holds, watching WatchFleet."""
        async with asyncio.timeout(within):
            call = self.stub.WatchFleet(fleet_service_pb2.WatchFleetRequest())
            try:
                async for event in call:
                    kind = event.WhichOneof("event")
                    hosts = (
                        event.snapshot.hosts if kind == "snapshot" else [event.host] if kind == "host" else []
                    )
                    for host in hosts:
                        if host.name == name and predicate(host):
                            return host
            finally:
                call.cancel()
        raise AssertionError("WatchFleet ended")

    async def wait_command(
        self, command_id: str, predicate: Callable[[Any], bool], within: float = COMMAND_TIMEOUT
    ) -> Any:
        """The command once `predicate(command)` holds, watching WatchFleet."""
        async with asyncio.timeout(within):
            call = self.stub.WatchFleet(fleet_service_pb2.WatchFleetRequest())
            try:
                first = True
                async for event in call:
                    if first:
                        first = False
                        command = await self.command(command_id)
                        if predicate(command):
                            return command
                    is_it = event.WhichOneof("event") == "command" and event.command.id == command_id
                    if is_it and predicate(event.command):
                        return event.command
            finally:
                call.cancel()
        raise AssertionError("WatchFleet ended")

    async def command(self, command_id: str) -> Any:
        """GetCommand."""
        response = await self.stub.GetCommand(fleet_service_pb2.GetCommandRequest(command_id=command_id))
        return response.command

    async def finished(self, command_id: str, within: float = COMMAND_TIMEOUT) -> Any:
        """The command once it is in a finished state."""
        return await self.wait_command(command_id, lambda c: c.state in FINISHED_STATES, within)

    async def output(self, command_id: str) -> list[Any]:
        """Every stored line of a command's output."""
        lines: list[Any] = []
        request = fleet_service_pb2.StreamCommandOutputRequest(command_id=command_id, no_follow=True)
        async with asyncio.timeout(COMMAND_TIMEOUT):
            async for response in self.stub.StreamCommandOutput(request):
                lines.extend(response.lines)
        return lines

    async def follow_until(self, command_id: str, predicate: Callable[[list[Any]], bool]) -> list[Any]:
        """Live output of a command until `predicate(lines so far)` holds."""
        lines: list[Any] = []
        request = fleet_service_pb2.StreamCommandOutputRequest(command_id=command_id)
        async with asyncio.timeout(COMMAND_TIMEOUT):
            call = self.stub.StreamCommandOutput(request)
            try:
                async for response in call:
                    lines.extend(response.lines)
                    if predicate(lines):
                        return lines
            finally:
                call.cancel()
        raise AssertionError(f"output of {command_id} ended before the condition held")

    async def test_run(self, run_id: str) -> Any:
        """GetTestRun."""
        response = await self.stub.GetTestRun(fleet_service_pb2.GetTestRunRequest(run_id=run_id))
        return response.run

    async def set_heartbeat(self, seconds: float) -> None:
        """Set the fleet's heartbeat interval."""
        settings = types_pb2.Settings()
        settings.heartbeat_interval.FromNanoseconds(int(seconds * 1e9))
        await self.stub.UpdateSettings(
            fleet_service_pb2.UpdateSettingsRequest(
                settings=settings, update_mask=field_mask_pb2.FieldMask(paths=["heartbeat_interval"])
            )
        )


@dataclass
class World:
    """A control plane, its FleetService client, and the hosts and agents of one test."""

    tmp_path: Path
    cp: Any
    fleet: Fleet
    agents: list[AgentProcess] = field(default_factory=list)
    database: Path | str | None = None  # the control plane's; None: fleet.db in tmp_path

    async def host(
        self, name: str, token: str | None = None, target: str | None = None, **kwargs: Any
    ) -> HostWorld:
        """A host on disk with a fresh token (or `token`), its agent pointed at the control plane."""
        token = token if token is not None else await self.fleet.token(name)
        return HostWorld(name, self.tmp_path / name, target or self.cp.grpc_target, token, **kwargs)

    async def agent(self, world: HostWorld, online: bool = True) -> AgentProcess:
        """Start an agent for `world`; by default wait until the control plane shows it online."""
        agent = await AgentProcess(world).start()
        self.agents.append(agent)
        if online:
            await self.fleet.wait_host(world.name, lambda h: h.online and h.facts.agent_version != "")
        return agent


def control_plane_config(tmp_path: Path, port: int = 0, database: Path | str | None = None) -> Any:
    """The config of a test control plane (its database `database`, by default fleet.db in tmp_path)."""
    from controlplane.app import ControlPlaneConfig

    return ControlPlaneConfig(
        require_api_tokens=False,
        database=tmp_path / "fleet.db" if database is None else database,
        grpc_address=f"127.0.0.1:{port}",
        shutdown_grace_seconds=0.2,
    )
