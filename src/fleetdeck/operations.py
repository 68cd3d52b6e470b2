"""The operations an agent can be asked to run, by the lower-case names people and pages use."""

from __future__ import annotations

from typing import cast

from fleetdeck.v1 import types_pb2

BY_NAME: dict[str, types_pb2.Operation] = {
    types_pb2.Operation.Name(value).removeprefix("OPERATION_").lower(): cast(types_pb2.Operation, value)
    for value in types_pb2.Operation.values()
    if value != types_pb2.OPERATION_UNSPECIFIED
}
"""{"pull": OPERATION_PULL, "switch": …, "test": …, "rollback": …}, read from the contract's enum."""

OPERATIONS = frozenset(BY_NAME.values())
"""The operations an agent can be asked to run."""


def operation_name(op: int) -> str:
    """The lower-case name of an operation as used in messages: "pull", "switch", "test", "rollback"."""
    if op in OPERATIONS:
        return types_pb2.Operation.Name(op).removeprefix("OPERATION_").lower()
    if op == types_pb2.OPERATION_UNSPECIFIED:
        return "unspecified"
    return f"operation {int(op)}"
