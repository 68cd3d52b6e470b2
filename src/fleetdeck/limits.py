"""Limits both ends of a gRPC channel agree on."""

from __future__ import annotations

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
"""The largest gRPC message the control plane, its clients and agents send or accept."""
