"""Per-case history in the store, on every engine: results with their run's facts, summaries that
outlive retention, the fleet's failing cases."""

from __future__ import annotations

from stores import EngineStore, command

from controlplane import case_history
from controlplane.timeutil import to_ts
from fleetdeck.v1 import history_pb2 as history_pb
from fleetdeck.v1 import types_pb2 as pb


async def _store_run(
    store: EngineStore, run_id: str, generation: str, outcome: int, host: str = "gpc0", at: int = 0
) -> pb.TestRun:
    """Classify and store a one-case run the way the control plane does."""
    run = pb.TestRun(
        id=run_id,
        host=host,
        generation=generation,
        commit=f"commit-{generation}",
        trigger=pb.TEST_TRIGGER_AFTER_SWITCH,
        state=pb.TEST_STATE_PASSED if outcome == pb.TEST_OUTCOME_PASSED else pb.TEST_STATE_FAILED,
        finished_at=to_ts(1_700_000_000 + at),
    )
    case = run.cases.add(name="Gpu", outcome=outcome, exit_code=0 if outcome == pb.TEST_OUTCOME_PASSED else 1)  # type: ignore[arg-type]
    case.duration.FromMilliseconds(250)
    case.sub_cases.add(name="nvidia-smi", outcome=pb.TEST_OUTCOME_FAILED, message="not found")
    await store.insert_command(command(run_id, host=host, operation=pb.OPERATION_TEST))
    before = await store.case_summaries(host, ["Gpu"])
    summaries = case_history.classify_run(run, before, run.finished_at)
    await store.put_test_run(run, summaries=summaries)
    return run


async def test_a_case_keeps_its_generation_commit_trigger_time_and_classification(store: EngineStore) -> None:
    await _store_run(store, "r1", "system-40", pb.TEST_OUTCOME_PASSED, at=1)
    await _store_run(store, "r2", "system-41", pb.TEST_OUTCOME_FAILED, at=2)
    page = await store.list_case_results("gpc0", "Gpu", 10, None)
    assert [(r.run_id, r.generation, r.commit, r.outcome, r.classification) for r in page.items] == [
        ("r2", "system-41", "commit-system-41", pb.TEST_OUTCOME_FAILED, pb.CASE_CLASSIFICATION_REGRESSION),
        ("r1", "system-40", "commit-system-40", pb.TEST_OUTCOME_PASSED, pb.CASE_CLASSIFICATION_PASSED),
    ]
    assert page.items[0].trigger == pb.TEST_TRIGGER_AFTER_SWITCH
    assert page.items[0].finished_at == to_ts(1_700_000_002)
    assert page.items[0].duration.ToMilliseconds() == 250
    stored = await store.get_test_run("r2")
    assert stored is not None
    assert stored.cases[0].classification == pb.CASE_CLASSIFICATION_REGRESSION
    assert [(s.name, s.message) for s in stored.cases[0].sub_cases] == [("nvidia-smi", "not found")]


async def test_case_results_come_in_pages_newest_first(store: EngineStore) -> None:
    for i in range(5):
        await _store_run(store, f"r{i}", "g", pb.TEST_OUTCOME_PASSED, at=i)
    first = await store.list_case_results("gpc0", "Gpu", 2, None)
    second = await store.list_case_results("gpc0", "Gpu", 2, first.next_cursor)
    third = await store.list_case_results("gpc0", "Gpu", 2, second.next_cursor)
    assert [r.run_id for r in first.items + second.items + third.items] == ["r4", "r3", "r2", "r1", "r0"]
    assert third.next_cursor is None


async def test_the_summary_survives_retention_and_counts_what_is_retained(store: EngineStore) -> None:
    await _store_run(store, "r1", "system-40", pb.TEST_OUTCOME_PASSED, at=1)
    await _store_run(store, "r2", "system-41", pb.TEST_OUTCOME_FAILED, at=2)
    await _store_run(store, "r3", "system-41", pb.TEST_OUTCOME_FAILED, at=3)
    await _store_run(store, "r4", "system-42", pb.TEST_OUTCOME_FAILED, at=4)
    assert await store.prune_test_runs("gpc0", keep=1) > 0
    summary = await store.case_summary("gpc0", "Gpu")
    assert summary is not None
    assert case_history.failing_since(summary) == "failing since system-41, 3 runs"
    assert (summary.last_pass_generation, summary.runs, summary.passes) == ("system-40", 4, 1)
    # only r4 and the latest passing run (r1) are retained: one pass in two
    assert (summary.retained_runs, summary.retained_passes) == (2, 1)
    assert [r.run_id for r in (await store.list_case_results("gpc0", "Gpu", 10, None)).items] == ["r4", "r1"]
    listed = await store.case_summaries("gpc0")
    assert list(listed) == ["Gpu"] and listed["Gpu"].retained_runs == 2
    assert await store.case_summary("gpc0", "Nope") is None


async def test_failing_summaries_are_those_whose_last_result_failed(store: EngineStore) -> None:
    await _store_run(store, "a1", "g1", pb.TEST_OUTCOME_FAILED, host="a")
    await _store_run(store, "b1", "g1", pb.TEST_OUTCOME_FAILED, host="b")
    await _store_run(store, "b2", "g1", pb.TEST_OUTCOME_PASSED, host="b")
    await _store_run(store, "c1", "g1", pb.TEST_OUTCOME_FAILED, host="c")
    failing = await store.failing_case_summaries()
    assert [(s.host, s.name) for s in failing] == [("a", "Gpu"), ("c", "Gpu")]
    assert isinstance(failing[0], history_pb.CaseSummary)
