"""End to end: operations queued for an offline host run when it reconnects; cancel and expiry."""

from __future__ import annotations

import grpc
import pytest
from agent_world import World
from fleetdeck_cli import fleetdeck

from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import types_pb2 as pb


async def _queue(world: World, host: str, operation: pb.Operation, ttl: float | None = None) -> str:
    request = fleet_pb.RunOperationRequest(hosts=[host], operation=operation, queue=True)
    if ttl is not None:
        request.queue_ttl.FromNanoseconds(int(ttl * 1e9))
    (result,) = (await world.fleet.stub.RunOperation(request)).results
    assert result.queued and result.command_id, result.refused_reason
    return str(result.command_id)


async def test_queued_operations_run_in_order_when_the_host_reconnects(world: World) -> None:
    web1 = await world.host("web1", tests={"10-ok.sh": "exit 0"})
    agent = await world.agent(web1)
    await agent.stop()
    await world.fleet.wait_host("web1", lambda h: not h.online)

    without = fleet_pb.RunOperationRequest(hosts=["web1"], operation=pb.OPERATION_TEST)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await world.fleet.stub.RunOperation(without)
    assert "offline; the command was not queued" in str(refused.value.details())
    rollback = await _queue(world, "web1", pb.OPERATION_ROLLBACK)
    test = await _queue(world, "web1", pb.OPERATION_TEST)
    dropped = await _queue(world, "web1", pb.OPERATION_TEST)
    assert (await world.fleet.command(rollback)).state == pb.COMMAND_STATE_QUEUED
    host = (await world.fleet.stub.GetHost(fleet_pb.GetHostRequest(name="web1"))).host
    assert host.running_command_id == ""  # a queued command never holds its host
    cancelled = await fleetdeck("cancel", dropped, target=world.cp.grpc_target)
    assert cancelled.code == 0, cancelled.err
    dropped_command = await world.fleet.finished(dropped)
    assert dropped_command.state == pb.COMMAND_STATE_CANCELLED
    assert dropped_command.message == "cancelled while queued; it never ran"

    await world.agent(web1)
    assert (await world.fleet.finished(rollback)).state == pb.COMMAND_STATE_SUCCEEDED
    finished = await world.fleet.finished(test)
    assert finished.state == pb.COMMAND_STATE_SUCCEEDED
    run_started = (await world.fleet.command(test)).started_at.ToNanoseconds()
    assert run_started >= (await world.fleet.command(rollback)).finished_at.ToNanoseconds()
    assert (await world.fleet.command(dropped)).started_at.ToNanoseconds() == 0  # never ran


async def test_a_queued_operation_expires_when_the_host_stays_away(world: World) -> None:
    web1 = await world.host("web1")
    agent = await world.agent(web1)
    await agent.stop()
    await world.fleet.wait_host("web1", lambda h: not h.online)

    queued = await fleetdeck(
        "run", "switch", "web1", "--queue", "--queue-ttl", "0.5", target=world.cp.grpc_target
    )
    assert queued.code == 0, queued.err
    assert "queued switch on web1: command" in queued.out
    command_id = queued.out.split()[-1]
    expired = await world.fleet.finished(command_id)
    assert expired.state == pb.COMMAND_STATE_CANCELLED
    assert "expired in the queue: web1 did not come back in time" in expired.message
    await world.agent(web1)
    host = (await world.fleet.stub.GetHost(fleet_pb.GetHostRequest(name="web1"))).host
    assert host.last_switch.command_id == ""  # it never ran
