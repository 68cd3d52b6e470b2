"""Limits: oversized messages are refused and the server stays healthy; bad input is never stored."""

from __future__ import annotations

import logging

import grpc
import pytest

from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc


async def test_five_mib_message_is_resource_exhausted_and_next_call_works(cp) -> None:
    options = [("grpc.max_send_message_length", 16 * 1024 * 1024)]
    async with grpc.aio.insecure_channel(cp.grpc_target, options=options) as channel:
        fleet = fleet_grpc.FleetServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await fleet.CreateAgentToken(
                fleet_pb.CreateAgentTokenRequest(host="x" * (5 * 1024 * 1024)), timeout=10
            )
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert (await fleet.ListHosts(fleet_pb.ListHostsRequest(), timeout=5)).version >= 0


@pytest.mark.parametrize(
    "host", ["", "UPPER", "-lead", "trail-", "a" * 64, "dots.not.allowed", "../etc", "a b"]
)
async def test_invalid_host_names_are_refused(fleet, host) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host=host))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert not (await fleet.ListAgentTokens(fleet_pb.ListAgentTokensRequest())).tokens


@pytest.mark.parametrize(
    ("commit", "lock"),
    [("abc", "0" * 64), ("g" * 40, "0" * 64), ("a" * 40, "short"), ("A" * 40, "0" * 64)],
)
async def test_bad_desired_state_is_refused_and_old_one_kept(fleet, commit, lock) -> None:
    good = fleet_pb.SetDesiredStateRequest(commit="a" * 40, lock_hash="b" * 64)
    await fleet.SetDesiredState(good)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await fleet.SetDesiredState(fleet_pb.SetDesiredStateRequest(commit=commit, lock_hash=lock))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    desired = (await fleet.GetDesiredState(fleet_pb.GetDesiredStateRequest())).desired_state
    assert (desired.commit, desired.lock_hash) == (good.commit, good.lock_hash)


async def test_no_token_appears_in_logs_at_debug(cp, connect, fleet, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    created = await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0"))
    agent = await connect("gpc0", token=created.token)
    await agent.hello()
    agent.heartbeat()
    await fleet.RevokeAgentToken(fleet_pb.RevokeAgentTokenRequest(token_id=created.token_id))
    with pytest.raises(grpc.aio.AioRpcError):
        await agent.recv()
    assert created.token not in caplog.text
    assert created.token_id in caplog.text  # the public id is what logs name
