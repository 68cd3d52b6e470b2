"""A synthetic fleet for the live-view tests and the SSE fan-out bench: real Host messages, as the
control plane sends them, for thousands of hosts without thousands of agents."""

from __future__ import annotations

import time

from google.protobuf import timestamp_pb2

from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import types_pb2 as pb

KINDS = (
    pb.COMPARTMENT_KIND_AGENT,
    pb.COMPARTMENT_KIND_GIT,
    pb.COMPARTMENT_KIND_LOCK,
    pb.COMPARTMENT_KIND_SYSTEM,
    pb.COMPARTMENT_KIND_TESTS,
)


def name(index: int) -> str:
    """The name of the index-th synthetic host: host00000, host00001, ..."""
    return f"host{index:05d}"


def _stamp(seconds: float) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


def host(
    index: int,
    *,
    tests: pb.CompartmentStatus.ValueType = pb.COMPARTMENT_STATUS_OK,
    online: bool = True,
    seen: float | None = None,
    note: str = "",
) -> pb.Host:
    """A host as the control plane describes it: five compartments with their sentences, facts, tests.

    `note` rides in the Agent compartment's message (the bench puts the change's send time there)."""
    now = time.time() if seen is None else seen
    compartments = [
        pb.Compartment(
            kind=kind, status=pb.COMPARTMENT_STATUS_OK, message=f"{kind} is current", since=_stamp(now - 3600)
        )
        for kind in KINDS
    ]
    compartments[0].message = note or compartments[0].message
    compartments[4].status = tests
    compartments[4].message = (
        "Tests failed: 10-network" if tests == pb.COMPARTMENT_STATUS_ERROR else "8/8 passed"
    )
    return pb.Host(
        name=name(index),
        online=online,
        last_seen=_stamp(now),
        facts=pb.HostFacts(
            agent_version="0.4.0",
            os="NixOS 25.05",
            commit=f"{index:040x}",
            lock_hash=f"{index:064x}",
            generation=f"/nix/var/nix/profiles/system-{index % 300}-link",
        ),
        compartments=compartments,
        test_status=pb.TestStatus(
            state=pb.TEST_STATE_FAILED if tests == pb.COMPARTMENT_STATUS_ERROR else pb.TEST_STATE_PASSED,
            passed=7 if tests == pb.COMPARTMENT_STATUS_ERROR else 8,
            failed=1 if tests == pb.COMPARTMENT_STATUS_ERROR else 0,
            total=8,
            completed=8,
            last_run_id=f"run-{index}",
            last_run_at=_stamp(now - 600),
        ),
        registered_at=_stamp(now - 86_400),
    )


def fleet(count: int, *, red_every: int = 97) -> list[pb.Host]:
    """`count` hosts; every `red_every`-th one has failing tests."""
    return [
        host(i, tests=pb.COMPARTMENT_STATUS_ERROR if i % red_every == 0 else pb.COMPARTMENT_STATUS_OK)
        for i in range(count)
    ]


def snapshot(hosts: list[pb.Host], version: int) -> fleet_pb.WatchFleetResponse:
    """The WatchFleet snapshot event of `hosts`."""
    return fleet_pb.WatchFleetResponse(version=version, snapshot=fleet_pb.FleetSnapshot(hosts=hosts))


def change(changed: pb.Host, version: int) -> fleet_pb.WatchFleetResponse:
    """The WatchFleet event of one changed host."""
    return fleet_pb.WatchFleetResponse(version=version, host=changed)
