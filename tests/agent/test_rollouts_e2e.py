"""End to end: rollouts over real agents sharing one fleet repo — canary first, batches, stop on red."""

from __future__ import annotations

import json
from typing import Any

import grpc
import pytest
from agent_world import Fleet, World, control_plane_config
from fleetdeck_cli import fleetdeck
from google.protobuf import field_mask_pb2
from rollout_world import HOSTS, LOCK_HASH, create, fleet_of, wait_rollout

from controlplane.app import ControlPlane
from fleetdeck.v1 import audit_pb2 as audit_pb
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import rollouts_pb2 as rpb
from fleetdeck.v1 import types_pb2 as pb


def ended(rollout: rpb.Rollout) -> bool:
    return rollout.state in (rpb.ROLLOUT_STATE_STOPPED, rpb.ROLLOUT_STATE_SUCCEEDED) and not any(
        h.state == rpb.ROLLOUT_HOST_STATE_RUNNING for b in rollout.batches for h in b.hosts
    )


def host_states(rollout: rpb.Rollout) -> dict[str, str]:
    return {
        h.host: rpb.RolloutHostState.Name(h.state).removeprefix("ROLLOUT_HOST_STATE_")
        for b in rollout.batches
        for h in b.hosts
    }


async def operations(fleet: Fleet, host: str) -> list[str]:
    """The operations run on a host, oldest first."""
    listed = await fleet.stub.ListCommands(fleet_pb.ListCommandsRequest(host=host))
    return [
        pb.Operation.Name(c.operation).removeprefix("OPERATION_").lower() for c in reversed(listed.commands)
    ]


async def test_a_failing_canary_stops_the_rollout_and_no_other_host_is_touched(world: World) -> None:
    repo = await fleet_of(world)
    second = repo.commit("break the canary", {"h1/20-web.sh": "echo 'web is down' >&2\nexit 1\n"})

    created = await create(world, second)
    assert [[h.host for h in b.hosts] for b in created.batches] == [
        ["h1"],
        ["h2", "h3"],
        ["h4", "h5"],
        ["h6"],
    ]
    assert created.batches[0].canary
    rollout = await wait_rollout(world.fleet, created.id, ended)

    assert rollout.state == rpb.ROLLOUT_STATE_STOPPED, rollout.message
    canary = rollout.batches[0].hosts[0]
    assert (canary.state, list(canary.failed_cases)) == (rpb.ROLLOUT_HOST_STATE_FAILED, ["Web"])
    assert "h1 (tests failed: Web)" in rollout.message
    assert "roll back the failed hosts, resume anyway, or abort" in rollout.message
    assert await operations(world.fleet, "h1") == ["pull", "switch", "test"]
    for name in HOSTS[1:]:
        assert host_states(rollout)[name] == "PENDING"
        assert await operations(world.fleet, name) == [], name
    with pytest.raises(grpc.aio.AioRpcError) as refused:  # one rollout at a time per host
        await create(world, second, selector="canary")
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert f"host h1 is in rollout {created.id}, which has not finished" in str(refused.value.details())
    host = (await world.fleet.stub.GetHost(fleet_pb.GetHostRequest(name="h1"))).host
    assert host.rollout_id == created.id
    assert host.desired_state.commit == second  # the canary compares against the rollout's target
    assert host.compartments[1].status == pb.COMPARTMENT_STATUS_OK  # Git
    assert host.compartments[4].status == pb.COMPARTMENT_STATUS_ERROR  # Tests


async def test_a_failure_in_batch_two_stops_after_batch_two_with_a_budget_of_zero(world: World) -> None:
    repo = await fleet_of(world)
    second = repo.commit("break h3", {"h3/20-web.sh": "exit 1\n"})
    # h2 runs its tests only because the rollout asks: its switch does not start them.
    override = pb.TestSettingsOverride(auto_run_after_switch=False)
    await world.fleet.stub.UpdateHostSettings(
        fleet_pb.UpdateHostSettingsRequest(
            host="h2",
            test_settings_override=override,
            update_mask=field_mask_pb2.FieldMask(paths=["auto_run_after_switch"]),
        )
    )

    created = await create(world, second)
    rollout = await wait_rollout(world.fleet, created.id, ended)

    assert rollout.state == rpb.ROLLOUT_STATE_STOPPED, rollout.message
    assert host_states(rollout) == {
        "h1": "SUCCEEDED",
        "h2": "SUCCEEDED",
        "h3": "FAILED",
        "h4": "PENDING",
        "h5": "PENDING",
        "h6": "PENDING",
    }
    assert await operations(world.fleet, "h2") == ["pull", "switch", "test"]
    for name in ("h4", "h5", "h6"):
        assert await operations(world.fleet, name) == []

    # "Resume anyway": the failure so far is accepted, the rest of the fleet goes on.
    resumed = await world.fleet.stub.ResumeRollout(rpb.ResumeRolloutRequest(rollout_id=created.id))
    assert resumed.rollout.accepted_failures == 1
    rollout = await wait_rollout(world.fleet, created.id, ended)
    assert rollout.state == rpb.ROLLOUT_STATE_SUCCEEDED, rollout.message
    assert [n for n, s in host_states(rollout).items() if s != "SUCCEEDED"] == ["h3"]


async def test_a_budget_of_one_completes_and_reports_the_failure(world: World) -> None:
    repo = await fleet_of(world)
    second = repo.commit("break h3", {"h3/20-web.sh": "exit 1\n"})

    created = await create(world, second, failure_budget=1)
    rollout = await wait_rollout(world.fleet, created.id, ended)

    assert rollout.state == rpb.ROLLOUT_STATE_SUCCEEDED, rollout.message
    assert rollout.failed_hosts == 1
    assert "1 host(s) failed: h3 (tests failed: Web)" in rollout.message
    assert [n for n, s in host_states(rollout).items() if s != "SUCCEEDED"] == ["h3"]
    desired = await world.fleet.stub.GetDesiredState(fleet_pb.GetDesiredStateRequest())
    assert desired.desired_state.commit == second  # a rollout that succeeded is the desired state now


async def test_failed_hosts_are_rolled_back_automatically(world: World) -> None:
    repo = await fleet_of(world, HOSTS[:3])
    second = repo.commit("break the canary", {"h1/20-web.sh": "exit 1\n"})

    created = await create(world, second, failed_host_action=rpb.FAILED_HOST_ACTION_ROLL_BACK)
    rollout = await wait_rollout(world.fleet, created.id, ended)

    canary = rollout.batches[0].hosts[0]
    assert rollout.state == rpb.ROLLOUT_STATE_STOPPED, rollout.message
    assert canary.rolled_back and canary.state == rpb.ROLLOUT_HOST_STATE_FAILED, canary.message
    assert await operations(world.fleet, "h1") == ["pull", "switch", "test", "rollback"]
    host = (await world.fleet.stub.GetHost(fleet_pb.GetHostRequest(name="h1"))).host
    system, tests = host.compartments[3], host.compartments[4]
    assert tests.status == pb.COMPARTMENT_STATUS_OUTDATED, tests.message
    assert system.status == pb.COMPARTMENT_STATUS_OUTDATED and "Rolled back" in system.message


async def test_a_restart_in_batch_two_resumes_without_running_a_finished_step_twice(world: World) -> None:
    repo = await fleet_of(world)
    gate = world.tmp_path / "gate"
    second = repo.commit(
        "slow tests on h3", {"h3/20-wait.sh": f"while [ ! -e {gate} ]; do sleep 0.05; done\n"}
    )

    created = await create(world, second)

    def h3_testing(rollout: rpb.Rollout) -> bool:
        h3 = rollout.batches[1].hosts[1]
        return h3.step == rpb.ROLLOUT_STEP_TEST and h3.state == rpb.ROLLOUT_HOST_STATE_RUNNING

    await wait_rollout(world.fleet, created.id, h3_testing)
    port = world.cp.grpc_port
    await world.fleet.close()
    await world.cp.stop()
    world.cp = ControlPlane(control_plane_config(world.tmp_path, port))
    await world.cp.start()
    world.fleet = Fleet(world.cp.grpc_target)
    await world.fleet.wait_host("h3", lambda h: h.online)
    gate.touch()

    rollout = await wait_rollout(world.fleet, created.id, ended)
    assert rollout.state == rpb.ROLLOUT_STATE_SUCCEEDED, rollout.message
    for name in HOSTS:
        assert await operations(world.fleet, name) == ["pull", "switch", "test"], name


async def test_an_offline_host_past_its_deadline_is_skipped_or_failed_as_configured(world: World) -> None:
    repo = await fleet_of(world, HOSTS[:3])
    second = repo.commit("a change", {"h1/20-web.sh": "exit 0\n"})
    h3 = next(a for a in world.agents if a.world.name == "h3")
    await h3.stop()
    await world.fleet.wait_host("h3", lambda h: not h.online)
    deadline: dict[str, Any] = {"offline_deadline": {"seconds": 1}}

    skipped = await create(world, second, offline_host_action=rpb.OFFLINE_HOST_ACTION_SKIP, **deadline)
    rollout = await wait_rollout(world.fleet, skipped.id, ended)
    assert rollout.state == rpb.ROLLOUT_STATE_SUCCEEDED, rollout.message
    assert host_states(rollout) == {"h1": "SUCCEEDED", "h2": "SUCCEEDED", "h3": "SKIPPED"}

    failed = await create(world, second, selector="role=web", **deadline)
    rollout = await wait_rollout(world.fleet, failed.id, ended)
    assert rollout.state == rpb.ROLLOUT_STATE_STOPPED, rollout.message
    assert "h3 (offline past the deadline)" in rollout.message
    assert await operations(world.fleet, "h3") == []


async def test_the_cli_drives_a_rollout_with_approval_after_the_canary(world: World) -> None:
    repo = await fleet_of(world, HOSTS[:3])
    second = repo.commit("a change", {"h2/20-web.sh": "exit 0\n"})
    target = world.cp.grpc_target

    web = await fleetdeck("hosts", "-l", "role=web,!canary", "-o", "json", target=target)
    assert [h["name"] for h in json.loads(web.out)["hosts"]] == ["h2", "h3"]
    bad = await fleetdeck("hosts", "-l", "role==web", target=target)
    assert bad.code == 2 and "use key=value, not key==value" in bad.err
    tested = await fleetdeck("run", "test", "-l", "canary", "--wait", target=target)
    assert tested.code == 0, tested.err
    assert "h1" in tested.out
    labelled = await fleetdeck("labels", "h3", "site=fra", target=target)
    assert labelled.code == 0 and "h3: role=web,site=fra" in labelled.out

    args = ["--commit", second, "--lock-hash", LOCK_HASH, "--batch-size", "2", "--approve-after-canary"]
    created = await fleetdeck("rollout", "create", *args, "--wait", "-o", "json", target=target)
    assert created.code == 0, created.err
    rollout = json.loads(created.out)
    assert rollout["state"] == "ROLLOUT_STATE_AWAITING_APPROVAL"
    approved = await fleetdeck("rollout", "approve", rollout["id"], "--wait", target=target)
    assert approved.code == 0, approved.err
    assert "succeeded: every batch done" in approved.out
    audit = await world.fleet.stub.ListAuditEvents(audit_pb.ListAuditEventsRequest())
    assert [(e.action, e.detail) for e in audit.events if e.action.endswith("Rollout")] == [
        ("ApproveRollout", f"rollout {rollout['id']}: running"),
        ("CreateRollout", f"rollout {rollout['id']}: commit {second} to every host"),
    ]
    desired = await fleetdeck("desired", "get", target=target)  # the rollout's target, for every host
    assert any(line.split() == ["commit", second] for line in desired.out.splitlines()), desired.out
    web = await fleetdeck(
        "desired", "set", "--commit", second, "--lock-hash", LOCK_HASH, "-l", "role=web", target=target
    )
    assert web.code == 0, web.err
    assert f"for role=web: commit {second}" in (await fleetdeck("desired", "get", target=target)).out
    listed = await fleetdeck("rollout", "list", target=target)
    assert rollout["id"] in listed.out and "succeeded" in listed.out
    again = await fleetdeck("rollout", "approve", rollout["id"], target=target)
    assert again.code == 3 and "is succeeded; it cannot be approved" in again.err


async def test_the_cli_wait_exits_1_when_the_rollout_stops_and_offers_the_ways_on(world: World) -> None:
    repo = await fleet_of(world, HOSTS[:3])
    second = repo.commit("break the canary", {"h1/20-web.sh": "exit 1\n"})
    target = world.cp.grpc_target

    created = await fleetdeck(
        "rollout",
        "create",
        "--commit",
        second,
        "--lock-hash",
        LOCK_HASH,
        "--canary",
        "h1",
        "--wait",
        target=target,
    )
    assert created.code == 1, created.err
    assert "stopped: 1 host(s) failed (budget 0): h1 (tests failed: Web)" in created.out
    rollout_id = created.out.split()[1].rstrip(":")
    assert f"fleetdeck rollout abort --roll-back-failed {rollout_id}" in created.out
    aborted = await fleetdeck("rollout", "abort", "--roll-back-failed", rollout_id, "--wait", target=target)
    assert aborted.code == 1 and "aborted" in aborted.out
    shown = json.loads((await fleetdeck("rollout", "get", rollout_id, "-o", "json", target=target)).out)
    canary = shown["batches"][0]["hosts"][0]
    assert canary["rolled_back"] is True and canary["failed_cases"] == ["Web"]
    assert [b["hosts"][0]["state"] for b in shown["batches"][1:]] == ["ROLLOUT_HOST_STATE_ABORTED"] * 2


async def test_a_paused_rollout_finishes_the_running_host_starts_no_other_and_resumes(world: World) -> None:
    repo = await fleet_of(world, HOSTS[:3])
    second = repo.commit("a change", {"h1/20-web.sh": "exit 0\n"})

    created = await create(world, second, batch_size=1)
    paused = await world.fleet.stub.PauseRollout(rpb.PauseRolloutRequest(rollout_id=created.id))
    assert paused.rollout.state == rpb.ROLLOUT_STATE_PAUSED

    def canary_done(r: rpb.Rollout) -> bool:
        return r.batches[0].hosts[0].state == rpb.ROLLOUT_HOST_STATE_SUCCEEDED

    rollout = await wait_rollout(world.fleet, created.id, canary_done)
    assert rollout.state == rpb.ROLLOUT_STATE_PAUSED
    assert host_states(rollout) == {"h1": "SUCCEEDED", "h2": "PENDING", "h3": "PENDING"}
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await world.fleet.stub.ApproveRollout(rpb.ApproveRolloutRequest(rollout_id=created.id))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert f"rollout {created.id} is paused; it cannot be approved" in str(refused.value.details())
    assert await operations(world.fleet, "h2") == []

    await world.fleet.stub.ResumeRollout(rpb.ResumeRolloutRequest(rollout_id=created.id))
    rollout = await wait_rollout(world.fleet, created.id, ended)
    assert rollout.state == rpb.ROLLOUT_STATE_SUCCEEDED, rollout.message
    assert await operations(world.fleet, "h3") == ["pull", "switch", "test"]
