"""Proto messages to the JSON the page reads, and request JSON to proto enums."""

from __future__ import annotations

import json
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from fleetdeck.operations import BY_NAME
from fleetdeck.v1 import types_pb2


class BadRequest(Exception):
    """The page sent something the API cannot use; the message is shown to the user."""


def to_dict(message: Message) -> dict[str, Any]:
    """A message as the page reads it: proto field names, defaults included, enums by name."""
    return MessageToDict(message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def to_json(message: Message) -> str:
    """A message as compact JSON for an SSE data field."""
    return json.dumps(to_dict(message), separators=(",", ":"), ensure_ascii=False)


def operation(name: object) -> types_pb2.Operation:
    """The Operation enum for "pull", "switch", "test" or "rollback"."""
    if not isinstance(name, str) or name not in BY_NAME:
        raise BadRequest(f"unknown operation {name!r}; use {', '.join(BY_NAME)}")
    return BY_NAME[name]


def host_names(value: object) -> list[str]:
    """A non-empty list of host names from request JSON."""
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise BadRequest("choose at least one host")
    return list(value)


def optional_bool(body: dict[str, Any], key: str) -> bool | None:
    """A boolean or null field of request JSON."""
    value = body.get(key)
    if value is not None and not isinstance(value, bool):
        raise BadRequest(f"{key} must be true, false or null")
    return value


def optional_seconds(body: dict[str, Any], key: str) -> float | None:
    """A positive number of seconds, or null, from request JSON."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 86_400:
        raise BadRequest(f"{key} must be a number of seconds between 1 and 86400")
    return float(value)
