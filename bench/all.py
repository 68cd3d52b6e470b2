"""Every figure of bench/ in one run, one table: each figure next to its baseline and the ratio.

    .venv/bin/python bench/all.py --quick     # reduced scale, a few minutes on a shared 2-core machine
    .venv/bin/python bench/all.py             # the scale of bench/README.md's figures

Runs, one after the other, as subprocesses (their own output goes to the terminal as it comes):
- heartbeats.py: heartbeat ingest of the control plane next to the no-op gRPC servicer;
- sse_fanout.py --agents --page: the web UI's `/events` next to a bare sse-starlette broadcast, both
  relaying a real control plane with real agents, and the 10,000-host page in Chromium (no baseline:
  its targets are absolute);
- welcome.py: fresh agents connecting at once and a restart under them, next to the no-op servicer.
- abuse.py (first): ListHosts and a real agent's reconnect under junk streams and idle connections,
  next to the same without them and to a bare grpc.aio server under the same junk.
- replicas.py: 10,000 agents over two control-plane replicas on PostgreSQL next to one control plane
  on SQLite: welcome, CPU, memory, transactions per second.
Then prints the table (Markdown, for bench/README.md); `--figures FILE` also keeps it as JSON.
Everything listens on loopback only; each bench is bounded in agents, viewers and time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from figures import Figure, read, table, write

BENCH = Path(__file__).resolve().parent
NOOP = "no-op servicer"

# (full scale, --quick) arguments of each bench
SCALES = {
    "abuse": (
        ["--junk-streams", "20000", "--idle-connections", "1000"],
        ["--junk-streams", "2000", "--idle-connections", "200", "--calls", "300", "--reconnects", "2"],
    ),
    "heartbeats": (
        ["--agents", "2000", "--duration", "20", "--rate-agents", "1000", "--rounds", "2"],
        [
            "--agents",
            "500",
            "--duration",
            "8",
            "--rate-agents",
            "300",
            "--rounds",
            "1",
            "--rate-duration",
            "5",
        ],
    ),
    "sse_fanout": (
        ["--viewers", "1000", "--agents", "1000", "--duration", "15", "--page"],
        ["--viewers", "100", "--agents", "200", "--duration", "5", "--page"],
    ),
    "welcome": (["--agents", "10000"], ["--agents", "1000"]),
    "replicas": (["--agents", "10000", "--duration", "20"], ["--agents", "1000", "--duration", "8"]),
}


def heartbeat_figures(path: Path) -> list[Figure]:
    """The heartbeat bench's phases (its --json) as figures against the no-op servicer."""
    best: dict[tuple[str, str], dict[str, float]] = {}
    for p in json.loads(path.read_text()):
        rate = p["processed"] / p["processed_window"] if p["processed_window"] else 0.0
        p["rate"], p["cpu_per"] = rate, (p["server_cpu"] / rate if rate else math.nan)
        key = (p["server"], p["mode"])
        if key not in best or rate > best[key]["rate"]:
            best[key] = p
    out = []
    cp, noop = best.get(("control plane", "interval")), best.get(("no-op", "interval"))
    if cp and noop:
        scale = f"{cp['agents']:,} agents at a fixed interval"
        out += [
            Figure("heartbeats", f"{scale}: all welcomed after", "s", cp["connect_seconds"], noop["connect_seconds"], NOOP),
            Figure("heartbeats", f"{scale}: server CPU", "cores", cp["server_cpu"], noop["server_cpu"], NOOP,
                   "< 1 core at 10,000 agents, 5 s"),
            Figure("heartbeats", f"{scale}: server RSS", "MiB", cp["server_rss"], noop["server_rss"], NOOP),
        ]  # fmt: skip
    cp, noop = best.get(("control plane", "rate")), best.get(("no-op", "rate"))
    if cp and noop:
        scale = f"{cp['agents']:,} agents at full speed"
        out += [
            Figure("heartbeats", f"{scale}: heartbeats ingested", "/s", cp["rate"], noop["rate"], NOOP, ">= 0.5x"),
            Figure("heartbeats", f"{scale}: server CPU per heartbeat", "us", cp["cpu_per"] * 1e6,
                   noop["cpu_per"] * 1e6, NOOP),
        ]  # fmt: skip
    return out


def run(name: str, args: list[str]) -> float:
    """Run one bench script; its seconds. A failed bench is reported and the others still run."""
    began = time.monotonic()
    command = [sys.executable, str(BENCH / f"{name}.py"), *args]
    print(f"\n$ {' '.join(command)}", flush=True)
    code = subprocess.run(command, check=False).returncode
    if code != 0:
        print(f"warning: {name}.py exited with {code}; its figures are missing from the table", flush=True)
    return time.monotonic() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced scale (see SCALES)")
    parser.add_argument("--only", action="append", choices=sorted(SCALES), help="run only these benches")
    parser.add_argument("--figures", help="also write every figure as JSON here")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    figures: list[Figure] = []
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="fleetdeck-bench-") as tmp:
        for name, scales in SCALES.items():
            if args.only and name not in args.only:
                continue
            out = Path(tmp) / f"{name}.json"
            extra = ["--json", str(out)] if name == "heartbeats" else ["--figures", str(out)]
            seconds[name] = run(name, [*scales[args.quick], *extra])
            if out.exists():
                figures += heartbeat_figures(out) if name == "heartbeats" else read(out)
    took = ", ".join(f"{name} {s:.0f} s" for name, s in seconds.items())
    print(
        f"\nAll figures, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{'--quick' if args.quick else 'full'} scale, {os.cpu_count()} CPUs, load average before "
        f"{load_before:.1f} ({took}); ratio = value / baseline, same run:\n"
    )
    print(table(figures))
    if args.figures:
        write(Path(args.figures), figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
