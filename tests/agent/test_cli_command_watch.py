"""CommandWatch, the one place that follows a command through the test run it triggers, in process
against a real control plane and agent: live, and catching up on commands that ended before."""

from __future__ import annotations

import asyncio

from agent_world import COMMAND_TIMEOUT, World

from fleetdeck.command_watch import CommandWatch
from fleetdeck.v1 import fleet_service_pb2, types_pb2

CASES = {"10-ok.sh": "echo ok"}


async def _updates(watch: CommandWatch, command_id: str) -> list[tuple[str, int]]:
    async with asyncio.timeout(COMMAND_TIMEOUT):
        return [(c.id, c.state) async for c in watch.updates(command_id)]


async def test_a_switch_is_followed_live_through_its_test_run(world: World) -> None:
    web1 = await world.host("web1", tests=CASES)
    await world.agent(web1)
    async with CommandWatch(world.fleet.stub) as watch:
        switch_id = await world.fleet.run("web1", types_pb2.OPERATION_SWITCH)
        seen = await _updates(watch, switch_id)
    switch_states = [state for command_id, state in seen if command_id == switch_id]
    assert switch_states[-1] == types_pb2.COMMAND_STATE_SUCCEEDED
    (test_id,) = {command_id for command_id, _ in seen if command_id != switch_id}
    assert seen[-1] == (test_id, types_pb2.COMMAND_STATE_SUCCEEDED)
    assert seen.index((switch_id, types_pb2.COMMAND_STATE_SUCCEEDED)) < len(seen) - 1
    test = await world.fleet.command(test_id)
    assert test.triggered_by_command_id == switch_id


async def test_commands_that_ended_before_the_watch_are_caught_up(world: World) -> None:
    web1 = await world.host("web1", tests=CASES)
    await world.agent(web1)
    switch_id = await world.fleet.run("web1", types_pb2.OPERATION_SWITCH)
    await world.fleet.finished(switch_id)
    host = await world.fleet.wait_host("web1", lambda h: h.test_status.state == types_pb2.TEST_STATE_PASSED)
    test_id = host.test_status.last_run_id
    await world.fleet.finished(test_id)
    pull = await world.fleet.stub.RunOperation(
        fleet_service_pb2.RunOperationRequest(hosts=["web1"], operation=types_pb2.OPERATION_PULL)
    )
    pull_id = pull.results[0].command_id
    await world.fleet.finished(pull_id)

    async with CommandWatch(world.fleet.stub) as watch:
        assert await _updates(watch, switch_id) == [
            (switch_id, types_pb2.COMMAND_STATE_SUCCEEDED),
            (test_id, types_pb2.COMMAND_STATE_SUCCEEDED),
        ]
        (last,) = await _updates(watch, pull_id)  # no test run follows a pull
        assert last[0] == pull_id
