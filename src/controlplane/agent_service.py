"""AgentService: one bidirectional stream per agent."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import grpc

from fleetdeck.tasks import cancel_and_wait
from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import agent_service_pb2_grpc as agent_grpc

from .agent_admission import AgentAdmission
from .agent_hello import accept_hello
from .agent_streams import AgentStream
from .agent_tokens import AgentTokens, check_certificate_names, check_host_name, check_token_host
from .bounds import check_agent_message
from .commands import Commands
from .credentials import bearer_token
from .errors import Aborted, FleetError, InvalidArgument, ResourceExhausted, Unavailable, storage_trouble
from .fleet import Fleet, HostState
from .ingest import Ingest
from .store import TokenRecord

log = logging.getLogger(__name__)

REFUSAL_GRACE_SECONDS = 0.25


async def _let_the_hello_land(requests: AsyncIterator[agent_pb.ConnectRequest]) -> None:
    """Before refusing a stream, take its first message if it is already on its way (a moment at
    most; a silent client holds nothing longer). An agent writes its hello as it connects: ended
    while that write is in flight, its call would report grpc's "Internal error from Core" instead
    of the refusal, and the agent could not tell a bad token from a passing fault."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(REFUSAL_GRACE_SECONDS):
            await anext(requests)


class AgentService(agent_grpc.AgentServiceServicer):
    """Authenticates the agent, welcomes it, then routes what it sends and what it is sent."""

    def __init__(
        self,
        fleet: Fleet,
        commands: Commands,
        ingest: Ingest,
        tokens: AgentTokens,
        admission: AgentAdmission,
        require_client_cert: bool = False,
    ) -> None:
        self.require_client_cert = require_client_cert
        self.admission = admission
        self.fleet = fleet
        self.commands = commands
        self.ingest = ingest
        self.tokens = tokens

    async def Connect(
        self,
        request_iterator: AsyncIterator[agent_pb.ConnectRequest],
        context: grpc.aio.ServicerContext[agent_pb.ConnectRequest, agent_pb.ConnectResponse],
    ) -> AsyncIterator[agent_pb.ConnectResponse]:
        # The credentials first, then a slot: a bad token holds no slot and no state, and waits a
        # moment at most (for the hello it may have written), never the hello deadline.
        try:
            async with self.admission.login(context.peer()):
                record = await self.tokens.find(bearer_token(context.invocation_metadata()))
        except FleetError as refused:
            if not isinstance(refused, ResourceExhausted):  # a peer over its budget: at once
                await _let_the_hello_land(request_iterator)
            raise
        with self.admission.admit(context.peer(), record.token_id):
            stream, state, welcome = await self._open(record, request_iterator, context)
            reader = asyncio.create_task(
                self._read(state, stream, request_iterator), name=f"agent-read-{stream.host}"
            )
            reader.add_done_callback(lambda task: self._reader_done(task, stream))
            try:
                yield welcome
                # Ends with OK when the agent ended it, or raises the reason it was closed for first.
                while (message := await stream.next_outgoing()) is not None:
                    yield message
            finally:
                await cancel_and_wait(reader)  # its failure was handled by _reader_done
                self.fleet.disconnected(stream)

    @staticmethod
    def _reader_done(task: asyncio.Task[None], stream: AgentStream) -> None:
        if task.cancelled():
            return  # the stream is ending already
        error = task.exception()
        if error is None:
            stream.end()  # the agent finished sending (or the stream was closed first: no change)
            return
        if isinstance(error, grpc.aio.AioRpcError | grpc.aio.AbortError):
            stream.close(Aborted("the agent's stream broke"))
            return
        known = error if isinstance(error, FleetError) else storage_trouble(error)
        if known is not None:
            log.warning("closed the stream of host %s: %s", stream.host, known)
            stream.close(known)
            return
        log.error("handling a message of host %s failed", stream.host, exc_info=error)
        stream.close(Unavailable("the control plane failed to handle a message; reconnect and resend"))

    async def _open(
        self,
        record: TokenRecord,
        request_iterator: AsyncIterator[agent_pb.ConnectRequest],
        context: grpc.aio.ServicerContext[agent_pb.ConnectRequest, agent_pb.ConnectResponse],
    ) -> tuple[AgentStream, HostState, agent_pb.ConnectResponse]:
        try:
            async with asyncio.timeout(self.admission.budgets.hello_timeout_seconds):
                first = await anext(request_iterator)
        except (StopAsyncIteration, TimeoutError) as exc:
            raise InvalidArgument("the stream must start with a hello") from exc
        check_agent_message(first)
        if first.WhichOneof("message") != "hello":
            raise InvalidArgument(
                f"the first message must be a hello, not {first.WhichOneof('message') or 'an empty message'}"
            )
        hello = first.hello
        host = check_host_name(hello.host)
        check_token_host(record, host)
        if self.require_client_cert:
            check_certificate_names(context.auth_context(), host)
        host_token = await self.tokens.accept(record)
        welcomed = await accept_hello(self.fleet, self.commands, hello, record.token_id)
        welcome = agent_pb.Welcome(
            host=host,
            settings=self.fleet.agent_settings(welcomed.state),
            interrupted_command_ids=welcomed.interrupted_command_ids,
            acks=[agent_pb.Ack(command_id=c, seq=s) for c, s in welcomed.acks.items()],
            host_token=host_token or "",
        )
        return welcomed.stream, welcomed.state, agent_pb.ConnectResponse(welcome=welcome)

    async def _read(
        self,
        state: HostState,
        stream: AgentStream,
        request_iterator: AsyncIterator[agent_pb.ConnectRequest],
    ) -> None:
        async for message in request_iterator:
            if stream.closed:
                return  # replaced or failed: nothing more from this stream is stored or acknowledged
            check_agent_message(message)
            kind = message.WhichOneof("message")
            if kind == "heartbeat":
                self.fleet.heartbeat(state, message.heartbeat)
                continue
            self.fleet.heard_from(state)
            if kind in ("output", "test_run", "command_finished"):
                with self.fleet.storing(state):
                    await self.ingest.submit(state, stream, message)
            elif kind == "command_started":
                await self.commands.on_started(state, message.command_started)
            elif kind == "test_progress":
                self.fleet.test_progress(state, message.test_progress)
            elif kind == "command_refused":
                await self.commands.on_refused(state, message.command_refused)
            else:
                log.warning(
                    "host %s sent a message this control plane does not know (%s); ignored",
                    state.host.name,
                    kind,
                )
