"""Bytes that are not a message: INVALID_ARGUMENT, one log line, no traceback, nothing changed."""

from __future__ import annotations

import logging

import grpc
import pytest

from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb

GARBAGE = b"\xff\xff\xff\xff\x0f\x08"  # a field with tag 0 / a truncated varint: never a valid message


def _raw(channel: grpc.aio.Channel, method: str, kind: str):  # type: ignore[no-untyped-def]
    factory = getattr(channel, kind)
    return factory(method, request_serializer=None, response_deserializer=None)


@pytest.mark.parametrize(
    ("method", "kind"),
    [
        ("/fleetdeck.v1.FleetService/ListHosts", "unary_unary"),
        ("/fleetdeck.v1.FleetService/RunOperation", "unary_unary"),
        ("/fleetdeck.v1.FleetService/WatchFleet", "unary_stream"),
    ],
)
async def test_garbage_to_fleet_service_is_invalid_argument_without_traceback(
    cp, method, kind, caplog
) -> None:
    caplog.set_level(logging.INFO)
    async with grpc.aio.insecure_channel(cp.grpc_target) as channel:
        call = _raw(channel, method, kind)(GARBAGE, timeout=5)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            if kind == "unary_stream":
                async for _ in call:
                    pass
            else:
                await call
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "not a valid" in (caught.value.details() or "")
        hosts = await channel.unary_unary(
            "/fleetdeck.v1.FleetService/ListHosts",
            request_serializer=fleet_pb.ListHostsRequest.SerializeToString,
            response_deserializer=fleet_pb.ListHostsResponse.FromString,
        )(fleet_pb.ListHostsRequest(), timeout=5)
        assert not hosts.hosts
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert len([r for r in caplog.records if "not a valid" in r.getMessage()]) <= 1  # floods: summed up


async def test_garbage_on_the_agent_stream_is_invalid_argument_without_traceback(cp, caplog) -> None:
    caplog.set_level(logging.INFO)
    async with grpc.aio.insecure_channel(cp.grpc_target) as channel:
        call = _raw(channel, "/fleetdeck.v1.AgentService/Connect", "stream_stream")(
            iter([GARBAGE]), metadata=(("authorization", "Bearer junk"),), timeout=5
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in call:
                pass
        assert caught.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNAUTHENTICATED)
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def test_a_flood_of_garbage_is_summed_up_not_logged_line_by_line(cp, caplog) -> None:
    caplog.set_level(logging.INFO)
    async with grpc.aio.insecure_channel(cp.grpc_target) as channel:
        call = _raw(channel, "/fleetdeck.v1.FleetService/GetHost", "unary_unary")
        for _ in range(20):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call(GARBAGE, timeout=5)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert len([r for r in caplog.records if "malformed" in r.getMessage()]) <= 1
    assert not [r for r in caplog.records if r.exc_info]


async def test_garbage_after_the_hello_closes_the_agent_stream_invalid_argument(cp, fleet, caplog) -> None:
    caplog.set_level(logging.INFO)
    token = (await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0"))).token
    hello = agent_pb.ConnectRequest(hello=agent_pb.Hello(host="gpc0")).SerializeToString()
    async with grpc.aio.insecure_channel(cp.grpc_target) as channel:
        call = _raw(channel, "/fleetdeck.v1.AgentService/Connect", "stream_stream")(
            metadata=(("authorization", f"Bearer {token}"),), timeout=5
        )
        await call.write(hello)
        welcome = agent_pb.ConnectResponse.FromString(await call.read())
        assert welcome.WhichOneof("message") == "welcome"
        await call.write(GARBAGE)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            while await call.read() is not grpc.aio.EOF:
                pass
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "not a valid ConnectRequest" in (caught.value.details() or "")
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
