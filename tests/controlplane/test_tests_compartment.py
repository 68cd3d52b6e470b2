"""The Tests compartment's story on the control plane, with a scripted agent over real gRPC."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.field_mask_pb2 import FieldMask
from scripted_agent import COMMIT, LOCK

from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import types_pb2 as pb

CASES = [
    ("Network connectivity", pb.TEST_OUTCOME_PASSED, ""),
    ("GPU acceleration", pb.TEST_OUTCOME_FAILED, "Error: nvidia-smi not found"),
]


def _compartment(host: pb.Host, kind: int) -> pb.Compartment:
    return next(c for c in host.compartments if c.kind == kind)


async def _host(fleet, name: str = "gpc0") -> pb.Host:
    return (await fleet.GetHost(fleet_pb.GetHostRequest(name=name))).host


def _report(agent, command_id: str, cases, generation: str) -> int:
    run = pb.TestRun(generation=generation, state=pb.TEST_STATE_PASSED, total=len(cases))
    for name, outcome, output in cases:
        run.cases.add(name=name, outcome=outcome, output=output)
        if outcome == pb.TEST_OUTCOME_PASSED:
            run.passed += 1
        else:
            run.failed += 1
    if run.failed:
        run.state = pb.TEST_STATE_FAILED
        run.exit_code = 1
    run.finished_at.GetCurrentTime()
    seq = agent.next_seq(command_id)
    agent.send(test_run=agent_pb.TestRunReport(command_id=command_id, seq=seq, run=run))
    return seq


async def test_switch_then_failing_tests_then_rollback(connect, fleet) -> None:
    await fleet.SetDesiredState(fleet_pb.SetDesiredStateRequest(commit=COMMIT, lock_hash=LOCK))
    agent = await connect("gpc0")
    await agent.hello()
    watch = fleet.WatchFleet(fleet_pb.WatchFleetRequest())
    await watch.read()

    switch = (
        (
            await fleet.RunOperation(
                fleet_pb.RunOperationRequest(hosts=["gpc0"], operation=pb.OPERATION_SWITCH)
            )
        )
        .results[0]
        .command_id
    )
    await agent.recv("run_command")
    agent.send(command_started=agent_pb.CommandStarted(command_id=switch))
    await agent.ack(switch, agent.finish(switch, 0, generation="system-2-link"))
    test = (await agent.recv("run_command")).run_command
    assert test.trigger == pb.TEST_TRIGGER_AFTER_SWITCH
    host = await _host(fleet)
    assert _compartment(host, pb.COMPARTMENT_KIND_SYSTEM).status == pb.COMPARTMENT_STATUS_OK
    assert _compartment(host, pb.COMPARTMENT_KIND_TESTS).status == pb.COMPARTMENT_STATUS_WORKING

    agent.send(
        command_started=agent_pb.CommandStarted(command_id=test.command_id, generation="system-2-link")
    )
    agent.send(
        test_progress=agent_pb.TestProgress(
            command_id=test.command_id,
            status=pb.TestStatus(
                state=pb.TEST_STATE_RUNNING, completed=1, total=2, passed=1, current_case="GPU acceleration"
            ),
        )
    )
    _report(agent, test.command_id, CASES, "system-2-link")
    await agent.ack(test.command_id, agent.finish(test.command_id, 1, generation="system-2-link"))

    failed = None
    while failed is None:
        event = await watch.read()
        if event.HasField("tests_failed"):
            failed = event.tests_failed
    assert failed.message == "Tests failed on gpc0: GPU acceleration"
    assert list(failed.failed_cases) == ["GPU acceleration"] and failed.rollback_available
    host = await _host(fleet)
    assert _compartment(host, pb.COMPARTMENT_KIND_SYSTEM).status == pb.COMPARTMENT_STATUS_OK
    tests = _compartment(host, pb.COMPARTMENT_KIND_TESTS)
    assert tests.status == pb.COMPARTMENT_STATUS_ERROR
    assert tests.message == "Last test: 1/2 passed, 1 failed"

    run = (await fleet.GetTestRun(fleet_pb.GetTestRunRequest(run_id=test.command_id))).run
    assert run.trigger == pb.TEST_TRIGGER_AFTER_SWITCH and run.triggered_by_command_id == switch
    assert [(c.name, c.outcome) for c in run.cases] == [(n, o) for n, o, _ in CASES]
    assert run.cases[1].output == "Error: nvidia-smi not found"
    listed = (await fleet.ListTestRuns(fleet_pb.ListTestRunsRequest(host="gpc0"))).runs
    assert [r.id for r in listed] == [test.command_id] and listed[0].cases[1].output == ""

    rollback = (
        (
            await fleet.RunOperation(
                fleet_pb.RunOperationRequest(hosts=["gpc0"], operation=pb.OPERATION_ROLLBACK)
            )
        )
        .results[0]
        .command_id
    )
    await agent.recv("run_command")
    await agent.ack(rollback, agent.finish(rollback, 0, generation="system-1-link"))
    tests = _compartment(await _host(fleet), pb.COMPARTMENT_KIND_TESTS)
    assert tests.status == pb.COMPARTMENT_STATUS_OUTDATED
    assert tests.message == "Tests not run — run tests to verify system after rollback"
    watch.cancel()


async def test_auto_run_off_stays_yellow_until_manual_run_passes(connect, fleet) -> None:
    await fleet.SetDesiredState(fleet_pb.SetDesiredStateRequest(commit=COMMIT, lock_hash=LOCK))
    agent = await connect("web1")
    agent.send(
        hello=agent_pb.Hello(
            host="web1",
            facts=agent.facts(),
            declared_test_settings=pb.DeclaredTestSettings(auto_run_after_switch=False),
        )
    )
    welcome = (await agent.recv("welcome")).welcome
    assert not welcome.settings.tests.auto_run_after_switch
    switch = (
        (
            await fleet.RunOperation(
                fleet_pb.RunOperationRequest(hosts=["web1"], operation=pb.OPERATION_SWITCH)
            )
        )
        .results[0]
        .command_id
    )
    await agent.recv("run_command")
    await agent.ack(switch, agent.finish(switch, 0, generation="system-2-link"))
    host = await _host(fleet, "web1")
    assert not host.running_command_id
    tests = _compartment(host, pb.COMPARTMENT_KIND_TESTS)
    assert (tests.status, tests.message) == (
        pb.COMPARTMENT_STATUS_OUTDATED,
        "Tests not run — run tests to verify system",
    )

    test = (
        (await fleet.RunOperation(fleet_pb.RunOperationRequest(hosts=["web1"], operation=pb.OPERATION_TEST)))
        .results[0]
        .command_id
    )
    run = (await agent.recv("run_command")).run_command
    assert run.trigger == pb.TEST_TRIGGER_MANUAL and run.timeout.seconds == 60
    _report(agent, test, CASES[:1], "system-2-link")
    await agent.ack(test, agent.finish(test, 0, generation="system-2-link"))
    tests = _compartment(await _host(fleet, "web1"), pb.COMPARTMENT_KIND_TESTS)
    assert (tests.status, tests.message) == (pb.COMPARTMENT_STATUS_OK, "Last test: 1/1 passed")


async def test_disabled_host_is_gray_refuses_tests_and_setting_is_pushed(connect, fleet) -> None:
    agent = await connect("mac1")
    await agent.hello()
    response = await fleet.UpdateHostSettings(
        fleet_pb.UpdateHostSettingsRequest(
            host="mac1",
            test_settings_override=pb.TestSettingsOverride(enabled=False),
            update_mask=FieldMask(paths=["enabled"]),
        )
    )
    assert _compartment(response.host, pb.COMPARTMENT_KIND_TESTS).status == pb.COMPARTMENT_STATUS_DISABLED
    pushed = (await agent.recv("settings")).settings
    assert not pushed.tests.enabled
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await fleet.RunOperation(fleet_pb.RunOperationRequest(hosts=["mac1"], operation=pb.OPERATION_TEST))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "disabled" in caught.value.details()
    # Clearing the override returns to the declared/default setting.
    response = await fleet.UpdateHostSettings(
        fleet_pb.UpdateHostSettingsRequest(host="mac1", update_mask=FieldMask(paths=["enabled"]))
    )
    assert response.host.test_settings.enabled and not response.host.test_settings_override.HasField(
        "enabled"
    )


async def test_global_timeout_applies_and_is_pushed(connect, fleet) -> None:
    agent = await connect("gpc0")
    await agent.hello()
    await fleet.UpdateSettings(
        fleet_pb.UpdateSettingsRequest(
            settings=pb.Settings(test_timeout=Duration(seconds=90)),
            update_mask=FieldMask(paths=["test_timeout"]),
        )
    )
    assert (await agent.recv("settings")).settings.tests.timeout.seconds == 90
    settings = (await fleet.GetSettings(fleet_pb.GetSettingsRequest())).settings
    assert settings.test_timeout.seconds == 90 and settings.heartbeat_interval.seconds == 5
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await fleet.UpdateSettings(
            fleet_pb.UpdateSettingsRequest(
                settings=pb.Settings(), update_mask=FieldMask(paths=["test_timeout"])
            )
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_failed_tests_offer_no_rollback_at_the_first_generation(connect, fleet) -> None:
    agent = await connect("gpc0")
    await agent.hello(at_first_generation=True)
    watch = fleet.WatchFleet(fleet_pb.WatchFleetRequest())
    await watch.read()
    run = await fleet.RunOperation(fleet_pb.RunOperationRequest(hosts=["gpc0"], operation=pb.OPERATION_TEST))
    test = run.results[0].command_id
    await agent.recv("run_command")
    _report(agent, test, CASES, "system-1-link")
    await agent.ack(test, agent.finish(test, 1, at_first_generation=True))
    failed = None
    while failed is None:
        event = await watch.read()
        if event.HasField("tests_failed"):
            failed = event.tests_failed
    assert failed.message == "Tests failed on gpc0: GPU acceleration"
    assert not failed.rollback_available  # nothing to roll back to: the offer would only be refused
    watch.cancel()
