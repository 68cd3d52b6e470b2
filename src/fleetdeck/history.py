"""How a case's history reads, the same in the control plane, the CLI and the page's API."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fleetdeck.v1 import history_pb2 as history_pb
from fleetdeck.v1 import types_pb2 as pb


def classification_name(classification: int) -> str:
    """'flaky', 'regression', 'broken', 'failing', 'passed'; '' when unclassified."""
    if classification == pb.CASE_CLASSIFICATION_UNSPECIFIED:
        return ""
    try:
        name: str = pb.CaseClassification.Name(classification)
    except ValueError:
        return str(classification)
    return name.removeprefix("CASE_CLASSIFICATION_").lower()


def failing_since(summary: history_pb.CaseSummary) -> str:
    """'failing since system-41, 3 runs', or '' while the case passes."""
    if not summary.failing_runs:
        return ""
    runs = "1 run" if summary.failing_runs == 1 else f"{summary.failing_runs} runs"
    return f"failing since {summary.failing_since_generation or 'an unknown generation'}, {runs}"


def pass_rate(summary: history_pb.CaseSummary) -> str:
    """'2/5 passed (40%)' over the retained runs; '' when none is retained."""
    if not summary.retained_runs:
        return ""
    percent = round(100 * summary.retained_passes / summary.retained_runs)
    return f"{summary.retained_passes}/{summary.retained_runs} passed ({percent}%)"


@dataclass(frozen=True, slots=True)
class Offer:
    """What to offer after a failed run, the recommended operation first, and why."""

    operations: tuple[pb.Operation, ...]
    advice: str


def offer(cases: Sequence[history_pb.FailedCase], generation: str) -> Offer:
    """A regression offers the rollback first; a run whose every failure is flaky offers a new run first."""
    names = {
        c: [f.name for f in cases if f.classification == c] for c in set(f.classification for f in cases)
    }
    regressions = names.get(pb.CASE_CLASSIFICATION_REGRESSION, [])
    flaky = names.get(pb.CASE_CLASSIFICATION_FLAKY, [])
    on = f" on {generation}" if generation else ""
    if regressions:
        return Offer(
            (pb.OPERATION_ROLLBACK, pb.OPERATION_TEST),
            f"{_join(regressions)} passed on the previous generation and fail{_s(regressions)}{on}: "
            "this deployment broke it; roll back",
        )
    if cases and len(flaky) == len(cases):
        return Offer(
            (pb.OPERATION_TEST, pb.OPERATION_ROLLBACK),
            f"{_join(flaky)} {'is' if len(flaky) == 1 else 'are'} flaky{on} (passed and failed on this "
            "generation): run the tests again before rolling back",
        )
    older = [
        f.name
        for f in cases
        if f.classification in (pb.CASE_CLASSIFICATION_BROKEN, pb.CASE_CLASSIFICATION_FAILING)
    ]
    if older:
        return Offer(
            (pb.OPERATION_ROLLBACK, pb.OPERATION_TEST),
            f"{_join(older)} {'was' if len(older) == 1 else 'were'} not broken by this deployment "
            f"(failing since {'it' if len(older) == 1 else 'they'} appeared or since an earlier generation): "
            "a rollback may not fix it",
        )
    return Offer((pb.OPERATION_ROLLBACK, pb.OPERATION_TEST), "")


def run_offer(run: pb.TestRun) -> Offer:
    """The offer for a stored run, from its cases' classifications."""
    bad = (pb.TEST_OUTCOME_FAILED, pb.TEST_OUTCOME_TIMED_OUT, pb.TEST_OUTCOME_ERROR)
    cases = [
        history_pb.FailedCase(name=c.name, outcome=c.outcome, classification=c.classification)
        for c in run.cases
        if c.outcome in bad
    ]
    return offer(cases, run.generation)


def _join(names: Sequence[str]) -> str:
    return ", ".join(names)


def _s(names: Sequence[str]) -> str:
    return "s" if len(names) == 1 else ""
