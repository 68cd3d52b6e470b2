"""Fuzzing both services with random and mutated messages (hypothesis, bounded to a few seconds).

Bytes that are not a message must be answered INVALID_ARGUMENT; bytes that happen to decode may get
any answer that means something, never INTERNAL or UNKNOWN; nothing undecodable changes the fleet;
no traceback reaches the log. The control plane runs on its own event loop in a thread, so that
hypothesis drives plain blocking gRPC calls.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.message import DecodeError, Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controlplane.app import ControlPlane, ControlPlaneConfig
from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import agent_service_pb2_grpc as agent_grpc
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc
from fleetdeck.v1 import types_pb2 as pb

MEANINGLESS = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}

# (method, request type, a valid request to mutate): read-only calls, so a request that happens to
# decode cannot change the fleet either.
FLEET_CALLS: list[tuple[str, type[Message], Message]] = [
    ("ListHosts", fleet_pb.ListHostsRequest, fleet_pb.ListHostsRequest()),
    ("GetHost", fleet_pb.GetHostRequest, fleet_pb.GetHostRequest(name="gpc0")),
    ("GetCommand", fleet_pb.GetCommandRequest, fleet_pb.GetCommandRequest(command_id="c")),
    ("ListCommands", fleet_pb.ListCommandsRequest, fleet_pb.ListCommandsRequest(host="gpc0", page_size=3)),
    ("ListTestRuns", fleet_pb.ListTestRunsRequest, fleet_pb.ListTestRunsRequest(host="gpc0")),
    ("GetTestRun", fleet_pb.GetTestRunRequest, fleet_pb.GetTestRunRequest(run_id="r")),
    ("GetSettings", fleet_pb.GetSettingsRequest, fleet_pb.GetSettingsRequest()),
    (
        "StreamCommandOutput",
        fleet_pb.StreamCommandOutputRequest,
        fleet_pb.StreamCommandOutputRequest(command_id="c", from_line=3, no_follow=True),
    ),
]
HELLO = agent_pb.ConnectRequest(
    hello=agent_pb.Hello(
        host="gpc0",
        facts=pb.HostFacts(agent_version="0.1.0", os="nixos", commit="a" * 40, generation="g"),
        running_command_ids=["c1"],
    )
)


class Served:
    """A real control plane on port 0, on an event loop of its own thread."""

    def __init__(self, database: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="control-plane", daemon=True)
        self.thread.start()
        config = ControlPlaneConfig(require_api_tokens=False, database=database, grpc_address="127.0.0.1:0")
        self.plane = ControlPlane(config)
        self.run(self.plane.start())

    def run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    def close(self) -> None:
        self.run(self.plane.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[grpc.Channel, str, Records]]:
    served = Served(tmp_path_factory.mktemp("fuzz") / "fleet.db")
    records = Records()
    logging.getLogger().addHandler(records)
    channel = grpc.insecure_channel(served.plane.grpc_target)
    try:
        fleet = fleet_grpc.FleetServiceStub(channel)
        token = fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0"), timeout=10).token
        # The host exists (and is offline again) before the fuzzing starts.
        list(agent_grpc.AgentServiceStub(channel).Connect(iter([HELLO]), metadata=_auth(token), timeout=10))
        yield channel, token, records
    finally:
        logging.getLogger().removeHandler(records)
        channel.close()
        served.close()


def _auth(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


def _fleet_state(channel: grpc.Channel) -> tuple[bytes, bytes]:
    fleet = fleet_grpc.FleetServiceStub(channel)
    hosts = fleet.ListHosts(fleet_pb.ListHostsRequest(), timeout=5).hosts
    commands = fleet.ListCommands(fleet_pb.ListCommandsRequest(), timeout=5)
    return b"".join(
        h.name.encode() + h.facts.SerializeToString() for h in hosts
    ), commands.SerializeToString()


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """`seed` with a few bytes replaced, inserted or cut."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["set", "insert", "cut"]))
        byte = draw(st.integers(0, 255))
        if edit == "insert" or at == len(data):
            data.insert(at, byte)
        elif edit == "set":
            data[at] = byte
        else:
            del data[at:]
    return bytes(data)


def _payloads(seed: Message) -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=48), mutated(seed.SerializeToString()))


def _decodes(kind: type[Message], data: bytes) -> bool:
    try:
        kind.FromString(data)
    except DecodeError:
        return False
    return True


def _no_tracebacks(records: Records) -> None:
    bad = [r for r in records.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not bad, [r.getMessage() for r in bad]


@pytest.mark.timeout(60)
@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_fleet_service_answers_fuzz_with_meaningful_codes(world, data) -> None:
    channel, _token, records = world
    name, kind, seed = data.draw(st.sampled_from(FLEET_CALLS))
    payload = data.draw(_payloads(seed))
    method = f"/fleetdeck.v1.FleetService/{name}"
    before = _fleet_state(channel)
    if name == "StreamCommandOutput":
        call: Any = channel.unary_stream(method)
        run = lambda: list(call(payload, timeout=3))  # noqa: E731
    else:
        call = channel.unary_unary(method)
        run = lambda: call(payload, timeout=3)  # noqa: E731
    try:
        run()
        code = grpc.StatusCode.OK
    except grpc.RpcError as error:
        code = error.code()
    if _decodes(kind, payload):
        assert code not in MEANINGLESS
    else:
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert _fleet_state(channel) == before
    _no_tracebacks(records)


@pytest.mark.timeout(60)
@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(first=_payloads(HELLO), second=_payloads(agent_pb.ConnectRequest(heartbeat=agent_pb.Heartbeat())))
def test_agent_service_answers_fuzz_by_closing_the_stream(world, first, second) -> None:
    channel, token, records = world
    before = _fleet_state(channel)
    call = channel.stream_stream("/fleetdeck.v1.AgentService/Connect")
    try:
        list(call(iter([first, second]), metadata=_auth(token), timeout=3))
        code = grpc.StatusCode.OK
    except grpc.RpcError as error:
        code = error.code()
    if _decodes(agent_pb.ConnectRequest, first) and _decodes(agent_pb.ConnectRequest, second):
        assert code not in MEANINGLESS
    else:
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        if not _decodes(agent_pb.ConnectRequest, first):
            assert _fleet_state(channel) == before  # refused before anything was welcomed
    _no_tracebacks(records)
