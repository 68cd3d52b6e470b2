"""What a rollout does next: batches, and `advance` over rollouts and facts, table-driven."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from controlplane import rollout_plan as plan
from controlplane.errors import InvalidArgument
from fleetdeck.v1 import rollouts_pb2 as rpb
from fleetdeck.v1 import types_pb2 as pb

S = rpb.RolloutHostState
PENDING, WAITING, RUNNING = (
    S.Value("ROLLOUT_HOST_STATE_PENDING"),
    S.Value("ROLLOUT_HOST_STATE_WAITING"),
    S.Value("ROLLOUT_HOST_STATE_RUNNING"),
)
OK, FAILED, SKIPPED, ABORTED = (
    rpb.ROLLOUT_HOST_STATE_SUCCEEDED,
    rpb.ROLLOUT_HOST_STATE_FAILED,
    rpb.ROLLOUT_HOST_STATE_SKIPPED,
    rpb.ROLLOUT_HOST_STATE_ABORTED,
)
PULL, SWITCH, TEST, ROLLBACK = (
    rpb.ROLLOUT_STEP_PULL,
    rpb.ROLLOUT_STEP_SWITCH,
    rpb.ROLLOUT_STEP_TEST,
    rpb.ROLLOUT_STEP_ROLLBACK,
)
NOW = 1000.0


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (rpb.RolloutSpec(batch_size=2), [["c1"], ["a", "b"], ["d", "e"]]),  # canary by label
        (rpb.RolloutSpec(batch_size=2, canary_hosts=["e"]), [["e"], ["a", "b"], ["c1", "d"]]),
        (rpb.RolloutSpec(batch_percent=50), [["c1"], ["a", "b"], ["d", "e"]]),
        (rpb.RolloutSpec(batch_percent=30), [["c1"], ["a", "b"], ["d", "e"]]),  # rounded up
        (rpb.RolloutSpec(), [["c1"], ["a"], ["b"], ["d"], ["e"]]),
    ],
)
def test_batches_put_the_canary_first(spec: rpb.RolloutSpec, expected: list[list[str]]) -> None:
    hosts = {"a": {}, "b": {}, "c1": {"canary": "true"}, "d": {}, "e": {}}
    batches = plan.batches(hosts, spec)
    assert [[h.host for h in b.hosts] for b in batches] == expected
    assert [b.canary for b in batches] == [True] + [False] * (len(expected) - 1)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (rpb.RolloutSpec(canary_hosts=["zz"]), "canary host zz is not among the hosts"),
        (rpb.RolloutSpec(approve_after_canary=True), "approve_after_canary needs a canary"),
    ],
)
def test_bad_batch_specs_are_refused(spec: rpb.RolloutSpec, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        plan.batches({"a": {}, "b": {}}, spec)


def rollout(batches: list[list[tuple[str, int, int]]], **spec: Any) -> rpb.Rollout:
    """Batches of (host, state, step); the first batch is the canary."""
    r = rpb.Rollout(id="r", state=rpb.ROLLOUT_STATE_RUNNING, spec=rpb.RolloutSpec(**spec))
    for i, hosts in enumerate(batches):
        batch = r.batches.add(canary=i == 0)
        for name, state, step in hosts:
            h = batch.hosts.add(
                host=name, state=state, step=step, command_id=f"{name}-{step}" if step else ""
            )
            if state == WAITING:
                h.waiting_since.FromSeconds(int(NOW) - 5)
    return r


def cmd(op: int, state: int, **kw: Any) -> pb.Command:
    return pb.Command(id=kw.pop("id", "x"), operation=op, state=state, **kw)


IDLE = plan.Seen(online=True, online_since=0)
OFFLINE = plan.Seen()
DONE = pb.COMMAND_STATE_SUCCEEDED
PASSED_RUN = pb.TestRun(state=pb.TEST_STATE_PASSED, passed=1, total=1)
FAILED_RUN = pb.TestRun(
    state=pb.TEST_STATE_FAILED, cases=[pb.TestCaseResult(name="web", outcome=pb.TEST_OUTCOME_FAILED)]
)


def seen(step: pb.Command | None = None, **kw: Any) -> plan.Seen:
    return plan.Seen(online=True, step=step, **kw)


CASES: list[tuple[str, rpb.Rollout, dict[str, plan.Seen], dict[str, int], list[tuple[str, int]], int]] = [
    (
        "the canary starts first, alone",
        rollout([[("c", PENDING, 0)], [("a", PENDING, 0), ("b", PENDING, 0)]]),
        {"c": IDLE, "a": IDLE, "b": IDLE},
        {"c": RUNNING, "a": PENDING, "b": PENDING},
        [("c", pb.OPERATION_PULL)],
        rpb.ROLLOUT_STATE_RUNNING,
    ),
    (
        "a pulled host switches next",
        rollout([[("c", RUNNING, PULL)]]),
        {"c": seen(cmd(pb.OPERATION_PULL, DONE))},
        {"c": RUNNING},
        [("c", pb.OPERATION_SWITCH)],
        rpb.ROLLOUT_STATE_RUNNING,
    ),
    (
        "a switched host without auto-run gets its tests started by the rollout",
        rollout([[("c", RUNNING, SWITCH)]]),
        {"c": seen(cmd(pb.OPERATION_SWITCH, DONE, no_test_run_reason=pb.NO_TEST_RUN_REASON_AUTO_RUN_OFF))},
        {"c": RUNNING},
        [("c", pb.OPERATION_TEST)],
        rpb.ROLLOUT_STATE_RUNNING,
    ),
    (
        "the test run its switch started is followed, not started again",
        rollout([[("c", RUNNING, SWITCH)]]),
        {"c": seen(cmd(pb.OPERATION_SWITCH, DONE, triggered_test_command_id="t"), running_id="t")},
        {"c": RUNNING},
        [],
        rpb.ROLLOUT_STATE_RUNNING,
    ),
    (
        "a switch that has not said yet whether tests follow is waited for",
        rollout([[("c", RUNNING, SWITCH)]]),
        {"c": seen(cmd(pb.OPERATION_SWITCH, DONE))},
        {"c": RUNNING},
        [],
        rpb.ROLLOUT_STATE_RUNNING,
    ),
    (
        "a step still running changes nothing",
        rollout([[("c", RUNNING, TEST)]]),
        {"c": seen(cmd(pb.OPERATION_TEST, pb.COMMAND_STATE_RUNNING), running_id="x")},
        {"c": RUNNING},
        [],
        rpb.ROLLOUT_STATE_RUNNING,
    ),
    (
        "a passing canary opens the next batch",
        rollout([[("c", RUNNING, TEST)], [("a", PENDING, 0), ("b", PENDING, 0)]]),
        {"c": seen(cmd(pb.OPERATION_TEST, DONE), run=PASSED_RUN), "a": IDLE, "b": IDLE},
        {"c": OK, "a": RUNNING, "b": RUNNING},
        [("a", pb.OPERATION_PULL), ("b", pb.OPERATION_PULL)],
        rpb.ROLLOUT_STATE_RUNNING,
    ),
    (
        "max parallelism holds back the rest of a batch",
        rollout([[("c", OK, 0)], [("a", PENDING, 0), ("b", PENDING, 0)]], max_parallel=1),
        {"a": IDLE, "b": IDLE},
        {"c": OK, "a": RUNNING, "b": PENDING},
        [("a", pb.OPERATION_PULL)],
        rpb.ROLLOUT_STATE_RUNNING,
    ),
    (
        "a failing canary stops the rollout over a budget of 0",
        rollout([[("c", RUNNING, TEST)], [("a", PENDING, 0)]]),
        {"c": seen(cmd(pb.OPERATION_TEST, pb.COMMAND_STATE_FAILED, exit_code=1), run=FAILED_RUN), "a": IDLE},
        {"c": FAILED, "a": PENDING},
        [],
        rpb.ROLLOUT_STATE_STOPPED,
    ),
    (
        "within the budget the rollout goes on",
        rollout([[("c", RUNNING, TEST)], [("a", PENDING, 0)]], failure_budget=1),
        {"c": seen(cmd(pb.OPERATION_TEST, pb.COMMAND_STATE_FAILED), run=FAILED_RUN), "a": IDLE},
        {"c": FAILED, "a": RUNNING},
        [("a", pb.OPERATION_PULL)],
        rpb.ROLLOUT_STATE_RUNNING,
    ),
    (
        "a failed host whose switch never ran is not rolled back",
        rollout([[("c", RUNNING, TEST)]], failed_host_action=rpb.FAILED_HOST_ACTION_ROLL_BACK),
        {"c": seen(cmd(pb.OPERATION_TEST, pb.COMMAND_STATE_FAILED), run=FAILED_RUN)},
        {"c": FAILED},
        [],
        rpb.ROLLOUT_STATE_STOPPED,
    ),
    (
        "a failed pull fails the host",
        rollout([[("c", RUNNING, PULL)]]),
        {"c": seen(cmd(pb.OPERATION_PULL, pb.COMMAND_STATE_FAILED, exit_code=128))},
        {"c": FAILED},
        [],
        rpb.ROLLOUT_STATE_STOPPED,
    ),
    (
        "an offline host is waited for before its deadline",
        rollout([[("c", WAITING, 0)]], offline_deadline={"seconds": 60}),
        {"c": OFFLINE},
        {"c": WAITING},
        [],
        rpb.ROLLOUT_STATE_RUNNING,
    ),
    (
        "an offline host past its deadline fails by default",
        rollout([[("c", WAITING, 0)]], offline_deadline={"seconds": 1}),
        {"c": OFFLINE},
        {"c": FAILED},
        [],
        rpb.ROLLOUT_STATE_STOPPED,
    ),
    (
        "an offline host past its deadline is skipped when configured",
        rollout(
            [[("c", WAITING, 0)]],
            offline_deadline={"seconds": 1},
            offline_host_action=rpb.OFFLINE_HOST_ACTION_SKIP,
        ),
        {"c": OFFLINE},
        {"c": SKIPPED},
        [],
        rpb.ROLLOUT_STATE_SUCCEEDED,
    ),
    (
        "a step recorded but never started (restart in between) starts with its recorded id",
        rollout([[("c", RUNNING, SWITCH)]]),
        {"c": IDLE},
        {"c": RUNNING},
        [("c", pb.OPERATION_SWITCH)],
        rpb.ROLLOUT_STATE_RUNNING,
    ),
    (
        "a test step not started because the host was busy follows the run its switch started",
        rollout([[("c", RUNNING, TEST)]]),
        {
            "c": seen(
                running_id="t",
                running=cmd(
                    pb.OPERATION_TEST, pb.COMMAND_STATE_RUNNING, id="t", trigger=pb.TEST_TRIGGER_AFTER_SWITCH
                ),
            )
        },
        {"c": RUNNING},
        [],
        rpb.ROLLOUT_STATE_RUNNING,
    ),
    (
        "an interrupted step fails the host once it is back and silent about it",
        rollout([[("c", RUNNING, SWITCH)]]),
        {"c": seen(cmd(pb.OPERATION_SWITCH, pb.COMMAND_STATE_INTERRUPTED))},
        {"c": FAILED},
        [],
        rpb.ROLLOUT_STATE_STOPPED,
    ),
    (
        "an interrupted step waits while its host just reconnected",
        rollout([[("c", RUNNING, SWITCH)]]),
        {
            "c": plan.Seen(
                online=True, online_since=NOW, step=cmd(pb.OPERATION_SWITCH, pb.COMMAND_STATE_INTERRUPTED)
            )
        },
        {"c": RUNNING},
        [],
        rpb.ROLLOUT_STATE_RUNNING,
    ),
    (
        "the canary passing with an approval gate waits for approval",
        rollout([[("c", RUNNING, TEST)], [("a", PENDING, 0)]], approve_after_canary=True),
        {"c": seen(cmd(pb.OPERATION_TEST, DONE), run=PASSED_RUN), "a": IDLE},
        {"c": OK, "a": PENDING},
        [],
        rpb.ROLLOUT_STATE_AWAITING_APPROVAL,
    ),
    (
        "a pause between batches holds the next one",
        rollout([[("c", RUNNING, TEST)], [("a", PENDING, 0)]], batch_pause={"seconds": 30}),
        {"c": seen(cmd(pb.OPERATION_TEST, DONE), run=PASSED_RUN), "a": IDLE},
        {"c": OK, "a": PENDING},
        [],
        rpb.ROLLOUT_STATE_RUNNING,
    ),
]


@pytest.mark.parametrize(
    ("rollout_", "facts", "hosts", "starts", "state"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_advance(
    rollout_: rpb.Rollout,
    facts: dict[str, plan.Seen],
    hosts: dict[str, int],
    starts: list[tuple[str, int]],
    state: int,
) -> None:
    ids = (f"id{i}" for i in itertools.count())
    got = plan.advance(rollout_, facts, NOW, lambda: next(ids))
    assert [(s.host, s.operation) for s in got] == starts
    assert {h.host: h.state for h in plan.all_hosts(rollout_)} == hosts
    assert rollout_.state == state, rollout_.message


def test_a_paused_rollout_follows_running_hosts_but_starts_none() -> None:
    r = rollout([[("c", RUNNING, TEST)], [("a", PENDING, 0)]])
    r.state = rpb.ROLLOUT_STATE_PAUSED
    starts = plan.advance(r, {"c": seen(cmd(pb.OPERATION_TEST, DONE), run=PASSED_RUN), "a": IDLE}, NOW, str)
    assert starts == [] and {h.host: h.state for h in plan.all_hosts(r)} == {"c": OK, "a": PENDING}


def test_an_aborted_rollout_records_the_running_step_and_touches_nothing_else() -> None:
    r = rollout([[("c", RUNNING, SWITCH)], [("a", PENDING, 0)]])
    r.state = rpb.ROLLOUT_STATE_ABORTED
    facts = {"c": seen(cmd(pb.OPERATION_SWITCH, pb.COMMAND_STATE_RUNNING), running_id="x"), "a": IDLE}
    assert plan.advance(r, facts, NOW, str) == []
    assert not r.HasField("finished_at")  # the switch is still followed
    facts["c"] = seen(cmd(pb.OPERATION_SWITCH, DONE))
    assert plan.advance(r, facts, NOW, str) == []
    c, a = plan.all_hosts(r)
    assert (c.state, c.message, a.state) == (ABORTED, "aborted after its switch", ABORTED)
    assert r.HasField("finished_at")


def test_a_failed_host_whose_switch_ran_is_rolled_back_and_then_counted_failed() -> None:
    r = rollout([[("c", RUNNING, TEST)]], failed_host_action=rpb.FAILED_HOST_ACTION_ROLL_BACK)
    r.batches[0].hosts[0].done_steps.extend([PULL, SWITCH])
    facts = {"c": seen(cmd(pb.OPERATION_TEST, pb.COMMAND_STATE_FAILED), run=FAILED_RUN)}
    starts = plan.advance(r, facts, NOW, lambda: "rb")
    assert [(s.host, s.operation, s.command_id) for s in starts] == [("c", pb.OPERATION_ROLLBACK, "rb")]
    assert r.state == rpb.ROLLOUT_STATE_STOPPED and r.failed_hosts == 1
    facts = {"c": seen(cmd(pb.OPERATION_ROLLBACK, DONE))}
    assert plan.advance(r, facts, NOW, str) == []
    (c,) = plan.all_hosts(r)
    assert (c.state, c.rolled_back, c.message) == (FAILED, True, "tests failed: web; rolled back")


@pytest.mark.parametrize(
    ("r", "expected"),
    [
        (rollout([[("c", PENDING, 0)]]), None),  # nothing waits on time
        (rollout([[("c", WAITING, 0)]], offline_deadline={"seconds": 60}), NOW - 5 + 60),
        (rollout([[("c", WAITING, 0)]]), NOW - 5 + plan.DEFAULT_OFFLINE_DEADLINE_SECONDS),
        (rollout([[("c", RUNNING, PULL)]]), NOW + plan.RECHECK_SECONDS),
    ],
)
def test_next_wake_is_the_earliest_time_that_matters(r: rpb.Rollout, expected: float | None) -> None:
    assert plan.next_wake(r, NOW) == expected


def test_next_wake_includes_the_end_of_a_pause_between_batches() -> None:
    r = rollout([[("c", OK, 0)], [("a", PENDING, 0)]])
    r.resume_at.FromSeconds(int(NOW) + 30)
    assert plan.next_wake(r, NOW) == NOW + 30


def test_a_switch_whose_tests_start_by_themselves_hands_the_step_to_that_run() -> None:
    r = rollout([[("c", RUNNING, SWITCH)]])
    facts = {"c": seen(cmd(pb.OPERATION_SWITCH, DONE, triggered_test_command_id="t"), running_id="t")}
    assert plan.advance(r, facts, NOW, str) == []
    (c,) = plan.all_hosts(r)
    assert (c.step, c.command_id, list(c.done_steps)) == (TEST, "t", [SWITCH])
