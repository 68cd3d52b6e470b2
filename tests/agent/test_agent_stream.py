"""The agent's stream against a real control plane: credentials, replacement, settings pushed live."""

from __future__ import annotations

import asyncio
import logging

import grpc
import pytest
from agent_world import World

from agent.config import load_config
from agent.daemon import Agent
from agent.stream import run_stream
from agent.stream_end import classify
from fleetdeck.tasks import cancel_and_wait
from fleetdeck.v1 import fleet_service_pb2, types_pb2


async def _agent(world: World, name: str) -> Agent:
    host = await world.host(name)
    return Agent(load_config(host.config_path))


async def _connect(agent: Agent, target: str, token: str, welcomed: asyncio.Event | None = None) -> None:
    await run_stream(target, token, agent, lambda _: None, welcomed.set if welcomed else lambda: None)


async def test_a_bad_token_is_unauthenticated_and_never_logged(world: World) -> None:
    agent = await _agent(world, "gpc0")
    with pytest.raises(grpc.aio.AioRpcError) as error:
        async with asyncio.timeout(10):
            await _connect(agent, world.cp.grpc_target, "fd_agent_not-a-real-token")
    assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED
    end = classify(error.value)
    assert "not-a-real-token" not in end.reason
    assert "check token_file" in end.reason
    assert end.level == logging.ERROR and not end.bug


async def test_a_bad_token_is_told_as_such_even_when_the_refusal_meets_the_hello_on_the_wire(
    world: World,
) -> None:
    # The control plane refuses before it reads the hello; without a moment's grace for the hello
    # already written, the agent's call ended as grpc's "Internal error from Core" now and then
    # (1 in 4 runs under CPU load) and a bad token looked like a passing fault.
    agent = await _agent(world, "gpc0")
    codes = set()
    for _ in range(40):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            async with asyncio.timeout(10):
                await _connect(agent, world.cp.grpc_target, "fd_agent_not-a-real-token")
        codes.add(error.value.code())
    assert codes == {grpc.StatusCode.UNAUTHENTICATED}


async def test_another_hosts_token_is_permission_denied(world: World) -> None:
    agent = await _agent(world, "gpc0")
    other = await world.fleet.token("web1")
    with pytest.raises(grpc.aio.AioRpcError) as error:
        async with asyncio.timeout(10):
            await _connect(agent, world.cp.grpc_target, other)
    assert error.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_a_newer_connection_of_the_same_host_aborts_the_older(world: World) -> None:
    first, second = await _agent(world, "gpc0"), Agent(load_config(world.tmp_path / "gpc0" / "agent.toml"))
    token = first.config.read_token()
    welcomed = asyncio.Event()
    older = asyncio.create_task(_connect(first, world.cp.grpc_target, token, welcomed))
    async with asyncio.timeout(10):
        await welcomed.wait()
        newer = asyncio.create_task(_connect(second, world.cp.grpc_target, token))
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await older
    assert error.value.code() == grpc.StatusCode.ABORTED
    await cancel_and_wait(newer)


async def test_settings_pushed_by_the_control_plane_apply_at_once(world: World) -> None:
    host = await world.host("web1", tests={"10-ok.sh": "exit 0"})
    await world.agent(host)
    await world.fleet.wait_host("web1", lambda h: h.test_status.defined_cases == 1)

    override = types_pb2.TestSettingsOverride(enabled=False)
    await world.fleet.stub.UpdateHostSettings(
        fleet_service_pb2.UpdateHostSettingsRequest(host="web1", test_settings_override=override)
    )
    # The agent sends a heartbeat at once when settings change; it reports the tests as disabled.
    got = await world.fleet.wait_host("web1", lambda h: h.test_status.state == types_pb2.TEST_STATE_DISABLED)
    assert got.test_status.message == "Tests are disabled for host web1"
