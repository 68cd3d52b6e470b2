"""A case's history on a host, decided by generation: flaky, regression, broken or failing.

Pure functions: the summary a case had before a result and the result go in; the result's
classification and the summary after it come out. Only results that are verdicts (passed, failed,
timed out, errored) count; a case that was not run changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from google.protobuf.timestamp_pb2 import Timestamp

from fleetdeck.history import classification_name as classification_name
from fleetdeck.history import failing_since as failing_since
from fleetdeck.history import offer as offer
from fleetdeck.v1 import history_pb2 as history_pb
from fleetdeck.v1 import types_pb2 as pb

FAILED_OUTCOMES = frozenset({pb.TEST_OUTCOME_FAILED, pb.TEST_OUTCOME_TIMED_OUT, pb.TEST_OUTCOME_ERROR})
FAILURE_CLASSES = frozenset(
    {pb.CASE_CLASSIFICATION_REGRESSION, pb.CASE_CLASSIFICATION_BROKEN, pb.CASE_CLASSIFICATION_FAILING}
)
OUTPUT_HEAD_LINES = 5


def is_verdict(outcome: int) -> bool:
    """Whether a case outcome says something about the system (it ran and passed or failed)."""
    return outcome == pb.TEST_OUTCOME_PASSED or outcome in FAILED_OUTCOMES


def classify(before: history_pb.CaseSummary | None, outcome: int, generation: str) -> pb.CaseClassification:
    """How one result reads against the case's summary before it."""
    passed = outcome == pb.TEST_OUTCOME_PASSED
    if not is_verdict(outcome):
        return pb.CASE_CLASSIFICATION_UNSPECIFIED
    if before is None or before.runs == 0:
        return pb.CASE_CLASSIFICATION_PASSED if passed else pb.CASE_CLASSIFICATION_BROKEN
    if before.last_generation == generation:
        if passed:
            return (
                pb.CASE_CLASSIFICATION_FLAKY if before.generation_failures else pb.CASE_CLASSIFICATION_PASSED
            )
        if before.generation_passes:
            return pb.CASE_CLASSIFICATION_FLAKY
        if before.last_classification in FAILURE_CLASSES:
            return before.last_classification  # another failure on the generation that broke it
    elif passed:
        return pb.CASE_CLASSIFICATION_PASSED
    elif before.last_outcome == pb.TEST_OUTCOME_PASSED:
        return pb.CASE_CLASSIFICATION_REGRESSION
    return pb.CASE_CLASSIFICATION_FAILING if before.last_pass_generation else pb.CASE_CLASSIFICATION_BROKEN


def advance(
    before: history_pb.CaseSummary | None,
    host: str,
    case: pb.TestCaseResult,
    *,
    generation: str,
    commit: str,
    run_id: str,
    at: Timestamp,
) -> tuple[pb.CaseClassification, history_pb.CaseSummary | None]:
    """The result's classification and the case's summary after it (None: the result is no verdict)."""
    classification = classify(before, case.outcome, generation)
    if classification == pb.CASE_CLASSIFICATION_UNSPECIFIED:
        return classification, None
    after = history_pb.CaseSummary(host=host, name=case.name)
    if before is not None:
        after.CopyFrom(before)
    after.ClearField("retained_runs")
    after.ClearField("retained_passes")
    if after.runs == 0:
        after.first_generation = generation
    if after.last_generation != generation or after.runs == 0:
        after.generation_passes = 0
        after.generation_failures = 0
    passed = case.outcome == pb.TEST_OUTCOME_PASSED
    after.runs += 1
    after.last_outcome = case.outcome
    after.last_classification = classification
    after.last_generation = generation
    after.last_commit = commit
    after.last_run_id = run_id
    after.last_run_at.CopyFrom(at)
    if passed:
        after.passes += 1
        after.generation_passes += 1
        after.last_pass_generation = generation
        after.last_pass_at.CopyFrom(at)
        after.failing_runs = 0
        after.failing_since_generation = ""
        after.failing_since_commit = ""
        after.ClearField("failing_since")
    else:
        after.generation_failures += 1
        if after.failing_runs == 0:
            after.failing_since_generation = generation
            after.failing_since_commit = commit
            after.failing_since.CopyFrom(at)
        after.failing_runs += 1
    return classification, after


def classify_run(
    run: pb.TestRun, summaries: Mapping[str, history_pb.CaseSummary], at: Timestamp
) -> list[history_pb.CaseSummary]:
    """Set each case's classification in `run` from the summaries before it; return the new summaries."""
    current = dict(summaries)
    changed: dict[str, history_pb.CaseSummary] = {}
    for case in run.cases:
        classification, after = advance(
            current.get(case.name),
            run.host,
            case,
            generation=run.generation,
            commit=run.commit,
            run_id=run.id,
            at=at,
        )
        case.classification = classification
        if after is not None:
            current[case.name] = changed[case.name] = after
    return list(changed.values())


def output_head(output: str, lines: int = OUTPUT_HEAD_LINES) -> str:
    """The first lines of a case's output."""
    return "\n".join(output.splitlines()[:lines])


def failed_cases(
    run: pb.TestRun, summaries: Mapping[str, history_pb.CaseSummary]
) -> list[history_pb.FailedCase]:
    """The failing cases of a classified run, for the TestsFailed event and notifications."""
    cases = []
    for case in run.cases:
        if case.outcome not in FAILED_OUTCOMES:
            continue
        summary = summaries.get(case.name, history_pb.CaseSummary())
        cases.append(
            history_pb.FailedCase(
                name=case.name,
                outcome=case.outcome,
                classification=case.classification,
                failing_since_generation=summary.failing_since_generation,
                failing_runs=summary.failing_runs,
                output_head=output_head(case.output or case.message),
            )
        )
    return cases


def failing_cases(summaries: Iterable[history_pb.CaseSummary]) -> list[history_pb.FailingCase]:
    """Group the fleet's failing case summaries by case: most hosts first, then by name."""
    by_name: dict[str, list[history_pb.CaseSummary]] = {}
    for summary in summaries:
        if summary.failing_runs:
            by_name.setdefault(summary.name, []).append(summary)
    result = []
    for name, hosts in by_name.items():
        hosts.sort(key=lambda s: s.host)
        commits = sorted({s.last_commit for s in hosts})
        result.append(
            history_pb.FailingCase(name=name, hosts=hosts, same_commit=len(commits) == 1, commits=commits)
        )
    result.sort(key=lambda f: (-len(f.hosts), f.name))
    return result
