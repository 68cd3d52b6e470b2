"""Resource use read with psutil (CPU, memory, swap, load, root disk) on Linux and macOS alike."""

from __future__ import annotations

import logging
from pathlib import Path

import psutil

from fleetdeck.v1 import types_pb2

logger = logging.getLogger(__name__)


class MetricsReader:
    """Reads metrics; CPU use is measured between consecutive reads (the first read says 0)."""

    def __init__(self, disk: Path = Path("/")) -> None:
        self._disk = disk
        self._warned: set[str] = set()
        psutil.cpu_percent(interval=None)  # starts the measurement the first read() ends

    def _warn_once(self, what: str, error: OSError) -> None:
        if what not in self._warned:
            self._warned.add(what)
            logger.warning("cannot read %s: %s; reporting zeros", what, error)

    def read(self) -> types_pb2.Metrics:
        """Metrics as of now; a part that cannot be read stays zero (logged once)."""
        metrics = types_pb2.Metrics(cpu_percent=max(0.0, min(100.0, psutil.cpu_percent(interval=None))))
        memory = psutil.virtual_memory()
        metrics.memory_total_bytes = memory.total
        metrics.memory_used_bytes = max(0, memory.total - memory.available)
        try:
            swap = psutil.swap_memory()
            metrics.swap_total_bytes, metrics.swap_used_bytes = swap.total, swap.used
        except OSError as error:
            self._warn_once("swap", error)
        try:
            metrics.load1, metrics.load5, metrics.load15 = psutil.getloadavg()
        except OSError as error:
            self._warn_once("the load average", error)
        try:
            disk = psutil.disk_usage(str(self._disk))
            metrics.disk_total_bytes, metrics.disk_used_bytes = disk.total, disk.used
        except OSError as error:
            self._warn_once(f"disk use of {self._disk}", error)
        return metrics
