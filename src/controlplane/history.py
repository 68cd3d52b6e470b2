"""Per-case history as the API and the run's ingest see it: classify a run against the stored
summaries before it is stored, and answer the history reads."""

from __future__ import annotations

from fleetdeck.v1 import history_pb2 as history_pb
from fleetdeck.v1 import types_pb2 as pb

from . import case_history
from .errors import InvalidArgument, NotFound
from .store import Page, Store
from .timeutil import now_ts


async def classify(store: Store, run: pb.TestRun) -> list[history_pb.CaseSummary]:
    """Classify `run`'s cases in place; return the summaries to store with it.

    A run that is stored already (an agent's resend) keeps the classification it was stored with
    and changes no summary, so a resend never counts twice. A cancelled run is no verdict: it is
    stored as it is and changes no summary either.
    """
    if run.state == pb.TEST_STATE_CANCELLED:
        return []
    stored = await store.get_test_run(run.id, with_output=False)
    if stored is not None and stored.cases:
        by_name = {c.name: c.classification for c in stored.cases}
        for case in run.cases:
            case.classification = by_name.get(case.name, pb.CASE_CLASSIFICATION_UNSPECIFIED)
        return []
    before = await store.case_summaries(run.host, sorted({c.name for c in run.cases}))
    at = run.finished_at if run.HasField("finished_at") else now_ts()
    return case_history.classify_run(run, before, at)


async def failed_cases(store: Store, run: pb.TestRun) -> list[history_pb.FailedCase]:
    """The failing cases of a stored run with since when each fails."""
    names = sorted({c.name for c in run.cases if c.outcome in case_history.FAILED_OUTCOMES})
    summaries = await store.case_summaries(run.host, names) if names else {}
    return case_history.failed_cases(run, summaries)


async def case_results(
    store: Store, host: str, name: str, limit: int, cursor: int | None
) -> tuple[Page[history_pb.CaseResult], history_pb.CaseSummary]:
    """A case's results on a host and its summary; NotFound when the host never ran it."""
    if not name:
        raise InvalidArgument("name the case (its name as the test run shows it)")
    summary = await store.case_summary(host, name)
    if summary is None:
        raise NotFound(f"host {host} has no results of a case named {name!r}")
    return await store.list_case_results(host, name, limit, cursor), summary


async def failing_cases(store: Store) -> list[history_pb.FailingCase]:
    """Every case failing right now somewhere, with its hosts."""
    return case_history.failing_cases(await store.failing_case_summaries())
