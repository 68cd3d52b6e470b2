"""The `fleetdeck` CLI's exit codes, and the one map from a gRPC status to an exit code."""

from __future__ import annotations

import grpc

OK = 0
"""Success: the call was done, or the operation and its tests passed."""
FAILED = 1
"""The operation or its tests failed (or the control plane failed the call)."""
USAGE = 2
"""Bad usage: an unknown option, a malformed argument, an argument the control plane rejected."""
REFUSED = 3
"""Refused: host offline or busy, no permission, not found, already finished."""
UNREACHABLE = 4
"""The control plane cannot be reached (or did not answer in time)."""
INTERRUPTED = 130
"""Interrupted with Ctrl-C."""

HELP = """\b
Exit codes:
  0  success (for --wait: the operation and its tests passed)
  1  the operation or its tests failed
  2  usage: a bad option or argument
  3  refused: host offline or busy, permission denied, not found
  4  cannot reach the control plane"""

_BY_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: USAGE,
    grpc.StatusCode.OUT_OF_RANGE: USAGE,
    grpc.StatusCode.FAILED_PRECONDITION: REFUSED,
    grpc.StatusCode.NOT_FOUND: REFUSED,
    grpc.StatusCode.ALREADY_EXISTS: REFUSED,
    grpc.StatusCode.ABORTED: REFUSED,
    grpc.StatusCode.PERMISSION_DENIED: REFUSED,
    grpc.StatusCode.UNAUTHENTICATED: REFUSED,
    grpc.StatusCode.RESOURCE_EXHAUSTED: REFUSED,
    grpc.StatusCode.UNAVAILABLE: UNREACHABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: UNREACHABLE,
}


def exit_code_for(code: grpc.StatusCode) -> int:
    """The exit code for a call that failed with `code`."""
    return _BY_STATUS.get(code, FAILED)


class CliError(Exception):
    """A failure to report as one sentence on stderr, ending the CLI with `exit_code`."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code
