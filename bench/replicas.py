"""Two control-plane replicas on PostgreSQL next to one control plane on SQLite, in one run.

    .venv/bin/python bench/replicas.py --agents 10000

Two setups, measured the same way one after the other:

- **SQLite**: one `fleetdeck controlplane` on a temp SQLite file (the embedded default).
- **PostgreSQL**: two `fleetdeck controlplane` replicas on one database of a throw-away PostgreSQL
  cluster (Debian's `postgresql`, started as its unprivileged user, with PostgreSQL's durable
  defaults: fsync and synchronous_commit on), the agents split half and half between them.

For each: one fresh agent token per simulated host, then every agent connects at once, each on its
own TCP connection from its own loopback address (`rawagent.py`, as bench/welcome.py), hello, welcome,
a heartbeat every --interval seconds. Figures: the time until every agent is welcomed; then, over a
steady window of --duration seconds, the control plane's CPU (all replicas together) and per
heartbeat, its memory, the write transactions it committed per second (its own count,
`fleetdeck_store_write_seconds` on /metrics) and, on PostgreSQL, the database's transactions per
second (`pg_stat_database.xact_commit`, every transaction: replicas' reads, the log, LISTEN) and the
CPU of the database server's processes. At the end every host must be online as every replica sees
it (ListHosts through each), which is what one fleet means. `--figures FILE` writes the figures for
bench/all.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import os
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from figures import Figure, write
from heartbeats import Server, cpu_seconds, create_tokens, list_hosts, memory_mib, prepare_fleet, start_server
from welcome import Agent, Run, source_address

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))
from postgres import BINARIES, DATABASE, Cluster, running_cluster  # noqa: E402

BENCH = "replicas"
SETTLE_SECONDS = 12.0


def free_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


@dataclass
class Setup:
    """One setup's servers and figures."""

    name: str
    servers: list[Server] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)  # each replica's /metrics URL
    agents: int = 0
    welcomed_after: float = float("nan")
    window: float = 0.0
    cpu: float = 0.0  # control-plane cores, all replicas
    rss: float = 0.0  # MiB, all replicas
    writes: float = 0.0  # control-plane write transactions per second, all replicas
    db_transactions: float = float("nan")  # PostgreSQL: every committed transaction per second
    db_cpu: float = float("nan")  # PostgreSQL: its server processes' cores
    online: list[int] = field(default_factory=list)  # hosts online as each replica sees them

    interval: float = 5.0  # seconds between an agent's heartbeats

    @property
    def cpu_per_heartbeat_us(self) -> float:
        rate = self.agents / self.interval
        return self.cpu / rate * 1e6 if rate else float("nan")


async def write_transactions(url: str) -> float:
    """The control plane's committed write transactions so far (its /metrics)."""
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(url)).text
    for line in text.splitlines():
        if line.startswith("fleetdeck_store_write_seconds_count"):
            return float(line.rsplit(" ", 1)[1])
    raise RuntimeError(f"no fleetdeck_store_write_seconds_count on {url}")


def postgres_processes(cluster: Cluster) -> Iterator[psutil.Process]:
    """The postmaster and every backend of the cluster."""
    pid = int((cluster.data / "postmaster.pid").read_text().split()[0])
    main = psutil.Process(pid)
    yield main
    yield from main.children(recursive=True)


def postgres_cpu(cluster: Cluster) -> float:
    total = 0.0
    for process in postgres_processes(cluster):
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def committed(cluster: Cluster) -> int:
    """Transactions committed in the replicas' database so far."""
    return int(cluster.psql(f"SELECT xact_commit FROM pg_stat_database WHERE datname = '{DATABASE}'"))


async def start(setup: Setup, workdir: Path, replicas: int, database: str) -> None:
    for i in range(replicas):
        metrics = free_address()
        home = workdir / f"{setup.name}-{i}"
        home.mkdir(parents=True)
        setup.servers.append(
            await start_server("control plane", home, database=database, extra=["--metrics", metrics])
        )
        setup.metrics.append(f"http://{metrics}/metrics")


async def measure(setup: Setup, args: argparse.Namespace, cluster: Cluster | None) -> None:
    """Welcome every agent (split over the replicas), then one steady window."""
    first = setup.servers[0]
    await prepare_fleet(first, args.interval)
    tokens, _ = await create_tokens(first, args.agents)
    runs = [Run(s.target, args.interval) for s in setup.servers]
    for i, (host, token) in enumerate(tokens):
        run = runs[i % len(runs)]
        run.agents.append(Agent(host, token, source_address(i), run))
    for run in runs:
        run.expect(len(run.agents))
    setup.agents, setup.interval = args.agents, args.interval
    began = time.monotonic()
    tasks = [asyncio.create_task(a.live()) for run in runs for a in run.agents]
    try:
        await asyncio.gather(*(run.wait(args.timeout, f"{setup.name}, welcome") for run in runs))
        setup.welcomed_after = time.monotonic() - began
        for run in runs:
            if run.failures:
                print(f"  {setup.name}: failed attempts while welcoming: {dict(run.failures.most_common(4))}")
        # Every agent past its first heartbeat, and PostgreSQL's statistics of the welcome flushed
        # (a backend reports its counts within 10 s of going idle): the window sees the steady state.
        await asyncio.sleep(max(args.interval + 1, SETTLE_SECONDS))

        pids = [s.process.pid for s in setup.servers]
        cpu0 = sum(cpu_seconds(p) for p in pids)
        writes0 = sum([await write_transactions(u) for u in setup.metrics])
        db0 = (committed(cluster), postgres_cpu(cluster)) if cluster else None
        t0 = time.monotonic()
        await asyncio.sleep(args.duration)
        t1 = time.monotonic()
        cpu1 = sum(cpu_seconds(p) for p in pids)
        writes1 = sum([await write_transactions(u) for u in setup.metrics])
        setup.window = t1 - t0
        setup.cpu = (cpu1 - cpu0) / setup.window
        setup.writes = (writes1 - writes0) / setup.window
        setup.rss = sum(memory_mib(p)[0] for p in pids)
        if cluster is not None and db0 is not None:
            setup.db_transactions = (committed(cluster) - db0[0]) / setup.window
            setup.db_cpu = (postgres_cpu(cluster) - db0[1]) / setup.window
        for server in setup.servers:
            hosts = await list_hosts(server.fleet, args.agents)
            setup.online.append(sum(h.online for h in hosts.hosts))
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def figures(sqlite: Setup, postgres: Setup) -> list[Figure]:
    n = f"{postgres.agents:,}"
    base = "1 replica on SQLite"
    return [
        Figure(BENCH, f"{n} agents on 2 PostgreSQL replicas: all welcomed after", "s",
               postgres.welcomed_after, sqlite.welcomed_after, base),
        Figure(BENCH, f"{n} agents: control-plane CPU, all replicas", "cores", postgres.cpu, sqlite.cpu, base),
        Figure(BENCH, f"{n} agents: control-plane CPU per heartbeat", "us",
               postgres.cpu_per_heartbeat_us, sqlite.cpu_per_heartbeat_us, base),
        Figure(BENCH, f"{n} agents: control-plane memory, all replicas", "MiB", postgres.rss, sqlite.rss, base),
        Figure(BENCH, f"{n} agents: write transactions committed", "/s", postgres.writes, sqlite.writes, base),
        Figure(BENCH, f"{n} agents: PostgreSQL transactions (all kinds)", "/s", postgres.db_transactions,
               float("nan"), ""),
        Figure(BENCH, f"{n} agents: PostgreSQL server CPU", "cores", postgres.db_cpu, float("nan"), ""),
    ]  # fmt: skip


def report(
    sqlite: Setup, postgres: Setup, args: argparse.Namespace, load_before: float, seconds: float
) -> None:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"\nReplicas, {now}: {args.agents} agents, heartbeat every {args.interval:g} s, window "
        f"{args.duration:g} s, {os.cpu_count()} CPUs, load average before {load_before:.1f}; run took {seconds:.0f} s"
    )
    print(f"  {'':52}{'SQLite, 1':>14}{'PostgreSQL, 2':>16}")
    rows = [
        ("all welcomed after (s)", "welcomed_after", "{:.2f}"),
        ("control-plane CPU, all replicas (cores)", "cpu", "{:.2f}"),
        ("control-plane CPU per heartbeat (us)", "cpu_per_heartbeat_us", "{:.0f}"),
        ("control-plane memory, all replicas (MiB)", "rss", "{:.0f}"),
        ("write transactions committed (/s)", "writes", "{:.1f}"),
        ("PostgreSQL transactions, all kinds (/s)", "db_transactions", "{:.1f}"),
        ("PostgreSQL server CPU (cores)", "db_cpu", "{:.2f}"),
    ]
    for label, key, fmt in rows:
        print(f"  {label:52}{fmt.format(getattr(sqlite, key)):>14}{fmt.format(getattr(postgres, key)):>16}")
    print(f"  {'hosts online, as each replica sees them':52}{sqlite.online!s:>14}{postgres.online!s:>16}")


async def bench(args: argparse.Namespace) -> tuple[Setup, Setup]:
    if not (BINARIES / "initdb").exists():
        raise SystemExit("PostgreSQL is not installed (scripts/setup --test installs Debian's postgresql)")
    with tempfile.TemporaryDirectory(prefix="fleetdeck-replicas-") as tmp:
        workdir = Path(tmp)
        sqlite, postgres = Setup("sqlite"), Setup("postgresql")
        try:
            await start(sqlite, workdir, 1, "")
            await measure(sqlite, args, None)
        finally:
            await asyncio.gather(*(s.stop() for s in sqlite.servers))
        with running_cluster(durable=True) as cluster:
            database = cluster.new_database()
            try:
                await start(postgres, workdir, 2, database)
                await measure(postgres, args, cluster)
            finally:
                await asyncio.gather(*(s.stop() for s in postgres.servers))
    return sqlite, postgres


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=2000, help="simulated agents in each setup")
    parser.add_argument("--interval", type=float, default=5.0, help="heartbeat interval in seconds")
    parser.add_argument("--duration", type=float, default=20.0, help="the steady window in seconds")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up on a welcome after this long")
    parser.add_argument("--figures", help="write the figures as JSON here (for bench/all.py)")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    began = time.monotonic()
    sqlite, postgres = asyncio.run(bench(args))
    report(sqlite, postgres, args, load_before, time.monotonic() - began)
    if args.figures:
        write(Path(args.figures), figures(sqlite, postgres))
    return 0


if __name__ == "__main__":
    sys.exit(main())
