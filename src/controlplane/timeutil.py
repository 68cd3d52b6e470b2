"""Conversions between wall-clock seconds and protobuf Timestamps."""

from __future__ import annotations

import time

from google.protobuf.timestamp_pb2 import Timestamp


def to_ts(seconds: float | None) -> Timestamp:
    """A Timestamp for epoch seconds (now when None)."""
    ts = Timestamp()
    value = time.time() if seconds is None else seconds
    whole = int(value)
    ts.seconds = whole
    ts.nanos = int((value - whole) * 1e9)
    return ts


def now_ts() -> Timestamp:
    """The current time as a Timestamp."""
    return to_ts(None)


def from_ts(ts: Timestamp) -> float | None:
    """Epoch seconds of a Timestamp, or None when it is unset (zero)."""
    if ts.seconds == 0 and ts.nanos == 0:
        return None
    return ts.seconds + ts.nanos / 1e9
