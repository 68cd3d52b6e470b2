"""One Connect stream: hello and welcome, then a writer, heartbeats and a reader until it ends."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import grpc
from google.protobuf import timestamp_pb2

from agent.config import DEFAULT_KEEPALIVE_SECONDS, DEFAULT_KEEPALIVE_TIMEOUT_SECONDS, TlsConfig
from agent.outbox import Outbox
from agent.stream_end import NoWelcome, StreamEnded, real_reason
from fleetdeck.limits import MAX_MESSAGE_BYTES
from fleetdeck.v1 import agent_service_pb2, agent_service_pb2_grpc

logger = logging.getLogger(__name__)


def channel_options(keepalive_seconds: float, keepalive_timeout_seconds: float) -> list[tuple[str, int]]:
    """The agent's channel options: keepalive pings (a half-open link is noticed within
    `keepalive_seconds` + `keepalive_timeout_seconds`), message limits, and reconnect pacing."""
    timeout_ms = int(keepalive_timeout_seconds * 1000)
    return [
        ("grpc.keepalive_time_ms", int(keepalive_seconds * 1000)),
        ("grpc.keepalive_timeout_ms", timeout_ms),
        # grpc-core waits for a keepalive ping's ack under the transport's ping timeout (default 60 s):
        # its own keepalive watchdog is never armed, so without this a half-open link took the
        # keepalive time plus a minute to notice, whatever keepalive_timeout_ms said.
        ("grpc.http2.ping_timeout_ms", timeout_ms),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        # Reconnecting is ours to pace (backoff with jitter), not the channel's.
        ("grpc.initial_reconnect_backoff_ms", 1_000),
        ("grpc.max_reconnect_backoff_ms", 5_000),
    ]


CHANNEL_OPTIONS = channel_options(DEFAULT_KEEPALIVE_SECONDS, DEFAULT_KEEPALIVE_TIMEOUT_SECONDS)
CONTROL_QUEUE_SIZE = 1_000
WELCOME_TIMEOUT_SECONDS = 30.0


class AgentLink(Protocol):
    """What a stream needs from the agent."""

    outbox: Outbox

    async def hello(self) -> agent_service_pb2.Hello:
        """The first message of a stream."""

    async def heartbeat(self) -> agent_service_pb2.Heartbeat:
        """A heartbeat as of now."""

    async def heartbeat_due(self) -> None:
        """Return when the next heartbeat should go out."""

    def on_welcome(self, welcome: agent_service_pb2.Welcome) -> None:
        """The control plane accepted the hello."""

    def on_message(self, message: agent_service_pb2.ConnectResponse) -> None:
        """Anything after the welcome."""


@dataclass
class Stream:
    """A connected stream's fire-and-forget queue (heartbeats, command started, progress, refusals)."""

    queue: asyncio.Queue[agent_service_pb2.ConnectRequest]

    def send(self, message: agent_service_pb2.ConnectRequest) -> None:
        """Queue a message that needs no acknowledgement; dropped when the queue is full."""
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            logger.warning("control queue full; dropped a %s message", message.WhichOneof("message"))


async def _write(call: grpc.aio.StreamStreamCall, message: agent_service_pb2.ConnectRequest) -> bool:
    """Write one message; False when the RPC had ended, so only a read can tell why.

    A write racing the control plane's status fails with what grpc makes of it (InvalidStateError,
    or INTERNAL "Internal error from Core" for a send the ending call refused): never the reason.
    """
    try:
        await call.write(message)
    except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
        if not call.done():
            raise
        return False
    return True


async def _next_messages(stream: Stream, outbox: Outbox) -> list[agent_service_pb2.ConnectRequest]:
    """What to write next: a queued control message, else whichever of control or outbox comes first."""
    if not stream.queue.empty():
        return [stream.queue.get_nowait()]
    control = asyncio.ensure_future(stream.queue.get())
    entry = asyncio.ensure_future(outbox.next_request())
    try:
        await asyncio.wait({control, entry}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (control, entry):
            if not task.done():
                task.cancel()
    return [task.result() for task in (control, entry) if task.done() and not task.cancelled()]


async def _writer(call: grpc.aio.StreamStreamCall, stream: Stream, outbox: Outbox) -> None:
    # One write at a time; control messages first so heartbeats never wait behind queued output.
    while True:
        for message in await _next_messages(stream, outbox):
            if not await _write(call, message):
                await asyncio.Future()  # the RPC has ended: the reader reads why and ends the group


async def _heartbeats(link: AgentLink, stream: Stream) -> None:
    while True:
        await link.heartbeat_due()
        stream.send(agent_service_pb2.ConnectRequest(heartbeat=await link.heartbeat()))


async def _reader(call: grpc.aio.StreamStreamCall, link: AgentLink) -> None:
    while True:
        message = await call.read()
        if message is grpc.aio.EOF:
            raise StreamEnded("the control plane closed the stream")
        link.on_message(message)


async def _serve(call: grpc.aio.StreamStreamCall, stream: Stream, link: AgentLink) -> None:
    async with asyncio.TaskGroup() as tg:
        tg.create_task(_writer(call, stream, link.outbox))
        tg.create_task(_heartbeats(link, stream))
        tg.create_task(_reader(call, link))


def now() -> timestamp_pb2.Timestamp:
    """The current time as a Timestamp."""
    ts = timestamp_pb2.Timestamp()
    ts.GetCurrentTime()
    return ts


@dataclass(frozen=True)
class LinkOptions:
    """How the agent's channel talks to a control plane: TLS (None: plaintext) and keepalive."""

    tls: TlsConfig | None = None
    keepalive_seconds: float = DEFAULT_KEEPALIVE_SECONDS
    keepalive_timeout_seconds: float = DEFAULT_KEEPALIVE_TIMEOUT_SECONDS


def open_channel(target: str, link: LinkOptions) -> grpc.aio.Channel:
    """A channel to the control plane: plaintext, TLS, or mutual TLS with a client certificate."""
    options: list[tuple[str, int | str]] = [
        *channel_options(link.keepalive_seconds, link.keepalive_timeout_seconds)
    ]
    tls = link.tls
    if tls is None:
        return grpc.aio.insecure_channel(target, options=options)
    ca, key, cert = tls.credentials()
    credentials = grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)
    if tls.server_name:
        options.append(("grpc.ssl_target_name_override", tls.server_name))
    return grpc.aio.secure_channel(target, credentials, options=options)


async def run_stream(
    target: str,
    token: str,
    link: AgentLink,
    attach: Callable[[Stream | None], None],
    on_welcomed: Callable[[], None],
    options: LinkOptions | None = None,
) -> None:
    """Connect, say hello, and serve the stream until it ends (always by an exception).

    The exception is the stream's one real reason (see stream_end.classify), never a group.
    """
    async with open_channel(target, options or LinkOptions()) as channel:
        stub = agent_service_pb2_grpc.AgentServiceStub(channel)
        call = stub.Connect(metadata=(("authorization", f"Bearer {token}"),))
        try:
            hello = agent_service_pb2.ConnectRequest(hello=await link.hello())
            await _write(call, hello)  # when the RPC has ended already, the read below says why
            try:
                async with asyncio.timeout(WELCOME_TIMEOUT_SECONDS):
                    first = await call.read()
            except TimeoutError:
                raise NoWelcome(f"no welcome within {WELCOME_TIMEOUT_SECONDS:.0f} s of the hello") from None
            if first is grpc.aio.EOF:
                raise NoWelcome("the control plane closed the stream before its welcome")
            if first.WhichOneof("message") != "welcome":
                raise NoWelcome(f"expected a welcome, got {first.WhichOneof('message')}")
            link.on_welcome(first.welcome)
            on_welcomed()
            stream = Stream(asyncio.Queue(CONTROL_QUEUE_SIZE))
            # The first heartbeat goes out at once: the control plane sees metrics without waiting.
            stream.send(agent_service_pb2.ConnectRequest(heartbeat=await link.heartbeat()))
            attach(stream)
            try:
                # In a task of its own: on Python 3.11 a TaskGroup whose child fails leaves the task
                # it ran in counted as being cancelled, and the connect loop's task must stay clean.
                await asyncio.create_task(_serve(call, stream, link), name="stream")
            except* Exception as group:
                # One clause for every failure: two clauses that both raise would combine what they
                # raise into a new group. The other tasks often failed only because the first did.
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise asyncio.CancelledError from None  # stopping: the group absorbed our cancel
                raise real_reason(group) from None
        finally:
            attach(None)
            call.cancel()
