"""A real control plane on port 0 with a temp SQLite file, and a scripted agent over real gRPC."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from controlplane.app import ControlPlane, ControlPlaneConfig
from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import agent_service_pb2_grpc as agent_grpc
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc
from fleetdeck.v1 import types_pb2 as pb

COMMIT = "a" * 40
LOCK = hashlib.sha256(b"lock").hexdigest()
TIMEOUT = 5.0


class ScriptedAgent:
    """Speaks AgentService.Connect like an agent would, one message at a time, under test control."""

    def __init__(self, target: str, host: str, token: str) -> None:
        self.host = host
        self.channel = grpc.aio.insecure_channel(target)
        self.stub = agent_grpc.AgentServiceStub(self.channel)
        self._outgoing: asyncio.Queue[agent_pb.ConnectRequest | None] = asyncio.Queue()
        self.call = self.stub.Connect(self._requests(), metadata=(("authorization", f"Bearer {token}"),))
        self.seq: dict[str, int] = {}
        self.lines: dict[str, int] = {}
        self.skipped: list[agent_pb.ConnectResponse] = []

    async def _requests(self) -> AsyncIterator[agent_pb.ConnectRequest]:
        while (message := await self._outgoing.get()) is not None:
            yield message

    def send(self, **kwargs: object) -> None:
        self._outgoing.put_nowait(agent_pb.ConnectRequest(**kwargs))  # type: ignore[arg-type]

    async def recv(self, kind: str | None = None) -> agent_pb.ConnectResponse:
        """The next message (of `kind`; others are kept for later calls) under a timeout."""
        for i, message in enumerate(self.skipped):
            if kind is None or message.WhichOneof("message") == kind:
                return self.skipped.pop(i)
        async with asyncio.timeout(TIMEOUT):
            while True:
                message = await self.call.read()
                assert message is not grpc.aio.EOF, "stream ended"
                if kind is None or message.WhichOneof("message") == kind:
                    return message
                self.skipped.append(message)

    async def ack(self, command_id: str, seq: int) -> None:
        """Wait until the control plane acknowledged `seq` of `command_id`."""
        while True:
            ack = (await self.recv("ack")).ack
            if ack.command_id == command_id and ack.seq >= seq:
                return

    async def hello(self, **facts: str) -> agent_pb.Welcome:
        self.send(hello=agent_pb.Hello(host=self.host, facts=self.facts(**facts)))
        return (await self.recv("welcome")).welcome

    def facts(self, **overrides: str) -> pb.HostFacts:
        values = {
            "agent_version": "0.1.0",
            "os": "nixos",
            "commit": COMMIT,
            "lock_hash": LOCK,
            "generation": "system-1-link",
        }
        values.update(overrides)
        return pb.HostFacts(**values)

    def heartbeat(self, **facts: str) -> None:
        self.send(
            heartbeat=agent_pb.Heartbeat(
                facts=self.facts(**facts),
                test_status=pb.TestStatus(state=pb.TEST_STATE_NOT_RUN, defined_cases=2),
            )
        )

    def next_seq(self, command_id: str) -> int:
        self.seq[command_id] = self.seq.get(command_id, 0) + 1
        return self.seq[command_id]

    def output(self, command_id: str, *texts: str, stream: int = pb.OUTPUT_STREAM_STDOUT) -> int:
        first = self.lines.get(command_id, 0)
        lines = [pb.OutputLine(number=first + i, stream=stream, text=t) for i, t in enumerate(texts)]
        self.lines[command_id] = first + len(texts)
        seq = self.next_seq(command_id)
        self.send(output=agent_pb.OutputChunk(command_id=command_id, seq=seq, lines=lines))
        return seq

    def finish(self, command_id: str, exit_code: int = 0, **facts: str) -> int:
        seq = self.next_seq(command_id)
        state = pb.COMMAND_STATE_SUCCEEDED if exit_code == 0 else pb.COMMAND_STATE_FAILED
        self.send(
            command_finished=agent_pb.CommandFinished(
                command_id=command_id, seq=seq, state=state, exit_code=exit_code, facts=self.facts(**facts)
            )
        )
        return seq

    async def close(self) -> None:
        self._outgoing.put_nowait(None)
        self.call.cancel()
        await self.channel.close()


@pytest.fixture
async def cp(tmp_path: Path) -> AsyncIterator[ControlPlane]:
    async with ControlPlane(
        ControlPlaneConfig(
            require_api_tokens=False, database=tmp_path / "fleet.db", grpc_address="127.0.0.1:0"
        )
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
        agent = ScriptedAgent(cp.grpc_target, host, token)
        agents.append(agent)
        return agent

    yield _connect
    for agent in agents:
        await agent.close()
