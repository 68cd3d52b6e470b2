"""Abuse benchmark: the control plane's answers with and without junk clients, side by side in one run.

    .venv/bin/python bench/abuse.py                                                # the issue's scale
    .venv/bin/python bench/abuse.py --junk-streams 2000 --idle-connections 200     # a quick look

Starts `fleetdeck controlplane` (temp SQLite file, port 0, loopback only) and
one real `fleetdeck agent` as subprocesses. Two phases, the same measurements in each:

- ListHosts p50 and p99 (admin API token): --rounds rounds of --calls sequential calls, one before
  each reconnect; p50 over every call, p99 the median of the rounds' (each round's is printed: a
  burst of slow calls lasting a few tenths of a second decides the p99 of one round of 1,000 calls,
  which take half a second, so one round is a coin toss on when the burst comes);
- a real agent's reconnect time: the agent is killed (SIGKILL) and started again, timed from its
  start until WatchFleet shows its host online again; --reconnects times, the median counts. Part
  of it is the new process importing the agent, which a busy machine slows without the server
  doing anything: `agent_import_s` times that alone (a Python process importing the agent);
- the control plane's CPU over the phase (utime + stime from /proc, in cores).

The first phase runs on a quiet server. For the second, a junk process keeps --junk-streams
AgentService.Connect streams with a junk bearer token open at once, each reopened as soon as it is
refused and never sending a hello, and --idle-connections raw TCP connections that never speak, each
reopened when the server hangs up. The figure that counts is the ratio junk/quiet (issue 15 asks for
less than 2); the junk process's own counts (streams refused, by status code; idle connections
closed by the server) and its CPU are printed next to it.

How the attack is set up, and why:
- The junk comes from another address than the agent and the bench's API client: the control plane
  listens on localhost (127.0.0.1 and ::1, one port), they use 127.0.0.1, the junk ::1. On a real network an attacker's address is not the hosts' (a host that
  shares its address with an attacker shares its per-address budget, by design).
- The junk process runs at a low priority (`os.nice`, --junk-nice), and so does its scheduling
  group: the kernel's autogroups give every session an equal share of the CPU whatever its
  processes' nice values, so the junk (a session of its own) writes its nice to /proc/self/autogroup
  as well. Until it did, nice 19 bought nothing: the junk took a whole core, and the server or the
  measuring client waited for it. On a network the attacker's CPU is its own machine's; here it gets
  what the server and the clients leave (`agent_import_s` shows that the clients get the CPU they
  need: the same quiet and under junk). Its CPU is printed so that it can be told apart.
- The control plane runs alone on its CPUs; the junk, the agent and the measuring client share
  the last one (--client-cpu, default the last CPU of two or more; -1 puts everything on every
  CPU). On a network each of them is a machine of its own: neither the attacker's CPU nor the
  operator's client comes out of the server's. The junk still shares a CPU with the client, at the
  lowest priority. Sharing every CPU (-1) makes the server's threads, the client and the junk
  compete, and the p99 then has more bad rounds, the bare grpc.aio server's as much as ours. The
  layout to avoid: the server and the measuring client on one CPU and the junk alone on the other
  (the layout of the figures before 2026-11-30 18:00). The client then waits for the CPU the
  server is busy on, so the bench times the scheduler: even the bare grpc.aio server's ratio was
  2.7-5 there.
- The open-file limit is raised to what the run needs (up to the hard limit) in the bench, so the
  server and the junk inherit it; where the hard limit is lower, the idle connections are cut down
  to fit, and the output says so.
- `--profile FILE` runs the control plane under cProfile (slower: for finding costs, not figures)
  and prints its most expensive functions after the run.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import math
import os
import pstats
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from figures import Figure, write
from heartbeats import (
    ADMIN,
    CLIENT_OPTIONS,
    Server,
    cpu_seconds,
    memory_mib,
    start_server,
    stop_process,
    tail,
)

from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import agent_service_pb2_grpc as agent_grpc
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb

SCRIPT = Path(__file__).resolve()
HOST = "bench0"
WAIT_SECONDS = 120.0  # the longest a host may take to go offline or come back online
WATCH_AGAIN_SECONDS = 0.5  # see `online`
CHANNELS = 50  # junk streams share this many TCP connections (at most 1,000 streams each)
READY_SECONDS = 120.0  # the longest the junk may take to open all its streams and connections once
FILES_SPARE = 512  # open files beyond the idle connections and channels: logs, the database, pipes


# --- open files ---------------------------------------------------------------------------------


def raise_open_files(wanted: int) -> tuple[int, int]:
    """Raise this process's soft open-file limit towards `wanted` (at most the hard limit); children
    inherit it. Returns (soft limit now, hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft, hard


def idle_that_fit(idle: int, soft: int) -> int:
    """How many idle connections fit under an open-file limit of `soft` (the server holds one for each)."""
    return max(0, min(idle, soft - CHANNELS - FILES_SPARE))


# --- who runs where -----------------------------------------------------------------------------

SERVER_CPUS: set[int] = set()  # the servers' CPUs; empty: every CPU (set in main)


def on_server_cpus() -> None:
    """In a server's process before it starts: run on the servers' CPUs only."""
    if SERVER_CPUS:
        os.sched_setaffinity(0, SERVER_CPUS)


def where(client_cpu: int) -> str:
    """Who runs where, for the report."""
    if client_cpu < 0:
        return "everything on every CPU"
    servers = ", ".join(str(cpu) for cpu in sorted(SERVER_CPUS))
    return f"the server alone on CPU {servers}, the junk and the clients on CPU {client_cpu}"


def lower_priority(nice: int) -> None:
    """This process, and its session's scheduling group where the kernel has one, at `nice`."""
    os.nice(nice)
    with contextlib.suppress(OSError):  # no autogroups (or not allowed): nice alone
        Path("/proc/self/autogroup").write_text(str(nice))


# --- the junk process ---------------------------------------------------------------------------


async def junk_main(target: str, streams: int, idle: int, seconds: float) -> None:
    """Keep `streams` junk Connect streams and `idle` silent TCP connections open for `seconds`.
    Says it is ready once every stream has been answered and every idle connection opened once; its
    counts start there."""
    counts: collections.Counter[str] = collections.Counter()
    stop, ready = asyncio.Event(), asyncio.Event()
    first_round = streams + idle

    def once() -> None:
        nonlocal first_round
        first_round -= 1
        if first_round == 0:
            ready.set()

    channels = [grpc.aio.insecure_channel(target, options=CLIENT_OPTIONS) for _ in range(CHANNELS)]

    async def never() -> Any:
        await stop.wait()
        yield agent_pb.ConnectRequest()

    async def one_stream(i: int) -> None:
        stub = agent_grpc.AgentServiceStub(channels[i % CHANNELS])
        first = True
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
            if first:
                first = False
                once()

    async def one_idle() -> None:
        host, port = target.rsplit(":", 1)
        first = True
        while not stop.is_set():
            try:
                reader, writer = await asyncio.open_connection(host.strip("[]"), int(port))
            except OSError as error:
                counts[f"connect failed: {error.strerror}"] += 1
                await asyncio.sleep(0.1)
                continue
            if first:
                first = False
                once()
            try:
                await reader.read()  # until the server hangs up
                counts["idle connection closed by the server"] += 1
            except OSError:
                counts["idle connection reset"] += 1
            finally:
                writer.close()

    began = time.monotonic()
    tasks = [asyncio.create_task(one_stream(i)) for i in range(streams)]
    tasks += [asyncio.create_task(one_idle()) for _ in range(idle)]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(ready.wait(), READY_SECONDS)
    print(json.dumps({"ready": ready.is_set(), "seconds": time.monotonic() - began}), flush=True)
    counts.clear()
    began, cpu = time.monotonic(), cpu_seconds(os.getpid())
    # Until the bench says stop (a line on stdin), and never longer than `seconds`.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline), seconds)
    stop.set()
    took, cpu = time.monotonic() - began, cpu_seconds(os.getpid()) - cpu
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for channel in channels:
        await channel.close(grace=None)
    print(json.dumps({"counts": dict(counts), "seconds": took, "cpu": cpu}), flush=True)


# --- the control plane --------------------------------------------------------------------------


async def start_control_plane(workdir: Path, profile: Path | None) -> Server:
    """`fleetdeck controlplane` on localhost:0 (gRPC listens on 127.0.0.1 and ::1, one port), on the
    servers' CPUs, under cProfile when `profile` is given. The bench and the agent reach it at
    127.0.0.1, the junk at ::1."""
    return await start_server(
        "control plane",
        workdir,
        address="localhost:0",
        profile=profile,
        preexec_fn=on_server_cpus if SERVER_CPUS else None,
    )


# --- the baseline: a bare gRPC server ---------------------------------------------------------


class _Refuse(agent_grpc.AgentServiceServicer):
    """Refuses every agent stream at once: the least a gRPC server in Python does per junk stream
    (the status set and the handler returned, as the control plane does: `context.abort` would leave
    a reference cycle per stream for the collector)."""

    async def Connect(self, request_iterator: Any, context: Any) -> Any:
        context.set_code(grpc.StatusCode.UNAUTHENTICATED)
        context.set_details("not an agent")
        return
        yield agent_pb.ConnectResponse()  # never reached; makes this a streaming handler


async def bare_main() -> None:
    """A grpc.aio server with the health service and an AgentService that refuses every stream."""
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    agent_grpc.add_AgentServiceServicer_to_server(_Refuse(), server)
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    port = server.add_insecure_port("localhost:0")  # 127.0.0.1 and ::1, as the control plane here
    await server.start()
    print(port, flush=True)
    await server.wait_for_termination()


async def health_latencies(channel: grpc.aio.Channel, calls: int) -> list[float]:
    stub = health_pb2_grpc.HealthStub(channel)
    latencies = []
    for _ in range(calls):
        started = time.perf_counter()
        await stub.Check(health_pb2.HealthCheckRequest(), timeout=60)
        latencies.append(time.perf_counter() - started)
    return latencies


@dataclass
class Bare:
    """The bare server's health Check latencies quiet and under junk, the junk's counts, and the
    server's CPU while the junk ran (in cores)."""

    quiet: list[list[float]]  # rounds of latencies
    under_junk: list[list[float]]
    junk: Junk
    cores: float


async def baseline(args: argparse.Namespace) -> Bare:
    """Health Check latencies on the bare server, quiet and under the same junk."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), "--bare-server",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, start_new_session=True,
        preexec_fn=on_server_cpus if SERVER_CPUS else None,
    )  # fmt: skip
    junk: asyncio.subprocess.Process | None = None
    try:
        assert process.stdout is not None
        async with asyncio.timeout(60):
            port = (await process.stdout.readline()).decode().strip()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=CLIENT_OPTIONS) as channel:
            quiet = [await health_latencies(channel, args.calls) for _ in range(args.rounds)]
            junk = await start_junk(port, args)
            await asyncio.sleep(args.warmup)
            cpu, began = cpu_seconds(process.pid), time.monotonic()
            under_junk = [await health_latencies(channel, args.calls) for _ in range(args.rounds)]
            cores = (cpu_seconds(process.pid) - cpu) / (time.monotonic() - began)
            done = await stop_junk(junk)
            junk = None
        return Bare(quiet, under_junk, done, cores)
    finally:
        if junk is not None:
            await stop_process(junk, 5.0)
        await stop_process(process, 5.0)


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
    """Wait (watching) until the bench host's online state is `want`. The watch is opened afresh
    every WATCH_AGAIN_SECONDS: a snapshot shows a host's live state, which can differ from what was
    last published as an event (a killed agent's stream is closed before it is detached), and a
    change back to what was last published is then never sent to that watcher."""
    async with asyncio.timeout(WAIT_SECONDS):
        while True:
            watch = server.fleet.WatchFleet(fleet_pb.WatchFleetRequest(), metadata=ADMIN)
            try:
                async with asyncio.timeout(WATCH_AGAIN_SECONDS):
                    async for event in watch:
                        hosts = event.snapshot.hosts if event.HasField("snapshot") else [event.host]
                        if any(h.name == HOST and h.online == want for h in hosts):
                            return
            except TimeoutError:
                continue
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


async def import_seconds() -> float:
    """How long a Python process takes to import the agent: the part of a reconnect that is the
    machine's CPU contention, not the server."""
    started = time.monotonic()
    probe = await asyncio.create_subprocess_exec(sys.executable, "-c", "import agent.cli")
    await probe.wait()
    return time.monotonic() - started


def p(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


# --- the two phases -----------------------------------------------------------------------------


@dataclass
class Phase:
    """What one phase measured."""

    list_hosts_p50_ms: float  # over every call of the phase
    list_hosts_p99_ms: float  # the median of the rounds' p99
    list_hosts_p99_rounds: list[float]  # each round's p99
    reconnect_median_s: float
    reconnect_max_s: float
    agent_import_s: float  # a Python process importing the agent (median of three)
    server_cores: float  # the control plane's CPU over the phase
    server_rss_mib: float  # ... and its resident memory at the end of it


async def measure(
    server: Server, config: Path, agent: asyncio.subprocess.Process, args: argparse.Namespace
) -> tuple[Phase, asyncio.subprocess.Process]:
    cpu, began = cpu_seconds(server.process.pid), time.monotonic()
    rounds: list[list[float]] = []
    reconnects = []
    for i in range(max(args.rounds, args.reconnects)):
        if i < args.rounds:
            rounds.append(await list_hosts_latencies(server, args.calls))
        if i < args.reconnects:
            seconds, agent = await reconnect_seconds(server, config, agent)
            reconnects.append(seconds)
    latencies = [latency for one in rounds for latency in one]
    imports = [await import_seconds() for _ in range(3)]
    cores = (cpu_seconds(server.process.pid) - cpu) / (time.monotonic() - began)
    phase = Phase(
        list_hosts_p50_ms=1000 * statistics.median(latencies),
        list_hosts_p99_ms=1000 * p99_of_rounds(rounds),
        list_hosts_p99_rounds=[1000 * p(one, 0.99) for one in rounds],
        reconnect_median_s=statistics.median(reconnects),
        reconnect_max_s=max(reconnects),
        agent_import_s=statistics.median(imports),
        server_cores=cores,
        server_rss_mib=memory_mib(server.process.pid)[0],
    )
    return phase, agent


def rounded(values: list[float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


def p99_of_rounds(rounds: list[list[float]]) -> float:
    """The median of the rounds' p99: one burst of slow calls (a few tenths of a second) decides
    the p99 of the half second a round of 1,000 calls takes, but not the median of three rounds."""
    return statistics.median(p(one, 0.99) for one in rounds)


@dataclass
class Junk:
    """What the junk process did: its counts, for how long, its CPU."""

    counts: dict[str, int]
    seconds: float
    cpu: float

    @property
    def streams_per_second(self) -> float:
        streams = sum(n for k, n in self.counts.items() if k.isupper())  # status code names
        return streams / self.seconds if self.seconds else 0.0


async def start_junk(port: str, args: argparse.Namespace) -> asyncio.subprocess.Process:
    junk = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), "--junk-process", f"[::1]:{port}", str(args.junk_streams),
        str(args.idle_connections), str(args.junk_seconds), str(args.junk_nice),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    assert junk.stdout is not None
    said = json.loads(await junk.stdout.readline())
    state = "all open" if said["ready"] else "NOT all open yet"
    print(f"junk process: {state} after {said['seconds']:.1f} s", flush=True)
    return junk


async def stop_junk(junk: asyncio.subprocess.Process) -> Junk:
    assert junk.stdout is not None and junk.stdin is not None
    junk.stdin.write(b"stop\n")
    line = await junk.stdout.readline()
    await junk.wait()
    said = json.loads(line) if line else {"counts": {}, "seconds": 0.0, "cpu": 0.0}
    return Junk(said["counts"], said["seconds"], said["cpu"])


async def bench(args: argparse.Namespace) -> None:
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="fleetdeck-abuse-") as tmp:
        workdir = Path(tmp)
        server = await start_control_plane(workdir, args.profile)
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
            junk = await start_junk(server.target.rsplit(":", 1)[1], args)
            await asyncio.sleep(args.warmup)  # let the junk reach its full count before measuring
            under_junk, agent = await measure(server, config, agent, args)
            done = await stop_junk(junk)
            junk = None
            bare = await baseline(args) if args.baseline else None
            load_after = os.getloadavg()
            figures = report(quiet, under_junk, done, bare, args, load_before, load_after)
            if args.figures:
                write(Path(args.figures), figures)
        except BaseException:
            agent_log = workdir / "agent" / "agent.log"
            print(f"control plane log:\n{tail(server.log)}\nagent log:\n{tail(agent_log)}", flush=True)
            raise
        finally:
            if junk is not None:
                await stop_process(junk, 5.0)
            if agent is not None:
                await stop_process(agent, 5.0)
            await server.stop()
    if args.profile:
        stats = pstats.Stats(str(args.profile))
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)


def report(
    quiet: Phase,
    junk: Phase,
    done: Junk,
    bare: Bare | None,
    args: argparse.Namespace,
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> list[Figure]:
    scale = f"{args.junk_streams:,} junk streams + {args.idle_connections:,} idle connections"
    print(
        f"\nabuse bench: {scale}; {args.rounds} rounds of {args.calls} ListHosts calls and {args.reconnects} agent reconnects "
        f"per phase; {os.cpu_count()} CPUs, load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after{' (under cProfile)' if args.profile else ''}"
    )
    print(f"{'':24}{'quiet':>12}{'under junk':>14}{'ratio':>9}")
    rows = [
        ("list_hosts_p50_ms", quiet.list_hosts_p50_ms, junk.list_hosts_p50_ms),
        ("list_hosts_p99_ms", quiet.list_hosts_p99_ms, junk.list_hosts_p99_ms),
        ("reconnect_median_s", quiet.reconnect_median_s, junk.reconnect_median_s),
        ("reconnect_max_s", quiet.reconnect_max_s, junk.reconnect_max_s),
        ("agent_import_s", quiet.agent_import_s, junk.agent_import_s),
        ("server_cpu_cores", quiet.server_cores, junk.server_cores),
        ("server_rss_mib", quiet.server_rss_mib, junk.server_rss_mib),
    ]
    for key, a, b in rows:
        ratio = b / a if a else math.inf
        print(f"{key:24}{a:12.2f}{b:14.2f}{ratio:9.2f}")
    print(
        "list_hosts_p99_ms by round (the figure is their median): "
        f"quiet {rounded(quiet.list_hosts_p99_rounds)}, under junk {rounded(junk.list_hosts_p99_rounds)}"
    )
    print(
        f"junk process (nice {args.junk_nice}, from ::1; the agent and ListHosts from 127.0.0.1; "
        f"{where(args.client_cpu)}): "
        f"{done.streams_per_second:,.0f} streams refused a second, its own CPU "
        f"{done.cpu / done.seconds if done.seconds else 0:.2f} cores over {done.seconds:.0f} s"
    )
    print("junk counts:", ", ".join(f"{k}: {v:,}" for k, v in sorted(done.counts.items())) or "none")
    floor: list[Figure] = []
    if bare is not None:
        bare_quiet, bare_junk = 1000 * p99_of_rounds(bare.quiet), 1000 * p99_of_rounds(bare.under_junk)
        print(
            f"baseline, a bare grpc.aio server that refuses every stream at once (same junk, health Check): "
            f"p99 {bare_quiet:.2f} ms quiet, {bare_junk:.2f} ms under junk, ratio {bare_junk / bare_quiet:.2f} "
            f"(rounds: {rounded([1000 * p(r, 0.99) for r in bare.quiet])} quiet, "
            f"{rounded([1000 * p(r, 0.99) for r in bare.under_junk])} under junk); "
            f"junk refused {bare.junk.streams_per_second:,.0f} streams a second; "
            f"the server's CPU {bare.cores:.2f} cores"
        )
        floor = [
            Figure(
                "abuse", f"{scale}: health p99, bare grpc.aio server", "ms", bare_junk, bare_quiet, "no junk"
            ),
        ]
    target = "< 2x"
    return [
        Figure("abuse", f"{scale}: ListHosts p99 (median of rounds)", "ms", junk.list_hosts_p99_ms, quiet.list_hosts_p99_ms,
               "no junk", target),
        Figure("abuse", f"{scale}: agent reconnect, median", "s", junk.reconnect_median_s,
               quiet.reconnect_median_s, "no junk", target),
        Figure("abuse", f"{scale}: server CPU", "cores", junk.server_cores, quiet.server_cores, "no junk"),
        Figure("abuse", f"{scale}: server RSS", "MiB", junk.server_rss_mib, quiet.server_rss_mib, "no junk"),
        *floor,
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--bare-server":
        asyncio.run(bare_main())
        return 0
    if argv and argv[0] == "--junk-process":
        target, streams, idle, seconds, nice = (
            argv[1],
            int(argv[2]),
            int(argv[3]),
            float(argv[4]),
            int(argv[5]),
        )
        lower_priority(nice)
        asyncio.run(junk_main(target, streams, idle, seconds))
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--junk-streams", type=int, default=20_000)
    parser.add_argument("--idle-connections", type=int, default=1_000)
    parser.add_argument("--calls", type=int, default=1_000, help="ListHosts calls per round")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of calls per phase, between the reconnects; p99: their median",
    )
    parser.add_argument("--reconnects", type=int, default=3, help="agent reconnects per phase")
    parser.add_argument(
        "--warmup", type=float, default=5.0, help="seconds of junk before measuring, once it is all open"
    )
    parser.add_argument("--junk-seconds", type=float, default=300.0, help="the junk process's longest run")
    parser.add_argument("--junk-nice", type=int, default=19, help="the junk process's niceness (0..19)")
    parser.add_argument(
        "--client-cpu",
        type=int,
        default=(os.cpu_count() or 1) - 1 if (os.cpu_count() or 1) > 1 else -1,
        help="the one CPU the junk, the agent and the measuring client share, the servers alone on the "
        "others (default: the last CPU when there are two or more); -1: everything on every CPU",
    )
    parser.add_argument(
        "--no-baseline",
        dest="baseline",
        action="store_false",
        help="skip the bare grpc.aio server under the same junk (the floor of the ratio)",
    )
    parser.add_argument("--figures", help="write the figures as JSON here (for bench/all.py)")
    parser.add_argument("--profile", type=Path, help="run the control plane under cProfile, stats here")
    args = parser.parse_args(argv)
    if args.client_cpu >= 0:  # this process and what it starts but the servers: the clients' CPU
        SERVER_CPUS.update(set(range(os.cpu_count() or 1)) - {args.client_cpu})
        os.sched_setaffinity(0, {args.client_cpu})
    soft, hard = raise_open_files(args.idle_connections + CHANNELS + FILES_SPARE)
    fit = idle_that_fit(args.idle_connections, soft)
    if fit < args.idle_connections:
        print(
            f"warning: the open-file hard limit is {hard}; {args.idle_connections:,} idle connections "
            f"do not fit, running {fit:,}",
            flush=True,
        )
        args.idle_connections = fit
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(bench(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
