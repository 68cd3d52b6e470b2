"""Domain errors and the one place that maps them to gRPC status codes (`ErrorInterceptor`).

The HTTP statuses the web UI answers with live in `webui.statuses`.

Every FleetService and AgentService call, unary or streaming, goes through the interceptor: a
servicer raises a domain error and never calls `context.abort` itself.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from .ratelog import SummarizedLog
from .store.trouble import trouble as store_trouble

log = logging.getLogger(__name__)


class FleetError(Exception):
    """Base of every error a caller can act on; the message is shown to a person as is."""

    grpc_code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    retry_after: int | None = None  # seconds; sent as `retry-after` trailing metadata when set


class InvalidArgument(FleetError):
    """The request is malformed: an unknown enum value, a bad host name, a bad hash."""

    grpc_code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(FleetError):
    """The named host, command or test run does not exist."""

    grpc_code = grpc.StatusCode.NOT_FOUND


class FailedPrecondition(FleetError):
    """The fleet is not in a state that allows this now: host offline, a command already running."""

    grpc_code = grpc.StatusCode.FAILED_PRECONDITION


class Unauthenticated(FleetError):
    """No credentials, or credentials that match nothing."""

    grpc_code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(FleetError):
    """Valid credentials that do not allow this call."""

    grpc_code = grpc.StatusCode.PERMISSION_DENIED


class Aborted(FleetError):
    """The stream was replaced by a newer connection of the same host."""

    grpc_code = grpc.StatusCode.ABORTED


class Unavailable(FleetError):
    """The control plane is shutting down; the client should reconnect shortly."""

    grpc_code = grpc.StatusCode.UNAVAILABLE


class ResourceExhausted(FleetError):
    """A limit was hit: message size, concurrent streams, rate."""

    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED


class StorageUnavailable(Unavailable):
    """The store cannot work right now (the database is locked, the disk is full): retry later."""

    retry_after = 5


def storage_trouble(error: BaseException) -> StorageUnavailable | None:
    """The storage condition behind `error` (the server's, not the caller's fault), or None."""
    if isinstance(error, StorageUnavailable):
        return error
    sentence = store_trouble(error)
    return None if sentence is None else StorageUnavailable(sentence)


StorageWatch = Callable[[BaseException], bool]
"""Told of an error; True when it was storage trouble (then it was noted, and logged once)."""


def _is_storage_trouble(error: BaseException) -> bool:
    return storage_trouble(error) is not None


def set_status(context: grpc.aio.ServicerContext[Any, Any], error: FleetError) -> None:
    """Set the status of `error` on the call: its code, its sentence, and a retry-after when it has
    one. The handler then returns and gRPC sends the status.

    Never `context.abort`: that raises an AbortError which grpc keeps on the call, and its traceback
    holds the frames that hold the call, a reference cycle of some fifty objects per call. A flood
    of refused streams turned into collector passes of ~50,000 objects every few hundred
    milliseconds, each a 20-250 ms pause of every stream (bench/abuse.py). Returning leaves nothing.
    """
    if error.retry_after is not None:
        context.set_trailing_metadata((("retry-after", str(error.retry_after)),))
    context.set_code(error.grpc_code)
    context.set_details(str(error))


def _end(
    context: grpc.aio.ServicerContext[Any, Any], error: Exception, method: str, storage: StorageWatch
) -> None:
    """Set the status that fits what a handler raised: a domain error's own, storage trouble's
    UNAVAILABLE, and INTERNAL (logged with its traceback) for anything else."""
    if not isinstance(error, FleetError) and not storage(error):
        log.error("%s failed", method, exc_info=error)
    known = error if isinstance(error, FleetError) else storage_trouble(error)
    if known is None:
        known = FleetError("internal error; see the control plane's log")
    set_status(context, known)


Behavior = Callable[..., Any]


class Undecodable:
    """Stands for a request whose bytes are not a valid message: the handler refuses it, so that a
    malformed request is answered INVALID_ARGUMENT instead of gRPC's own UNKNOWN and traceback."""

    __slots__ = ("type_name",)

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name


def _lenient(
    deserializer: Callable[[bytes], Any] | None, stream_of: str = ""
) -> Callable[[bytes], Any] | None:
    """`deserializer`, answering an Undecodable instead of raising. For a stream of requests (of the
    method `stream_of`) it raises InvalidArgument instead: grpc raises that in the handler's read of
    that message, so nothing has to wrap the stream to look at every message (a heartbeat's cost)."""
    if deserializer is None:
        return None
    owner = getattr(deserializer, "__self__", None)
    type_name = getattr(owner, "__name__", "request")

    def decode(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception:
            undecodable = Undecodable(type_name)
        return _decoded(undecodable, stream_of) if stream_of else undecodable

    return decode


_MALFORMED = SummarizedLog(log, "refused malformed requests")


def _decoded(request: Any, method: str) -> Any:
    """`request`, or InvalidArgument (logged in one line, floods summed up) when its bytes were not a
    valid message."""
    if isinstance(request, Undecodable):
        _MALFORMED.note(f"{method}: not a valid {request.type_name} message")
        raise InvalidArgument(f"the request is not a valid {request.type_name} message")
    return request


def _unary(
    behavior: Behavior, method: str, streaming: bool, storage: StorageWatch
) -> Callable[[Any, Any], Awaitable[Any]]:
    async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        try:
            checked = request if streaming else _decoded(request, method)
            return await behavior(checked, context)
        except grpc.aio.AbortError:
            raise  # the call was ended with its status already
        except Exception as error:
            _end(context, error, method, storage)
            return None

    return call


def _streaming(
    behavior: Behavior, method: str, streaming: bool, storage: StorageWatch
) -> Callable[[Any, Any], AsyncIterator[Any]]:
    async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
        try:
            checked = request if streaming else _decoded(request, method)
        except Exception as error:
            _end(context, error, method, storage)
            return
        result = behavior(checked, context)
        try:
            if inspect.isasyncgen(result):
                async for response in result:
                    yield response
            else:
                await result  # a handler that writes with context.write()
        except grpc.aio.AbortError:
            raise  # the call was ended with its status already
        except Exception as error:
            _end(context, error, method, storage)
        finally:
            if inspect.isasyncgen(result):
                await result.aclose()

    return call


class ErrorInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Maps what a Fleetdeck call raised to its status: domain errors by their code, anything else
    to INTERNAL (logged with its traceback). Put it first, so the calls other interceptors refuse
    go through it too."""

    def __init__(self, prefix: str = "/fleetdeck.", storage: StorageWatch = _is_storage_trouble) -> None:
        self.prefix = prefix
        self.storage = storage

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        method: str = details.method
        if handler is None or not method.startswith(self.prefix):
            return handler
        streams = handler.stream_unary is not None or handler.stream_stream is not None
        kwargs = {
            "request_deserializer": _lenient(handler.request_deserializer, method if streams else ""),
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                _unary(handler.unary_unary, method, False, self.storage), **kwargs
            )
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(
                _unary(handler.stream_unary, method, True, self.storage), **kwargs
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                _streaming(handler.unary_stream, method, False, self.storage), **kwargs
            )
        return grpc.stream_stream_rpc_method_handler(
            _streaming(handler.stream_stream, method, True, self.storage), **kwargs
        )
