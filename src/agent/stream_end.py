"""Why a stream to the control plane ended, and how loudly to say so (pure functions)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import grpc

from agent.config import ConfigError


class StreamEnded(Exception):
    """The control plane closed the stream without an error status (a normal end)."""


class NoWelcome(StreamEnded):
    """The control plane did not answer the hello with a welcome."""


@dataclass(frozen=True)
class StreamEnd:
    """How one stream ended: the log level, the sentence, and whether it was a bug (traceback)."""

    level: int
    reason: str
    bug: bool = False


SEND_REFUSED = "Internal error from Core"

# Each code with the level it is logged at and what a person can do about it.
_STATUS: dict[grpc.StatusCode, tuple[int, str]] = {
    # A control plane that shuts down, restarts or cannot be reached: reconnecting is all there is to do.
    grpc.StatusCode.UNAVAILABLE: (logging.INFO, ""),
    grpc.StatusCode.CANCELLED: (logging.INFO, ""),
    grpc.StatusCode.ABORTED: (logging.WARNING, " (a newer connection of this host replaced this one)"),
    grpc.StatusCode.UNAUTHENTICATED: (logging.ERROR, " (check token_file)"),
    grpc.StatusCode.PERMISSION_DENIED: (logging.ERROR, " (the token belongs to another host; check host)"),
}


def classify(error: BaseException) -> StreamEnd:
    """The level and sentence a stream's end is logged with; unknown exceptions are bugs."""
    if isinstance(error, grpc.aio.AioRpcError):
        code = error.code()
        if code == grpc.StatusCode.INTERNAL and error.details() == SEND_REFUSED:
            # grpc's local status for a send that raced the end of the call; it replaces the control
            # plane's own status, which is lost. Reconnecting is all there is to do.
            return StreamEnd(
                logging.INFO, f"the stream ended while a message was being sent ({SEND_REFUSED})"
            )
        level, hint = _STATUS.get(code, (logging.WARNING, ""))
        return StreamEnd(level, f"{code.name}: {error.details()}{hint}")
    if isinstance(error, NoWelcome):
        return StreamEnd(logging.WARNING, str(error))
    if isinstance(error, StreamEnded):
        return StreamEnd(logging.INFO, str(error))
    if isinstance(error, ConfigError):
        return StreamEnd(logging.ERROR, str(error))
    if isinstance(error, OSError | TimeoutError):
        return StreamEnd(logging.WARNING, str(error) or type(error).__name__)
    return StreamEnd(logging.ERROR, f"{type(error).__name__}: {error}", bug=True)


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


def real_reason(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one exception that says why the stream's tasks ended, however the group is nested.

    When one task fails, the others often fail too as a consequence (a write after the status
    arrived): a bug comes first, then the status the control plane sent, then its closing.
    """
    leaves = _leaves(group)
    for leaf in leaves:
        if not isinstance(leaf, grpc.aio.AioRpcError | StreamEnded):
            return leaf
    statuses = [leaf for leaf in leaves if isinstance(leaf, grpc.aio.AioRpcError)]
    return statuses[0] if statuses else leaves[0]
