"""The bounds check: a message too small for any text or count limit is checked for numbers, enums
and times only, and finds exactly what the full walk finds."""

from __future__ import annotations

import pytest

from fleetdeck import limits
from fleetdeck.limits import MAX_NUMBER, problem
from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import types_pb2 as pb


def _heartbeat(**fields: object) -> agent_pb.ConnectRequest:
    return agent_pb.ConnectRequest(heartbeat=agent_pb.Heartbeat(**fields))  # type: ignore[arg-type]


BEAT = _heartbeat(
    facts=pb.HostFacts(os="nixos", commit="c" * 40, agent_version="1.0"),
    metrics=pb.Metrics(memory_used_bytes=MAX_NUMBER, memory_total_bytes=16 << 30, load1=0.5),
    test_status=pb.TestStatus(state=pb.TEST_STATE_PASSED, passed=3, total=3),
)


def _late() -> agent_pb.ConnectRequest:
    message = agent_pb.ConnectRequest()
    message.CopyFrom(BEAT)
    message.heartbeat.sent_at.seconds = limits.MAX_SECONDS + 1
    return message


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (BEAT, None),
        (
            _heartbeat(metrics=pb.Metrics(memory_used_bytes=MAX_NUMBER + 1)),
            "metrics.memory_used_bytes is out of range",
        ),
        (_heartbeat(test_status=pb.TestStatus(state=999)), "test_status.state is 999"),  # type: ignore[arg-type]
        (_late(), "heartbeat.sent_at is out of range"),
        (agent_pb.ConnectRequest(hello=agent_pb.Hello(labels={"role": "web"})), None),
        (_heartbeat(facts=pb.HostFacts(os="x" * 999)), None),  # small, and within its limit
        (_heartbeat(facts=pb.HostFacts(os="x" * 1025)), "facts.os is longer than 1024 bytes"),  # not small
    ],
)
def test_small_messages_are_checked_for_what_they_can_break(message, expected) -> None:
    found = problem(message)
    assert (found is None) if expected is None else (expected in (found or "")), found


@pytest.mark.parametrize("message", [BEAT, _late(), _heartbeat(test_status=pb.TestStatus(state=999))])  # type: ignore[arg-type]
def test_the_small_walk_finds_what_the_full_walk_finds(message) -> None:
    assert message.ByteSize() < limits._SMALL_BYTES
    assert limits._walk(message, limits._NUMBERS) == limits._walk(message, limits._FIELDS)


def test_fields_that_hold_only_text_are_skipped_in_small_messages() -> None:
    plan = limits._NUMBERS[agent_pb.Heartbeat.DESCRIPTOR]
    assert plan is not None and {f.name for f in plan} == {"metrics", "test_status", "sent_at"}
    assert limits._NUMBERS[pb.HostFacts.DESCRIPTOR] == {}
