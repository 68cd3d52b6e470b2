"""bench/'s one table: figures keep their baseline through JSON, and ratios are value / baseline."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import all as bench_all
from figures import Figure, read, table, write


def test_figures_round_trip_and_print_their_ratio(tmp_path: Path) -> None:
    figures = [
        Figure(
            "welcome", "2,000 fresh agents: all welcomed after", "s", 2.5, 1.25, "no-op servicer", "< 10 s"
        ),
        Figure("sse_fanout", "page: first snapshot painted", "ms", 420.0, math.nan, ""),
    ]
    write(tmp_path / "f.json", figures)
    back = read(tmp_path / "f.json")
    assert back[0] == figures[0] and back[0].ratio == 2.0
    assert math.isnan(back[1].baseline) and math.isnan(back[1].ratio)
    lines = table(back).splitlines()
    assert lines[2] == (
        "| welcome | 2,000 fresh agents: all welcomed after | 2.50 s | 1.25 s (no-op servicer) | 2.00x | < 10 s |"
    )
    assert lines[3] == "| sse_fanout | page: first snapshot painted | 420 ms | - | - |  |"
    assert read(tmp_path / "missing.json") == []


def _phase(server: str, mode: str, processed: int, cpu: float) -> dict[str, object]:
    return {"server": server, "mode": mode, "agents": 300, "connect_seconds": 1.0, "processed": processed,
            "processed_window": 5.0, "server_cpu": cpu, "server_rss": 100.0}  # fmt: skip


def test_the_heartbeat_bench_counts_the_best_max_rate_round(tmp_path: Path) -> None:
    phases = [
        _phase("control plane", "rate", 10_000, 1.0),
        _phase("control plane", "rate", 20_000, 1.0),  # the best round: 4,000/s
        _phase("no-op", "rate", 40_000, 1.0),
    ]
    (tmp_path / "h.json").write_text(json.dumps(phases))
    (rate, per_heartbeat) = bench_all.heartbeat_figures(tmp_path / "h.json")
    assert (rate.value, rate.baseline, rate.ratio) == (4_000.0, 8_000.0, 0.5)
    assert per_heartbeat.value == 250.0 and per_heartbeat.baseline == 125.0
