"""Checks at the edge: what an agent or a caller sends is within `fleetdeck.limits`, or refused."""

from __future__ import annotations

from fleetdeck.limits import MAX_NUMBER, problem
from fleetdeck.v1 import agent_service_pb2 as agent_pb

from .errors import InvalidArgument


def check_agent_message(message: agent_pb.ConnectRequest) -> None:
    """InvalidArgument naming the first field of an agent's message that is out of bounds."""
    found = problem(message)
    if found is not None:
        raise InvalidArgument(f"{found}; the message was refused and the stream closed")


def check_number(value: int, what: str) -> int:
    """`value`, or InvalidArgument when it is beyond what any list or stream can reach."""
    if not 0 <= value <= MAX_NUMBER:
        raise InvalidArgument(f"{what} is out of range (at most {MAX_NUMBER})")
    return value
