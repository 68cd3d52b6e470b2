"""A fleet for rollout tests: hosts checked out from ONE fleet repo (so a commit means the same on
every host), real agents with labels, and a wait for a rollout's events."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent_world import Fleet, HostWorld, World, git, write_script

from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import rollouts_pb2 as rpb

HOSTS = ["h1", "h2", "h3", "h4", "h5", "h6"]  # h1 is the canary (label canary=true)
LOCK = '{"nodes": {}, "version": 7}\n'
LOCK_HASH = hashlib.sha256(LOCK.encode()).hexdigest()
ROLLOUT_TIMEOUT = 60.0


class FleetRepo:
    """One fleet repo for every host: hosts/<name>/tests/10-ok.sh each, behind a bare origin."""

    def __init__(self, root: Path, hosts: list[str]) -> None:
        self.seed = root / "fleet-seed"
        self.origin = root / "fleet.git"
        self.seed.mkdir(parents=True)
        git(self.seed, "init", "-q", "-b", "main")
        (self.seed / "flake.lock").write_text(LOCK)
        for host in hosts:
            write_script(self.seed / "hosts" / host / "tests" / "10-ok.sh", "exit 0\n")
        git(self.seed, "add", "-A")
        git(self.seed, "commit", "-q", "-m", "initial")
        subprocess.run(["git", "clone", "-q", "--bare", str(self.seed), str(self.origin)], check=True)
        self.first = git(self.seed, "rev-parse", "HEAD")

    def commit(self, message: str, tests: dict[str, str]) -> str:
        """Commit test scripts ("h3/20-web.sh": body) and push; the new commit."""
        for path, body in tests.items():
            host, name = path.split("/")
            write_script(self.seed / "hosts" / host / "tests" / name, body)
        (self.seed / "CHANGES").write_text(message + "\n")
        git(self.seed, "add", "-A")
        git(self.seed, "commit", "-q", "-m", message)
        git(self.seed, "push", "-q", str(self.origin), "main")
        return git(self.seed, "rev-parse", "HEAD")


async def fleet_of(world: World, hosts: list[str] = HOSTS, canary: str = "h1") -> FleetRepo:
    """Hosts checked out from one fleet repo at its first commit, agents online, desired state set."""
    repo = FleetRepo(world.tmp_path, hosts)
    for name in hosts:
        labels = '[labels]\nrole = "web"\n' + ('canary = "true"\n' if name == canary else "")
        host: HostWorld = await world.host(name, config_extra=labels)
        git(host.repo, "remote", "set-url", "origin", str(repo.origin))
        git(host.repo, "fetch", "-q", "origin")
        git(host.repo, "reset", "-q", "--hard", repo.first)
        await world.agent(host)
    await world.fleet.stub.SetDesiredState(
        fleet_pb.SetDesiredStateRequest(commit=repo.first, lock_hash=LOCK_HASH)
    )
    return repo


async def create(world: World, commit: str, **spec: Any) -> rpb.Rollout:
    spec.setdefault("batch_size", 2)
    request = rpb.CreateRolloutRequest(spec=rpb.RolloutSpec(commit=commit, lock_hash=LOCK_HASH, **spec))
    return (await world.fleet.stub.CreateRollout(request)).rollout


async def wait_rollout(
    fleet: Fleet, rollout_id: str, predicate: Callable[[rpb.Rollout], bool], within: float = ROLLOUT_TIMEOUT
) -> rpb.Rollout:
    """The rollout once `predicate` holds, watching WatchFleet."""
    async with asyncio.timeout(within):
        call = fleet.stub.WatchFleet(fleet_pb.WatchFleetRequest())
        try:
            first = True
            async for event in call:
                if first:
                    first = False
                    got = await fleet.stub.GetRollout(rpb.GetRolloutRequest(rollout_id=rollout_id))
                    if predicate(got.rollout):
                        return got.rollout
                is_it = event.WhichOneof("event") == "rollout" and event.rollout.id == rollout_id
                if is_it and predicate(event.rollout):
                    return event.rollout
        finally:
            call.cancel()
    raise AssertionError("WatchFleet ended")
