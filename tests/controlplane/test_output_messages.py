"""Command output leaves in messages that fit the limit, however much arrives and however fast."""

from __future__ import annotations

import asyncio

import pytest

from controlplane.output import in_messages
from fleetdeck.limits import MAX_MESSAGE_BYTES
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import types_pb2 as pb

# Where the engine matters, these tests run on SQLite and on PostgreSQL.
pytestmark = pytest.mark.both_engines


def lines(*sizes: int) -> list[pb.OutputLine]:
    return [pb.OutputLine(number=i, text="x" * size) for i, size in enumerate(sizes)]


@pytest.mark.parametrize(
    ("sizes", "budget", "most", "parts"),
    [
        ((), 100, 10, []),
        ((1, 1, 1), 100, 10, [3]),
        ((1, 1, 1), 100, 2, [2, 1]),
        ((40, 40, 40), 100, 10, [2, 1]),  # two lines of ~48 bytes each fill the budget
        ((200,), 100, 10, [1]),  # a line over the budget travels alone
        ((1, 200, 1), 100, 10, [1, 1, 1]),
    ],
)
def test_lines_are_split_by_size_and_count_in_order(
    sizes: tuple[int, ...], budget: int, most: int, parts: list[int]
) -> None:
    split = list(in_messages(lines(*sizes), budget=budget, most=most))
    assert [len(p) for p in split] == parts
    assert [line.number for part in split for line in part] == list(range(len(sizes)))


async def _online(connect):
    agent = await connect("gpc0")
    await agent.hello()
    return agent


async def _read_all(stream) -> tuple[list[pb.OutputLine], list[int], pb.Command]:
    got: list[pb.OutputLine] = []
    sizes: list[int] = []
    async with asyncio.timeout(60):
        while True:
            message = await stream.read()
            sizes.append(message.ByteSize())
            got.extend(message.lines)
            if message.HasField("command"):
                return got, sizes, message.command


async def _send_and_follow(connect, fleet, chunks: list[list[str]]) -> None:
    """Send `chunks` as fast as the agent can, while one reader follows live; then replay it all."""
    agent = await _online(connect)
    run = await fleet.RunOperation(
        fleet_pb.RunOperationRequest(hosts=["gpc0"], operation=pb.OPERATION_SWITCH)
    )
    command_id = run.results[0].command_id
    await agent.recv("run_command")
    live = fleet.StreamCommandOutput(fleet_pb.StreamCommandOutputRequest(command_id=command_id))
    await live.read()  # the (empty) replay: from here on it follows
    for texts in chunks:
        agent.output(command_id, *texts)
    agent.finish(command_id, 0)
    expected = [text for texts in chunks for text in texts]

    followed, sizes, command = await _read_all(live)
    assert command.state == pb.COMMAND_STATE_SUCCEEDED
    assert [line.text for line in followed] == expected
    assert max(sizes) <= MAX_MESSAGE_BYTES

    replay = fleet.StreamCommandOutput(fleet_pb.StreamCommandOutputRequest(command_id=command_id))
    replayed, sizes, _ = await _read_all(replay)
    assert [line.number for line in replayed] == list(range(len(expected)))
    assert [line.text for line in replayed] == expected
    assert max(sizes) <= MAX_MESSAGE_BYTES


async def test_200000_short_lines_at_full_speed_arrive_whole_in_messages_under_the_limit(
    connect, fleet
) -> None:
    chunks = [
        [f"line {n:06d} of a long build" for n in range(i, i + 2_000)] for i in range(0, 200_000, 2_000)
    ]
    await _send_and_follow(connect, fleet, chunks)


async def test_lines_near_the_message_limit_travel_one_per_message(connect, fleet) -> None:
    big = 1_400_000  # three of them in one ingest batch, or one replay, would be over 4 MiB
    await _send_and_follow(connect, fleet, [["a" * big], ["b" * big], ["c" * big], ["done"]])
