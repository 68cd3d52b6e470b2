"""Prometheus metrics: gauges computed at scrape time from the live view (a custom collector),
plain counters bumped where events happen (an integer increment on the hot path), two histograms.

`Counts` is what the event sites touch; `FleetMetrics` turns counts and the live view into a scrape.
Served by `metrics_http` on the web UI's port (with a viewer API token) or on `--metrics ADDR`.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from fleetdeck.operations import operation_name
from fleetdeck.v1 import types_pb2 as pb

if TYPE_CHECKING:
    from .fleet import Fleet
    from .store import Store

MAX_FAILING_SERIES = 1_000
"""At most this many (host, case) series of failing test cases: a fleet on fire stays scrapeable."""
MAX_CASE_NAME = 100


def _word(enum: object, value: int, prefix: str) -> str:
    try:
        name: str = enum.Name(value)  # type: ignore[attr-defined]
    except ValueError:
        return str(value)
    return name.removeprefix(prefix).lower()


@dataclass
class Counts:
    """What happened since start, bumped where it happens: cheap enough for every heartbeat."""

    heartbeats: int = 0
    output_lines: int = 0
    commands: collections.Counter[tuple[int, int]] = field(default_factory=collections.Counter)
    test_runs: collections.Counter[int] = field(default_factory=collections.Counter)
    test_run_seconds: Histogram = field(
        default_factory=lambda: Histogram(
            "fleetdeck_test_run_duration_seconds",
            "How long stored test runs took",
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800),
            registry=None,
        )
    )
    store_write_seconds: Histogram = field(
        default_factory=lambda: Histogram(
            "fleetdeck_store_write_seconds",
            "Store write transactions, from asking to committed",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=None,
        )
    )

    def command_ended(self, command: pb.Command) -> None:
        """A command reached its end state (succeeded, failed, ..., interrupted)."""
        self.commands[(command.operation, command.state)] += 1

    def test_run_stored(self, run: pb.TestRun) -> None:
        """A test run's record was stored (once per run)."""
        self.test_runs[run.state] += 1
        self.test_run_seconds.observe(run.duration.seconds + run.duration.nanos / 1e9)


class FleetMetrics(Collector):
    """The scrape: gauges from the live view, the counts, and the failing cases of failing hosts."""

    def __init__(self, fleet: Fleet, store: Store, sse_clients: Callable[[], int | None]) -> None:
        self.fleet = fleet
        self.store = store
        self.sse_clients = sse_clients
        self._failing: dict[str, tuple[str, list[str]]] = {}  # host -> (run id, failing case names)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    async def render(self) -> bytes:
        """The Prometheus text exposition, with the failing cases read for hosts whose run changed."""
        await self._refresh_failing()
        return generate_latest(self.registry)

    async def _refresh_failing(self) -> None:
        failing_now = {
            name: state.host.test_status.last_run_id
            for name, state in list(self.fleet.hosts.items())
            if state.host.test_status.state == pb.TEST_STATE_FAILED and state.host.test_status.last_run_id
        }
        for name in set(self._failing) - set(failing_now):
            del self._failing[name]
        for name, run_id in failing_now.items():
            if self._failing.get(name, ("", []))[0] == run_id:
                continue
            run = await self.store.get_test_run(run_id, with_output=False)
            cases = [
                c.name[:MAX_CASE_NAME]
                for c in (run.cases if run is not None else [])
                if c.outcome in (pb.TEST_OUTCOME_FAILED, pb.TEST_OUTCOME_TIMED_OUT, pb.TEST_OUTCOME_ERROR)
            ]
            self._failing[name] = (run_id, cases)

    def collect(self) -> Iterator[Metric]:
        counts = self.fleet.counts
        hosts = GaugeMetricFamily(
            "fleetdeck_hosts", "Hosts by compartment and its status", labels=["compartment", "status"]
        )
        by_status: collections.Counter[tuple[int, int]] = collections.Counter()
        connected = 0
        for host_state in list(self.fleet.hosts.values()):  # as last computed: no compartment math here
            connected += host_state.online
            by_status.update(host_state.statuses)
        for kind in pb.CompartmentKind.values():
            for status in pb.CompartmentStatus.values():
                if kind and status:
                    hosts.add_metric(
                        [
                            _word(pb.CompartmentKind, kind, "COMPARTMENT_KIND_"),
                            _word(pb.CompartmentStatus, status, "COMPARTMENT_STATUS_"),
                        ],
                        by_status[(kind, status)],
                    )
        yield hosts
        yield GaugeMetricFamily(
            "fleetdeck_hosts_known", "Hosts the control plane knows", value=len(self.fleet.hosts)
        )
        yield GaugeMetricFamily(
            "fleetdeck_agents_connected", "Agents connected and heartbeating", value=connected
        )
        yield CounterMetricFamily(
            "fleetdeck_heartbeats_received", "Agent heartbeats received", value=counts.heartbeats
        )
        commands = CounterMetricFamily(
            "fleetdeck_commands",
            "Commands that ended, by operation and outcome",
            labels=["operation", "outcome"],
        )
        for (operation, state), n in sorted(counts.commands.items()):
            commands.add_metric(
                [operation_name(operation), _word(pb.CommandState, state, "COMMAND_STATE_")], n
            )
        yield commands
        runs = CounterMetricFamily("fleetdeck_test_runs", "Test runs stored, by outcome", labels=["outcome"])
        for outcome, n in sorted(counts.test_runs.items()):
            runs.add_metric([_word(pb.TestState, outcome, "TEST_STATE_")], n)
        yield runs
        yield from counts.test_run_seconds.collect()
        yield from counts.store_write_seconds.collect()
        yield CounterMetricFamily(
            "fleetdeck_output_lines_stored", "Lines of command output stored", value=counts.output_lines
        )
        failing = GaugeMetricFamily(
            "fleetdeck_failing_test_cases",
            f"Test cases failing in a host's last run (at most {MAX_FAILING_SERIES} series)",
            labels=["host", "case"],
        )
        series = 0
        for host, (_, cases) in sorted(self._failing.items()):
            for case in cases:
                if series >= MAX_FAILING_SERIES:
                    break
                failing.add_metric([host, case], 1)
                series += 1
        yield failing
        sse = self.sse_clients()
        if sse is not None:
            yield GaugeMetricFamily("fleetdeck_sse_clients", "Browsers streaming from the web UI", value=sse)
