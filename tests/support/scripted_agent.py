"""A scripted agent for the web UI's tests: speaks AgentService.Connect over real gRPC, step by step."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf import duration_pb2, timestamp_pb2

from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import agent_service_pb2_grpc as agent_grpc
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc
from fleetdeck.v1 import types_pb2 as pb

COMMIT = "a" * 40
LOCK = hashlib.sha256(b"lock").hexdigest()
TIMEOUT = 5.0


def now() -> timestamp_pb2.Timestamp:
    """The current time as a Timestamp."""
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(datetime.now(UTC))
    return stamp


def seconds(value: float) -> duration_pb2.Duration:
    """A Duration of `value` seconds."""
    duration = duration_pb2.Duration()
    duration.FromTimedelta(timedelta(seconds=value))
    return duration


async def create_token(target: str, host: str) -> str:
    """A fresh agent token for `host`, from FleetService.CreateAgentToken."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = fleet_grpc.FleetServiceStub(channel)
        response = await stub.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host=host), timeout=TIMEOUT)
        return str(response.token)


class ScriptedAgent:
    """One host's agent stream, driven by the test: hello, heartbeats, a command's lifecycle."""

    def __init__(self, target: str, host: str, token: str, *, generation: int = 1) -> None:
        self.host = host
        self.target = target
        self.token = token
        self.generation = generation
        self.test_status = pb.TestStatus(state=pb.TEST_STATE_NOT_RUN, defined_cases=3)
        self._channel: grpc.aio.Channel | None = None
        self._outgoing: asyncio.Queue[agent_pb.ConnectRequest | None] = asyncio.Queue()
        self._call: grpc.aio.StreamStreamCall | None = None
        self._seq: dict[str, int] = {}
        self._lines: dict[str, int] = {}
        self._pending: list[agent_pb.ConnectResponse] = []

    def facts(self, **overrides: str) -> pb.HostFacts:
        """The host facts this agent reports."""
        values = {
            "agent_version": "0.1.0",
            "os": "nixos",
            "commit": COMMIT,
            "lock_hash": LOCK,
            "generation": f"system-{self.generation}-link",
        }
        values.update(overrides)
        return pb.HostFacts(**values)

    async def connect(self) -> agent_pb.Welcome:
        """Open the stream and say hello; returns the welcome."""
        self._channel = grpc.aio.insecure_channel(self.target)
        self._outgoing = asyncio.Queue()
        self._pending = []
        stub = agent_grpc.AgentServiceStub(self._channel)
        self._call = stub.Connect(self._requests(), metadata=(("authorization", f"Bearer {self.token}"),))
        self.send(hello=agent_pb.Hello(host=self.host, facts=self.facts(), test_status=self.test_status))
        return (await self.recv("welcome")).welcome

    async def _requests(self) -> AsyncIterator[agent_pb.ConnectRequest]:
        while (message := await self._outgoing.get()) is not None:
            yield message

    def send(self, **kwargs: object) -> None:
        """Queue one ConnectRequest with the given oneof field."""
        self._outgoing.put_nowait(agent_pb.ConnectRequest(**kwargs))  # type: ignore[arg-type]

    async def recv(self, kind: str) -> agent_pb.ConnectResponse:
        """The next message of `kind` (others are kept), under a timeout."""
        for i, message in enumerate(self._pending):
            if message.WhichOneof("message") == kind:
                return self._pending.pop(i)
        assert self._call is not None
        async with asyncio.timeout(TIMEOUT):
            while True:
                read = await self._call.read()
                assert read is not grpc.aio.EOF, "the control plane ended the stream"
                response: agent_pb.ConnectResponse = read
                if response.WhichOneof("message") == kind:
                    return response
                self._pending.append(response)

    def heartbeat(self) -> None:
        """Send a heartbeat with the current facts and test status."""
        self.send(
            heartbeat=agent_pb.Heartbeat(facts=self.facts(), test_status=self.test_status, sent_at=now())
        )

    def _next_seq(self, command_id: str) -> int:
        self._seq[command_id] = self._seq.get(command_id, 0) + 1
        return self._seq[command_id]

    async def next_command(self) -> agent_pb.RunCommand:
        """Wait for the control plane to ask for a command, and report it started."""
        run = (await self.recv("run_command")).run_command
        self.send(
            command_started=agent_pb.CommandStarted(
                command_id=run.command_id, started_at=now(), generation=self.facts().generation
            )
        )
        return run

    def output(self, command_id: str, *texts: str, stream: int = pb.OUTPUT_STREAM_STDOUT) -> None:
        """Send lines of output."""
        first = self._lines.get(command_id, 0)
        lines = [pb.OutputLine(number=first + i, stream=stream, text=t) for i, t in enumerate(texts)]  # type: ignore[arg-type]
        self._lines[command_id] = first + len(texts)
        chunk = agent_pb.OutputChunk(command_id=command_id, seq=self._next_seq(command_id), lines=lines)
        self.send(output=chunk)

    def finish(self, command_id: str, exit_code: int = 0) -> None:
        """Report the command finished with `exit_code`."""
        state = pb.COMMAND_STATE_SUCCEEDED if exit_code == 0 else pb.COMMAND_STATE_FAILED
        finished = agent_pb.CommandFinished(
            command_id=command_id,
            seq=self._next_seq(command_id),
            state=state,
            exit_code=exit_code,
            finished_at=now(),
            facts=self.facts(),
        )
        self.send(command_finished=finished)

    def progress(self, command_id: str, completed: int, total: int, current: str) -> None:
        """Report test progress after a case."""
        self.test_status = pb.TestStatus(
            state=pb.TEST_STATE_RUNNING,
            completed=completed,
            total=total,
            current_case=current,
            last_run_id=command_id,
            defined_cases=total,
            generation=self.facts().generation,
        )
        self.send(test_progress=agent_pb.TestProgress(command_id=command_id, status=self.test_status))

    def report_tests(self, command_id: str, cases: list[tuple[str, bool, str]], trigger: int) -> None:
        """Send the final TestRun of `cases` (name, passed, output)."""
        results = [
            pb.TestCaseResult(
                name=name,
                outcome=pb.TEST_OUTCOME_PASSED if ok else pb.TEST_OUTCOME_FAILED,
                duration=seconds(0.2 + i / 10),
                output=output,
                exit_code=0 if ok else 1,
                file=f"{10 * (i + 1)}-{name}.sh",
            )
            for i, (name, ok, output) in enumerate(cases)
        ]
        passed = sum(1 for _, ok, _ in cases if ok)
        failed = len(cases) - passed
        run = pb.TestRun(
            id=command_id,
            host=self.host,
            trigger=trigger,  # type: ignore[arg-type]
            generation=self.facts().generation,
            state=pb.TEST_STATE_PASSED if failed == 0 else pb.TEST_STATE_FAILED,
            started_at=now(),
            finished_at=now(),
            exit_code=0 if failed == 0 else 1,
            passed=passed,
            failed=failed,
            total=len(cases),
            duration=seconds(1.5),
            cases=results,
            commit=COMMIT,
        )
        self.test_status = pb.TestStatus(
            state=pb.TEST_STATE_PASSED if failed == 0 else pb.TEST_STATE_FAILED,
            passed=passed,
            failed=failed,
            total=len(cases),
            completed=len(cases),
            last_run_id=command_id,
            last_run_at=now(),
            generation=self.facts().generation,
            defined_cases=len(cases),
        )
        self.send(
            test_run=agent_pb.TestRunReport(command_id=command_id, seq=self._next_seq(command_id), run=run)
        )

    async def close(self) -> None:
        """End the stream and close the channel; safe to call twice."""
        self._outgoing.put_nowait(None)
        if self._call is not None:
            self._call.cancel()
            self._call = None
        if self._channel is not None:
            await self._channel.close()
            self._channel = None
