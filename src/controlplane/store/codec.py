"""Column values to and from proto messages: blobs, milliseconds."""

from __future__ import annotations

from typing import TypeVar

from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message

from fleetdeck.v1 import types_pb2

M = TypeVar("M", bound=Message)


def blob(message: Message | None) -> bytes | None:
    """A message as a column value (NULL for None)."""
    return None if message is None else message.SerializeToString()


def field_blob(message: Message, field: str) -> bytes | None:
    """A message field as a column value: NULL when it is not set."""
    return blob(getattr(message, field)) if message.HasField(field) else None


def parse(cls: type[M], data: bytes | None) -> M:
    """A message from a column value (empty for NULL)."""
    message = cls()
    if data:
        message.ParseFromString(data)
    return message


def ms(duration: Duration) -> int:
    """A Duration as whole milliseconds."""
    return duration.seconds * 1000 + duration.nanos // 1_000_000


def duration(milliseconds: int) -> Duration:
    """Milliseconds as a Duration."""
    d = Duration()
    d.FromMilliseconds(milliseconds)
    return d


def sub_cases_blob(case: types_pb2.TestCaseResult) -> bytes | None:
    """A case's JUnit sub-cases as a column value (NULL when it has none)."""
    if not case.sub_cases:
        return None
    return types_pb2.TestCaseResult(sub_cases=case.sub_cases).SerializeToString()
