"""Column values to and from proto messages: blobs, milliseconds."""

from __future__ import annotations

from typing import TypeVar

from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message

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
