"""The design card's story end to end: real control plane, real agents, real shell scripts.

gpc0 switches; Tests turn yellow, blue, then red with "GPU acceleration" failed while System stays
green; the rollback offer appears; rollback runs; Tests are yellow again. web1 (auto-run off) stays
yellow until a manual run turns it green. mac1 (tests disabled) is gray and refuses a run. A run over
its timeout is red with the case timed out. Everything shown survives a control-plane restart.
"""

from __future__ import annotations

import asyncio
import hashlib

import grpc
import pytest
from agent_world import COMMAND_TIMEOUT, Fleet, World, control_plane_config, git
from google.protobuf import duration_pb2, field_mask_pb2

from fleetdeck.v1 import fleet_service_pb2, types_pb2

# Where the engine matters, these tests run on SQLite and on PostgreSQL.
pytestmark = pytest.mark.both_engines

GPU = """
# fleetdeck-name: GPU acceleration
gen=$(sed -E 's/[^0-9]//g' "$FLEETDECK_GENERATION_PATH")
if [ "$gen" -gt 1 ]; then echo "Error: nvidia-smi not found" >&2; exit 1; fi
echo "nvidia-smi: 1 GPU"
"""
CASES = {"10-network.sh": "echo 'ping ok'", "40-gpu.sh": GPU, "50-docker.sh": "echo 'docker ok'"}


def box_tests(host: types_pb2.Host) -> types_pb2.Compartment:
    return host.compartments[4]


def box_system(host: types_pb2.Host) -> types_pb2.Compartment:
    return host.compartments[3]


async def desire(world: World, host_world) -> None:
    commit = git(host_world.repo, "rev-parse", "HEAD")
    lock = hashlib.sha256((host_world.repo / "flake.lock").read_bytes()).hexdigest()
    await world.fleet.stub.SetDesiredState(
        fleet_service_pb2.SetDesiredStateRequest(commit=commit, lock_hash=lock)
    )


async def test_switch_failing_tests_rollback_offer_and_restart(world: World) -> None:
    gpc0 = await world.host("gpc0", tests=CASES)
    await desire(world, gpc0)
    await world.agent(gpc0)

    events: list[fleet_service_pb2.WatchFleetResponse] = []
    watch = world.fleet.stub.WatchFleet(fleet_service_pb2.WatchFleetRequest())
    await watch.read()  # snapshot

    switch_id = await world.fleet.run("gpc0", types_pb2.OPERATION_SWITCH)
    async with asyncio.timeout(COMMAND_TIMEOUT):
        while not any(e.HasField("tests_failed") for e in events):
            events.append(await watch.read())
    watch.cancel()

    sequence = [box_tests(e.host).status for e in events if e.HasField("host") and e.host.name == "gpc0"]
    collapsed = [s for i, s in enumerate(sequence) if i == 0 or s != sequence[i - 1]]
    blue, yellow, red = (
        types_pb2.COMPARTMENT_STATUS_WORKING,
        types_pb2.COMPARTMENT_STATUS_OUTDATED,
        types_pb2.COMPARTMENT_STATUS_ERROR,
    )
    assert collapsed[-3:] == [yellow, blue, red], [types_pb2.CompartmentStatus.Name(s) for s in collapsed]
    after_switch = [
        e.host for e in events if e.HasField("host") and e.host.last_switch.command_id == switch_id
    ]
    assert after_switch and all(box_system(h).status == types_pb2.COMPARTMENT_STATUS_OK for h in after_switch)

    failed = next(e.tests_failed for e in events if e.HasField("tests_failed"))
    assert failed.message == "Tests failed on gpc0: GPU acceleration"
    assert failed.rollback_available and list(failed.failed_cases) == ["GPU acceleration"]
    run = await world.fleet.test_run(failed.run_id)
    gpu = next(c for c in run.cases if c.name == "GPU acceleration")
    assert gpu.output == "Error: nvidia-smi not found"
    await world.fleet.finished(failed.run_id)

    rollback_id = await world.fleet.run("gpc0", types_pb2.OPERATION_ROLLBACK)
    assert (await world.fleet.finished(rollback_id)).state == types_pb2.COMMAND_STATE_SUCCEEDED
    host = await world.fleet.wait_host("gpc0", lambda h: h.last_rollback.command_id == rollback_id)
    assert box_tests(host).status == yellow
    assert box_tests(host).message == "Tests not run — run tests to verify system after rollback"

    # Everything shown survives a restart of the control plane (agents are not needed for that).
    before = (await world.fleet.stub.GetHost(fleet_service_pb2.GetHostRequest(name="gpc0"))).host
    port = world.cp.grpc_port
    await world.fleet.close()
    await world.cp.stop()
    from controlplane.app import ControlPlane

    world.cp = ControlPlane(control_plane_config(world.tmp_path, port, world.database))
    await world.cp.start()
    world.fleet = Fleet(world.cp.grpc_target)
    after = (await world.fleet.stub.GetHost(fleet_service_pb2.GetHostRequest(name="gpc0"))).host
    assert [(c.status, c.message) for c in after.compartments] == [
        (c.status, c.message) for c in before.compartments
    ]
    runs = (await world.fleet.stub.ListTestRuns(fleet_service_pb2.ListTestRunsRequest(host="gpc0"))).runs
    assert runs[0].id == failed.run_id and runs[0].state == types_pb2.TEST_STATE_FAILED


async def test_auto_run_off_stays_yellow_until_a_manual_run_passes(world: World) -> None:
    web1 = await world.host(
        "web1", tests={"10-http.sh": "echo ok"}, config_extra="[tests]\nauto_run_after_switch = false"
    )
    await desire(world, web1)
    await world.agent(web1)
    switch_id = await world.fleet.run("web1", types_pb2.OPERATION_SWITCH)
    await world.fleet.finished(switch_id)
    host = await world.fleet.wait_host("web1", lambda h: h.last_switch.command_id == switch_id)
    assert not host.running_command_id
    assert (box_tests(host).status, box_tests(host).message) == (
        types_pb2.COMPARTMENT_STATUS_OUTDATED,
        "Tests not run — run tests to verify system",
    )
    assert box_system(host).status == types_pb2.COMPARTMENT_STATUS_OK
    test_id = await world.fleet.run("web1", types_pb2.OPERATION_TEST)
    await world.fleet.finished(test_id)
    host = await world.fleet.wait_host("web1", lambda h: h.test_status.last_run_id == test_id)
    assert (box_tests(host).status, box_tests(host).message) == (
        types_pb2.COMPARTMENT_STATUS_OK,
        "Last test: 1/1 passed",
    )
    assert (await world.fleet.test_run(test_id)).trigger == types_pb2.TEST_TRIGGER_MANUAL


async def test_disabled_host_is_gray_and_refuses_a_test_run(world: World) -> None:
    mac1 = await world.host("mac1", tests={"10-ok.sh": "echo ok"}, config_extra="[tests]\nenabled = false")
    await world.agent(mac1)
    host = await world.fleet.wait_host("mac1", lambda h: h.online)
    assert box_tests(host).status == types_pb2.COMPARTMENT_STATUS_DISABLED
    assert box_tests(host).message == "Tests disabled for this host"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await world.fleet.stub.RunOperation(
            fleet_service_pb2.RunOperationRequest(hosts=["mac1"], operation=types_pb2.OPERATION_TEST)
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "disabled" in caught.value.details()


async def test_a_run_over_its_timeout_is_red_with_the_case_timed_out(world: World) -> None:
    slow = await world.host(
        "slow1", tests={"10-ok.sh": "echo ok", "20-hang.sh": "echo waiting; exec sleep 30"}
    )
    await desire(world, slow)
    await world.agent(slow)
    override = types_pb2.TestSettingsOverride(timeout=duration_pb2.Duration(seconds=1))
    await world.fleet.stub.UpdateHostSettings(
        fleet_service_pb2.UpdateHostSettingsRequest(
            host="slow1",
            test_settings_override=override,
            update_mask=field_mask_pb2.FieldMask(paths=["timeout"]),
        )
    )
    test_id = await world.fleet.run("slow1", types_pb2.OPERATION_TEST)
    await world.fleet.finished(test_id)
    host = await world.fleet.wait_host("slow1", lambda h: h.test_status.last_run_id == test_id)
    assert box_tests(host).status == types_pb2.COMPARTMENT_STATUS_ERROR
    run = await world.fleet.test_run(test_id)
    assert [(c.name, c.outcome) for c in run.cases] == [
        ("Ok", types_pb2.TEST_OUTCOME_PASSED),
        ("Hang", types_pb2.TEST_OUTCOME_TIMED_OUT),
    ]
