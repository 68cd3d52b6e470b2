"""bench/rawagent.py: a simulated agent that speaks gRPC's HTTP/2 framing itself, from its own loopback
address, is welcomed by the real control plane; a refusal is read from the trailers."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import rawagent
from welcome import source_address

from controlplane.app import ControlPlane, ControlPlaneConfig
from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import types_pb2 as pb


@pytest.fixture
async def cp(tmp_path: Path) -> AsyncIterator[ControlPlane]:
    config = ControlPlaneConfig(
        require_api_tokens=False, database=tmp_path / "cp.db", grpc_address="127.0.0.1:0"
    )
    async with ControlPlane(config) as plane:
        yield plane


async def _connect(cp: ControlPlane, host: str, token: str, address: str) -> rawagent.Connection:
    hello = agent_pb.ConnectRequest(hello=agent_pb.Hello(host=host, facts=pb.HostFacts(os="nixos")))
    connection = rawagent.Connection(rawagent.opening(cp.grpc_target, token, hello))
    name, port = cp.grpc_target.rsplit(":", 1)
    loop = asyncio.get_running_loop()
    await loop.create_connection(lambda: connection, name, int(port), local_addr=(address, 0))
    return connection


async def test_raw_agents_from_their_own_addresses_are_welcomed_and_heartbeat(cp: ControlPlane) -> None:
    assert cp.fleet is not None
    connections = []
    for i in range(3):
        token, _, _ = await cp.tokens.create(f"raw-{i}")
        connections.append(await _connect(cp, f"raw-{i}", token, source_address(i)))
    async with asyncio.timeout(10):
        replies = await asyncio.gather(*(c.welcome for c in connections))
    assert [r.welcome.host for r in replies] == ["raw-0", "raw-1", "raw-2"]
    assert source_address(0) == "127.1.0.1" and source_address(254) == "127.1.1.1"
    beat = agent_pb.ConnectRequest(
        heartbeat=agent_pb.Heartbeat(metrics=pb.Metrics(memory_used_bytes=42), facts=pb.HostFacts(os="nixos"))
    )
    connections[1].write(rawagent.data_frame(rawagent.grpc_message(beat)))
    connections[1].write(rawagent.frame(rawagent.DATA, rawagent.END_STREAM, 1))  # the agent is done
    async with asyncio.timeout(10):
        await connections[1].ended  # the server read the heartbeat, then the end, then ended the stream
    assert cp.fleet.hosts["raw-1"].host.metrics.memory_used_bytes == 42
    for c in connections:
        c.close()
        await c.ended


async def test_a_refused_token_is_read_from_the_trailers(cp: ControlPlane) -> None:
    connection = await _connect(cp, "raw-0", "fdat_" + "x" * 43, source_address(0))
    with pytest.raises(rawagent.StreamEnded, match="grpc-status 16"):
        async with asyncio.timeout(10):
            await connection.welcome
    async with asyncio.timeout(10):
        await connection.ended
