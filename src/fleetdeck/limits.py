"""Limits both ends of a gRPC channel agree on, and the one check of a message against them."""

from __future__ import annotations

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
"""The largest gRPC message the control plane, its clients and agents send or accept."""

MAX_NUMBER = 2**53 - 1
"""The largest sequence number, line number or count anyone may send: exact in a JSON number (the web
UI) and in a signed 64-bit column (both store engines)."""

MAX_SECONDS = 253_402_300_799
"""The last second of year 9999: the end of a protobuf Timestamp's range (and of a Duration's here)."""

MAX_TEXT_BYTES = 1024
"""The longest string (UTF-8 bytes) an agent may send in any field not named in TEXT_BYTES."""

TEXT_BYTES = {
    # The agent splits lines at 64 KiB; the control plane takes any line a message can carry (it
    # stores output capped per command, and sends a long line alone in its own message).
    "fleetdeck.v1.OutputLine.text": MAX_MESSAGE_BYTES,
    "fleetdeck.v1.TestCaseResult.output": 512 * 1024,  # the agent keeps about a case's last 64 Ki characters
    "fleetdeck.v1.CommandFinished.message": 4096,
    "fleetdeck.v1.CommandRefused.reason": 4096,
    "fleetdeck.v1.TestStatus.message": 4096,
}
"""Fields that may be longer than MAX_TEXT_BYTES, by full field name."""

MAX_ITEMS = 1000
"""The most entries an agent may send in any repeated field not named in ITEMS."""

ITEMS = {"fleetdeck.v1.TestRun.cases": 10_000, "fleetdeck.v1.OutputChunk.lines": 100_000}
"""Repeated fields that may hold more than MAX_ITEMS entries."""

_INTEGERS = frozenset(
    {
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_SFIXED64,
    }
)


def problem(message: Message) -> str | None:
    """What in `message` is out of bounds, in a sentence naming the field; None when all is within.

    Out of bounds: a number beyond MAX_NUMBER, a time beyond MAX_SECONDS, a string or list longer
    than its limit, an enum value this side's contract does not name (a state it cannot act on)."""
    return _walk(message, message.DESCRIPTOR.name)


def _walk(message: Message, path: str) -> str | None:
    if message.DESCRIPTOR.full_name in ("google.protobuf.Timestamp", "google.protobuf.Duration"):
        seconds, nanos = message.seconds, message.nanos  # type: ignore[attr-defined]
        if not (-MAX_SECONDS <= seconds <= MAX_SECONDS and -1_000_000_000 < nanos < 1_000_000_000):
            return f"{path} is out of range"
        return None
    for field, value in message.ListFields():
        where = f"{path}.{field.name}"
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            key_field, value_field = field.message_type.fields
            pairs = [(key_field, k) for k in value] + [(value_field, v) for v in value.values()]
        elif field.is_repeated:
            if len(value) > ITEMS.get(field.full_name, MAX_ITEMS):
                return f"{where} has more than {ITEMS.get(field.full_name, MAX_ITEMS)} entries"
            pairs = [(field, v) for v in value]
        else:
            pairs = [(field, value)]
        for item_field, item in pairs:
            found = _check(item_field, item, where)
            if found is not None:
                return found
    return None


def _check(field: FieldDescriptor, value: object, where: str) -> str | None:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        assert isinstance(value, Message)
        return _walk(value, where)
    if field.type in _INTEGERS:
        assert isinstance(value, int)
        if not -MAX_NUMBER <= value <= MAX_NUMBER:
            return f"{where} is out of range (at most {MAX_NUMBER})"
    elif field.type == FieldDescriptor.TYPE_ENUM:
        enum = field.enum_type
        if enum is not None and value not in enum.values_by_number:
            return f"{where} is {value}, not a {enum.name} value this side knows"
    elif field.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES):
        assert isinstance(value, str | bytes)
        limit = TEXT_BYTES.get(field.full_name, MAX_TEXT_BYTES)
        # Cheap first: a string is at most 4 bytes a character in UTF-8.
        if len(value) > limit or (len(value) * 4 > limit and len(_utf8(value)) > limit):
            return f"{where} is longer than {limit} bytes"
    return None


def _utf8(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value
