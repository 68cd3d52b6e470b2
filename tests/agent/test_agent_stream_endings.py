"""Every end of the agent's stream is logged once, by its real reason, at the level that reason deserves."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from agent_world import World, control_plane_config

from agent.config import AgentConfig, ConfigError, load_config, parse_config
from agent.daemon import Agent
from agent.stream_end import NoWelcome, StreamEnded, classify, real_reason
from controlplane.app import ControlPlane
from fleetdeck.v1 import agent_service_pb2, agent_service_pb2_grpc


def _status(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


@pytest.mark.parametrize(
    ("error", "level", "reason"),
    [
        (
            _status(grpc.StatusCode.UNAVAILABLE, "the control plane is shutting down; reconnect shortly"),
            logging.INFO,
            "UNAVAILABLE: the control plane is shutting down; reconnect shortly",
        ),
        (_status(grpc.StatusCode.CANCELLED, "Cancelled"), logging.INFO, "CANCELLED: Cancelled"),
        (
            _status(grpc.StatusCode.ABORTED, "host gpc0 connected again; this older stream is closed"),
            logging.WARNING,
            "ABORTED: host gpc0 connected again; this older stream is closed"
            " (a newer connection of this host replaced this one)",
        ),
        (
            _status(grpc.StatusCode.UNAUTHENTICATED, "unknown or revoked agent token"),
            logging.ERROR,
            "UNAUTHENTICATED: unknown or revoked agent token (check token_file)",
        ),
        (
            _status(grpc.StatusCode.PERMISSION_DENIED, "this token belongs to host web1"),
            logging.ERROR,
            "PERMISSION_DENIED: this token belongs to host web1 (the token belongs to another host; check host)",
        ),
        (
            _status(grpc.StatusCode.INVALID_ARGUMENT, "the stream must start with a hello"),
            logging.WARNING,
            "INVALID_ARGUMENT: the stream must start with a hello",
        ),
        (
            _status(grpc.StatusCode.INTERNAL, "Internal error from Core"),
            logging.INFO,
            "the stream ended while a message was being sent (Internal error from Core)",
        ),
        (_status(grpc.StatusCode.INTERNAL, "a bug on the server"), logging.WARNING, "INTERNAL: a bug on"),
        (
            StreamEnded("the control plane closed the stream"),
            logging.INFO,
            "the control plane closed the stream",
        ),
        (NoWelcome("expected a welcome, got ack"), logging.WARNING, "expected a welcome, got ack"),
        (ConfigError("token_file: cannot read token: Permission denied"), logging.ERROR, "token_file: "),
        (ConnectionResetError("reset"), logging.WARNING, "reset"),
    ],
)
def test_each_reason_has_its_level_and_sentence(error: Exception, level: int, reason: str) -> None:
    end = classify(error)
    assert (end.level, end.bug) == (level, False)
    assert end.reason.startswith(reason)


def test_anything_else_is_a_bug_logged_with_its_traceback() -> None:
    end = classify(KeyError("command_id"))
    assert (end.level, end.bug, end.reason) == (logging.ERROR, True, "KeyError: 'command_id'")


def test_the_real_reason_is_found_in_a_nested_group() -> None:
    unavailable = _status(grpc.StatusCode.UNAVAILABLE, "shutting down")
    closed = StreamEnded("the control plane closed the stream")
    bug = ValueError("a bug in on_message")
    assert real_reason(ExceptionGroup("", [closed, ExceptionGroup("", [unavailable])])) is unavailable
    assert real_reason(ExceptionGroup("", [unavailable, ExceptionGroup("", [bug])])) is bug
    assert real_reason(ExceptionGroup("", [ExceptionGroup("", [closed])])) is closed


class _Connected(logging.Handler):
    """Lets a test await the agent's next "connected to" line."""

    def __init__(self) -> None:
        super().__init__()
        self._event = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("connected to"):
            self._event.set()

    async def next(self) -> None:
        async with asyncio.timeout(10):
            await self._event.wait()
        self._event.clear()


@pytest.fixture
def connected() -> Iterator[_Connected]:
    handler = _Connected()
    logger = logging.getLogger("agent.daemon")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


@pytest.fixture
async def running() -> AsyncIterator[Any]:
    """Run in-process agents (their log goes to caplog); stopped at the end."""
    agents: list[tuple[Agent, asyncio.Task[None]]] = []

    def start(config: AgentConfig) -> Agent:
        agent = Agent(config)
        agents.append((agent, asyncio.create_task(agent.run(), name="agent")))
        return agent

    yield start
    for agent, task in agents:
        agent.stop()
        async with asyncio.timeout(10):
            await task


def _endings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "agent.daemon" and " ended: " in r.getMessage()]


def _tracebacks_and_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("agent.") and (r.levelno >= logging.ERROR or r.exc_info)
    ]


RESTARTS = 10


async def test_a_control_plane_stopped_again_and_again_is_info_never_an_error(
    world: World, caplog: pytest.LogCaptureFixture, connected: _Connected, running: Any
) -> None:
    host = await world.host("gpc0")
    config = load_config(host.config_path)
    running(dataclasses.replace(config, backoff_initial_seconds=0.01, backoff_max_seconds=0.05))
    port = world.cp.grpc_port
    for _ in range(RESTARTS):
        await connected.next()
        # Stopped right after the welcome, while the agent writes its first heartbeat: the race that
        # ended in an ERROR traceback (a write on the finished call failing beside the status).
        await world.cp.stop()
        world.cp = ControlPlane(control_plane_config(world.tmp_path, port))
        await world.cp.start()
    await connected.next()

    assert _tracebacks_and_errors(caplog) == []
    endings = _endings(caplog)
    # Each stop ends a welcomed stream: with the control plane's UNAVAILABLE, or, when the agent's
    # write raced it, with what grpc leaves of it.
    shut_down = [
        r
        for r in endings
        if "UNAVAILABLE: the control plane is shutting down" in r.getMessage()
        or "while a message was being sent" in r.getMessage()
    ]
    assert len(shut_down) == RESTARTS
    # While it was down, the agent's attempts to reconnect are no more than INFO either.
    assert {r.levelno for r in endings} == {logging.INFO}


class _EndsEveryStream(agent_service_pb2_grpc.AgentServiceServicer):
    """Welcomes the agent, takes its first heartbeat, then ends the stream with the next status."""

    def __init__(self, codes: Iterator[grpc.StatusCode]) -> None:
        self.codes = codes
        self.ended: asyncio.Queue[grpc.StatusCode] = asyncio.Queue()

    async def Connect(
        self,
        request_iterator: AsyncIterator[agent_service_pb2.ConnectRequest],
        context: grpc.aio.ServicerContext[
            agent_service_pb2.ConnectRequest, agent_service_pb2.ConnectResponse
        ],
    ) -> AsyncIterator[agent_service_pb2.ConnectResponse]:
        hello = (await anext(request_iterator)).hello
        settings = agent_service_pb2.AgentSettings()
        settings.heartbeat_interval.FromMilliseconds(1)  # the agent keeps writing while the stream ends
        yield agent_service_pb2.ConnectResponse(
            welcome=agent_service_pb2.Welcome(host=hello.host, settings=settings)
        )
        await anext(request_iterator)
        code = next(self.codes)
        self.ended.put_nowait(code)
        if code != grpc.StatusCode.OK:
            # As the control plane ends a stream: abort with the status while the agent still sends.
            await context.abort(code, f"ended with {code.name} by the test")


LEVELS = {
    grpc.StatusCode.UNAVAILABLE: logging.INFO,
    grpc.StatusCode.OK: logging.INFO,
    grpc.StatusCode.ABORTED: logging.WARNING,
    grpc.StatusCode.UNAUTHENTICATED: logging.ERROR,
    grpc.StatusCode.PERMISSION_DENIED: logging.ERROR,
}
STREAMS = 60


async def test_streams_ended_while_the_agent_writes_are_logged_by_their_status(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, running: Any
) -> None:
    servicer = _EndsEveryStream(itertools.cycle(LEVELS))
    server = grpc.aio.server()
    agent_service_pb2_grpc.add_AgentServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        (tmp_path / "token").write_text("fdat_test\n")
        config = parse_config(
            {
                "controlplane": f"127.0.0.1:{port}",
                "host": "gpc0",
                "token_file": "token",
                "repo_dir": "repo",
                "state_dir": "state",
                "generation_path": "generation",
                "backoff_initial_seconds": 0.01,
                "backoff_max_seconds": 0.01,
                "operations": {"switch": ["true"], "rollback": ["true"]},
            },
            tmp_path,
            os_name="nixos",
        )
        running(config)
        async with asyncio.timeout(30):
            # One more than checked: the agent logs an end before it opens the next stream.
            ended = [await servicer.ended.get() for _ in range(STREAMS + 1)][:STREAMS]
    finally:
        await server.stop(None)

    logged = _endings(caplog)[:STREAMS]
    assert len(logged) == STREAMS
    for code, record in zip(ended, logged, strict=True):
        message = record.getMessage()
        assert record.exc_info is None, message
        if "while a message was being sent" in message:
            # The agent's write raced the end: grpc replaced the status with its own; INFO, no traceback.
            assert record.levelno == logging.INFO, message
            continue
        assert record.levelno == LEVELS[code], message
        assert code == grpc.StatusCode.OK or code.name in message, message
    aborted = [r.getMessage() for r in logged if r.levelno == logging.WARNING]
    assert aborted and all("(a newer connection of this host replaced this one)" in m for m in aborted)
    assert [
        m for m in _tracebacks_and_errors(caplog) if "UNAUTHENTICATED" not in m and "PERMISSION" not in m
    ] == []
