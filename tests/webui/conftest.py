"""Fixtures for the web UI's tests: a real control plane and scripted agents over real gRPC."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from browser import Chromium
from pki import make_self_signed
from playwright.async_api import Page, async_playwright
from scripted_agent import ScriptedAgent, create_token
from webui_support import Connect, User, put_user

from controlplane.app import ControlPlane, ControlPlaneConfig
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc


@pytest.fixture
async def cp(tmp_path: Path) -> AsyncIterator[ControlPlane]:
    """A control plane serving gRPC and the web UI on port 0, with its database in tmp_path."""
    config = ControlPlaneConfig(
        require_api_tokens=False,
        database=tmp_path / "fleet.db",
        grpc_address="127.0.0.1:0",
        http_address="127.0.0.1:0",
        shutdown_grace_seconds=2.0,
    )
    async with ControlPlane(config) as plane:
        yield plane


@pytest.fixture
def self_signed(tmp_path: Path) -> Path:
    """A directory with cert.pem and key.pem for 127.0.0.1."""
    return make_self_signed(tmp_path)


@pytest.fixture
async def user(cp: ControlPlane) -> User:
    """A web user with the admin role, created with the control plane's first admin API token."""
    return await put_user(cp.grpc_target, cp.bootstrap_admin_token, User("alice", "alice-password-123"))


@pytest.fixture
async def fleet(cp: ControlPlane) -> AsyncIterator[fleet_grpc.FleetServiceAsyncStub]:
    """A FleetService client of the control plane."""
    async with grpc.aio.insecure_channel(cp.grpc_target) as channel:
        yield fleet_grpc.FleetServiceStub(channel)  # type: ignore[misc]


@pytest.fixture
async def connect(cp: ControlPlane) -> AsyncIterator[Connect]:
    """Connects scripted agents (hello + one heartbeat); closes them at the end."""
    agents: list[ScriptedAgent] = []

    async def _connect(host: str) -> ScriptedAgent:
        agent = ScriptedAgent(cp.grpc_target, host, await create_token(cp.grpc_target, host))
        agents.append(agent)
        await agent.connect()
        agent.heartbeat()
        return agent

    yield _connect
    for agent in agents:
        await agent.close()


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    """One headless Chromium for the whole session (started by the first test that needs it)."""
    browser = Chromium(tmp_path_factory.mktemp("chromium-profile"))
    yield browser
    browser.stop()


@pytest.fixture
async def page(chromium: Chromium) -> AsyncIterator[Page]:
    """A fresh page in a browser context of its own; fails the test on any page error or CSP violation."""
    problems: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.connect_over_cdp(chromium.endpoint)
        context = await browser.new_context(viewport={"width": 1400, "height": 900})
        tab = await context.new_page()
        tab.on("pageerror", lambda error: problems.append(str(error)))
        tab.on(
            "console",
            lambda message: (
                problems.append(message.text)
                if message.type == "error" and "Content Security Policy" in message.text
                else None
            ),
        )
        yield tab
        await context.close()
    assert problems == []
