"""Welcome storms: N agents with fresh tokens connecting at once, then a restart under them, against the
real control plane and the no-op gRPC servicer, in one run.

    .venv/bin/python bench/welcome.py --agents 2000

For each server (`fleetdeck controlplane` on a temp SQLite file, then bench/noop_server.py, both
subprocesses on loopback), in the same way:

1. One fresh host token per simulated agent (FleetService.CreateAgentToken; the no-op servicer takes
   any token), then every agent connects at the same moment, each on its own TCP connection from its
   own loopback address (127.1.0.1, 127.1.0.2, ...; `--per-address N` puts N agents behind one, as a
   site behind NAT): hello, welcome, then a heartbeat every --interval seconds. The control plane's
   admission limits (issue 15: 4,096 agent streams per address) apply as they would to a real fleet. Figures: time until all are welcomed, hello →
   welcome p50/p99, server CPU seconds of the storm.
2. The server is stopped (SIGTERM: a clean stop that ends every stream) and started again on the same
   port (the control plane on the same database). Every agent reconnects as the real agent does
   (`agent.stream_end.next_backoff`, doubling from 1 s to at most 60 s, each delay jittered to
   0.5-1.0 of the backoff, as in `agent.daemon`). Figures: the server's downtime, the time from the
   stop until every agent is welcomed again, the peak reconnects per second (welcomes in any one
   second), attempts that failed while the server was away.

Between the two, with every agent connected and past its first heartbeat, the server's CPU (cores)
and RSS over --window seconds: N agents at one heartbeat every --interval seconds.

The agents run in this process and speak gRPC's HTTP/2 framing themselves (`rawagent.py`: grpc cannot
bind a source address, and a grpc.aio channel per agent costs the client several times the CPU);
their CPU is reported, since on a small machine it competes with the server. `--figures FILE` writes the figures for bench/all.py (bench/figures.py).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime
import math
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import rawagent
from figures import Figure, write
from heartbeats import (
    Server,
    cpu_seconds,
    create_tokens,
    describe,
    facts,
    list_hosts,
    memory_mib,
    prepare_fleet,
    shard_labels,
    start_server,
)

from agent.stream import WELCOME_TIMEOUT_SECONDS
from agent.stream_end import next_backoff
from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import types_pb2 as pb

BACKOFF_INITIAL_SECONDS = 1.0  # the agent's defaults (agent/config.py)
BACKOFF_MAX_SECONDS = 60.0
SERVERS = ("control plane", "no-op")
BASELINE = "no-op servicer"


def source_address(index: int) -> str:
    """The loopback address of the `index`th source: 127.1.0.1, 127.1.0.2, ... (all of 127.0.0.0/8 is
    local on Linux; .0 and .255 are left out)."""
    return f"127.{1 + index // 64_516}.{(index // 254) % 254}.{index % 254 + 1}"


class Agent:
    """One simulated agent: connect from its own address, hello, heartbeats; reconnect with the real
    agent's backoff. Speaks HTTP/2 itself (`rawagent`): grpc cannot bind a source address."""

    def __init__(self, host: str, token: str, address: str, run: Run) -> None:
        self.host = host
        self.address = address
        self.run = run
        self.welcomes: list[float] = []  # monotonic times
        hello = agent_pb.ConnectRequest(
            hello=agent_pb.Hello(host=host, facts=facts(), labels=shard_labels(host))
        )
        self.first_write = rawagent.opening(run.target, token, hello)

    async def live(self) -> None:
        backoff = BACKOFF_INITIAL_SECONDS
        loop = asyncio.get_running_loop()
        host, port = self.run.target.rsplit(":", 1)
        while True:
            welcomed = False
            connection = rawagent.Connection(self.first_write)
            try:
                async with asyncio.timeout(WELCOME_TIMEOUT_SECONDS):
                    await loop.create_connection(
                        lambda c=connection: c, host, int(port), local_addr=(self.address, 0)
                    )
                    reply = await connection.welcome
                if reply.WhichOneof("message") != "welcome":
                    raise RuntimeError("no welcome")
                welcomed = True
                self.welcomes.append(time.monotonic())
                self.run.welcomed()
                connection.beat(self.run.heartbeat, self.run.interval, random.uniform(0, self.run.interval))
                await connection.ended  # until the server ends the stream
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not welcomed:
                    self.run.failures[describe(exc)] += 1
            finally:
                connection.close()
            backoff = next_backoff(
                backoff,
                welcomed=welcomed,
                was_replaced=False,
                initial=BACKOFF_INITIAL_SECONDS,
                maximum=BACKOFF_MAX_SECONDS,
            )
            delay = random.uniform(0.5, 1.0) * backoff
            backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)
            await asyncio.sleep(delay)


@dataclass
class Run:
    """The agents of one server and what they saw."""

    target: str
    interval: float
    heartbeat: bytes = rawagent.data_frame(
        rawagent.grpc_message(
            agent_pb.ConnectRequest(
                heartbeat=agent_pb.Heartbeat(
                    facts=facts(), test_status=pb.TestStatus(state=pb.TEST_STATE_NOT_RUN, defined_cases=3)
                )
            )
        )
    )
    agents: list[Agent] = field(default_factory=list)
    failures: collections.Counter[str] = field(default_factory=collections.Counter)
    count: int = 0
    goal: int = 0
    reached: asyncio.Event = field(default_factory=asyncio.Event)

    def welcomed(self) -> None:
        self.count += 1
        if self.count >= self.goal:
            self.reached.set()

    async def wait(self, within: float, phase: str) -> None:
        """Until `expect`'s welcomes happened; a clear error with what was seen after `within` s."""
        try:
            async with asyncio.timeout(within):
                await self.reached.wait()
        except TimeoutError:
            seen = dict(self.failures.most_common(3))
            raise RuntimeError(
                f"{phase}: {self.count} of {self.goal} welcomes after {within:g} s; failures {seen}"
            ) from None

    def expect(self, welcomes: int) -> None:
        """`reached` is set once `welcomes` welcomes happened in all."""
        self.goal = welcomes
        self.reached = asyncio.Event()
        if self.count >= welcomes:
            self.reached.set()


@dataclass
class Result:
    server: str
    agents: int
    storm_seconds: float = math.nan
    hello_p50: float = math.nan
    hello_p99: float = math.nan
    storm_cpu: float = math.nan
    storm_failures: int = 0
    downtime: float = math.nan
    back_seconds: float = math.nan
    peak_per_second: int = 0
    restart_failures: int = 0
    client_cpu: float = math.nan
    interval: float = 5.0  # seconds between an agent's heartbeats
    steady_cpu: float = math.nan  # cores, all agents connected and heartbeating
    steady_rss: float = math.nan  # MiB


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))] if values else math.nan


async def measure(kind: str, args: argparse.Namespace, workdir: Path) -> Result:
    """The storm and the restart against one server."""
    result = Result(kind, args.agents, interval=args.interval)
    server: Server | None = await start_server(kind, workdir / slug(kind))
    assert server is not None
    tasks: list[asyncio.Task[None]] = []
    try:
        if server.real:
            await prepare_fleet(server, args.interval)
            tokens, _ = await create_tokens(server, args.agents)
        else:
            tokens = [(f"bench-{i:05d}", "fdat_noop") for i in range(args.agents)]
        run = Run(server.target, args.interval)
        run.agents = [
            Agent(host, token, source_address(i // args.per_address), run)
            for i, (host, token) in enumerate(tokens)
        ]
        run.expect(args.agents)
        client_before = time.process_time()
        cpu_before = cpu_seconds(server.process.pid)
        began = time.monotonic()
        tasks = [asyncio.create_task(a.live()) for a in run.agents]
        await run.wait(args.timeout, f"{kind}, storm")
        result.storm_seconds = time.monotonic() - began
        result.storm_cpu = cpu_seconds(server.process.pid) - cpu_before
        firsts = [a.welcomes[0] - began for a in run.agents]
        result.hello_p50, result.hello_p99 = percentile(firsts, 0.5), percentile(firsts, 0.99)
        result.storm_failures = sum(run.failures.values())
        if server.real:
            online = await list_hosts(server.fleet, args.agents)
            assert sum(h.online for h in online.hosts) == args.agents, "not every welcomed host is online"

        # All connected: every agent past its first heartbeat, then a window at the steady rate.
        if args.window > 0:
            await asyncio.sleep(args.interval + 1.0)
            cpu_before, window_began = cpu_seconds(server.process.pid), time.monotonic()
            await asyncio.sleep(args.window)
            result.steady_cpu = (cpu_seconds(server.process.pid) - cpu_before) / (
                time.monotonic() - window_began
            )
            result.steady_rss = memory_mib(server.process.pid)[0]

        # The restart: a clean stop, then the same server on the same port.
        failures_before = sum(run.failures.values())
        run.expect(run.count + args.agents)
        stopped = time.monotonic()
        await server.stop()
        server = None
        server = await start_server(kind, workdir / slug(kind), address=run.target)
        result.downtime = time.monotonic() - stopped
        await run.wait(args.timeout, f"{kind}, restart")
        result.back_seconds = time.monotonic() - stopped
        again = [t for a in run.agents for t in a.welcomes if t >= stopped]
        per_second = collections.Counter(int(t - stopped) for t in again)
        result.peak_per_second = max(per_second.values(), default=0)
        result.restart_failures = sum(run.failures.values()) - failures_before
        result.client_cpu = time.process_time() - client_before
        if run.failures:
            print(f"  {kind}: failed attempts {dict(run.failures)}")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if server is not None:
            await server.stop()
    return result


def slug(kind: str) -> str:
    return "controlplane" if kind == "control plane" else "noop"


def figures(results: dict[str, Result]) -> list[Figure]:
    """The figures of the control plane, with the no-op servicer as baseline."""
    cp, noop = results["control plane"], results["no-op"]
    n = f"{cp.agents:,}"
    return [
        Figure("welcome", f"{n} fresh agents at once: all welcomed after", "s", cp.storm_seconds,
               noop.storm_seconds, BASELINE, "< 10 s at 10,000"),
        Figure("welcome", f"{n} fresh agents: hello → welcome p99", "s", cp.hello_p99, noop.hello_p99, BASELINE),
        Figure("welcome", f"{n} fresh agents: server CPU per welcome", "ms", cp.storm_cpu / cp.agents * 1000,
               noop.storm_cpu / noop.agents * 1000, BASELINE),
        Figure("welcome", f"{n} agents connected, a heartbeat every {cp.interval:g} s: server CPU", "cores",
               cp.steady_cpu, noop.steady_cpu, BASELINE, "< 1 core at 10,000 agents, 5 s"),
        Figure("welcome", f"{n} agents connected: server RSS", "MiB", cp.steady_rss, noop.steady_rss, BASELINE),
        Figure("welcome", f"restart under {n} agents: server away for", "s", cp.downtime, noop.downtime, BASELINE),
        Figure("welcome", f"restart under {n} agents: all back after", "s", cp.back_seconds, noop.back_seconds,
               BASELINE),
        Figure("welcome", f"restart under {n} agents: peak reconnects", "/s", cp.peak_per_second,
               noop.peak_per_second, BASELINE),
    ]  # fmt: skip


def report(results: dict[str, Result], args: argparse.Namespace, load_before: float, seconds: float) -> None:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"\nWelcome storm, {now}: {args.agents} agents, heartbeat every {args.interval:g} s, "
        f"{os.cpu_count()} CPUs, load average before {load_before:.1f}; run took {seconds:.0f} s"
    )
    print(f"  {'':44}{'control plane':>16}{'no-op servicer':>16}")
    rows = [
        ("all welcomed after (s)", "storm_seconds", "{:.2f}"),
        ("hello -> welcome p50 (s)", "hello_p50", "{:.2f}"),
        ("hello -> welcome p99 (s)", "hello_p99", "{:.2f}"),
        ("server CPU of the storm (s)", "storm_cpu", "{:.2f}"),
        ("failed attempts in the storm", "storm_failures", "{:.0f}"),
        ("all connected, heartbeats: server CPU (cores)", "steady_cpu", "{:.2f}"),
        ("all connected, heartbeats: server RSS (MiB)", "steady_rss", "{:.0f}"),
        ("restart: server away for (s)", "downtime", "{:.2f}"),
        ("restart: all back after the stop (s)", "back_seconds", "{:.2f}"),
        ("restart: peak reconnects per second", "peak_per_second", "{:.0f}"),
        ("restart: failed attempts", "restart_failures", "{:.0f}"),
        ("agents' own CPU, both phases (s)", "client_cpu", "{:.1f}"),
    ]
    for label, key, fmt in rows:
        cells = "".join(f"{fmt.format(getattr(results[s], key)):>16}" for s in SERVERS)
        print(f"  {label:44}{cells}")


async def bench(args: argparse.Namespace) -> None:
    load_before = os.getloadavg()[0]
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fleetdeck-welcome-") as tmp:
        results = {}
        for kind in SERVERS:
            workdir = Path(tmp) / slug(kind)
            workdir.mkdir()
            results[kind] = await measure(kind, args, Path(tmp))
    report(results, args, load_before, time.monotonic() - began)
    if args.figures:
        write(Path(args.figures), figures(results))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=2000, help="agents connecting at once")
    parser.add_argument(
        "--per-address", type=int, default=1, help="agents per loopback source address (127.1.0.1, ...)"
    )
    parser.add_argument("--interval", type=float, default=5.0, help="heartbeat interval in seconds (>= 0.5)")
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="give up on a phase after this many seconds"
    )
    parser.add_argument(
        "--window", type=float, default=10.0, help="seconds measured with all agents connected (0: none)"
    )
    parser.add_argument("--figures", help="write the figures as JSON here (for bench/all.py)")
    args = parser.parse_args(argv)
    if args.agents <= 0 or args.per_address <= 0 or args.interval < 0.5 or args.timeout <= 0:
        parser.error("need positive --agents and --timeout, and --interval >= 0.5")
    asyncio.run(bench(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
