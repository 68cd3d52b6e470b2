"""Limits both ends of a gRPC channel agree on, and the one check of a message against them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from google.protobuf.descriptor import Descriptor, FieldDescriptor
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
    than its limit, an enum value this side's contract does not name (a state it cannot act on).
    Every agent message passes here, heartbeats too: what each field needs checked is worked out
    once per field (`_rule`), and a field's path is spelled out only when it is out of bounds. A
    message smaller than every text and count limit (a heartbeat) can break only a number, an enum
    or a time, so only the fields that can hold one are visited (`_NUMBERS`)."""
    found = _walk(message, _NUMBERS if message.ByteSize() < _SMALL_BYTES else _FIELDS)
    if found is None:
        return None
    names, reason = found
    return f"{'.'.join([message.DESCRIPTOR.name, *reversed(names)])} {reason}"


@dataclass(frozen=True, slots=True)
class _Rule:
    """What one field's values must satisfy."""

    kind: str  # "message", "integer", "enum", "text" or "" (nothing to check)
    repeated: bool
    is_map: bool
    items: int  # the most entries of a repeated field
    text_bytes: int  # the longest string
    enum_values: frozenset[int]
    enum_name: str


@functools.cache
def _rule(field: FieldDescriptor) -> _Rule:
    is_map = field.message_type is not None and field.message_type.GetOptions().map_entry
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        kind = "message"
    elif field.type in _INTEGERS:
        kind = "integer"
    elif field.type == FieldDescriptor.TYPE_ENUM:
        kind = "enum"
    elif field.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES):
        kind = "text"
    else:
        kind = ""
    enum = field.enum_type
    return _Rule(
        kind=kind,
        repeated=field.is_repeated,
        is_map=bool(is_map),
        items=ITEMS.get(field.full_name, MAX_ITEMS),
        text_bytes=TEXT_BYTES.get(field.full_name, MAX_TEXT_BYTES),
        enum_values=frozenset(enum.values_by_number) if enum is not None else frozenset(),
        enum_name=enum.name if enum is not None else "",
    )


@functools.cache
def _is_time(descriptor: Descriptor) -> bool:
    return descriptor.full_name in ("google.protobuf.Timestamp", "google.protobuf.Duration")


_SMALL_BYTES = min(MAX_TEXT_BYTES, *TEXT_BYTES.values(), MAX_ITEMS, *ITEMS.values())
"""Serialized smaller than this, a message holds no string and no list beyond its limit: a string's
UTF-8 bytes and a list's entries (at least a byte each) are all inside the message's bytes."""

Plan = dict[FieldDescriptor, _Rule]


def _all_fields(descriptor: Descriptor) -> Plan:
    """Every field of a message type, with its rule."""
    return {field: _rule(field) for field in descriptor.fields}


def _number_fields(descriptor: Descriptor) -> Plan:
    """The fields of a message type that can hold a number, an enum or a time, at any depth."""
    return {
        field: rule
        for field, rule in _all_fields(descriptor).items()
        if rule.kind in ("integer", "enum") or (rule.kind == "message" and _holds_numbers(field.message_type))
    }


class _Plans(dict[Descriptor, Plan | None]):
    """The fields to visit per message type, made on first use (None for a time: checked whole).
    A dict, not functools.cache: a hit is one lookup in C, and a heartbeat has several."""

    def __init__(self, make: Callable[[Descriptor], Plan]) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, descriptor: Descriptor) -> Plan | None:
        plan = None if _is_time(descriptor) else self.make(descriptor)
        self[descriptor] = plan
        return plan


_FIELDS = _Plans(_all_fields)
_NUMBERS = _Plans(_number_fields)


@functools.cache
def _holds_numbers(descriptor: Descriptor) -> bool:
    """Whether a message of this type can hold a number, an enum or a time, at any depth."""
    seen: set[str] = set()
    pending = [descriptor]
    while pending:
        current = pending.pop()
        if current.full_name in seen:
            continue
        seen.add(current.full_name)
        if _is_time(current):
            return True
        for rule, field in ((_rule(f), f) for f in current.fields):
            if rule.kind in ("integer", "enum"):
                return True
            if rule.kind == "message" and field.message_type is not None:
                pending.append(field.message_type)
    return False


Found = tuple[list[str], str]  # the path's field names, innermost first, and what is wrong


def _walk(message: Message, plans: _Plans) -> Found | None:
    rules = plans[message.DESCRIPTOR]  # type: ignore[index]  # upb's descriptor: the same API
    if rules is None:  # a Timestamp or Duration
        seconds, nanos = message.seconds, message.nanos  # type: ignore[attr-defined]
        if not (-MAX_SECONDS <= seconds <= MAX_SECONDS and -1_000_000_000 < nanos < 1_000_000_000):
            return [], "is out of range"
        return None
    for field, value in message.ListFields():
        rule = rules.get(field)
        if rule is None:
            continue  # nothing in it can be out of bounds (see `_number_fields`)
        if rule.kind == "integer" and not rule.repeated:  # the common case, inline
            if -MAX_NUMBER <= value <= MAX_NUMBER:
                continue
            return [field.name], f"is out of range (at most {MAX_NUMBER})"
        if rule.is_map:
            entry = field.message_type
            assert entry is not None  # a map field's entries are messages
            key_field, value_field = entry.fields
            found = _each(key_field, list(value), field.name, plans) or _each(
                value_field, list(value.values()), field.name, plans
            )
        elif rule.repeated:
            if len(value) > rule.items:
                return [field.name], f"has more than {rule.items} entries"
            found = _each(field, value, field.name, plans) if rule.kind else None
        else:
            found = _walk(value, plans) if rule.kind == "message" else _check(rule, value, plans)
            if found is not None:
                found[0].append(field.name)
        if found is not None:
            return found
    return None


def _each(field: FieldDescriptor, values: object, name: str, plans: _Plans) -> Found | None:
    rule = _rule(field)
    if not rule.kind:
        return None
    for value in values:  # type: ignore[attr-defined]
        found = _check(rule, value, plans)
        if found is not None:
            found[0].append(name)
            return found
    return None


def _check(rule: _Rule, value: object, plans: _Plans) -> Found | None:
    kind = rule.kind
    if kind == "message":
        assert isinstance(value, Message)
        return _walk(value, plans)
    if kind == "integer":
        assert isinstance(value, int)
        if not -MAX_NUMBER <= value <= MAX_NUMBER:
            return [], f"is out of range (at most {MAX_NUMBER})"
    elif kind == "enum":
        if value not in rule.enum_values:
            return [], f"is {value}, not a {rule.enum_name} value this side knows"
    elif kind == "text":
        assert isinstance(value, str | bytes)
        limit = rule.text_bytes
        # Cheap first: a string is at most 4 bytes a character in UTF-8.
        if len(value) > limit or (len(value) * 4 > limit and len(_utf8(value)) > limit):
            return [], f"is longer than {limit} bytes"
    return None


def _utf8(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value
