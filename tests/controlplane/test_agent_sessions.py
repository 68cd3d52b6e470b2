"""Agent sessions over real gRPC: hello first, tokens, replacement, liveness."""

from __future__ import annotations

import time

import grpc
import pytest

from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import types_pb2 as pb


async def test_hello_gets_welcome_and_host_appears(connect, fleet) -> None:
    agent = await connect("gpc0")
    welcome = await agent.hello()
    assert welcome.host == "gpc0"
    assert welcome.settings.heartbeat_interval.seconds == 5
    assert welcome.settings.tests.enabled and welcome.settings.tests.auto_run_after_switch
    host = (await fleet.GetHost(fleet_pb.GetHostRequest(name="gpc0"))).host
    assert host.online
    assert [c.kind for c in host.compartments] == [1, 2, 3, 4, 5]


async def test_first_message_must_be_hello(connect) -> None:
    agent = await connect("gpc0")
    agent.heartbeat()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await agent.recv()
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "hello" in caught.value.details()


async def test_bad_token_is_unauthenticated(connect) -> None:
    agent = await connect("gpc0", token="fdat_not-a-real-token")
    agent.send(hello=agent_pb.Hello(host="gpc0"))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await agent.recv()
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_foreign_token_is_permission_denied(connect, fleet) -> None:
    token_a = (await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="host-a"))).token
    agent = await connect("host-b", token=token_a)
    agent.send(hello=agent_pb.Hello(host="host-b"))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await agent.recv()
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "host-a" in caught.value.details()


async def test_second_connection_wins_and_old_stream_is_aborted(connect, fleet) -> None:
    token = (await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0"))).token
    first = await connect("gpc0", token=token)
    await first.hello()
    second = await connect("gpc0", token=token)
    await second.hello()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await first.recv()
    assert caught.value.code() == grpc.StatusCode.ABORTED
    host = (await fleet.GetHost(fleet_pb.GetHostRequest(name="gpc0"))).host
    assert host.online


async def test_missed_heartbeats_make_host_offline(cp, connect, fleet) -> None:
    agent = await connect("gpc0")
    await agent.hello()
    stream = fleet.WatchFleet(fleet_pb.WatchFleetRequest())
    snapshot = await stream.read()
    assert snapshot.snapshot.hosts[0].online
    # Three missed intervals on the server's monotonic clock: drive the check with a clock far ahead.
    cp.fleet.check_liveness(cp.fleet.hosts["gpc0"].last_heard + 16)
    event = await stream.read()
    assert event.host.name == "gpc0" and not event.host.online
    agent.heartbeat()
    event = await stream.read()
    assert event.host.online
    stream.cancel()


async def test_heartbeat_that_changes_nothing_emits_nothing(connect, fleet) -> None:
    agent = await connect("gpc0")
    await agent.hello()
    stream = fleet.WatchFleet(fleet_pb.WatchFleetRequest())
    await stream.read()  # snapshot
    agent.heartbeat()
    first = await stream.read()  # the first heartbeat reports how many tests the host has
    assert first.host.test_status.defined_cases == 2
    for _ in range(5):
        agent.heartbeat()
    agent.heartbeat(commit="b" * 40)
    event = await stream.read()
    assert event.host.facts.commit == "b" * 40  # nothing came out for the five identical heartbeats
    assert event.version == first.version + 1
    stream.cancel()


async def test_revoked_token_closes_stream(connect, fleet) -> None:
    created = await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0"))
    agent = await connect("gpc0", token=created.token)
    await agent.hello()
    await fleet.RevokeAgentToken(fleet_pb.RevokeAgentTokenRequest(token_id=created.token_id))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await agent.recv()
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_host_test_status_disabled_when_agent_has_no_tests(connect, fleet) -> None:
    agent = await connect("gpc0")
    await agent.hello()
    agent.send(
        heartbeat=agent_pb.Heartbeat(
            facts=agent.facts(),
            test_status=pb.TestStatus(state=pb.TEST_STATE_DISABLED, message="No tests defined in /x"),
        )
    )
    stream = fleet.WatchFleet(fleet_pb.WatchFleetRequest())
    async for event in stream:
        hosts = event.snapshot.hosts if event.HasField("snapshot") else [event.host]
        tests = [c for h in hosts for c in h.compartments if c.kind == pb.COMPARTMENT_KIND_TESTS]
        if tests and tests[0].status == pb.COMPARTMENT_STATUS_DISABLED:
            assert tests[0].message == "No tests defined in /x"
            break
    stream.cancel()


async def _status_of_hello(agent) -> grpc.StatusCode:
    agent.send(hello=agent_pb.Hello(host=agent.host, facts=agent.facts()))
    try:
        await agent.recv("welcome")
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


async def test_enrollment_token_is_exchanged_once_for_a_host_token(connect, fleet) -> None:
    created = await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0", enrollment=True))
    assert created.HasField("expires_at")
    first = await connect("gpc0", token=created.token)
    first.send(hello=agent_pb.Hello(host="gpc0", facts=first.facts()))
    welcome = (await first.recv("welcome")).welcome
    assert welcome.host_token.startswith("fdat_") and welcome.host_token != created.token
    assert (
        await _status_of_hello(await connect("gpc0", token=created.token)) == grpc.StatusCode.UNAUTHENTICATED
    )
    assert await _status_of_hello(await connect("gpc0", token=welcome.host_token)) == grpc.StatusCode.OK


async def test_expired_enrollment_token_is_refused(connect, fleet) -> None:
    from google.protobuf.duration_pb2 import Duration

    request = fleet_pb.CreateAgentTokenRequest(host="gpc0", enrollment=True, ttl=Duration(nanos=1))
    created = await fleet.CreateAgentToken(request)
    assert (
        await _status_of_hello(await connect("gpc0", token=created.token)) == grpc.StatusCode.UNAUTHENTICATED
    )


async def test_old_token_works_during_rotation_overlap_then_stops(cp, connect, fleet) -> None:
    old = (await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0"))).token
    assert await _status_of_hello(await connect("gpc0", token=old)) == grpc.StatusCode.OK
    new = (await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0"))).token
    assert (
        await _status_of_hello(await connect("gpc0", token=old)) == grpc.StatusCode.OK
    )  # new one not used yet
    assert await _status_of_hello(await connect("gpc0", token=new)) == grpc.StatusCode.OK  # overlap starts
    assert await _status_of_hello(await connect("gpc0", token=old)) == grpc.StatusCode.OK  # within 5 min
    tokens = (await fleet.ListAgentTokens(fleet_pb.ListAgentTokensRequest(host="gpc0"))).tokens
    assert sum(t.HasField("expires_at") for t in tokens) == 1
    # A third token with no overlap window shows the end of the overlap without waiting five minutes.
    cp.tokens.rotation_overlap_seconds = 0
    newest = (await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0"))).token
    assert await _status_of_hello(await connect("gpc0", token=newest)) == grpc.StatusCode.OK
    assert await _status_of_hello(await connect("gpc0", token=new)) == grpc.StatusCode.UNAUTHENTICATED
    assert await _status_of_hello(await connect("gpc0", token=old)) == grpc.StatusCode.UNAUTHENTICATED


async def test_last_seen_times_ride_along_with_host_events_and_cost_watchers_nothing(
    connect, cp, fleet
) -> None:
    agent = await connect("gpc0")
    await agent.hello()
    stream = fleet.WatchFleet(fleet_pb.WatchFleetRequest())
    await stream.read()  # snapshot
    version = cp.hub.version
    for _ in range(3):  # heartbeats that change nothing visible: no event, however many
        cp.fleet.heard_from(cp.fleet.hosts["gpc0"])
    cp.fleet.check_liveness(time.monotonic())
    assert cp.hub.version == version
    # The host goes quiet: the event that marks it offline carries the time it was last heard from.
    heard = cp.fleet.hosts["gpc0"].seen_at
    cp.fleet.check_liveness(time.monotonic() + 3600)
    event = await stream.read()
    assert event.WhichOneof("event") == "host" and not event.host.online
    assert abs(event.host.last_seen.ToNanoseconds() / 1e9 - heard) < 0.001
    stream.cancel()
