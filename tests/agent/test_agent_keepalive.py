"""A half-open link (the far end gone without a FIN or RST) is noticed within keepalive time + timeout."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator

import pytest
from agent_world import World
from tcp_proxy import TcpProxy

from agent.config import load_config
from agent.daemon import Agent
from agent.stream import channel_options
from fleetdeck.v1 import types_pb2

KEEPALIVE = 6.0  # the least the agent accepts: the control plane refuses pings more often than every 5 s
TIMEOUT = 1.0
SLACK = 3.0  # the reconnect's backoff (at most 0.2 s here), a loaded machine


def test_the_ping_ack_wait_is_the_keepalive_timeout() -> None:
    options = dict(channel_options(30, 10))
    assert options["grpc.keepalive_time_ms"] == 30_000
    # grpc waits for a keepalive ping's ack under its ping timeout (default 60 s), not the keepalive one.
    assert options["grpc.keepalive_timeout_ms"] == options["grpc.http2.ping_timeout_ms"] == 10_000


class _Connected(logging.Handler):
    """Lets a test await the in-process agent's next "connected to" line (logged after the welcome)."""

    def __init__(self) -> None:
        super().__init__()
        self.times: asyncio.Queue[float] = asyncio.Queue()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("connected to"):
            self.times.put_nowait(asyncio.get_running_loop().time())


@pytest.fixture
async def proxy(world: World) -> AsyncIterator[TcpProxy]:
    host, port = world.cp.grpc_target.rsplit(":", 1)
    async with TcpProxy(host, int(port)) as running:
        yield running


@pytest.fixture
def connected() -> Iterator[_Connected]:
    handler = _Connected()
    logger = logging.getLogger("agent.daemon")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


async def test_a_half_open_link_is_noticed_within_keepalive_time_and_timeout(
    world: World, proxy: TcpProxy, connected: _Connected, caplog: pytest.LogCaptureFixture
) -> None:
    host = await world.host(
        "gpc0",
        target=proxy.target,
        config_extra=f"keepalive_seconds = {KEEPALIVE}\nkeepalive_timeout_seconds = {TIMEOUT}",
    )
    agent = Agent(load_config(host.config_path))  # in this process, so its log lines are events
    running = asyncio.create_task(agent.run(), name="agent")
    try:
        async with asyncio.timeout(10):
            await connected.times.get()

        loop = asyncio.get_running_loop()
        proxy.blackhole()  # the agent's writes still succeed; nothing reaches either side any more
        cut = loop.time()
        async with asyncio.timeout(KEEPALIVE + TIMEOUT + SLACK):
            welcomed_again = await connected.times.get()
        assert welcomed_again - cut <= KEEPALIVE + TIMEOUT + SLACK

        # The new stream works: the control plane's commands reach the agent through it.
        command_id = await world.fleet.run("gpc0", types_pb2.OPERATION_SWITCH)
        command = await world.fleet.finished(command_id)
        assert command.state == types_pb2.COMMAND_STATE_SUCCEEDED, command.message
    finally:
        agent.stop()
        async with asyncio.timeout(10):
            await running
    endings = [
        r.getMessage() for r in caplog.records if r.name == "agent.daemon" and " ended: " in r.getMessage()
    ]
    # One end only, the half-open link's (never the control plane refusing the agent's pings).
    assert len(endings) == 1, endings
    assert "UNAVAILABLE" in endings[0]
