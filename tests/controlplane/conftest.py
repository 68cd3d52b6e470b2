"""A real control plane on port 0 on a fresh database (SQLite, or both engines for a test marked
`both_engines`), and scripted agents over real gRPC."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from scripted_agent import COMMIT, LOCK, TIMEOUT, ScriptedAgent

from controlplane.app import ControlPlane, ControlPlaneConfig
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc
from fleetdeck.v1 import types_pb2 as pb

__all__ = ["COMMIT", "LOCK", "TIMEOUT", "ScriptedAgent"]  # test files import these from here too

# What these agents' heartbeats report; their hello reports no test status, so the first heartbeat
# is a visible change.
HEARTBEAT_STATUS = pb.TestStatus(state=pb.TEST_STATE_NOT_RUN, defined_cases=2)


@pytest.fixture
async def cp(plane_database: Path | str) -> AsyncIterator[ControlPlane]:
    async with ControlPlane(
        ControlPlaneConfig(require_api_tokens=False, database=plane_database, grpc_address="127.0.0.1:0")
    ) as plane:
        yield plane


@pytest.fixture
async def fleet(cp: ControlPlane) -> AsyncIterator[fleet_grpc.FleetServiceStub]:
    async with grpc.aio.insecure_channel(cp.grpc_target) as channel:
        yield fleet_grpc.FleetServiceStub(channel)


@pytest.fixture
async def connect(cp: ControlPlane, fleet: fleet_grpc.FleetServiceStub) -> AsyncIterator[object]:
    agents: list[ScriptedAgent] = []

    async def _connect(host: str, token: str | None = None) -> ScriptedAgent:
        if token is None:
            token = (await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host=host))).token
        agent = ScriptedAgent(cp.grpc_target, host, token, test_status=HEARTBEAT_STATUS)
        agents.append(agent)
        return agent

    yield _connect
    for agent in agents:
        await agent.close()
