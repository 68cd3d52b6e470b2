"""A case's history across three generations with a real agent: passed on system-1, broken by
system-2 (a regression: rollback offered first), flaky on system-2 (run again offered first), still
failing on system-3; a case failing since it appeared is broken. The history, the "failing since"
line and the classifications read back through the API."""

from __future__ import annotations

import asyncio
import json

import pytest
from agent_world import COMMAND_TIMEOUT, World
from fleetdeck_cli import fleetdeck

from controlplane.case_history import failing_since
from fleetdeck.v1 import fleet_service_pb2, history_pb2, types_pb2

# Where the engine matters, these tests run on SQLite and on PostgreSQL.
pytestmark = pytest.mark.both_engines

P, F = types_pb2.TEST_OUTCOME_PASSED, types_pb2.TEST_OUTCOME_FAILED
PASSED, FLAKY, REGRESSION, BROKEN, FAILING = (
    types_pb2.CASE_CLASSIFICATION_PASSED,
    types_pb2.CASE_CLASSIFICATION_FLAKY,
    types_pb2.CASE_CLASSIFICATION_REGRESSION,
    types_pb2.CASE_CLASSIFICATION_BROKEN,
    types_pb2.CASE_CLASSIFICATION_FAILING,
)


async def _run(
    world: World, generation: str, gpu_exit: int
) -> tuple[types_pb2.TestRun, fleet_service_pb2.TestsFailed]:
    host = world.hosts["gpc0"]
    host.generation.write_text(generation + "\n")
    (host.root / "gpu-exit").write_text(f"{gpu_exit}\n")
    watch = world.fleet.stub.WatchFleet(fleet_service_pb2.WatchFleetRequest())
    await watch.read()
    test_id = await world.fleet.run("gpc0", types_pb2.OPERATION_TEST)
    async with asyncio.timeout(COMMAND_TIMEOUT):  # Dns always fails: every run is announced
        while True:
            event = await watch.read()
            if event.HasField("tests_failed") and event.tests_failed.run_id == test_id:
                failed = event.tests_failed
                break
    watch.cancel()
    return await world.fleet.test_run(test_id), failed


async def test_a_case_flips_across_three_generations(world: World) -> None:
    host = await world.host("gpc0", tests={})
    gpu = f'echo "gpu check"; exit $(cat {host.root / "gpu-exit"})'
    for name, body in {"10-gpu.sh": gpu, "20-dns.sh": "echo 'no resolver' >&2; exit 1"}.items():
        path = host.repo / "hosts" / "gpc0" / "tests" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\n" + body + "\n")
        path.chmod(0o755)
    world.hosts = {"gpc0": host}  # type: ignore[attr-defined]
    await world.agent(host)

    classes: list[tuple[str, int, int]] = []

    async def step(generation: str, gpu_exit: int) -> fleet_service_pb2.TestsFailed:
        run, failed = await _run(world, generation, gpu_exit)
        gpu = next(c for c in run.cases if c.name == "Gpu")
        classes.append((generation, gpu.outcome, gpu.classification))
        dns = next(c for c in run.cases if c.name == "Dns")
        assert dns.classification == BROKEN  # failing on every generation since it appeared
        return failed

    first = await step("system-1", 0)
    assert [(c.name, c.classification) for c in first.cases] == [("Dns", BROKEN)]
    assert first.offered_operations[0] == types_pb2.OPERATION_ROLLBACK
    assert "Dns was not broken by this deployment" in first.advice
    regression = await step("system-2", 1)
    assert regression.offered_operations[0] == types_pb2.OPERATION_ROLLBACK
    assert "Gpu passed on the previous generation" in regression.advice
    assert [(c.name, c.classification) for c in regression.cases] == [("Gpu", REGRESSION), ("Dns", BROKEN)]
    assert regression.cases[0].output_head == "gpu check"
    await step("system-2", 0)
    flaky = await step("system-2", 1)
    assert [(c.name, c.classification) for c in flaky.cases] == [("Gpu", FLAKY), ("Dns", BROKEN)]
    assert flaky.offered_operations[0] == types_pb2.OPERATION_ROLLBACK  # Dns is no flake
    await step("system-3", 1)
    assert classes == [
        ("system-1", P, PASSED),
        ("system-2", F, REGRESSION),
        ("system-2", P, FLAKY),
        ("system-2", F, FLAKY),
        ("system-3", F, FAILING),
    ]

    response = await world.fleet.stub.ListCaseResults(
        history_pb2.ListCaseResultsRequest(host="gpc0", name="Gpu", page_size=3)
    )
    assert [(r.generation, r.classification) for r in response.results] == [
        ("system-3", FAILING),
        ("system-2", FLAKY),
        ("system-2", FLAKY),
    ]
    assert all(r.trigger == types_pb2.TEST_TRIGGER_MANUAL and r.commit for r in response.results)
    assert response.next_page_token
    summary = response.summary
    assert failing_since(summary) == "failing since system-2, 2 runs"
    assert (summary.last_pass_generation, summary.retained_runs, summary.retained_passes) == (
        "system-2",
        5,
        2,
    )

    summaries = await world.fleet.stub.ListCaseSummaries(history_pb2.ListCaseSummariesRequest(host="gpc0"))
    assert [(s.name, failing_since(s)) for s in summaries.summaries] == [
        ("Dns", "failing since system-1, 5 runs"),
        ("Gpu", "failing since system-2, 2 runs"),
    ]
    failing = await world.fleet.stub.ListFailingCases(history_pb2.ListFailingCasesRequest())
    assert [(f.name, [h.host for h in f.hosts], f.same_commit) for f in failing.cases] == [
        ("Dns", ["gpc0"], True),
        ("Gpu", ["gpc0"], True),
    ]

    # The CLI tells the same story.
    target = world.cp.grpc_target
    runs = await fleetdeck("test-runs", "gpc0", target=target)
    assert runs.code == 0, runs.err
    newest = runs.out.splitlines()[1].rstrip()
    assert newest.endswith("1 failing, 1 broken"), newest
    shown = await fleetdeck("test-run", response.results[0].run_id, target=target)
    assert shown.code == 1
    gpu_row = next(line for line in shown.out.splitlines() if line.startswith("Gpu "))
    assert gpu_row.split()[:3] == ["Gpu", "failed", "failing"]
    assert "--- Gpu (failing) ---" in shown.out
    assert "Gpu on gpc0: failing since system-2, 2 runs; last passed on system-2 at " in shown.out
    assert "2/5 passed (40%) of the retained runs" in shown.out
    as_json = json.loads(
        (await fleetdeck("test-run", response.results[0].run_id, "-o", "json", target=target)).out
    )
    assert [c["classification"] for c in as_json["run"]["cases"]] == [
        "CASE_CLASSIFICATION_FAILING",
        "CASE_CLASSIFICATION_BROKEN",
    ]
    history = await fleetdeck("case-history", "gpc0", "Gpu", target=target)
    assert history.code == 1  # it fails now
    assert history.out.splitlines()[0].startswith("Gpu on gpc0: failing since system-2, 2 runs")
    assert [line.split()[1:4] for line in history.out.splitlines()[2:]] == [
        ["failed", "failing", "system-3"],
        ["failed", "flaky", "system-2"],
        ["passed", "flaky", "system-2"],
        ["failed", "regression", "system-2"],
        ["passed", "passed", "system-1"],
    ]
    fleet_view = await fleetdeck("failing-cases", target=target)
    assert fleet_view.code == 1
    assert fleet_view.out.splitlines()[1].split()[:4] == ["Dns", "1", "yes", "gpc0"]
    unknown = await fleetdeck("case-history", "gpc0", "Nope", target=target)
    assert unknown.code == 3 and "no results of a case named 'Nope'" in unknown.err
