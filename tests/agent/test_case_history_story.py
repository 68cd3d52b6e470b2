"""A case's history across three generations with a real agent: passed on system-1, broken by
system-2 (a regression: rollback offered first), flaky on system-2 (run again offered first), still
failing on system-3; a case failing since it appeared is broken. The history, the "failing since"
line and the classifications read back through the API."""

from __future__ import annotations

import asyncio

from agent_e2e import COMMAND_TIMEOUT, World

from controlplane.case_history import failing_since
from fleetdeck.v1 import fleet_service_pb2, history_pb2, types_pb2

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
