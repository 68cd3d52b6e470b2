"""Resource use read from /proc (CPU, memory, swap, load); zeros where /proc is absent."""

from __future__ import annotations

from pathlib import Path

from fleetdeck.v1 import types_pb2


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


class MetricsReader:
    """Reads metrics; CPU use is measured between consecutive reads."""

    def __init__(self, proc: Path = Path("/proc")) -> None:
        self._proc = proc
        self._last_cpu: tuple[int, int] | None = None

    def _cpu_percent(self) -> float:
        first = _read(self._proc / "stat").split("\n", 1)[0].split()
        if len(first) < 5 or first[0] != "cpu":
            return 0.0
        values = [int(v) for v in first[1:]]
        idle = values[3] + (values[4] if len(values) > 4 else 0)
        total = sum(values[:8])
        last, self._last_cpu = self._last_cpu, (total, idle)
        if last is None or total <= last[0]:
            return 0.0
        busy = (total - last[0]) - (idle - last[1])
        return max(0.0, min(100.0, 100.0 * busy / (total - last[0])))

    def _memory(self, metrics: types_pb2.Metrics) -> None:
        info: dict[str, int] = {}
        for line in _read(self._proc / "meminfo").splitlines():
            name, _, rest = line.partition(":")
            parts = rest.split()
            if parts and parts[0].isdigit():
                info[name] = int(parts[0]) * 1024
        total = info.get("MemTotal", 0)
        available = info.get("MemAvailable", info.get("MemFree", 0))
        metrics.memory_total_bytes = total
        metrics.memory_used_bytes = max(0, total - available)
        metrics.swap_total_bytes = info.get("SwapTotal", 0)
        metrics.swap_used_bytes = max(0, info.get("SwapTotal", 0) - info.get("SwapFree", 0))

    def _load(self, metrics: types_pb2.Metrics) -> None:
        parts = _read(self._proc / "loadavg").split()
        if len(parts) >= 3:
            metrics.load1, metrics.load5, metrics.load15 = (float(p) for p in parts[:3])

    def read(self) -> types_pb2.Metrics:
        """Metrics as of now."""
        metrics = types_pb2.Metrics(cpu_percent=self._cpu_percent())
        self._memory(metrics)
        self._load(metrics)
        return metrics
