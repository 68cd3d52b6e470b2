"""One figure of a benchmark next to its baseline, as every bench writes them (`--figures FILE`) and
bench/all.py prints them: one table, one line per figure, with the ratio to the baseline."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Figure:
    """A measured value, its baseline's value in the same run, and what the target says."""

    bench: str  # which bench measured it: heartbeats, sse_fanout, welcome
    name: str  # what was measured, with its scale ("2,000 fresh agents: all welcomed after")
    unit: str  # "s", "ms", "/s", "cores", "" for counts and ratios
    value: float
    baseline: float  # the baseline's value in the same run (nan when there is none)
    baseline_name: str  # "no-op servicer", "bare sse-starlette"
    target: str = ""  # the target for it, if any ("< 10 s at 10,000 agents")

    @property
    def ratio(self) -> float:
        """value / baseline (nan without a baseline)."""
        if math.isnan(self.baseline) or self.baseline == 0:
            return math.nan
        return self.value / self.baseline


def write(path: Path, figures: list[Figure]) -> None:
    """Store figures as JSON (nan as null)."""
    rows = [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(f).items()}
        for f in figures
    ]
    path.write_text(json.dumps(rows, indent=2))


def read(path: Path) -> list[Figure]:
    """Figures written by `write` (none when there is no such file yet)."""
    if not path.exists():
        return []
    rows = json.loads(path.read_text())
    return [Figure(**{k: (math.nan if v is None else v) for k, v in row.items()}) for row in rows]


def number(value: float, unit: str) -> str:
    """A value with its unit, as many digits as it deserves."""
    if math.isnan(value):
        return "-"
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2 if abs(value) >= 0.1 else 3
    text = f"{value:,.{digits}f}"
    return f"{text} {unit}".strip() if unit and unit != "/s" else text + unit


def table(figures: list[Figure]) -> str:
    """A Markdown table of figures: name, value, baseline, ratio, target."""
    lines = ["| bench | figure | value | baseline | ratio | target |", "|---|---|---|---|---|---|"]
    for f in figures:
        baseline = "-" if math.isnan(f.baseline) else f"{number(f.baseline, f.unit)} ({f.baseline_name})"
        ratio = "-" if math.isnan(f.ratio) else f"{f.ratio:.2f}x"
        lines.append(
            f"| {f.bench} | {f.name} | {number(f.value, f.unit)} | {baseline} | {ratio} | {f.target} |"
        )
    return "\n".join(lines)
