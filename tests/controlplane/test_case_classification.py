"""Flaky, regression, broken or failing: decided by generation, table-driven."""

from __future__ import annotations

import pytest

from controlplane import case_history
from controlplane.timeutil import to_ts
from fleetdeck.v1 import history_pb2 as history_pb
from fleetdeck.v1 import types_pb2 as pb

P, F, T, E, N = (
    pb.TEST_OUTCOME_PASSED,
    pb.TEST_OUTCOME_FAILED,
    pb.TEST_OUTCOME_TIMED_OUT,
    pb.TEST_OUTCOME_ERROR,
    pb.TEST_OUTCOME_NOT_RUN,
)
PASSED, FLAKY, REGRESSION, BROKEN, FAILING, NONE = (
    pb.CASE_CLASSIFICATION_PASSED,
    pb.CASE_CLASSIFICATION_FLAKY,
    pb.CASE_CLASSIFICATION_REGRESSION,
    pb.CASE_CLASSIFICATION_BROKEN,
    pb.CASE_CLASSIFICATION_FAILING,
    pb.CASE_CLASSIFICATION_UNSPECIFIED,
)


def _history(*results: tuple[str, int]) -> tuple[list[int], history_pb.CaseSummary | None]:
    """Feed (generation, outcome) results in order; the classification of each and the last summary."""
    summary: history_pb.CaseSummary | None = None
    classes = []
    for i, (generation, outcome) in enumerate(results):
        case = pb.TestCaseResult(name="Gpu", outcome=outcome)  # type: ignore[arg-type]
        classification, after = case_history.advance(
            summary,
            "gpc0",
            case,
            generation=generation,
            commit=f"c-{generation}",
            run_id=f"r{i}",
            at=to_ts(i),
        )
        classes.append(classification)
        summary = after or summary
    return classes, summary


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        ([("g1", P)], [PASSED]),
        ([("g1", F)], [BROKEN]),
        ([("g1", T)], [BROKEN]),
        ([("g1", E)], [BROKEN]),
        ([("g1", N)], [NONE]),
        # the same generation both passed and failed: flaky, whichever came first
        ([("g1", P), ("g1", F)], [PASSED, FLAKY]),
        ([("g1", F), ("g1", P)], [BROKEN, FLAKY]),
        ([("g1", P), ("g1", F), ("g1", P)], [PASSED, FLAKY, FLAKY]),
        # passed on the previous generation, fails on this one: this deployment's regression
        ([("g1", P), ("g2", F)], [PASSED, REGRESSION]),
        ([("g1", P), ("g2", F), ("g2", F)], [PASSED, REGRESSION, REGRESSION]),
        ([("g1", P), ("g2", T)], [PASSED, REGRESSION]),
        # the regression is g2's: on g3 it is still failing, not a new regression
        ([("g1", P), ("g2", F), ("g3", F)], [PASSED, REGRESSION, FAILING]),
        # failing on every generation since it appeared
        ([("g1", F), ("g2", F), ("g3", F)], [BROKEN, BROKEN, BROKEN]),
        # a pass on a new generation is a pass, a later failure there makes it flaky
        ([("g1", F), ("g2", P), ("g2", F)], [BROKEN, PASSED, FLAKY]),
        # a run that did not reach the case says nothing and changes nothing
        ([("g1", P), ("g2", N), ("g2", F)], [PASSED, NONE, REGRESSION]),
        # back to an older generation (a rollback) that passes: a pass
        ([("g1", P), ("g2", F), ("g1", P)], [PASSED, REGRESSION, PASSED]),
    ],
)
def test_classification_by_generation(results: list[tuple[str, int]], expected: list[int]) -> None:
    assert _history(*results)[0] == expected


@pytest.mark.parametrize(
    ("results", "since", "runs", "line"),
    [
        ([("g1", P)], "", 0, ""),
        ([("g40", P), ("g41", F)], "g41", 1, "failing since g41, 1 run"),
        ([("g40", P), ("g41", F), ("g41", F), ("g42", F)], "g41", 3, "failing since g41, 3 runs"),
        ([("g40", F), ("g41", P), ("g42", F)], "g42", 1, "failing since g42, 1 run"),
        ([("g40", F), ("g40", N)], "g40", 1, "failing since g40, 1 run"),
    ],
)
def test_failing_since_is_the_first_failure_of_the_streak(
    results: list[tuple[str, int]], since: str, runs: int, line: str
) -> None:
    _classes, summary = _history(*results)
    assert summary is not None
    assert (summary.failing_since_generation, summary.failing_runs) == (since, runs)
    assert case_history.failing_since(summary) == line


def test_a_summary_counts_every_verdict_and_remembers_the_last_pass() -> None:
    _classes, summary = _history(("g1", P), ("g1", F), ("g2", P), ("g3", F), ("g3", N))
    assert summary is not None
    assert (summary.runs, summary.passes) == (4, 2)
    assert (summary.last_pass_generation, summary.last_pass_at) == ("g2", to_ts(2))
    assert (summary.first_generation, summary.last_generation, summary.last_commit) == ("g1", "g3", "c-g3")
    assert (summary.generation_passes, summary.generation_failures) == (0, 1)
    assert summary.last_run_id == "r3"


def _failed(name: str, classification: int) -> history_pb.FailedCase:
    return history_pb.FailedCase(name=name, classification=classification)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cases", "first", "advice"),
    [
        ([_failed("Gpu", REGRESSION)], pb.OPERATION_ROLLBACK, "this deployment broke it"),
        ([_failed("Gpu", REGRESSION), _failed("Dns", FLAKY)], pb.OPERATION_ROLLBACK, "Gpu passed on the"),
        ([_failed("Gpu", FLAKY)], pb.OPERATION_TEST, "Gpu is flaky on system-42"),
        ([_failed("Gpu", FLAKY), _failed("Dns", FLAKY)], pb.OPERATION_TEST, "Gpu, Dns are flaky"),
        (
            [_failed("Gpu", FLAKY), _failed("Dns", BROKEN)],
            pb.OPERATION_ROLLBACK,
            "Dns was not broken by this deployment",
        ),
        ([_failed("Gpu", FAILING)], pb.OPERATION_ROLLBACK, "a rollback may not fix it"),
        ([], pb.OPERATION_ROLLBACK, ""),
    ],
)
def test_the_offer_follows_the_classification(
    cases: list[history_pb.FailedCase], first: int, advice: str
) -> None:
    offer = case_history.offer(cases, "system-42")
    assert offer.operations[0] == first
    assert set(offer.operations) == {pb.OPERATION_ROLLBACK, pb.OPERATION_TEST}
    assert advice in offer.advice


def test_failing_cases_group_hosts_and_tell_whether_the_commit_is_the_same() -> None:
    def summary(host: str, name: str, commit: str, failing: int = 1) -> history_pb.CaseSummary:
        return history_pb.CaseSummary(host=host, name=name, last_commit=commit, failing_runs=failing)

    grouped = case_history.failing_cases(
        [
            summary("b", "Nix store", "c1"),
            summary("a", "Nix store", "c1"),
            summary("a", "Dns", "c1"),
            summary("c", "Dns", "c2"),
            summary("d", "Dns", "c1"),
            summary("e", "Gpu", "c1", failing=0),
        ]
    )
    assert [(f.name, [h.host for h in f.hosts], f.same_commit, list(f.commits)) for f in grouped] == [
        ("Dns", ["a", "c", "d"], False, ["c1", "c2"]),
        ("Nix store", ["a", "b"], True, ["c1"]),
    ]
