"""Domain errors and the one place that maps them to gRPC status codes (HTTP: webui.statuses)."""

from __future__ import annotations

import grpc


class FleetError(Exception):
    """Base of every error a caller can act on; the message is shown to a person as is."""

    grpc_code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    http_status: int = 500


class InvalidArgument(FleetError):
    """The request is malformed: an unknown enum value, a bad host name, a bad hash."""

    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    http_status = 400


class NotFound(FleetError):
    """The named host, command or test run does not exist."""

    grpc_code = grpc.StatusCode.NOT_FOUND
    http_status = 404


class FailedPrecondition(FleetError):
    """The fleet is not in a state that allows this now: host offline, a command already running."""

    grpc_code = grpc.StatusCode.FAILED_PRECONDITION
    http_status = 409


class Unauthenticated(FleetError):
    """No credentials, or credentials that match nothing."""

    grpc_code = grpc.StatusCode.UNAUTHENTICATED
    http_status = 401


class PermissionDenied(FleetError):
    """Valid credentials that do not allow this call."""

    grpc_code = grpc.StatusCode.PERMISSION_DENIED
    http_status = 403


class Aborted(FleetError):
    """The stream was replaced by a newer connection of the same host."""

    grpc_code = grpc.StatusCode.ABORTED
    http_status = 409


class Unavailable(FleetError):
    """The control plane is shutting down; the client should reconnect shortly."""

    grpc_code = grpc.StatusCode.UNAVAILABLE
    http_status = 503


class ResourceExhausted(FleetError):
    """A limit was hit: message size, concurrent streams, rate."""

    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    http_status = 429


def grpc_status(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The gRPC status code and detail for an exception raised while serving a call."""
    if isinstance(exc, FleetError):
        return exc.grpc_code, str(exc)
    return grpc.StatusCode.INTERNAL, "internal error; see the control plane's log"
