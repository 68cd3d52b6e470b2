"""A scripted agent: speaks AgentService.Connect over real gRPC, one message at a time, as a test says.

The control plane's and the web UI's tests both drive hosts with it: hello and heartbeats, a
command's start, output, progress, test run and end, and the acknowledgements that come back.
"""

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
    """A fresh agent token for `host`, from FleetService.CreateAgentToken (no API token needed)."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = fleet_grpc.FleetServiceStub(channel)
        response = await stub.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host=host), timeout=TIMEOUT)
        return str(response.token)


class ScriptedAgent:
    """One host's agent stream, driven by the test. The stream opens at once; nothing is sent until
    the test says so (`hello`, or `connect` for hello with the test status)."""

    def __init__(
        self,
        target: str,
        host: str,
        token: str,
        *,
        generation: int = 1,
        test_status: pb.TestStatus | None = None,
    ) -> None:
        self.host = host
        self.target = target
        self.token = token
        self.generation = generation
        # What heartbeats (and `connect`'s hello) report; progress and report_tests move it on.
        self.test_status = test_status or pb.TestStatus(state=pb.TEST_STATE_NOT_RUN, defined_cases=3)
        self.seq: dict[str, int] = {}
        self.lines: dict[str, int] = {}
        self.skipped: list[agent_pb.ConnectResponse] = []
        self.channel: grpc.aio.Channel | None = None
        self.call: grpc.aio.StreamStreamCall | None = None
        self._outgoing: asyncio.Queue[agent_pb.ConnectRequest | None] = asyncio.Queue()
        self.open()

    def open(self) -> None:
        """Open the stream on a fresh channel; messages sent from now on go out on it."""
        self.channel = grpc.aio.insecure_channel(self.target)
        self.stub = agent_grpc.AgentServiceStub(self.channel)
        self._outgoing = asyncio.Queue()
        self.skipped = []
        self.call = self.stub.Connect(self._requests(), metadata=(("authorization", f"Bearer {self.token}"),))

    async def _requests(self) -> AsyncIterator[agent_pb.ConnectRequest]:
        while (message := await self._outgoing.get()) is not None:
            yield message

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

    def send(self, **kwargs: object) -> None:
        """Queue one ConnectRequest with the given oneof field."""
        self._outgoing.put_nowait(agent_pb.ConnectRequest(**kwargs))  # type: ignore[arg-type]

    async def recv(self, kind: str | None = None) -> agent_pb.ConnectResponse:
        """The next message (of `kind`; others are kept for later calls) under a timeout."""
        for i, message in enumerate(self.skipped):
            if kind is None or message.WhichOneof("message") == kind:
                return self.skipped.pop(i)
        assert self.call is not None, "the stream is closed"
        async with asyncio.timeout(TIMEOUT):
            while True:
                read = await self.call.read()
                assert read is not grpc.aio.EOF, "the control plane ended the stream"
                response: agent_pb.ConnectResponse = read
                if kind is None or response.WhichOneof("message") == kind:
                    return response
                self.skipped.append(response)

    async def hello(self, *, with_test_status: bool = False, **facts: str) -> agent_pb.Welcome:
        """Say hello (with `facts` overridden; with the test status if asked); returns the welcome."""
        hello = agent_pb.Hello(host=self.host, facts=self.facts(**facts))
        if with_test_status:
            hello.test_status.CopyFrom(self.test_status)
        self.send(hello=hello)
        return (await self.recv("welcome")).welcome

    async def connect(self) -> agent_pb.Welcome:
        """Open the stream again if it was closed, and say hello with the test status."""
        if self.call is None:
            self.open()
        return await self.hello(with_test_status=True)

    async def ack(self, command_id: str, seq: int) -> None:
        """Wait until the control plane acknowledged `seq` of `command_id`."""
        while True:
            ack = (await self.recv("ack")).ack
            if ack.command_id == command_id and ack.seq >= seq:
                return

    def heartbeat(self, **facts: str) -> None:
        """Send a heartbeat with the current facts (`facts` overridden) and test status."""
        self.send(
            heartbeat=agent_pb.Heartbeat(
                facts=self.facts(**facts), test_status=self.test_status, sent_at=now()
            )
        )

    def next_seq(self, command_id: str) -> int:
        """The next sequence number of `command_id`'s messages."""
        self.seq[command_id] = self.seq.get(command_id, 0) + 1
        return self.seq[command_id]

    async def next_command(self) -> agent_pb.RunCommand:
        """Wait for the control plane to ask for a command, and report it started."""
        run = (await self.recv("run_command")).run_command
        self.send(
            command_started=agent_pb.CommandStarted(
                command_id=run.command_id, started_at=now(), generation=self.facts().generation
            )
        )
        return run

    def output(self, command_id: str, *texts: str, stream: int = pb.OUTPUT_STREAM_STDOUT) -> int:
        """Send lines of output; returns the chunk's sequence number."""
        first = self.lines.get(command_id, 0)
        lines = [pb.OutputLine(number=first + i, stream=stream, text=t) for i, t in enumerate(texts)]  # type: ignore[arg-type]
        self.lines[command_id] = first + len(texts)
        seq = self.next_seq(command_id)
        self.send(output=agent_pb.OutputChunk(command_id=command_id, seq=seq, lines=lines))
        return seq

    def finish(self, command_id: str, exit_code: int = 0, **facts: str) -> int:
        """Report the command finished with `exit_code` (and `facts` overridden); returns its seq."""
        seq = self.next_seq(command_id)
        state = pb.COMMAND_STATE_SUCCEEDED if exit_code == 0 else pb.COMMAND_STATE_FAILED
        finished = agent_pb.CommandFinished(
            command_id=command_id,
            seq=seq,
            state=state,
            exit_code=exit_code,
            finished_at=now(),
            facts=self.facts(**facts),
        )
        self.send(command_finished=finished)
        return seq

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
            test_run=agent_pb.TestRunReport(command_id=command_id, seq=self.next_seq(command_id), run=run)
        )

    async def close(self) -> None:
        """End the stream and close the channel; safe to call twice."""
        self._outgoing.put_nowait(None)
        if self.call is not None:
            self.call.cancel()
            self.call = None
        if self.channel is not None:
            await self.channel.close()
            self.channel = None
