"""Smaller hardening: unknown enum values, acks of other hosts' commands, the control plane's own
pauses, and commands whose agent is lost."""

from __future__ import annotations

import time

import grpc
import pytest

from controlplane.fleet import PAUSED_SECONDS, paused_for
from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import types_pb2 as pb


async def _closed_with(agent) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        while True:
            await agent.recv()
    return caught.value.code()


async def _running(connect, fleet, host: str):
    agent = await connect(host)
    await agent.hello()
    response = await fleet.RunOperation(
        fleet_pb.RunOperationRequest(hosts=[host], operation=pb.OPERATION_PULL)
    )
    await agent.recv("run_command")
    return agent, response.results[0].command_id


async def test_a_test_state_the_enum_does_not_know_is_refused_from_heartbeats(connect, fleet) -> None:
    agent = await connect("gpc0")
    await agent.hello()
    agent.send(heartbeat=agent_pb.Heartbeat(facts=agent.facts(), test_status=pb.TestStatus(state=99)))
    assert await _closed_with(agent) == grpc.StatusCode.INVALID_ARGUMENT
    host = (await fleet.GetHost(fleet_pb.GetHostRequest(name="gpc0"))).host
    assert host.test_status.state != 99


async def test_the_welcome_never_reports_another_hosts_sequence_numbers(connect, fleet) -> None:
    other, command_id = await _running(connect, fleet, "gpc1")
    await other.ack(command_id, other.output(command_id, "secret progress"))
    curious = await connect("gpc0")
    curious.send(
        hello=agent_pb.Hello(host="gpc0", facts=curious.facts(), unacknowledged_command_ids=[command_id])
    )
    welcome = (await curious.recv("welcome")).welcome
    assert not welcome.acks


async def test_own_commands_are_still_acknowledged_in_the_welcome(connect, fleet) -> None:
    agent, command_id = await _running(connect, fleet, "gpc0")
    await agent.ack(command_id, agent.output(command_id, "line"))
    await agent.close()
    again = await connect("gpc0")
    again.send(
        hello=agent_pb.Hello(host="gpc0", facts=again.facts(), unacknowledged_command_ids=[command_id])
    )
    welcome = (await again.recv("welcome")).welcome
    assert [(a.command_id, a.seq) for a in welcome.acks] == [(command_id, 1)]


@pytest.mark.parametrize(
    ("previous", "now", "paused"),
    [(10.0, 11.0, None), (10.0, 10.0 + PAUSED_SECONDS, None), (10.0, 30.0, 20.0)],
)
def test_a_late_housekeeping_tick_is_a_pause_of_the_control_plane(previous, now, paused) -> None:
    assert paused_for(previous, now) == paused


async def test_after_a_pause_silence_counts_from_the_resume(cp, connect, fleet) -> None:
    agent = await connect("gpc0")
    await agent.hello()
    state = cp.fleet.hosts["gpc0"]
    later = state.last_heard + cp.fleet.offline_after_seconds + 60
    cp.fleet.resumed(later, 60)  # the control plane was stopped (SIGSTOP) for a minute
    cp.fleet.check_liveness(later + 1)
    assert (await fleet.GetHost(fleet_pb.GetHostRequest(name="gpc0"))).host.online
    cp.fleet.check_liveness(later + cp.fleet.offline_after_seconds + 1)  # silent after the resume
    assert not (await fleet.GetHost(fleet_pb.GetHostRequest(name="gpc0"))).host.online


async def test_a_command_whose_agent_is_gone_beyond_the_offline_bound_is_agent_lost(
    cp, connect, fleet
) -> None:
    agent, command_id = await _running(connect, fleet, "gpc0")
    agent.send(command_started=agent_pb.CommandStarted(command_id=command_id))
    await agent.ack(command_id, agent.output(command_id, "working"))  # handled in order: started
    await agent.close()
    watch = fleet.WatchFleet(fleet_pb.WatchFleetRequest())
    await watch.read()
    await cp.commands.agents_lost(time.monotonic() + 1)  # gone, but not for long: still running
    command = (await fleet.GetCommand(fleet_pb.GetCommandRequest(command_id=command_id))).command
    assert command.state == pb.COMMAND_STATE_RUNNING
    await cp.commands.agents_lost(time.monotonic() + cp.fleet.offline_after_seconds + 1)
    command = (await fleet.GetCommand(fleet_pb.GetCommandRequest(command_id=command_id))).command
    assert command.state == pb.COMMAND_STATE_INTERRUPTED and command.message.startswith("agent lost")
    host = (await fleet.GetHost(fleet_pb.GetHostRequest(name="gpc0"))).host
    assert not host.running_command_id
    watch.cancel()
    # The agent comes back and says it still runs it: running again.
    again = await connect("gpc0")
    again.send(hello=agent_pb.Hello(host="gpc0", facts=again.facts(), running_command_ids=[command_id]))
    await again.recv("welcome")
    command = (await fleet.GetCommand(fleet_pb.GetCommandRequest(command_id=command_id))).command
    assert command.state == pb.COMMAND_STATE_RUNNING
