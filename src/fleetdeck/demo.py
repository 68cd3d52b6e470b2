"""`fleetdeck demo`: a live fleet on this machine — a control plane, three agents, a real git repo.

Everything lives in one directory (a temporary one unless --dir is given): the fleet repo with
`hosts/<name>/tests/`, one checkout per host, and small scripts standing in for `nixos-rebuild`
that record a generation. Ctrl-C stops the agents, then the control plane. Longer than most modules
because most of it is the demo world written out as data (repo, test scripts, agent configs).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

import grpc

from fleetdeck import logs
from fleetdeck.v1 import fleet_service_pb2, fleet_service_pb2_grpc

logger = logging.getLogger(__name__)

READY_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
_READY_POLL_SECONDS = 0.1


def _gpu_case() -> str:
    return """
    # fleetdeck-name: GPU acceleration
    state="$(dirname "$FLEETDECK_GENERATION_PATH")/system-state"
    sleep 0.6
    if [ "$(cat "$state" 2>/dev/null)" = "switched" ]; then
      echo "probing /dev/nvidia0..."
      echo "Error: nvidia-smi not found" >&2
      exit 1
    fi
    echo "nvidia-smi: NVIDIA GeForce RTX 3060, driver 550.78, CUDA 12.4"
    """


GPC0_TESTS = {
    "10-network.sh": """
    # fleetdeck-name: Network connectivity
    sleep 0.4
    echo "ping 1.1.1.1: 3 packets transmitted, 3 received, 0% packet loss"
    """,
    "20-ssh.sh": """
    # fleetdeck-name: SSH service
    sleep 0.2
    echo "sshd.service: active (running), listening on 0.0.0.0:22"
    """,
    "30-x11.sh": """
    # fleetdeck-name: X11 display
    sleep 0.5
    echo "DISPLAY=:0 xrandr: HDMI-1 connected 2560x1440+0+0"
    """,
    "40-gpu-acceleration.sh": _gpu_case(),
    "50-docker.sh": """
    # fleetdeck-name: Docker daemon
    sleep 0.4
    echo "docker info: Server Version: 27.3.1, Containers: 4"
    """,
    "60-home-permissions.sh": """
    # fleetdeck-name: Home directory permissions
    sleep 0.2
    echo "/home/mba: drwx------ mba users"
    """,
    "70-nix-store.sh": """
    # fleetdeck-name: Nix store integrity
    sleep 0.8
    echo "nix-store --verify: checking path existence... ok"
    """,
    "80-system-services.sh": """
    # fleetdeck-name: System services
    sleep 0.3
    echo "systemctl --failed: 0 loaded units listed"
    """,
}

WEB1_TESTS = {
    "10-http.sh": """
    # fleetdeck-name: HTTP endpoint
    sleep 0.3
    echo "GET https://web1.example.org/health -> 200 OK"
    """,
    "20-tls-certificate.sh": """
    # fleetdeck-name: TLS certificate
    sleep 0.2
    echo "certificate valid for 63 more days"
    """,
    "30-disk-space.sh": """
    # fleetdeck-name: Disk space
    sleep 0.2
    echo "/: 41% used"
    """,
    # Flaky on purpose: every second run times out on the resolver, whatever the generation, so
    # the Tests popup can show its FLAKY badge and offer to run the tests again before a rollback.
    "40-dns.sh": """
    # fleetdeck-name: DNS resolver
    count="$(dirname "$FLEETDECK_GENERATION_PATH")/dns-runs"
    n=$(( $(cat "$count" 2>/dev/null || echo 0) + 1 ))
    echo "$n" > "$count"
    sleep 0.2
    if [ $((n % 2)) -eq 0 ]; then
      echo ";; connection timed out; no servers could be reached" >&2
      exit 1
    fi
    echo "dig web1.example.org: 203.0.113.10 (12 ms)"
    """,
}

SWITCH = """
# Stands in for `nixos-rebuild switch`: prints like a build would and bumps the generation.
set -eu
gen_file="$FLEETDECK_GENERATION_PATH"
state="$(dirname "$gen_file")"
gen=$(sed -E 's/[^0-9]//g' "$gen_file")
next=$((gen + 1))
echo "building the system configuration..."
sleep 0.6
echo "these 3 derivations will be built:"
echo "  /nix/store/8k1…-nixos-system-$FLEETDECK_HOST-24.11.drv"
echo "  /nix/store/2qz…-etc.drv"
echo "  /nix/store/x9f…-activate.drv"
sleep 1.0
echo "activating the configuration..."
echo "system-$next-link" > "$gen_file"
echo switched > "$state/system-state"
sleep 0.4
echo "setting up /etc..."
echo "reloading the following units: dbus.service"
echo "Done. The new configuration is /nix/var/nix/profiles/system-$next-link"
"""

ROLLBACK = """
# Stands in for `nixos-rebuild switch --rollback`: back to the previous generation.
set -eu
gen_file="$FLEETDECK_GENERATION_PATH"
state="$(dirname "$gen_file")"
gen=$(sed -E 's/[^0-9]//g' "$gen_file")
prev=$((gen > 1 ? gen - 1 : 1))
echo "switching profile from version $gen to $prev"
sleep 0.6
echo "activating the configuration..."
echo "system-$prev-link" > "$gen_file"
echo rolled-back > "$state/system-state"
sleep 0.3
echo "Done. The configuration is /nix/var/nix/profiles/system-$prev-link"
"""


# The commit on branch `next` of the demo's fleet repo: a change that breaks one case on the canary
# (web1), so a rollout of it stops after the canary and touches no other host.
NEXT_WEB1_TESTS = {
    "20-tls-certificate.sh": """
    # fleetdeck-name: TLS certificate
    sleep 0.2
    echo "certificate chain does not verify against the new CA bundle" >&2
    exit 1
    """,
}
NEXT_BRANCH = "next"


@dataclass(frozen=True)
class DemoHost:
    """One host of the demo fleet."""

    name: str
    tests: dict[str, str]
    tests_table: str = ""
    labels: str = ""


HOSTS = (
    DemoHost("gpc0", GPC0_TESTS, labels='role = "workstation"'),
    DemoHost("web1", WEB1_TESTS, "[tests]\nauto_run_after_switch = false\n", 'role = "web"\ncanary = "true"'),
    DemoHost("mac1", {}, labels='role = "laptop"'),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `fleetdeck demo`."""
    parser.add_argument("--grpc", default="127.0.0.1:50051", help="gRPC address (default 127.0.0.1:50051)")
    parser.add_argument(
        "--http", default="127.0.0.1:8080", help="web UI address (default 127.0.0.1:8080; 'off' for none)"
    )
    parser.add_argument(
        "--dir", type=Path, help="keep the demo's state in this directory (default: temporary)"
    )


def run(args: argparse.Namespace) -> int:
    """Build the fleet, run it until Ctrl-C, stop everything; non-zero when it could not start."""
    logs.setup(logging.INFO, fmt="%(levelname)s %(name)s: %(message)s")
    keep = args.dir is not None
    base = args.dir.resolve() if keep else Path(tempfile.mkdtemp(prefix="fleetdeck-demo-"))
    base.mkdir(parents=True, exist_ok=True)
    http = None if str(args.http).lower() in ("", "off", "none") else str(args.http)
    try:
        return asyncio.run(Demo(base, str(args.grpc), http).run())
    finally:
        if not keep:
            shutil.rmtree(base, ignore_errors=True)


def _write_script(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/usr/bin/env bash\n" + textwrap.dedent(body).lstrip("\n"))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Fleetdeck demo",
        "GIT_AUTHOR_EMAIL": "demo@fleetdeck.invalid",
        "GIT_COMMITTER_NAME": "Fleetdeck demo",
        "GIT_COMMITTER_EMAIL": "demo@fleetdeck.invalid",
    }
    done = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    )
    return done.stdout.strip()


def build_fleet_repo(base: Path) -> tuple[Path, str, str]:
    """The fleet config repo (a bare origin and a work tree); returns (origin, HEAD, lock hash)."""
    work, origin = base / "fleet-repo", base / "fleet-origin.git"
    if not (work / ".git").exists():
        work.mkdir(parents=True, exist_ok=True)
        _git(work, "init", "-q", "-b", "main")
        (work / "flake.lock").write_text(
            json.dumps(
                {"nodes": {"nixpkgs": {"locked": {"rev": "a3b1c9e"}}}, "root": "root", "version": 7}, indent=2
            )
            + "\n"
        )
        (work / "flake.nix").write_text('{\n  description = "the demo fleet";\n  outputs = _: { };\n}\n')
        for host in HOSTS:
            (work / "hosts" / host.name).mkdir(parents=True, exist_ok=True)
            (work / "hosts" / host.name / "configuration.nix").write_text(
                f'{{ networking.hostName = "{host.name}"; }}\n'
            )
            for name, body in host.tests.items():
                _write_script(work / "hosts" / host.name / "tests" / name, body)
        _git(work, "add", "-A")
        _git(work, "commit", "-q", "-m", "Demo fleet: three hosts with their tests")
    if subprocess.run(
        ["git", "-C", str(work), "rev-parse", "-q", "--verify", NEXT_BRANCH], capture_output=True
    ).returncode:
        _git(work, "checkout", "-q", "-b", NEXT_BRANCH)
        for name, body in NEXT_WEB1_TESTS.items():
            _write_script(work / "hosts" / "web1" / "tests" / name, body)
        _git(work, "commit", "-q", "-am", "web1: verify TLS against the new CA bundle (breaks on web1)")
        _git(work, "checkout", "-q", "main")
    if not origin.exists():
        subprocess.run(["git", "clone", "-q", "--bare", str(work), str(origin)], check=True)
    _git(work, "push", "-q", str(origin), NEXT_BRANCH)  # a demo directory made before `next` gets it too
    head = _git(work, "rev-parse", "HEAD")
    lock_hash = hashlib.sha256((work / "flake.lock").read_bytes()).hexdigest()
    return origin, head, lock_hash


def next_commit(base: Path) -> str:
    """The commit on the fleet repo's `next` branch: roll it out to see a rollout stop on its canary."""
    return _git(base / "fleet-repo", "rev-parse", NEXT_BRANCH)


def prepare_host(base: Path, origin: Path, host: DemoHost, grpc_target: str) -> Path:
    """A host's checkout, scripts, generation file and agent config; returns the config path."""
    root = base / "machines" / host.name
    checkout = root / "checkout"
    if not checkout.exists():
        root.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "-q", str(origin), str(checkout)], check=True)
    generation = root / "generation"
    if not generation.exists():
        generation.write_text("system-1-link\n")
    _write_script(root / "bin" / "switch", SWITCH)
    _write_script(root / "bin" / "rollback", ROLLBACK)
    config = root / "agent.toml"
    config.write_text(
        f'controlplane = "{grpc_target}"\n'
        f'host = "{host.name}"\n'
        'token_file = "token"\n'
        'repo_dir = "checkout"\n'
        'state_dir = "state"\n'
        'generation_path = "generation"\n'
        "stop_grace_seconds = 2\n"
        "\n[operations]\n"
        f'switch = ["{root / "bin" / "switch"}"]\n'
        f'rollback = ["{root / "bin" / "rollback"}"]\n'
        f"\n{host.tests_table}" + (f"\n[labels]\n{host.labels}\n" if host.labels else "")
    )
    return config


_SUBCOMMAND_MODULES = {"agent": "agent.cli", "controlplane": "controlplane.cli"}
_RUN_SUBCOMMAND = (
    "import argparse, importlib, sys; m = importlib.import_module(sys.argv.pop(1)); "
    "p = argparse.ArgumentParser(); m.add_arguments(p); sys.exit(m.run(p.parse_args()))"
)


def fleetdeck_argv(command: str, *args: str) -> list[str]:
    """argv running `fleetdeck <command> <args>` with this interpreter's installation."""
    script = Path(sys.executable).with_name("fleetdeck")
    if script.exists() and importlib.util.find_spec("fleetdeck.cli") is not None:
        return [str(script), command, *args]
    # Without the top-level CLI, run the subcommand's module the same way it would.
    return [sys.executable, "-c", _RUN_SUBCOMMAND, _SUBCOMMAND_MODULES[command], *args]


async def _terminate(proc: asyncio.subprocess.Process, name: str) -> None:
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        async with asyncio.timeout(STOP_TIMEOUT_SECONDS):
            await proc.wait()
    except TimeoutError:
        logger.warning("%s did not stop within %.0f s; killing it", name, STOP_TIMEOUT_SECONDS)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()


def _kill_leftover_commands(state_dir: Path) -> None:
    """Commands outlive their agent by design; the demo ends them too."""
    try:
        journal = json.loads((state_dir / "journal.json").read_text())
    except (OSError, ValueError):
        return
    for entry in journal.get("commands", {}).values():
        pid = entry.get("pid") if isinstance(entry, dict) else None
        if isinstance(pid, int) and pid > 0 and entry.get("finished") is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


def _admin_token(path: Path) -> str:
    """The demo's admin API token (the control plane's first one on a new database), kept in `path`."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


def _admin_password(path: Path, new_database: bool) -> str | None:
    """The web login password of the demo's user admin, kept in `path` (0600); a new one only for a
    new database (the control plane sets it there), None when an older database has its own."""
    if not path.exists() and new_database:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(12) + "\n")
    return path.read_text().strip() if path.exists() else None


def _read_ready(path: Path) -> dict[str, str] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else None


class Demo:
    """The demo's processes and their order of starting and stopping."""

    def __init__(self, base: Path, grpc_address: str, http_address: str | None) -> None:
        self.base = base
        self.grpc_address = grpc_address
        self.http_address = http_address
        self.stop = asyncio.Event()
        self.children: list[tuple[str, asyncio.subprocess.Process]] = []

    async def _spawn(
        self, name: str, argv: list[str], log: Path, env: dict[str, str] | None = None
    ) -> asyncio.subprocess.Process:
        with log.open("ab") as out:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
                env=env,
            )
        self.children.append((name, proc))
        return proc

    async def _wait_ready(self, proc: asyncio.subprocess.Process, ready: Path) -> dict[str, str]:
        # The ready file is written by another process; a short poll is the portable way to see it.
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            while (addresses := _read_ready(ready)) is None:
                if proc.returncode is not None:
                    raise RuntimeError(f"the control plane exited with {proc.returncode}")
                await asyncio.sleep(_READY_POLL_SECONDS)
        return addresses

    async def run(self) -> int:
        """Start everything, print how to reach it, wait for Ctrl-C, stop everything."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop.set)
        origin, head, lock_hash = build_fleet_repo(self.base)
        ready = self.base / "controlplane.ready.json"
        ready.unlink(missing_ok=True)
        admin_token = _admin_token(self.base / "admin-token")
        argv = ["controlplane", "--db", str(self.base / "fleet.db"), "--grpc", self.grpc_address]
        argv += ["--admin-token-file", str(self.base / "admin-token")]
        if self.http_address:
            argv += ["--http", self.http_address]
        argv += ["--ready-file", str(ready)]
        # The web login of user admin; the control plane sets it on a new database only.
        password = _admin_password(self.base / "admin-password", not (self.base / "fleet.db").exists())
        env = {**os.environ, **({"FLEETDECK_ADMIN_PASSWORD": password} if password else {})}
        cp = await self._spawn("control plane", fleetdeck_argv(*argv), self.base / "controlplane.log", env)
        try:
            try:
                addresses = await self._wait_ready(cp, ready)
            except (TimeoutError, RuntimeError) as error:
                print(
                    f"fleetdeck demo: the control plane did not start ({error}); see {self.base}/controlplane.log"
                )
                return 1
            target = addresses["grpc"]
            await self._enroll(target, admin_token, head, lock_hash, origin)
            self._print_banner(target, addresses.get("http", ""), lock_hash)
            waiter = asyncio.ensure_future(self.stop.wait())
            exited = asyncio.ensure_future(cp.wait())
            try:
                await asyncio.wait({waiter, exited}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
                exited.cancel()
            if cp.returncode is not None:
                print(f"fleetdeck demo: the control plane exited ({cp.returncode}); stopping")
                return 1
            print("\nstopping the demo fleet...")
            return 0
        finally:
            await self._shutdown()

    async def _enroll(self, target: str, admin_token: str, head: str, lock_hash: str, origin: Path) -> None:
        auth = (("authorization", f"Bearer {admin_token}"),)
        async with grpc.aio.insecure_channel(target) as channel:
            fleet = fleet_service_pb2_grpc.FleetServiceStub(channel)
            await fleet.SetDesiredState(
                fleet_service_pb2.SetDesiredStateRequest(commit=head, lock_hash=lock_hash),
                timeout=10,
                metadata=auth,
            )
            for host in HOSTS:
                config = prepare_host(self.base, origin, host, target)
                response = await fleet.CreateAgentToken(
                    fleet_service_pb2.CreateAgentTokenRequest(host=host.name), timeout=10, metadata=auth
                )
                token_file = config.parent / "token"
                token_file.write_text(str(response.token) + "\n")
                token_file.chmod(0o600)
                await self._spawn(
                    f"agent {host.name}",
                    fleetdeck_argv("agent", "--config", str(config)),
                    config.parent / "agent.log",
                )

    def _print_banner(self, target: str, http_url: str, lock_hash: str) -> None:
        token_file = self.base / "admin-token"
        # grpcurl takes its flags (-H, -d) before the address; it expands the token from its own
        # environment (-expand-headers), so the token never shows in the process list.
        grpcurl = "grpcurl -plaintext -expand-headers -H 'authorization: Bearer ${FLEETDECK_TOKEN}'"
        svc = f"{target} fleetdeck.v1.FleetService"
        lines = [
            "",
            "Fleetdeck demo fleet is running: a control plane and three agents (gpc0, web1, mac1).",
            f"  state, logs, the fleet repo:  {self.base}",
        ]
        if http_url:
            password_file = self.base / "admin-password"
            lines.append(f"  web UI:                       {http_url}/")
            if password_file.exists():
                password = password_file.read_text().strip()
                lines.append(f"  web login:                    user admin, password {password}")
                lines.append(f"                                (kept in {password_file})")
            else:
                lines.append(
                    "  web login:                    user admin, with the password fleet.db was made with"
                )
        lines += [
            f"  gRPC (reflection on):         {target}",
            "",
            "Try it (grpcurl is in .venv/bin; every FleetService call needs the admin API token):",
            f"  export FLEETDECK_TOKEN=$(cat {token_file})",
            f"  grpcurl -plaintext {target} list fleetdeck.v1.FleetService",
            f"  {grpcurl} {svc}/ListHosts",
            f'  {grpcurl} -d \'{{"hosts": ["gpc0"], "operation": "OPERATION_SWITCH"}}\' {svc}/RunOperation',
            f"  {grpcurl} -d '{{}}' {svc}/WatchFleet",
            f'  {grpcurl} -d \'{{"command_id": "<id>"}}\' {svc}/StreamCommandOutput',
            f'  {grpcurl} -d \'{{"host": "gpc0"}}\' {svc}/ListTestRuns',
            f'  {grpcurl} -d \'{{"hosts": ["gpc0"], "operation": "OPERATION_ROLLBACK"}}\' {svc}/RunOperation',
            "",
            "What you will see: a switch on gpc0 turns System green and starts its 8 tests (Tests blue);",
            "'GPU acceleration' then fails (Tests red, 7/8 passed) until you roll back (Tests yellow) and",
            "run the tests again (green). web1 does not auto-run tests after a switch; its 'DNS resolver'",
            "is flaky (it fails every second run): run web1's tests twice to see the FLAKY badge and the",
            "offer to run again before rolling back. mac1 has no tests (gray).",
            "",
            "A rollout gated on tests: the commit on branch next breaks a test on web1, the canary, so the",
            "rollout stops after the canary and touches no other host (it exits 1):",
            f"  fleetdeck rollout create --controlplane {target} --commit {next_commit(self.base)} \\",
            f"      --lock-hash {lock_hash} --canary web1 --wait",
            "",
            "Press Ctrl-C to stop everything.",
        ]
        print("\n".join(lines), flush=True)

    async def _shutdown(self) -> None:
        agents = [(n, p) for n, p in self.children if n.startswith("agent")]
        others = [(n, p) for n, p in self.children if not n.startswith("agent")]
        await asyncio.gather(*(_terminate(p, n) for n, p in agents))
        for host in HOSTS:
            _kill_leftover_commands(self.base / "machines" / host.name / "state")
        for name, proc in others:
            await _terminate(proc, name)
        print("demo stopped.", flush=True)
