"""Stop on a running test suite, with a real agent running real scripts: no verdict, no failure toast."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from agent_world import COMMAND_TIMEOUT, World, git

from fleetdeck.v1 import fleet_service_pb2, types_pb2

# Where the engine matters, these tests run on SQLite and on PostgreSQL.
pytestmark = pytest.mark.both_engines

CASES = {
    "10-network.sh": "echo 'ping ok'",
    "20-dns.sh": "echo 'dns ok'",
    "30-hang.sh": "echo waiting; exec sleep 30",
    "40-docker.sh": "echo 'docker ok'",
}


async def test_stopping_a_test_run_leaves_tests_yellow_and_announces_no_failure(world: World) -> None:
    gpc0 = await world.host("gpc0", tests=CASES)
    lock = hashlib.sha256((gpc0.repo / "flake.lock").read_bytes()).hexdigest()
    await world.fleet.stub.SetDesiredState(
        fleet_service_pb2.SetDesiredStateRequest(commit=git(gpc0.repo, "rev-parse", "HEAD"), lock_hash=lock)
    )
    await world.agent(gpc0)
    await world.fleet.wait_host("gpc0", lambda h: h.online and h.test_status.defined_cases == 4)
    watch = world.fleet.stub.WatchFleet(fleet_service_pb2.WatchFleetRequest())
    await watch.read()  # snapshot

    test_id = await world.fleet.run("gpc0", types_pb2.OPERATION_TEST)
    await world.fleet.wait_host("gpc0", lambda h: h.test_status.current_case == "Hang")
    await world.fleet.stub.CancelCommand(fleet_service_pb2.CancelCommandRequest(command_id=test_id))
    assert (await world.fleet.finished(test_id)).state == types_pb2.COMMAND_STATE_CANCELLED

    # A visible change after everything the finish caused: the end of what to look at.
    override = types_pb2.TestSettingsOverride(auto_run_after_switch=False)
    await world.fleet.stub.UpdateHostSettings(
        fleet_service_pb2.UpdateHostSettingsRequest(host="gpc0", test_settings_override=override)
    )
    events = []
    async with asyncio.timeout(COMMAND_TIMEOUT):
        while not (
            events
            and events[-1].HasField("host")
            and events[-1].host.HasField("test_settings_override")
            and events[-1].host.test_settings_override.HasField("auto_run_after_switch")
        ):
            events.append(await watch.read())
    watch.cancel()
    assert not [e for e in events if e.HasField("tests_failed")]
    assert types_pb2.COMPARTMENT_STATUS_ERROR not in [
        e.host.compartments[4].status for e in events if e.HasField("host")
    ]
    host = (await world.fleet.stub.GetHost(fleet_service_pb2.GetHostRequest(name="gpc0"))).host
    tests = host.compartments[4]
    assert (tests.status, tests.message) == (
        types_pb2.COMPARTMENT_STATUS_OUTDATED,
        "Test run cancelled after 3/4; run the tests again",
    )
    assert host.test_status.state == types_pb2.TEST_STATE_NOT_RUN
    # The stored run says what happened to it, so history never counts it as a failure.
    run = (await world.fleet.stub.GetTestRun(fleet_service_pb2.GetTestRunRequest(run_id=test_id))).run
    assert run.state == types_pb2.TEST_STATE_CANCELLED
    assert [c.outcome for c in run.cases][3] == types_pb2.TEST_OUTCOME_NOT_RUN
    # Nor does the case history: a stopped run classifies nothing and moves no summary.
    assert {c.classification for c in run.cases} == {types_pb2.CASE_CLASSIFICATION_UNSPECIFIED}
