"""WatchCommand over real gRPC with a scripted agent: a switch followed through the test run it
triggered to the verdict, why no test run follows, and the verdict as a pure function."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from controlplane.command_verdict import verdict
from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import command_watch_pb2 as watch_pb
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import types_pb2 as pb

TIMEOUT = 10


async def _switch(fleet, host: str = "gpc0") -> str:
    response = await fleet.RunOperation(
        fleet_pb.RunOperationRequest(hosts=[host], operation=pb.OPERATION_SWITCH)
    )
    return response.results[0].command_id


async def _to_verdict(call) -> tuple[list[tuple[str, int]], watch_pb.CommandVerdict]:
    states = []
    async with asyncio.timeout(TIMEOUT):
        async for response in call:
            if response.HasField("verdict"):
                return states, response.verdict
            states.append((response.command.id, response.command.state))
    raise AssertionError("the watch ended without a verdict")


def _failing_run(agent, command_id: str) -> None:
    run = pb.TestRun(generation="system-2-link", state=pb.TEST_STATE_FAILED, total=2, passed=1, failed=1)
    run.cases.add(name="Network", outcome=pb.TEST_OUTCOME_PASSED)
    run.cases.add(name="GPU", outcome=pb.TEST_OUTCOME_FAILED, output="no device")
    agent.send(
        test_run=agent_pb.TestRunReport(command_id=command_id, seq=agent.next_seq(command_id), run=run)
    )


async def test_a_switch_is_watched_through_its_test_run_to_the_verdict(connect, fleet) -> None:
    agent = await connect("gpc0")
    await agent.hello()
    switch_id = await _switch(fleet)
    watch = fleet.WatchCommand(watch_pb.WatchCommandRequest(command_id=switch_id))
    await agent.recv("run_command")
    agent.send(command_started=agent_pb.CommandStarted(command_id=switch_id))
    agent.finish(switch_id, 0, generation="system-2-link")
    test_id = (await agent.recv("run_command")).run_command.command_id
    agent.send(command_started=agent_pb.CommandStarted(command_id=test_id))
    _failing_run(agent, test_id)
    agent.finish(test_id, 1, generation="system-2-link")

    states, found = await _to_verdict(watch)
    assert states == [
        (switch_id, pb.COMMAND_STATE_PENDING),
        (switch_id, pb.COMMAND_STATE_RUNNING),
        (test_id, pb.COMMAND_STATE_PENDING),
        (switch_id, pb.COMMAND_STATE_SUCCEEDED),
        (test_id, pb.COMMAND_STATE_RUNNING),
        (test_id, pb.COMMAND_STATE_FAILED),
    ]
    assert found.command.id == switch_id and found.command.triggered_test_command_id == test_id
    assert found.test_command.id == test_id and found.test_command.triggered_by_command_id == switch_id
    assert found.test_run.id == test_id and found.test_run.state == pb.TEST_STATE_FAILED
    assert [c.name for c in found.test_run.cases] == ["Network", "GPU"]
    assert found.message == "switch succeeded on gpc0; tests failed: 1/2 passed"
    assert not found.no_test_run_reason

    # The link is durable: read back, and watched again after the fact, the verdict is the same.
    stored = (await fleet.GetCommand(fleet_pb.GetCommandRequest(command_id=switch_id))).command
    assert stored.triggered_test_command_id == test_id
    assert stored.requested_by == "anonymous"  # no API tokens required here
    assert found.test_command.requested_by == "control plane"
    again = fleet.WatchCommand(watch_pb.WatchCommandRequest(command_id=switch_id))
    states, later = await _to_verdict(again)
    assert states == [(switch_id, pb.COMMAND_STATE_SUCCEEDED), (test_id, pb.COMMAND_STATE_FAILED)]
    # The same verdict (times read back from the store may differ below a microsecond).
    assert (later.message, later.test_run.id, later.test_run.state) == (
        found.message,
        test_id,
        found.test_run.state,
    )
    assert (later.command.id, later.command.state, later.test_command.id, later.test_command.state) == (
        switch_id,
        pb.COMMAND_STATE_SUCCEEDED,
        test_id,
        pb.COMMAND_STATE_FAILED,
    )


async def test_no_test_run_follows_when_tests_are_disabled_and_the_verdict_says_why(connect, fleet) -> None:
    agent = await connect("gpc0")
    await agent.hello()
    await fleet.UpdateHostSettings(
        fleet_pb.UpdateHostSettingsRequest(
            host="gpc0", test_settings_override=pb.TestSettingsOverride(enabled=False)
        )
    )
    switch_id = await _switch(fleet)
    watch = fleet.WatchCommand(watch_pb.WatchCommandRequest(command_id=switch_id))
    await agent.recv("run_command")
    agent.finish(switch_id, 0)
    states, found = await _to_verdict(watch)
    assert states[-1] == (switch_id, pb.COMMAND_STATE_SUCCEEDED)
    assert found.no_test_run_reason == pb.NO_TEST_RUN_REASON_TESTS_DISABLED
    assert found.message == "switch succeeded on gpc0; no test run follows: tests are disabled for host gpc0"
    assert not found.HasField("test_command") and not found.HasField("test_run")


async def test_a_pull_ends_with_its_own_finish(connect, fleet) -> None:
    agent = await connect("gpc0")
    await agent.hello()
    response = await fleet.RunOperation(
        fleet_pb.RunOperationRequest(hosts=["gpc0"], operation=pb.OPERATION_PULL)
    )
    pull_id = response.results[0].command_id
    await agent.recv("run_command")
    agent.finish(pull_id, 2)
    await agent.recv("ack")
    _, found = await _to_verdict(fleet.WatchCommand(watch_pb.WatchCommandRequest(command_id=pull_id)))
    assert found.command.state == pb.COMMAND_STATE_FAILED
    assert found.no_test_run_reason == pb.NO_TEST_RUN_REASON_NOT_A_SUCCESSFUL_SWITCH


async def test_an_unknown_command_is_not_found(fleet) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _to_verdict(fleet.WatchCommand(watch_pb.WatchCommandRequest(command_id="nosuch")))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


SWITCH_OK = pb.Command(id="s", host="gpc0", operation=pb.OPERATION_SWITCH, state=pb.COMMAND_STATE_SUCCEEDED)
LINKED = pb.Command(
    id="s",
    host="gpc0",
    operation=pb.OPERATION_SWITCH,
    state=pb.COMMAND_STATE_SUCCEEDED,
    triggered_test_command_id="t",
)
TEST_RUNNING = pb.Command(id="t", host="gpc0", operation=pb.OPERATION_TEST, state=pb.COMMAND_STATE_RUNNING)
TEST_DONE = pb.Command(id="t", host="gpc0", operation=pb.OPERATION_TEST, state=pb.COMMAND_STATE_SUCCEEDED)
PASSED = pb.TestRun(id="t", state=pb.TEST_STATE_PASSED, passed=2, total=2)


@pytest.mark.parametrize(
    ("command", "test", "run", "message"),
    [
        (pb.Command(operation=pb.OPERATION_SWITCH, state=pb.COMMAND_STATE_RUNNING), None, None, None),
        (SWITCH_OK, None, None, None),  # the follow-up is being decided: wait for the switch's next word
        (LINKED, None, None, None),
        (LINKED, TEST_RUNNING, None, None),
        (LINKED, TEST_DONE, PASSED, "switch succeeded on gpc0; tests passed: 2/2 passed"),
        (
            LINKED,
            pb.Command(id="t", operation=pb.OPERATION_TEST, state=pb.COMMAND_STATE_TIMED_OUT),
            None,
            "switch succeeded on gpc0; the test run ended without results (timed out)",
        ),
        (TEST_DONE, None, PASSED, "test succeeded on gpc0; tests passed: 2/2 passed"),
        (
            pb.Command(id="t", host="gpc0", operation=pb.OPERATION_TEST, state=pb.COMMAND_STATE_CANCELLED),
            None,
            pb.TestRun(id="t", state=pb.TEST_STATE_CANCELLED, passed=1, total=3),
            "test cancelled on gpc0; tests were cancelled: 1/3 passed",
        ),
        (
            pb.Command(
                host="gpc0",
                operation=pb.OPERATION_SWITCH,
                state=pb.COMMAND_STATE_SUCCEEDED,
                no_test_run_reason=pb.NO_TEST_RUN_REASON_HOST_UNAVAILABLE,
            ),
            None,
            None,
            "switch succeeded on gpc0; no test run follows: host gpc0 went offline or started another "
            "command before its tests could start",
        ),
        (
            pb.Command(host="gpc0", operation=pb.OPERATION_SWITCH, state=pb.COMMAND_STATE_INTERRUPTED),
            None,
            None,
            "switch interrupted on gpc0; no test run follows: only a successful switch starts tests",
        ),
    ],
)
def test_the_verdict(command, test, run, message) -> None:
    found = verdict(command, test, run)
    assert (found.message if found is not None else None) == message
