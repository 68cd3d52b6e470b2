"""How a case's history reads, the same in the control plane, the CLI and the page's API."""

from __future__ import annotations

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
