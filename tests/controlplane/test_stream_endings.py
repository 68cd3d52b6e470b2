"""Every agent stream ends with its real reason, every time (in-process server, scripted agents)."""

from __future__ import annotations

import asyncio

import grpc

from fleetdeck.v1 import fleet_service_pb2 as fleet_pb

from .conftest import TIMEOUT, ScriptedAgent

ROUNDS = 200


OWN_WRITE_FAILED = "the agent's own write failed"


async def _ending(agent: ScriptedAgent) -> grpc.StatusCode | str:
    """How the agent's stream ended: the status after the last message.

    A client whose write is in flight when the server's status arrives gets INTERNAL "Internal
    error from Core" from its own grpc library instead of the server's status; that ending is told
    apart, because it is not a status the control plane sent.
    """
    async with asyncio.timeout(TIMEOUT):
        try:
            while await agent.call.read() is not grpc.aio.EOF:
                pass
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.INTERNAL and "SendMessageOperation" in (
                error.debug_error_string() or ""
            ):
                return OWN_WRITE_FAILED
            return error.code()
        return await agent.call.code()


async def _keep_sending(agent: ScriptedAgent) -> None:
    """Heartbeats back to back, a couple in flight at any time, until cancelled."""
    while True:
        if agent._outgoing.qsize() < 2:
            agent.heartbeat()
        await asyncio.sleep(0)  # a turn for everyone else; nothing is awaited here


async def test_a_replaced_stream_ends_aborted_even_while_its_agent_keeps_sending(cp, fleet) -> None:
    token = (await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0"))).token
    older = ScriptedAgent(cp.grpc_target, "gpc0", token)
    await older.hello()
    endings = []
    try:
        for _ in range(ROUNDS):
            sending = asyncio.create_task(_keep_sending(older))
            newer = ScriptedAgent(cp.grpc_target, "gpc0", token)
            await newer.hello()
            endings.append(await _ending(older))
            sending.cancel()
            await older.close()
            older = newer
    finally:
        await older.close()
    counts = {str(c): endings.count(c) for c in set(endings)}
    assert set(endings) <= {grpc.StatusCode.ABORTED, OWN_WRITE_FAILED}, counts
    assert endings.count(grpc.StatusCode.ABORTED) >= ROUNDS // 10, counts


async def test_an_agent_that_ends_its_side_ends_the_stream_ok(connect) -> None:
    agent = await connect("gpc0")
    await agent.hello()
    agent._outgoing.put_nowait(None)  # the agent is done sending
    assert await _ending(agent) == grpc.StatusCode.OK


async def test_a_stream_ends_unavailable_when_the_control_plane_stops(cp, connect) -> None:
    agent = await connect("gpc0")
    await agent.hello()
    stopping = asyncio.create_task(cp.stop())
    assert await _ending(agent) == grpc.StatusCode.UNAVAILABLE
    await stopping
