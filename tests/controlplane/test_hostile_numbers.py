"""Numbers from outside are checked at the edge; one bad message never fails anyone else's batch."""

from __future__ import annotations

import base64

import grpc
import pytest

from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import types_pb2 as pb

HUGE = 2**64 - 1


async def _running(connect, fleet, host: str):
    agent = await connect(host)
    await agent.hello()
    response = await fleet.RunOperation(
        fleet_pb.RunOperationRequest(hosts=[host], operation=pb.OPERATION_PULL)
    )
    command_id = response.results[0].command_id
    await agent.recv("run_command")
    return agent, command_id


async def _closed_with(agent) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        while True:
            await agent.recv()
    return caught.value.code()


@pytest.mark.parametrize(
    "chunk",
    [
        lambda c: agent_pb.OutputChunk(command_id=c, seq=HUGE, lines=[pb.OutputLine(number=0, text="x")]),
        lambda c: agent_pb.OutputChunk(command_id=c, seq=1, lines=[pb.OutputLine(number=HUGE, text="x")]),
    ],
    ids=["seq", "line-number"],
)
async def test_output_with_an_out_of_range_number_is_refused_alone(connect, fleet, chunk) -> None:
    bad, bad_id = await _running(connect, fleet, "gpc0")
    good, good_id = await _running(connect, fleet, "gpc1")
    bad.send(output=chunk(bad_id))
    seq = good.output(good_id, "still here")
    assert await _closed_with(bad) == grpc.StatusCode.INVALID_ARGUMENT
    await good.ack(good_id, seq)
    replay = fleet.StreamCommandOutput(
        fleet_pb.StreamCommandOutputRequest(command_id=good_id, no_follow=True)
    )
    assert [line.text async for part in replay for line in part.lines] == ["still here"]


async def test_finish_with_an_out_of_range_seq_is_refused(connect, fleet) -> None:
    agent, command_id = await _running(connect, fleet, "gpc0")
    agent.send(
        command_finished=agent_pb.CommandFinished(
            command_id=command_id, seq=HUGE, state=pb.COMMAND_STATE_SUCCEEDED, facts=agent.facts()
        )
    )
    assert await _closed_with(agent) == grpc.StatusCode.INVALID_ARGUMENT
    command = (await fleet.GetCommand(fleet_pb.GetCommandRequest(command_id=command_id))).command
    assert command.state != pb.COMMAND_STATE_SUCCEEDED


async def test_a_batch_that_fails_is_retried_without_the_message_that_failed(cp, connect, fleet) -> None:
    # The edge refuses such a number; the write path must still isolate whatever slips past it.
    bad, bad_id = await _running(connect, fleet, "gpc0")
    good, good_id = await _running(connect, fleet, "gpc1")
    assert cp.ingest is not None and cp.fleet is not None
    bad_stream, good_stream = cp.streams.get("gpc0"), cp.streams.get("gpc1")
    assert bad_stream is not None and good_stream is not None
    poison = agent_pb.ConnectRequest(output=agent_pb.OutputChunk(command_id=bad_id, seq=HUGE))
    fine = agent_pb.ConnectRequest(
        output=agent_pb.OutputChunk(command_id=good_id, seq=1, lines=[pb.OutputLine(number=0, text="ok")])
    )
    # Both queued before the consumer runs: they are stored in one batch.
    await cp.ingest.submit(cp.fleet.state("gpc0"), bad_stream, poison)
    await cp.ingest.submit(cp.fleet.state("gpc1"), good_stream, fine)
    await good.ack(good_id, 1)
    assert not good_stream.closed
    assert await _closed_with(bad) == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    "token",
    [
        base64.urlsafe_b64encode(f"o:{2**70}".encode()).decode(),
        base64.urlsafe_b64encode(f"o:{-(2**70)}".encode()).decode(),
        base64.urlsafe_b64encode(b"o:1e9").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        "not base64!",
    ],
)
async def test_page_tokens_out_of_range_are_invalid_argument(connect, fleet, token) -> None:
    agent = await connect("gpc0")
    await agent.hello()
    for call in (
        fleet.ListCommands(fleet_pb.ListCommandsRequest(page_token=token)),
        fleet.ListTestRuns(fleet_pb.ListTestRunsRequest(host="gpc0", page_token=token)),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_from_line_out_of_range_is_invalid_argument(connect, fleet) -> None:
    _agent, command_id = await _running(connect, fleet, "gpc0")
    call = fleet.StreamCommandOutput(
        fleet_pb.StreamCommandOutputRequest(command_id=command_id, from_line=HUGE, no_follow=True)
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in call:
            pass
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
