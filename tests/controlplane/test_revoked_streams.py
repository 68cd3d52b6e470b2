"""Revoking an API token ends its open streams at once, as revoking an agent token does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from controlplane.app import ControlPlane, ControlPlaneConfig
from fleetdeck.client import aio_channel
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc
from fleetdeck.v1 import types_pb2 as pb

from .conftest import ScriptedAgent

ADMIN_TOKEN = "fdapi_" + "r" * 40


@pytest.fixture
async def secured(tmp_path: Path) -> AsyncIterator[ControlPlane]:
    config = ControlPlaneConfig(
        database=tmp_path / "fleet.db",
        grpc_address="127.0.0.1:0",
        admin_token=ADMIN_TOKEN,
        require_api_tokens=True,
    )
    async with ControlPlane(config) as plane:
        yield plane


async def _ends_unauthenticated(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async with asyncio.timeout(5):
            while True:
                assert await call.read() is not grpc.aio.EOF
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_revoking_an_api_token_ends_its_watch_and_output_streams(secured) -> None:
    async with aio_channel(secured.grpc_target, ADMIN_TOKEN) as admin_channel:
        admin = fleet_grpc.FleetServiceStub(admin_channel)
        created = await admin.CreateApiToken(fleet_pb.CreateApiTokenRequest(name="ci", role=pb.ROLE_OPERATOR))
        host_token = (await admin.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0"))).token
        agent = ScriptedAgent(secured.grpc_target, "gpc0", host_token)
        try:
            await agent.hello()
            async with aio_channel(secured.grpc_target, created.token) as channel:
                fleet = fleet_grpc.FleetServiceStub(channel)
                run = await fleet.RunOperation(
                    fleet_pb.RunOperationRequest(hosts=["gpc0"], operation=pb.OPERATION_PULL)
                )
                command_id = run.results[0].command_id
                watch = fleet.WatchFleet(fleet_pb.WatchFleetRequest())
                assert (await watch.read()).HasField("snapshot")
                output = fleet.StreamCommandOutput(fleet_pb.StreamCommandOutputRequest(command_id=command_id))
                await output.read()  # the replay (empty): now following
                # Another token's stream is not touched.
                others = admin.WatchFleet(fleet_pb.WatchFleetRequest())
                await others.read()
                await admin.RevokeApiToken(
                    fleet_pb.RevokeApiTokenRequest(token_id=created.api_token.token_id)
                )
                await _ends_unauthenticated(watch)
                await _ends_unauthenticated(output)
                agent.heartbeat(generation="system-2-link")
                async with asyncio.timeout(5):
                    assert (await others.read()).host.facts.generation == "system-2-link"
                others.cancel()
        finally:
            await agent.close()


async def test_one_api_token_holds_a_bounded_number_of_streams(secured, monkeypatch) -> None:
    monkeypatch.setattr("controlplane.access.STREAMS_PER_API_TOKEN", 2)
    async with aio_channel(secured.grpc_target, ADMIN_TOKEN) as admin_channel:
        admin = fleet_grpc.FleetServiceStub(admin_channel)
        created = await admin.CreateApiToken(fleet_pb.CreateApiTokenRequest(name="ci", role=pb.ROLE_VIEWER))
        async with aio_channel(secured.grpc_target, created.token) as channel:
            fleet = fleet_grpc.FleetServiceStub(channel)
            held = [fleet.WatchFleet(fleet_pb.WatchFleetRequest()) for _ in range(2)]
            for watch in held:
                await watch.read()
            extra = fleet.WatchFleet(fleet_pb.WatchFleetRequest())
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await extra.read()
            assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            others = admin.WatchFleet(fleet_pb.WatchFleetRequest())  # another token is not affected
            assert (await others.read()).HasField("snapshot")
            others.cancel()
            held[0].cancel()
            again = fleet.WatchFleet(fleet_pb.WatchFleetRequest())  # a slot was given back
            async with asyncio.timeout(5):
                while True:
                    try:
                        assert (await again.read()).HasField("snapshot")
                        break
                    except grpc.aio.AioRpcError as error:  # the cancel may not have landed yet
                        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                        again = fleet.WatchFleet(fleet_pb.WatchFleetRequest())
            again.cancel()
            held[1].cancel()
