"""The fleet as the one owner of host state: named operations, driven without gRPC (real SQLite)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from controlplane.agent_streams import AgentStream, AgentStreams
from controlplane.errors import Aborted
from controlplane.fleet import Fleet, HostState
from controlplane.hub import Hub
from controlplane.store import SqliteStore
from controlplane.test_status import Cancelled
from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import types_pb2 as pb

FACTS = pb.HostFacts(agent_version="0.1.0", commit="a" * 40, generation="system-1-link")
NOT_RUN = pb.TestStatus(state=pb.TEST_STATE_NOT_RUN, defined_cases=2)


@pytest.fixture
async def fleet(tmp_path: Path) -> AsyncIterator[Fleet]:
    store = SqliteStore(tmp_path / "fleet.db")
    await store.open()
    fleet = Fleet(store, Hub(await store.reserve_versions(0)), AgentStreams())
    await fleet.load()
    yield fleet
    await fleet.stop()
    await store.close()


async def reloaded(fleet: Fleet, name: str = "gpc0") -> HostState:
    """The host as a fleet rebuilt from the database alone sees it."""
    fresh = Fleet(fleet.store, Hub(0), AgentStreams())
    await fresh.load()
    return fresh.hosts[name]


def connected(fleet: Fleet, name: str = "gpc0") -> tuple[AgentStream, Fleet]:
    state = fleet.ensure(name)
    stream = AgentStream(name, "token-id")
    fleet.attach(state, stream)
    fleet.streams.add(stream, Aborted("replaced"))
    fleet.hello(state, agent_pb.Hello(host=name, facts=FACTS, test_status=NOT_RUN))
    fleet.connect(state, stream)
    return stream, fleet


async def test_a_heartbeat_that_changes_nothing_publishes_nothing(fleet: Fleet) -> None:
    connected(fleet)
    state = fleet.hosts["gpc0"]
    version = fleet.hub.version
    fleet.heartbeat(
        state, agent_pb.Heartbeat(facts=FACTS, test_status=NOT_RUN, metrics=pb.Metrics(cpu_percent=0.5))
    )
    assert fleet.hub.version == version
    fleet.heartbeat(state, agent_pb.Heartbeat(facts=pb.HostFacts(commit="b" * 40), test_status=NOT_RUN))
    assert fleet.hub.version == version + 1


async def test_last_seen_and_metrics_are_written_behind(fleet: Fleet) -> None:
    connected(fleet)
    await fleet.flush()
    fleet.heartbeat(
        fleet.hosts["gpc0"],
        agent_pb.Heartbeat(facts=FACTS, test_status=NOT_RUN, metrics=pb.Metrics(cpu_percent=2.0)),
    )
    assert (await reloaded(fleet)).host.metrics.cpu_percent == 0.0  # not yet: in memory only
    await fleet.flush()
    stored = (await reloaded(fleet)).host
    assert stored.metrics.cpu_percent == 2.0 and stored.last_seen.seconds > 0


async def test_new_test_settings_are_pushed_to_the_connected_agent(fleet: Fleet) -> None:
    stream, _ = connected(fleet)
    await fleet.settings_changed(fleet.hosts["gpc0"], pb.TestSettingsOverride(enabled=False))
    pushed = await stream.next_outgoing()
    assert pushed.WhichOneof("message") == "settings" and not pushed.settings.tests.enabled
    assert not fleet.view("gpc0").test_settings.enabled
    override = (await reloaded(fleet)).override
    assert override.HasField("enabled") and not override.enabled


async def test_the_end_of_a_replaced_stream_does_not_take_the_host_offline(fleet: Fleet) -> None:
    older, _ = connected(fleet)
    newer, _ = connected(fleet)
    fleet.disconnected(older)
    assert fleet.view("gpc0").online
    fleet.disconnected(newer)
    assert not fleet.view("gpc0").online


async def test_a_snapshot_between_a_stream_closing_and_its_end_agrees_with_the_events(fleet: Fleet) -> None:
    older, _ = connected(fleet)
    version = fleet.hub.version
    older.close(Aborted("broken"))  # closed; its handler has not unwound yet (no disconnected)
    assert not fleet.snapshot().hosts[0].online
    assert fleet.hub.version == version + 1  # ... and watchers were told so at once
    connected(fleet)  # the agent is back before the old stream's end was handled
    assert fleet.hub.version == version + 2 and fleet.view("gpc0").online
    fleet.disconnected(older)
    assert fleet.hub.version == version + 2 and fleet.view("gpc0").online  # its late end changes nothing


async def test_a_stream_replaced_by_a_newer_one_is_no_offline_blip(fleet: Fleet) -> None:
    connected(fleet)
    version = fleet.hub.version
    connected(fleet)  # the newer stream closes the older one
    assert fleet.hub.version == version  # online all along: nothing to publish


async def test_a_started_test_command_turns_tests_blue_and_its_end_releases_the_host(fleet: Fleet) -> None:
    connected(fleet)
    state = fleet.hosts["gpc0"]
    command = pb.Command(id="t1", host="gpc0", operation=pb.OPERATION_TEST, state=pb.COMMAND_STATE_RUNNING)
    fleet.command_started(state, command)
    assert fleet.view("gpc0").compartments[4].status == pb.COMPARTMENT_STATUS_WORKING
    command.state = pb.COMMAND_STATE_CANCELLED
    command.finished_at.GetCurrentTime()
    fleet.command_finished(state, command, FACTS, Cancelled(None))
    fleet.changed(state, durable=True)
    host = fleet.view("gpc0")
    assert not host.running_command_id and not host.running_operation
    assert host.test_status.message == "Test run cancelled after 0/2; run the tests again"
