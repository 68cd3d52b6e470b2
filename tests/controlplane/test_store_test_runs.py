"""The store's test runs and their cases, on every engine."""

from __future__ import annotations

import pytest
from stores import DiskError, EngineStore, aggregate_module, command

from controlplane.timeutil import to_ts
from fleetdeck.v1 import types_pb2 as pb


def _run(run_id: str, state: int = pb.TEST_STATE_PASSED, host: str = "gpc0") -> pb.TestRun:
    run = pb.TestRun(
        id=run_id,
        host=host,
        state=state,  # type: ignore[arg-type]
        generation="42",
        started_at=to_ts(1_700_000_000),
        finished_at=to_ts(1_700_000_060),
        passed=1,
        failed=1,
        total=2,
    )
    run.cases.add(name="Network", outcome=pb.TEST_OUTCOME_PASSED, output="ping ok\n", file="10-network.sh")
    run.cases.add(
        name="GPU", outcome=pb.TEST_OUTCOME_FAILED, output="no gpu\n", exit_code=1, file="20-gpu.sh"
    )
    run.cases[0].duration.FromMilliseconds(1500)
    run.cases[1].duration.FromMilliseconds(20)  # stored in milliseconds, always set when read back
    return run


async def _add(store: EngineStore, run: pb.TestRun) -> None:
    await store.insert_command(command(run.id, host=run.host, operation=pb.OPERATION_TEST))
    await store.put_test_run(run)


async def test_a_run_reads_back_with_every_case(store: EngineStore) -> None:
    run = _run("r1")
    await _add(store, run)
    assert await store.get_test_run("r1") == run
    without_output = await store.get_test_run("r1", with_output=False)
    assert without_output is not None
    assert [c.name for c in without_output.cases] == ["Network", "GPU"]
    assert [c.output for c in without_output.cases] == ["", ""]
    assert await store.get_test_run("nope") is None


async def test_a_run_stored_again_replaces_its_summary_and_cases(store: EngineStore) -> None:
    await _add(store, _run("r1", pb.TEST_STATE_RUNNING))
    final = _run("r1", pb.TEST_STATE_FAILED)
    del final.cases[0]
    await store.put_test_run(final)
    assert await store.get_test_run("r1") == final


async def test_a_run_its_acknowledgement_and_the_hosts_tests_go_together(store: EngineStore) -> None:
    host = pb.Host(name="gpc0")
    await store.save_hosts([host])
    await store.insert_command(command("r1", operation=pb.OPERATION_TEST))
    host.test_status.state = pb.TEST_STATE_FAILED
    host.test_status.last_run_id = "r1"
    await store.put_test_run(_run("r1", pb.TEST_STATE_FAILED), 9, host=host)
    assert await store.max_seqs(["r1"]) == {"r1": 9}
    (loaded,) = await store.load_hosts()
    assert loaded.host.test_status == host.test_status


async def test_a_run_that_fails_part_way_stores_none_of_it(
    store: EngineStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.save_hosts([pb.Host(name="gpc0")])
    await store.insert_command(command("r1", operation=pb.OPERATION_TEST))

    async def disk_error(db: object, host: pb.Host) -> None:
        raise DiskError("disk I/O error")

    monkeypatch.setattr(aggregate_module("test_runs"), "write_test_status", disk_error)
    with pytest.raises(DiskError):
        await store.put_test_run(_run("r1"), 9, host=pb.Host(name="gpc0"))
    assert await store.get_test_run("r1") is None
    assert await store.max_seqs(["r1"]) == {"r1": 0}


async def test_runs_list_newest_first_in_pages_without_output(store: EngineStore) -> None:
    for i in range(3):
        await _add(store, _run(f"r{i}"))
    await _add(store, _run("other", host="mac1"))
    first = await store.list_test_runs("gpc0", 2, None)
    assert [r.id for r in first.items] == ["r2", "r1"]
    assert all(case.output == "" for r in first.items for case in r.cases)
    second = await store.list_test_runs("gpc0", 2, first.next_cursor)
    assert [r.id for r in second.items] == ["r0"]
    assert second.next_cursor is None


async def test_a_run_without_a_command_lists_after_every_command(store: EngineStore) -> None:
    await _add(store, _run("r1"))
    await store.put_test_run(_run("orphan"))
    assert [r.id for r in (await store.list_test_runs("gpc0", 10, None)).items] == ["orphan", "r1"]


async def test_history_keeps_limit_but_never_latest_pass_or_fail(store: EngineStore) -> None:
    states = [pb.TEST_STATE_PASSED] + [pb.TEST_STATE_FAILED] * 6
    for i, state in enumerate(states):
        await _add(store, pb.TestRun(id=f"r{i}", host="h", state=state))  # type: ignore[arg-type]
    removed = await store.prune_test_runs("h", keep=3)
    kept = [r.id for r in (await store.list_test_runs("h", 10, None)).items]
    assert kept == ["r6", "r5", "r4", "r0"]  # r0 is the latest pass
    assert removed == 3
    assert await store.get_test_run("r1") is None
