"""Commands over real gRPC: run, output, finish, cancel, one at a time, replay and follow."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import types_pb2 as pb

# Where the engine matters, these tests run on SQLite and on PostgreSQL.
pytestmark = pytest.mark.both_engines


async def _online(connect, name: str = "gpc0"):
    agent = await connect(name)
    await agent.hello()
    return agent


async def _run(fleet, op: int, *hosts: str) -> fleet_pb.RunOperationResponse:
    return await fleet.RunOperation(fleet_pb.RunOperationRequest(hosts=list(hosts), operation=op))


async def test_run_output_finish_is_stored_and_acknowledged(connect, fleet) -> None:
    agent = await _online(connect)
    response = await _run(fleet, pb.OPERATION_SWITCH, "gpc0")
    command_id = response.results[0].command_id
    run = (await agent.recv("run_command")).run_command
    assert run.command_id == command_id and run.operation == pb.OPERATION_SWITCH
    assert run.timeout.seconds == 1800
    seq = agent.output(command_id, "building", "activating")
    assert (await agent.recv("ack")).ack.seq == seq
    seq = agent.finish(command_id, 0, generation="system-2-link")
    assert (await agent.recv("ack")).ack.seq == seq
    command = (await fleet.GetCommand(fleet_pb.GetCommandRequest(command_id=command_id))).command
    assert command.state == pb.COMMAND_STATE_SUCCEEDED and command.exit_code == 0
    assert command.output_lines == 2
    host = (await fleet.GetHost(fleet_pb.GetHostRequest(name="gpc0"))).host
    assert host.last_switch.command_id == command_id and host.last_switch.generation == "system-2-link"
    assert host.current_deployment_id == command_id
    # The switch succeeded and auto-run is on by default: the control plane started the tests itself.
    auto = (await agent.recv("run_command")).run_command
    assert auto.operation == pb.OPERATION_TEST and auto.trigger == pb.TEST_TRIGGER_AFTER_SWITCH
    assert host.running_command_id == auto.command_id
    test_command = (await fleet.GetCommand(fleet_pb.GetCommandRequest(command_id=auto.command_id))).command
    assert test_command.triggered_by_command_id == command_id


async def test_offline_host_is_refused_with_failed_precondition(connect, fleet) -> None:
    agent = await _online(connect)
    watch = fleet.WatchFleet(fleet_pb.WatchFleetRequest())
    await watch.read()  # snapshot: online
    await agent.close()
    async with asyncio.timeout(5):
        while (await watch.read()).host.online:
            pass
    watch.cancel()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _run(fleet, pb.OPERATION_PULL, "gpc0")
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "offline" in caught.value.details()


async def test_one_command_at_a_time(connect, fleet) -> None:
    await _online(connect)
    first = (await _run(fleet, pb.OPERATION_SWITCH, "gpc0")).results[0].command_id
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _run(fleet, pb.OPERATION_PULL, "gpc0")
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert first in caught.value.details()


async def test_bulk_run_reports_refusals_per_host(connect, fleet) -> None:
    await _online(connect, "gpc0")
    await _online(connect, "web1")
    await _run(fleet, pb.OPERATION_SWITCH, "gpc0")
    response = await _run(fleet, pb.OPERATION_PULL, "gpc0", "web1")
    by_host = {r.host: r for r in response.results}
    assert by_host["gpc0"].refused_reason and not by_host["gpc0"].command_id
    assert by_host["web1"].command_id


async def test_bulk_run_refuses_an_unknown_host_and_starts_the_others(connect, fleet) -> None:
    agent = await _online(connect, "gpc0")
    response = await _run(fleet, pb.OPERATION_SWITCH, "gpc0", "nosuch")
    gpc0, nosuch = response.results
    assert gpc0.host == "gpc0" and gpc0.command_id and not gpc0.refused_reason
    assert nosuch.host == "nosuch" and not nosuch.command_id
    assert nosuch.refused_reason == (
        "host nosuch is not known to the control plane; has its agent ever connected?"
    )
    run = (await agent.recv("run_command")).run_command
    assert run.command_id == gpc0.command_id and run.operation == pb.OPERATION_SWITCH


async def test_bulk_run_over_unknown_hosts_only_is_not_found(fleet) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _run(fleet, pb.OPERATION_PULL, "nope", "nosuch")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert "host nope is not known" in caught.value.details()
    assert "host nosuch is not known" in caught.value.details()


@pytest.mark.parametrize("operation", [pb.OPERATION_UNSPECIFIED, 99])
async def test_unknown_operation_is_invalid_and_never_sent(connect, fleet, operation) -> None:
    agent = await _online(connect)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _run(fleet, operation, "gpc0")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    host = (await fleet.GetHost(fleet_pb.GetHostRequest(name="gpc0"))).host
    assert not host.running_command_id
    await agent.close()


async def test_unknown_host_is_not_found(fleet) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _run(fleet, pb.OPERATION_PULL, "nope")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_cancel_reaches_the_agent(connect, fleet) -> None:
    agent = await _online(connect)
    command_id = (await _run(fleet, pb.OPERATION_SWITCH, "gpc0")).results[0].command_id
    await agent.recv("run_command")
    await fleet.CancelCommand(fleet_pb.CancelCommandRequest(command_id=command_id))
    cancel = (await agent.recv("cancel_command")).cancel_command
    assert cancel.command_id == command_id


async def test_cancel_finished_command_is_failed_precondition(connect, fleet) -> None:
    agent = await _online(connect)
    command_id = (await _run(fleet, pb.OPERATION_PULL, "gpc0")).results[0].command_id
    agent.finish(command_id, 0)
    await agent.recv("ack")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await fleet.CancelCommand(fleet_pb.CancelCommandRequest(command_id=command_id))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_output_replay_then_follow_without_duplicates(connect, fleet) -> None:
    agent = await _online(connect)
    command_id = (await _run(fleet, pb.OPERATION_SWITCH, "gpc0")).results[0].command_id
    agent.output(command_id, "line 0", "line 1")
    await agent.recv("ack")
    stream = fleet.StreamCommandOutput(fleet_pb.StreamCommandOutputRequest(command_id=command_id))
    texts: list[str] = []
    first = await stream.read()
    texts += [line.text for line in first.lines]
    assert texts == ["line 0", "line 1"]
    # Resending chunk 1 (as after a reconnect) stores and shows nothing twice.
    agent.seq[command_id] = 0
    agent.lines[command_id] = 0
    agent.output(command_id, "line 0", "line 1")
    agent.output(command_id, "line 2", stream=pb.OUTPUT_STREAM_STDERR)
    agent.finish(command_id, 1)
    while True:
        message = await stream.read()
        texts += [line.text for line in message.lines]
        if message.HasField("command"):
            assert message.command.state == pb.COMMAND_STATE_FAILED
            break
    assert texts == ["line 0", "line 1", "line 2"]
