"""The PostgreSQL server going away is storage trouble like a locked or full SQLite database: while it
is down, calls that need the store are UNAVAILABLE with a sentence and health says NOT_SERVING; once it
is back the control plane serves again without a restart. The server stopped here is a cluster of the
test's own, so the session's shared one is never touched."""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import AsyncIterator, Iterator

import asyncpg
import grpc
import httpx
import pytest
from postgres import Cluster, require_postgres, running_cluster

from controlplane.app import ControlPlane, ControlPlaneConfig
from controlplane.errors import storage_trouble
from controlplane.store.trouble import DATABASE_UNREACHABLE
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc
from fleetdeck.v1 import types_pb2 as pb

from .conftest import ScriptedAgent
from .test_storage_trouble import DESIRED, NOT_SERVING, SERVING, _overall, _storage_lines


@pytest.fixture
def own_cluster() -> Iterator[Cluster]:
    """A throw-away PostgreSQL cluster that this test alone may stop and start."""
    require_postgres()
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture
async def plane(own_cluster: Cluster) -> AsyncIterator[ControlPlane]:
    config = ControlPlaneConfig(
        require_api_tokens=False,
        database=own_cluster.new_database(),
        grpc_address="127.0.0.1:0",
        http_address="127.0.0.1:0",
    )
    async with ControlPlane(config) as started:
        yield started


async def _refused(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


async def test_the_database_server_stopped_is_unavailable_and_not_serving_until_it_is_back(
    plane: ControlPlane, own_cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with grpc.aio.insecure_channel(plane.grpc_target) as channel:
        fleet = fleet_grpc.FleetServiceStub(channel)
        token = (await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0"))).token
        agent = ScriptedAgent(plane.grpc_target, "gpc0", token)
        try:
            await agent.hello()
            await fleet.SetDesiredState(DESIRED, timeout=5)
            await asyncio.to_thread(own_cluster.stop)  # "fast": the server ends every connection

            written = await _refused(fleet.SetDesiredState(DESIRED, timeout=10))
            assert (written.code(), written.details()) == (grpc.StatusCode.UNAVAILABLE, DATABASE_UNREACHABLE)
            pull = fleet_pb.RunOperationRequest(hosts=["gpc0"], operation=pb.OPERATION_PULL)
            refused = await _refused(fleet.RunOperation(pull, timeout=10))
            assert (refused.code(), refused.details()) == (grpc.StatusCode.UNAVAILABLE, DATABASE_UNREACHABLE)
            read = await _refused(fleet.ListTestRuns(fleet_pb.ListTestRunsRequest(host="gpc0"), timeout=10))
            assert (read.code(), read.details()) == (grpc.StatusCode.UNAVAILABLE, DATABASE_UNREACHABLE)
            await _overall(channel, NOT_SERVING)
            async with httpx.AsyncClient(base_url=plane.http_url) as http:
                healthz = await http.get("/healthz")
            assert (healthz.status_code, healthz.json()["controlplane"]) == (503, "degraded"), healthz.text
            # What lives in memory is still answered, and the agent's stream stays open.
            hosts = (await fleet.ListHosts(fleet_pb.ListHostsRequest(), timeout=5)).hosts
            assert [(h.name, h.online) for h in hosts] == [("gpc0", True)]

            await asyncio.to_thread(own_cluster.start)
            await _overall(channel, SERVING)  # probed back, no restart
            await fleet.SetDesiredState(DESIRED, timeout=5)
            # The refused operation was never sent: the first one the agent gets is the one after.
            started = await fleet.RunOperation(pull, timeout=5)
            received = (await agent.recv("run_command")).run_command
            assert received.command_id == started.results[0].command_id
            runs = await fleet.ListTestRuns(fleet_pb.ListTestRunsRequest(host="gpc0"), timeout=5)
            assert list(runs.runs) == []
            hosts = (await fleet.ListHosts(fleet_pb.ListHostsRequest(), timeout=5)).hosts
            assert [(h.name, h.online) for h in hosts] == [("gpc0", True)]
        finally:
            await agent.close()
    lines = _storage_lines(caplog)
    assert len(lines) == 2 and "cannot be reached" in lines[0] and "works again" in lines[1], lines
    # No traceback of ours (asyncpg's pool logs its own attempts to reconnect, as a warning).
    assert not [r for r in caplog.records if r.exc_info and not r.name.startswith("asyncpg")]


@pytest.mark.parametrize(
    ("error", "sentence"),
    [
        (asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"), True),
        (asyncpg.ConnectionFailureError("server closed the connection unexpectedly"), True),
        (asyncpg.AdminShutdownError("terminating connection due to administrator command"), True),
        (asyncpg.CannotConnectNowError("the database system is shutting down"), True),
        (asyncpg.InterfaceError("connection is closed"), True),
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed ('127.0.0.1', 5432)"), True),
        (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), True),
        (OSError("Multiple exceptions: [Errno 111] Connect call failed ('::1', 5432), [Errno 111] …"), True),
        (asyncpg.InterfaceError("cannot perform operation: another operation is in progress"), False),
        (asyncpg.UniqueViolationError("duplicate key value violates unique constraint"), False),
        (OSError(errno.EACCES, "Permission denied"), False),
    ],
)
def test_losing_the_database_server_is_storage_trouble(error: BaseException, sentence: bool) -> None:
    found = storage_trouble(error)
    assert (None if found is None else str(found)) == (DATABASE_UNREACHABLE if sentence else None)


OUTAGE_SECONDS = 10.0


async def test_two_replicas_are_not_serving_while_the_database_is_stopped_and_serve_as_one_after(
    own_cluster: Cluster,
) -> None:
    config = ControlPlaneConfig(
        require_api_tokens=False, database=own_cluster.new_database(), grpc_address="127.0.0.1:0"
    )
    async with (
        ControlPlane(config) as a,
        ControlPlane(config) as b,
        grpc.aio.insecure_channel(a.grpc_target) as channel_a,
        grpc.aio.insecure_channel(b.grpc_target) as channel_b,
    ):
        fleet_a, fleet_b = fleet_grpc.FleetServiceStub(channel_a), fleet_grpc.FleetServiceStub(channel_b)
        token = (await fleet_b.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0"))).token
        agent = ScriptedAgent(b.grpc_target, "gpc0", token)
        try:
            await agent.hello()
            async with asyncio.timeout(10):
                while not [
                    h for h in (await fleet_a.ListHosts(fleet_pb.ListHostsRequest())).hosts if h.online
                ]:
                    await _overall(channel_a, SERVING)  # (answers at once) each round trip lets the log flow
            loop = asyncio.get_running_loop()
            await asyncio.to_thread(own_cluster.stop)
            stopped_at = loop.time()
            pull = fleet_pb.RunOperationRequest(hosts=["gpc0"], operation=pb.OPERATION_PULL)
            await _overall(channel_a, NOT_SERVING)
            await _overall(channel_b, NOT_SERVING)
            # For the whole outage: both replicas refuse what needs the database, and say why.
            while loop.time() - stopped_at < OUTAGE_SECONDS:
                for fleet in (fleet_a, fleet_b):
                    refused = await _refused(fleet.RunOperation(pull, timeout=10))
                    assert (refused.code(), refused.details()) == (
                        grpc.StatusCode.UNAVAILABLE,
                        DATABASE_UNREACHABLE,
                    )
            await asyncio.to_thread(own_cluster.start)
            await _overall(channel_a, SERVING)
            await _overall(channel_b, SERVING)
            # Back as one fleet: an operation through A reaches the agent on B (A listens again).
            async with asyncio.timeout(15):
                while True:
                    try:
                        started = await fleet_a.RunOperation(pull, timeout=5)
                        break
                    except grpc.aio.AioRpcError as error:  # until A's view of the host is current again
                        assert error.code() in (
                            grpc.StatusCode.UNAVAILABLE,
                            grpc.StatusCode.FAILED_PRECONDITION,
                        )
                        await _overall(channel_a, SERVING)
            received = (await agent.recv("run_command")).run_command
            assert received.command_id == started.results[0].command_id
        finally:
            await agent.close()
