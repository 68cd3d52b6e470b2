"""Enrollment tokens and mutual TLS, with real agent processes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from agent_world import Fleet, World
from pki import make_pki

from controlplane.app import ControlPlane, ControlPlaneConfig
from fleetdeck.v1 import types_pb2


async def test_an_enrollment_token_is_replaced_by_the_host_token(world: World) -> None:
    enrollment = await world.fleet.token("gpc0", enrollment=True)
    host = await world.host("gpc0", token=enrollment)
    agent = await world.agent(host)
    # A finished command proves the agent got past its welcome, where the token is exchanged.
    first = await world.fleet.finished(await world.fleet.run("gpc0", types_pb2.OPERATION_SWITCH))
    assert first.state == types_pb2.COMMAND_STATE_SUCCEEDED

    stored = (host.root / "token").read_text().strip()
    assert stored and stored != enrollment
    assert (host.root / "token").stat().st_mode & 0o077 == 0

    # A restarted agent connects with the stored host token (the enrollment token is used up).
    await agent.stop()
    await world.fleet.wait_host("gpc0", lambda h: not h.online)
    await world.agent(host)
    again = await world.fleet.finished(await world.fleet.run("gpc0", types_pb2.OPERATION_ROLLBACK))
    assert again.state == types_pb2.COMMAND_STATE_SUCCEEDED


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    hosts = {"controlplane": "DNS:localhost,IP:127.0.0.1", "gpc0": "DNS:gpc0"}
    return make_pki(tmp_path_factory.mktemp("pki"), hosts)


@pytest.fixture
async def tls_world(tmp_path: Path, pki: Path) -> AsyncIterator[World]:
    config = ControlPlaneConfig(
        require_api_tokens=False,
        database=tmp_path / "fleet.db",
        grpc_address="127.0.0.1:0",
        tls_cert=pki / "controlplane.crt",
        tls_key=pki / "controlplane.key",
        agent_ca=pki / "ca.crt",
        agent_grpc_address="127.0.0.1:0",
        shutdown_grace_seconds=0.2,
    )
    cp = ControlPlane(config)
    await cp.start()
    credentials = grpc.ssl_channel_credentials(root_certificates=(pki / "ca.crt").read_bytes())
    fleet = Fleet(f"localhost:{cp.grpc_port}", credentials)
    world = World(tmp_path, cp, fleet)
    try:
        yield world
    finally:
        for agent in world.agents:
            await agent.stop()
        await fleet.close()
        await cp.stop()


async def test_an_agent_connects_with_its_client_certificate(tls_world: World, pki: Path) -> None:
    host = await tls_world.host(
        "gpc0",
        target=f"localhost:{tls_world.cp.agent_grpc_port}",
        config_extra=(
            f'tls_ca = "{pki / "ca.crt"}"\ntls_cert = "{pki / "gpc0.crt"}"\ntls_key = "{pki / "gpc0.key"}"'
        ),
    )
    await tls_world.agent(host)
    command = await tls_world.fleet.finished(await tls_world.fleet.run("gpc0", types_pb2.OPERATION_SWITCH))
    assert command.state == types_pb2.COMMAND_STATE_SUCCEEDED
