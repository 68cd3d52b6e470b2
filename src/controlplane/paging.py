"""Opaque page tokens for list RPCs."""

from __future__ import annotations

import base64

from fleetdeck.limits import MAX_NUMBER

from .errors import InvalidArgument


def page_size(requested: int, *, default: int, maximum: int) -> int:
    """The page size to use for a request."""
    return default if requested == 0 else min(requested, maximum)


def encode_page_token(last_ord: int) -> str:
    """A token that continues after the row with order number `last_ord`."""
    return base64.urlsafe_b64encode(f"o:{last_ord}".encode()).decode()


def decode_page_token(token: str) -> int | None:
    """The order number to continue before; None for the first page."""
    if not token:
        return None
    try:
        kind, _, value = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind != "o":
            raise ValueError(kind)
        number = int(value)
        if not 0 <= number <= MAX_NUMBER:
            raise ValueError(value)
        return number
    except ValueError as exc:
        raise InvalidArgument(
            "page_token is not one this server handed out; start from the first page"
        ) from exc
