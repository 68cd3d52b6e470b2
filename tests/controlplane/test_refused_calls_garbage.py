"""A refused call leaves nothing for the garbage collector: a flood of refusals must not turn into
collector pauses of every stream (issue 15, bench/abuse.py).

Ending a call with `context.abort` made grpc keep an AbortError on the call whose traceback holds the
frames that hold the call: about fifty objects of cyclic garbage per refused call, collected in
20-250 ms pauses during a flood. The check: with the collector saving what it finds, no exception and
no frame of the control plane (or of grpc's server code) is among the garbage after refusals of both
kinds, an agent stream with a junk token and a FleetService call with one.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import FrameType

import grpc
import pytest

from controlplane.app import ControlPlane, ControlPlaneConfig
from controlplane.errors import FleetError
from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import agent_service_pb2_grpc as agent_grpc
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc

AGENT_JUNK = (("authorization", "Bearer fdat_" + "0" * 48),)
API_JUNK = (("authorization", "Bearer " + "0" * 48),)
REFUSALS = 20
SERVER_CODE = ("/controlplane/", "server.pyx.pxi")  # our modules, and grpc's asyncio server


@pytest.fixture
async def plane(tmp_path: Path) -> AsyncIterator[ControlPlane]:
    config = ControlPlaneConfig(database=tmp_path / "fleet.db", grpc_address="127.0.0.1:0")
    async with ControlPlane(config) as cp:
        yield cp


@pytest.fixture
def saved_garbage() -> Iterator[list[object]]:
    """What the collector finds from here on, kept in a list instead of freed."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield gc.garbage
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def _left_by_the_server(garbage: list[object]) -> list[str]:
    """The server-side exceptions and frames among `garbage` (the test's own client leaves some)."""
    found = []
    for thing in garbage:
        if isinstance(thing, FleetError | grpc.aio.AbortError):
            found.append(f"{type(thing).__name__}: {thing}")
        elif isinstance(thing, FrameType) and any(p in thing.f_code.co_filename for p in SERVER_CODE):
            found.append(f"frame of {thing.f_code.co_name} ({thing.f_code.co_filename})")
    return found


async def _refused(call: grpc.aio.Call) -> grpc.StatusCode:
    try:
        async with asyncio.timeout(5):
            await call
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


async def test_refused_agent_streams_and_api_calls_leave_no_cycles(
    plane: ControlPlane, saved_garbage: list[object]
) -> None:
    never = asyncio.Event()

    async def silent() -> AsyncIterator[agent_pb.ConnectRequest]:
        await never.wait()
        yield agent_pb.ConnectRequest()

    codes = set()
    async with grpc.aio.insecure_channel(plane.grpc_target) as channel:
        agents, fleet = agent_grpc.AgentServiceStub(channel), fleet_grpc.FleetServiceStub(channel)
        for _ in range(REFUSALS):
            stream = agents.Connect(silent(), metadata=AGENT_JUNK)
            try:
                async with asyncio.timeout(5):
                    await stream.read()
            except grpc.aio.AioRpcError as error:
                codes.add(error.code())
            finally:
                stream.cancel()
            codes.add(await _refused(fleet.ListHosts(fleet_pb.ListHostsRequest(), metadata=API_JUNK)))
    assert codes == {grpc.StatusCode.UNAUTHENTICATED}
    gc.collect()
    assert _left_by_the_server(saved_garbage) == []
