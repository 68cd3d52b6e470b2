"""The offline queue's pure decision: expire what is due, start the oldest of each idle online host."""

from __future__ import annotations

import pytest

from controlplane.command_queue import dispatch
from controlplane.timeutil import to_ts
from fleetdeck.v1 import types_pb2 as pb


def queued(command_id: str, host: str, expires: float) -> pb.Command:
    return pb.Command(
        id=command_id, host=host, state=pb.COMMAND_STATE_QUEUED, queue_expires_at=to_ts(expires)
    )


@pytest.mark.parametrize(
    ("commands", "idle", "expected"),
    [
        ([queued("a", "h1", 200)], set(), [("a", "wait")]),  # host offline or busy
        ([queued("a", "h1", 200)], {"h1"}, [("a", "start")]),
        (
            [queued("a", "h1", 200), queued("b", "h1", 200)],
            {"h1"},
            [("a", "start"), ("b", "wait")],
        ),  # one at a time
        ([queued("a", "h1", 50), queued("b", "h1", 200)], {"h1"}, [("a", "expire"), ("b", "start")]),
        ([queued("a", "h1", 100)], {"h1"}, [("a", "expire")]),  # due exactly now
        ([queued("a", "h1", 200), queued("b", "h2", 200)], {"h2"}, [("a", "wait"), ("b", "start")]),
    ],
)
def test_dispatch(commands: list[pb.Command], idle: set[str], expected: list[tuple[str, str]]) -> None:
    assert [(d.command.id, d.action) for d in dispatch(commands, idle, now=100.0)] == expected
