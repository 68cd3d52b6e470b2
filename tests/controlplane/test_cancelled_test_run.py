"""A test run stopped with Stop is no verdict: Tests yellow saying how far it got, no failure, no rollback."""

from __future__ import annotations

import asyncio

import pytest

from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import types_pb2 as pb

from .conftest import COMMIT, LOCK, TIMEOUT

# Where the engine matters, these tests run on SQLite and on PostgreSQL.
pytestmark = pytest.mark.both_engines

P, F, N = pb.TEST_OUTCOME_PASSED, pb.TEST_OUTCOME_FAILED, pb.TEST_OUTCOME_NOT_RUN


def _stopped_run(command_id: str) -> pb.TestRun:
    """What an agent reports for a run of 8 stopped in its 4th case (the stopped case counts failed)."""
    run = pb.TestRun(id=command_id, generation="system-1-link", state=pb.TEST_STATE_FAILED, exit_code=1)
    for i, outcome in enumerate((P, P, P, F, N, N, N, N)):
        run.cases.add(name=f"Case {i + 1}", outcome=outcome)
    run.passed, run.failed, run.total = 3, 1, 8
    run.finished_at.GetCurrentTime()
    return run


async def test_a_stopped_test_run_is_yellow_and_announces_no_failure(connect, fleet) -> None:
    await fleet.SetDesiredState(fleet_pb.SetDesiredStateRequest(commit=COMMIT, lock_hash=LOCK))
    agent = await connect("gpc0")
    await agent.hello()
    watch = fleet.WatchFleet(fleet_pb.WatchFleetRequest())
    await watch.read()  # snapshot

    request = fleet_pb.RunOperationRequest(hosts=["gpc0"], operation=pb.OPERATION_TEST)
    test_id = (await fleet.RunOperation(request)).results[0].command_id
    await agent.recv("run_command")
    agent.send(command_started=agent_pb.CommandStarted(command_id=test_id))
    progress = pb.TestStatus(
        state=pb.TEST_STATE_RUNNING, passed=3, completed=3, total=8, current_case="Case 4"
    )
    agent.send(test_progress=agent_pb.TestProgress(command_id=test_id, status=progress))

    await fleet.CancelCommand(fleet_pb.CancelCommandRequest(command_id=test_id))
    assert (await agent.recv("cancel_command")).cancel_command.command_id == test_id
    report = agent_pb.TestRunReport(
        command_id=test_id, seq=agent.next_seq(test_id), run=_stopped_run(test_id)
    )
    agent.send(test_run=report)
    seq = agent.next_seq(test_id)
    agent.send(
        command_finished=agent_pb.CommandFinished(
            command_id=test_id,
            seq=seq,
            state=pb.COMMAND_STATE_CANCELLED,
            exit_code=1,
            message="3/8 tests passed; not passed: Case 4 (stopped on request after 2 s)",
            facts=agent.facts(),
        )
    )
    await agent.ack(test_id, seq)
    agent.heartbeat(commit="b" * 40)  # a change after everything the finish caused: the end marker

    events = []
    async with asyncio.timeout(TIMEOUT):
        while not (events and events[-1].HasField("host") and events[-1].host.facts.commit == "b" * 40):
            events.append(await watch.read())
    watch.cancel()

    assert not [e for e in events if e.HasField("tests_failed")]
    shown = [e.host.compartments[4] for e in events if e.HasField("host")]
    assert pb.COMPARTMENT_STATUS_ERROR not in [c.status for c in shown]
    host = (await fleet.GetHost(fleet_pb.GetHostRequest(name="gpc0"))).host
    tests = host.compartments[4]
    assert (tests.status, tests.message) == (
        pb.COMPARTMENT_STATUS_OUTDATED,
        "Test run cancelled after 4/8; run the tests again",
    )
    assert host.test_status.state == pb.TEST_STATE_NOT_RUN and host.test_status.last_run_id == test_id
    # The run itself is kept: what passed before the stop can still be read.
    run = (await fleet.GetTestRun(fleet_pb.GetTestRunRequest(run_id=test_id))).run
    assert [c.outcome for c in run.cases] == [P, P, P, F, N, N, N, N]
