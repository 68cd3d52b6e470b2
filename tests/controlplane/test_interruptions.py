"""Work cut off midway — a failed write, a stream that ends, a restart — leaves nothing acknowledged lost,
no host busy, no Tests blue and no switch looking finished."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg
import grpc
import pytest
from scripted_agent import COMMIT, LOCK, ScriptedAgent

from controlplane.app import ControlPlane, ControlPlaneConfig
from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc
from fleetdeck.v1 import types_pb2 as pb

# Where the engine matters, these tests run on SQLite and on PostgreSQL.
pytestmark = pytest.mark.both_engines


async def _host(fleet, name: str = "gpc0") -> pb.Host:
    return (await fleet.GetHost(fleet_pb.GetHostRequest(name=name))).host


async def _start(fleet, operation: int, host: str = "gpc0") -> str:
    response = await fleet.RunOperation(fleet_pb.RunOperationRequest(hosts=[host], operation=operation))
    return response.results[0].command_id


# What each engine raises when another writer holds the lock.
LOCKED = {
    "sqlite": sqlite3.OperationalError("database is locked"),
    "postgres": asyncpg.LockNotAvailableError('could not obtain lock on row in relation "commands"'),
}


async def test_a_batch_that_meets_a_locked_database_is_stored_once_it_works_and_nothing_is_lost(
    cp, connect, fleet, plane_engine
) -> None:
    token = (await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0"))).token
    agent = await connect("gpc0", token=token)
    await agent.hello()
    command_id = await _start(fleet, pb.OPERATION_PULL)
    await agent.recv("run_command")
    append = cp.store.append_output
    failures = iter([LOCKED[plane_engine]])

    async def flaky(appends):
        error = next(failures, None)
        if error is not None:
            raise error
        return await append(appends)

    cp.store.append_output = flaky
    agent.output(command_id, "line 0")
    agent.output(command_id, "line 1")
    # Storage trouble keeps the stream open: the batch waits until the store works, then is stored
    # and acknowledged (never an ack before the lines it covers are stored).
    await agent.ack(command_id, 2)
    assert cp.storage is not None and cp.storage.ok
    stored = await cp.store.read_output(command_id, 0)
    assert [line.text for line in stored] == ["line 0", "line 1"]


async def test_a_host_that_goes_away_while_a_command_is_stored_is_not_left_busy(cp, connect, fleet) -> None:
    agent = await connect("gpc0")
    await agent.hello()
    insert = cp.store.insert_command

    async def insert_then_disconnect(command):
        await insert(command)
        cp.fleet.hosts["gpc0"].stream.close(ValueError("gone"))  # the stream ends meanwhile

    cp.store.insert_command = insert_then_disconnect
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _start(fleet, pb.OPERATION_SWITCH)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert not cp.fleet.hosts["gpc0"].host.running_command_id


async def test_an_interrupted_test_run_leaves_tests_yellow_not_blue(cp, connect, fleet) -> None:
    await fleet.SetDesiredState(fleet_pb.SetDesiredStateRequest(commit=COMMIT, lock_hash=LOCK))
    token = (await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0"))).token
    agent = await connect("gpc0", token=token)
    await agent.hello()
    command_id = await _start(fleet, pb.OPERATION_TEST)
    await agent.recv("run_command")
    agent.send(command_started=agent_pb.CommandStarted(command_id=command_id))
    agent.output(command_id, "▶ Network")
    await agent.ack(command_id, 1)  # started is processed before the output
    assert (await _host(fleet)).compartments[4].status == pb.COMPARTMENT_STATUS_WORKING
    rebooted = await connect("gpc0", token=token)
    welcome = await rebooted.hello()  # the host came back without the command
    assert list(welcome.interrupted_command_ids) == [command_id]
    tests = (await _host(fleet)).compartments[4]
    assert tests.status == pb.COMPARTMENT_STATUS_OUTDATED


async def test_a_switch_interrupted_by_a_restart_shows_system_red(plane_database: Path | str) -> None:
    config = ControlPlaneConfig(database=plane_database, grpc_address="127.0.0.1:0", require_api_tokens=False)
    async with ControlPlane(config) as cp, grpc.aio.insecure_channel(cp.grpc_target) as channel:
        fleet = fleet_grpc.FleetServiceStub(channel)
        await fleet.SetDesiredState(fleet_pb.SetDesiredStateRequest(commit=COMMIT, lock_hash=LOCK))
        token = (await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0"))).token
        agent = ScriptedAgent(cp.grpc_target, "gpc0", token)
        await agent.hello()
        first = await _start(fleet, pb.OPERATION_SWITCH)
        await agent.recv("run_command")
        await agent.ack(first, agent.finish(first, 0))
        await agent.recv("run_command")  # the automatic test run
        test_id = (await _host(fleet)).running_command_id
        run = pb.TestRun(state=pb.TEST_STATE_PASSED, generation="system-1-link")
        agent.send(test_run=agent_pb.TestRunReport(command_id=test_id, seq=agent.next_seq(test_id), run=run))
        await agent.ack(test_id, agent.finish(test_id, 0))
        second = await _start(fleet, pb.OPERATION_SWITCH)
        await agent.recv("run_command")
        await agent.close()
    async with ControlPlane(config) as cp, grpc.aio.insecure_channel(cp.grpc_target) as channel:
        host = await _host(fleet_grpc.FleetServiceStub(channel))
        assert host.last_switch.command_id == second
        system = host.compartments[3]
        assert system.status == pb.COMPARTMENT_STATUS_ERROR
        assert "interrupted" in system.message
