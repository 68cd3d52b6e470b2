"""The store's host labels, desired states per selector and rollouts, on every engine."""

from __future__ import annotations

from stores import EngineStore, opened_store

from controlplane.store import HostLabels
from controlplane.timeutil import to_ts
from fleetdeck.v1 import rollouts_pb2 as rpb
from fleetdeck.v1 import types_pb2 as pb


async def test_host_labels_read_back_after_reopening(store: EngineStore, database: str) -> None:
    await store.save_host_labels("web1", HostLabels({"role": "web"}, {"canary": "true"}))
    await store.save_host_labels("web1", HostLabels({"role": "web", "site": "fra"}, {"site": ""}))
    await store.save_host_labels("db1", HostLabels({"role": "db"}, {}))
    async with opened_store(database) as reopened:
        assert await reopened.load_host_labels() == {
            "web1": HostLabels({"role": "web", "site": "fra"}, {"site": ""}),
            "db1": HostLabels({"role": "db"}, {}),
        }


async def test_many_hosts_labels_are_saved_in_one_transaction(store: EngineStore) -> None:
    await store.save_host_labels("web1", HostLabels({"role": "web"}, {}))
    writes: list[float] = []
    store.observe_writes(writes.append)
    labels = {f"h{i}": HostLabels({"shard": str(i % 3)}, {}) for i in range(50)}
    await store.save_hosts_labels({**labels, "web1": HostLabels({"role": "db"}, {"canary": "true"})})
    await store.save_hosts_labels({})  # nothing to write: no transaction
    assert len(writes) == 1
    assert await store.load_host_labels() == {
        **labels,
        "web1": HostLabels({"role": "db"}, {"canary": "true"}),
    }


async def test_a_selector_desired_state_replaces_the_one_before(store: EngineStore) -> None:
    first = pb.DesiredState(selector="role=web", commit="a" * 40, lock_hash="b" * 64, updated_at=to_ts(10))
    second = pb.DesiredState(selector="role=web", commit="c" * 40, lock_hash="d" * 64, updated_at=to_ts(20))
    other = pb.DesiredState(selector="site=fra", commit="e" * 40, lock_hash="f" * 64, updated_at=to_ts(30))
    for desired in (first, other, second):
        await store.save_selector_desired(desired)
    assert await store.load_selector_desired() == [second, other]
    assert await store.load_desired() is None  # the fleet-wide one is another thing


def _rollout(rollout_id: str, created: int, state: rpb.RolloutState) -> rpb.Rollout:
    return rpb.Rollout(
        id=rollout_id,
        state=state,
        created_at=to_ts(created),
        spec=rpb.RolloutSpec(commit="a" * 40, selector="role=web"),
        batches=[rpb.RolloutBatch(canary=True, hosts=[rpb.RolloutHost(host="web1")])],
    )


async def test_rollouts_list_newest_first_and_active_ones_alone(store: EngineStore) -> None:
    old = _rollout("r1", 100, rpb.ROLLOUT_STATE_SUCCEEDED)
    stopped = _rollout("r2", 200, rpb.ROLLOUT_STATE_STOPPED)
    running = _rollout("r3", 300, rpb.ROLLOUT_STATE_RUNNING)
    for rollout in (old, stopped, running):
        await store.save_rollout(rollout)
    running.state = rpb.ROLLOUT_STATE_PAUSED
    running.batches[0].hosts[0].state = rpb.ROLLOUT_HOST_STATE_RUNNING
    await store.save_rollout(running)
    assert await store.list_rollouts(10) == [running, stopped, old]
    assert await store.list_rollouts(1) == [running]
    assert await store.list_rollouts(10, active_only=True) == [running, stopped]
    assert await store.get_rollout("r3") == running
    assert await store.get_rollout("nope") is None


async def test_a_rollout_is_rewritten_only_over_the_state_it_was_decided_on(store: EngineStore) -> None:
    running = _rollout("r1", 100, rpb.ROLLOUT_STATE_RUNNING)
    assert await store.save_rollout(running)
    paused = _rollout("r1", 100, rpb.ROLLOUT_STATE_PAUSED)  # another replica paused it
    assert await store.save_rollout(paused, expected_state=rpb.ROLLOUT_STATE_RUNNING)
    progressed = _rollout("r1", 100, rpb.ROLLOUT_STATE_RUNNING)  # decided on the running one
    progressed.batches[0].hosts[0].state = rpb.ROLLOUT_HOST_STATE_RUNNING
    assert not await store.save_rollout(progressed, expected_state=rpb.ROLLOUT_STATE_RUNNING)
    assert await store.get_rollout("r1") == paused  # the pause stands
    assert not await store.save_rollout(
        _rollout("r9", 1, rpb.ROLLOUT_STATE_RUNNING), rpb.ROLLOUT_STATE_RUNNING
    )
    assert await store.get_rollout("r9") is None  # nothing to compare with: nothing created


async def test_queued_commands_read_back_with_their_expiry_until_they_leave_the_queue(
    store: EngineStore,
) -> None:
    first = pb.Command(
        id="q1",
        host="web1",
        operation=pb.OPERATION_SWITCH,
        state=pb.COMMAND_STATE_QUEUED,
        created_at=to_ts(5),
    )
    first.queue_expires_at.CopyFrom(to_ts(3605))
    first.timeout.FromSeconds(60)
    second = pb.Command()
    second.CopyFrom(first)
    second.id, second.host = "q2", "db1"
    await store.queue_command(first)
    await store.queue_command(second)
    assert [(c.id, c.host, c.queue_expires_at.seconds) for c in await store.queued_commands()] == [
        ("q1", "web1", 3605),
        ("q2", "db1", 3605),
    ]
    found = await store.get_command("q1")
    assert found is not None and found.state == pb.COMMAND_STATE_QUEUED and found.timeout.seconds == 60
    found.state = pb.COMMAND_STATE_PENDING
    await store.update_command(found)
    assert [c.id for c in await store.queued_commands()] == ["q2"]
