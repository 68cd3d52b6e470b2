"""Server-Sent Events: the fleet stream (`GET /events`) and a command's output stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from datetime import UTC
from typing import TypeVar

import grpc
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import Request

from fleetdeck.tasks import cancel_and_wait
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from webui.convert import to_json
from webui.fanout import Fanout, status_frame
from webui.relay import Status
from webui.roles import calls

T = TypeVar("T")

RETRY_MS = 1000
"""How long a browser waits before reconnecting a dropped EventSource."""

RESTARTING = "The control plane is restarting; reconnecting…"


def resume_point(request: Request, header: str = "last-event-id", param: str = "since") -> int:
    """The number a reconnecting browser sends: the Last-Event-ID header, else a query parameter."""
    raw = request.headers.get(header) or request.query_params.get(param) or "0"
    try:
        number = int(raw)
    except ValueError:
        return 0
    # Beyond int64 (or negative) it names nothing the control plane ever sent: start afresh.
    return number if 0 <= number < 2**63 else 0


def seconds_left(session: fleet_pb.WebSession) -> float:
    """How long until `session` expires (a day when it names no expiry)."""
    if not session.HasField("expires_at"):
        return 86_400.0
    return max(session.expires_at.ToDatetime(tzinfo=UTC).timestamp() - time.time(), 0.0)


async def _recheck_session(request: Request, end: Callable[[], object]) -> None:
    """Check the stream's session every `session_check_seconds` (through the web UI's session cache,
    so many streams of one session cost one call); call `end` once the control plane answers
    UNAUTHENTICATED (revoked elsewhere: a password reset, another web UI's logout)."""
    state = request.app.state
    token: str = request.state.session_token
    while True:
        await asyncio.sleep(state.session_check_seconds)
        try:
            await state.sessions.lookup(state.fleet.stub, token, max_age=state.session_check_seconds)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
                end()
                return
            # Unreachable or refused for now: the fan-out says so; check again next time.


@contextlib.asynccontextmanager
async def session_rechecked(request: Request, end: Callable[[], object]) -> AsyncIterator[None]:
    """While open, `end` is called when the control plane no longer knows the request's session."""
    task = asyncio.create_task(_recheck_session(request, end), name="webui-session-recheck")
    try:
        yield
    finally:
        await cancel_and_wait(task)


def status_event(item: Status) -> bytes:
    """A relay status as the page's `status` event."""
    return status_frame(item.connected, item.message)


@calls("WatchFleet")
async def events(request: Request) -> EventSourceResponse:
    """`GET /events`: a snapshot (or only what was missed since Last-Event-ID), then every change.

    Every browser is a Viewer of the process's one Fanout: the frames it gets are the bytes made
    once for everybody; only the session checks are its own."""
    state = request.app.state
    fanout: Fanout = state.fanout
    from_version = resume_point(request)
    session_token: str = request.state.session_token

    async def stream() -> AsyncIterator[ServerSentEvent | bytes]:
        yield ServerSentEvent(comment="fleetdeck", retry=RETRY_MS)
        logged_out = asyncio.Event()
        with fanout.viewer(from_version, state.queue_limit) as viewer:

            def end() -> None:
                logged_out.set()
                viewer.drain()

            # The session ends at its expiry too; the browser's reconnect then finds no session.
            expiry = asyncio.get_running_loop().call_later(seconds_left(request.state.web_session), end)
            try:
                with state.streams.track(viewer.drain), state.streams.of_session(session_token, end):
                    async with session_rechecked(request, end):
                        while (chunk := await viewer.next()) is not None:
                            yield chunk
            finally:
                expiry.cancel()
        if not logged_out.is_set():
            yield status_event(Status(False, RESTARTING))

    return EventSourceResponse(stream(), ping=state.keepalive_seconds, send_timeout=30, headers=_NO_BUFFER)


UNREACHABLE = "The control plane is unreachable; reconnecting…"
UNREACHABLE_WAIT_SECONDS = 60.0


def unreachable(request: Request) -> EventSourceResponse:
    """`GET /events` while the session cannot be checked: no fleet data, only the status, held open
    until the control plane is reachable again; the browser then reconnects and is checked."""
    channel: grpc.aio.Channel = request.app.state.fleet.channel

    async def stream() -> AsyncIterator[ServerSentEvent | bytes]:
        yield ServerSentEvent(comment="fleetdeck", retry=RETRY_MS)
        yield status_event(Status(False, UNREACHABLE))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(UNREACHABLE_WAIT_SECONDS):
                await channel.channel_ready()

    return EventSourceResponse(
        stream(), ping=request.app.state.keepalive_seconds, send_timeout=30, headers=_NO_BUFFER
    )


async def until(stream: AsyncIterable[T], stop: asyncio.Event) -> AsyncIterator[T]:
    """The items of `stream` until it ends or `stop` is set, whichever comes first."""
    iterator = aiter(stream)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        while True:
            following = asyncio.ensure_future(anext(iterator))
            await asyncio.wait((following, stopped), return_when=asyncio.FIRST_COMPLETED)
            if not following.done():
                following.cancel()
                return
            try:
                item = following.result()
            except StopAsyncIteration:
                return
            yield item
    finally:
        stopped.cancel()


@calls("StreamCommandOutput")
async def command_output(request: Request) -> EventSourceResponse:
    """A command's stored output, then its live output: `lines` events (id = next line), then `end`."""
    stub = request.app.state.fleet.stub
    command_id = request.path_params["command_id"]
    from_line = resume_point(request, param="from_line")
    follow = request.query_params.get("follow", "1") != "0"

    async def stream() -> AsyncIterator[ServerSentEvent]:
        yield ServerSentEvent(comment="output", retry=RETRY_MS)
        request_msg = fleet_pb.StreamCommandOutputRequest(
            command_id=command_id, from_line=from_line, no_follow=not follow
        )
        call = stub.StreamCommandOutput(request_msg)
        drained = asyncio.Event()
        try:
            streams = request.app.state.streams
            with streams.track(drained.set), streams.of_session(request.state.session_token, drained.set):
                async with session_rechecked(request, drained.set):
                    async for response in until(call, drained):
                        next_line = response.lines[-1].number + 1 if response.lines else None
                        if response.lines or response.truncated_bytes:
                            yield ServerSentEvent(
                                data=to_json(response),
                                event="lines",
                                id=None if next_line is None else str(next_line),
                            )
                        if response.HasField("command"):
                            yield ServerSentEvent(data=to_json(response.command), event="end")
                            return
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNAVAILABLE:
                return  # the browser reconnects from the last line it got
            yield ServerSentEvent(
                data=json.dumps(exc.details() or "the output is not available", ensure_ascii=False),
                event="failure",
            )
        finally:
            call.cancel()

    return EventSourceResponse(
        stream(), ping=request.app.state.keepalive_seconds, send_timeout=30, headers=_NO_BUFFER
    )


_NO_BUFFER = {"X-Accel-Buffering": "no", "Cache-Control": "no-store"}
