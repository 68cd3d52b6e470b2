"""Abuse benchmark: the control plane's answers with and without junk clients, side by side in one run.

    .venv/bin/python bench/abuse.py --junk-streams 20000 --idle-connections 1000   # the issue's scale
    .venv/bin/python bench/abuse.py --junk-streams 2000 --idle-connections 200     # a shared machine

Starts `fleetdeck controlplane` (temp SQLite file, port 0, loopback only) and one real
`fleetdeck agent` as subprocesses. Two phases, the same measurements in each:

- ListHosts p50/p99 over --calls sequential calls (admin API token);
- a real agent's reconnect time: the agent is killed (SIGKILL) and started again, timed from its
  start until WatchFleet shows its host online again; --reconnects times, the median counts.

The first phase runs on a quiet server. For the second, a junk process (another process, real
gRPC) keeps --junk-streams AgentService.Connect streams with a junk bearer token open at once, each
reopened as soon as it is refused and never sending a hello, and --idle-connections raw TCP
connections that never speak, each reopened when the server hangs up. Every connection goes to
127.0.0.1 and the junk process ends with the run. The figure that counts is the ratio junk/quiet
(issue 15 asks for less than 2); the junk process's own counts (streams refused, by status code;
idle connections closed by the server) are printed next to it.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from heartbeats import ADMIN, Server, start_server, stop_process

from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import agent_service_pb2_grpc as agent_grpc
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb

SCRIPT = Path(__file__).resolve()
HOST = "bench0"
WAIT_SECONDS = 120.0  # the longest a host may take to go offline or come back online
CHANNELS = 50  # junk streams share this many TCP connections (at most 1,000 streams each)


# --- the junk process ---------------------------------------------------------------------------


async def junk_main(target: str, streams: int, idle: int, seconds: float) -> None:
    """Keep `streams` junk Connect streams and `idle` silent TCP connections open for `seconds`."""
    counts: collections.Counter[str] = collections.Counter()
    stop = asyncio.Event()
    channels = [grpc.aio.insecure_channel(target) for _ in range(CHANNELS)]

    async def never() -> Any:
        await stop.wait()
        yield agent_pb.ConnectRequest()

    async def one_stream(i: int) -> None:
        stub = agent_grpc.AgentServiceStub(channels[i % CHANNELS])
        while not stop.is_set():
            # A new random token each time: no cache of refused tokens helps the server.
            junk = (("authorization", "Bearer fdat_" + os.urandom(24).hex()),)
            call = stub.Connect(never(), metadata=junk)
            try:
                await call.read()
                counts["answered"] += 1
            except grpc.aio.AioRpcError as error:
                counts[error.code().name] += 1
            finally:
                call.cancel()

    async def one_idle() -> None:
        host, port = target.rsplit(":", 1)
        while not stop.is_set():
            try:
                reader, writer = await asyncio.open_connection(host, int(port))
            except OSError as error:
                counts[f"connect failed: {error.strerror}"] += 1
                await asyncio.sleep(0.1)
                continue
            try:
                await reader.read()  # until the server hangs up
                counts["idle connection closed by the server"] += 1
            except OSError:
                counts["idle connection reset"] += 1
            finally:
                writer.close()

    tasks = [asyncio.create_task(one_stream(i)) for i in range(streams)]
    tasks += [asyncio.create_task(one_idle()) for _ in range(idle)]
    print(json.dumps({"ready": True}), flush=True)
    # Until the bench says stop (a line on stdin), and never longer than `seconds`.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline), seconds)
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for channel in channels:
        await channel.close(grace=None)
    print(json.dumps({"counts": dict(counts)}), flush=True)


# --- the real agent -----------------------------------------------------------------------------


def agent_config(workdir: Path, target: str, token: str) -> Path:
    """A minimal agent config: a git checkout, a state dir, harmless operations."""
    root = workdir / "agent"
    repo = root / "checkout"
    repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (root / "token").write_text(token + "\n")
    (root / "generation").write_text("system-1-link\n")
    config = root / "agent.toml"
    config.write_text(
        f'controlplane = "{target}"\nhost = "{HOST}"\ntoken_file = "token"\nrepo_dir = "checkout"\n'
        'state_dir = "state"\ngeneration_path = "generation"\n'
        "backoff_initial_seconds = 0.2\nbackoff_max_seconds = 1\n"
        '[operations]\nswitch = ["/bin/true"]\nrollback = ["/bin/true"]\n'
    )
    return config


async def start_agent(config: Path) -> asyncio.subprocess.Process:
    log = config.parent / "agent.log"
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "agent.cli", "--config", str(config),
            stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip


async def online(server: Server, want: bool) -> None:
    """Wait (watching) until the bench host's online state is `want`."""
    watch = server.fleet.WatchFleet(fleet_pb.WatchFleetRequest(), metadata=ADMIN)
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            async for event in watch:
                hosts = event.snapshot.hosts if event.HasField("snapshot") else [event.host]
                if any(h.name == HOST and h.online == want for h in hosts):
                    return
    finally:
        watch.cancel()


async def reconnect_seconds(
    server: Server, config: Path, agent: asyncio.subprocess.Process
) -> tuple[float, asyncio.subprocess.Process]:
    """Kill the agent, wait until its host is offline, start it again: seconds until it is online."""
    os.killpg(agent.pid, signal.SIGKILL)
    await agent.wait()
    await online(server, False)
    started = time.monotonic()
    agent = await start_agent(config)
    await online(server, True)
    return time.monotonic() - started, agent


async def list_hosts_latencies(server: Server, calls: int) -> list[float]:
    latencies = []
    for _ in range(calls):
        started = time.perf_counter()
        await server.fleet.ListHosts(fleet_pb.ListHostsRequest(), metadata=ADMIN, timeout=60)
        latencies.append(time.perf_counter() - started)
    return latencies


def p(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


async def measure(
    server: Server, config: Path, agent: asyncio.subprocess.Process, args: argparse.Namespace
) -> tuple[dict[str, float], asyncio.subprocess.Process]:
    latencies = await list_hosts_latencies(server, args.calls)
    reconnects = []
    for _ in range(args.reconnects):
        seconds, agent = await reconnect_seconds(server, config, agent)
        reconnects.append(seconds)
    figures = {
        "list_hosts_p50_ms": 1000 * statistics.median(latencies),
        "list_hosts_p99_ms": 1000 * p(latencies, 0.99),
        "reconnect_median_s": statistics.median(reconnects),
        "reconnect_max_s": max(reconnects),
    }
    return figures, agent


async def bench(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="fleetdeck-abuse-") as tmp:
        workdir = Path(tmp)
        server = await start_server("control plane", workdir)
        agent: asyncio.subprocess.Process | None = None
        junk: asyncio.subprocess.Process | None = None
        try:
            token = (
                await server.fleet.CreateAgentToken(
                    fleet_pb.CreateAgentTokenRequest(host=HOST), metadata=ADMIN, timeout=30
                )
            ).token
            config = agent_config(workdir, server.target, token)
            agent = await start_agent(config)
            await online(server, True)
            quiet, agent = await measure(server, config, agent, args)
            junk = await asyncio.create_subprocess_exec(
                sys.executable, str(SCRIPT), "--junk-process", server.target,
                str(args.junk_streams), str(args.idle_connections), str(args.junk_seconds),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, start_new_session=True,
            )  # fmt: skip
            assert junk.stdout is not None and junk.stdin is not None
            await junk.stdout.readline()  # ready
            await asyncio.sleep(args.warmup)  # let the junk reach its full count before measuring
            under_junk, agent = await measure(server, config, agent, args)
            junk.stdin.write(b"stop\n")
            counts = json.loads((await junk.stdout.readline()) or b'{"counts": {}}')["counts"]
            await junk.wait()
            junk = None
            report(quiet, under_junk, counts, args)
        finally:
            if junk is not None:
                await stop_process(junk, 5.0)
            if agent is not None:
                await stop_process(agent, 5.0)
            await server.stop()


def report(
    quiet: dict[str, float], junk: dict[str, float], counts: dict[str, int], args: argparse.Namespace
) -> None:
    print(
        f"abuse bench: {args.junk_streams} junk streams, {args.idle_connections} idle TCP connections, "
        f"{args.calls} ListHosts calls and {args.reconnects} agent reconnects per phase "
        f"(load average before: {os.getloadavg()[0]:.1f})"
    )
    print(f"{'':24}{'quiet':>12}{'under junk':>14}{'ratio':>9}")
    for key in quiet:
        ratio = junk[key] / quiet[key] if quiet[key] else float("inf")
        print(f"{key:24}{quiet[key]:12.2f}{junk[key]:14.2f}{ratio:9.2f}")
    print("junk process:", ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "no counts")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--junk-process":
        target, streams, idle, seconds = argv[1], int(argv[2]), int(argv[3]), float(argv[4])
        asyncio.run(junk_main(target, streams, idle, seconds))
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--junk-streams", type=int, default=20_000)
    parser.add_argument("--idle-connections", type=int, default=1_000)
    parser.add_argument("--calls", type=int, default=200, help="ListHosts calls per phase")
    parser.add_argument("--reconnects", type=int, default=3, help="agent reconnects per phase")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of junk before measuring")
    parser.add_argument("--junk-seconds", type=float, default=300.0, help="the junk process's longest run")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(bench(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
