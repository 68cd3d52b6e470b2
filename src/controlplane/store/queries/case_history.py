"""Per-case history: a case's results across a host's retained runs, and the summary per
(host, case) that `put_test_run` keeps in the run's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fleetdeck.v1 import history_pb2 as history_pb
from fleetdeck.v1 import types_pb2 as pb

from ..codec import duration, parse
from ..records import Page
from .connection import Connection, Sql

_VERDICTS = (pb.TEST_OUTCOME_PASSED, pb.TEST_OUTCOME_FAILED, pb.TEST_OUTCOME_TIMED_OUT, pb.TEST_OUTCOME_ERROR)
_RETAINED = (
    "SELECT c.name, COUNT(*), SUM(CASE WHEN c.outcome = ? THEN 1 ELSE 0 END) FROM test_cases c "
    "JOIN test_runs r ON r.id = c.run_id WHERE r.host = ? AND c.outcome IN (?,?,?,?)"
)


async def write_summaries(db: Connection, summaries: Sequence[history_pb.CaseSummary]) -> None:
    """Insert or replace case summaries (inside the caller's transaction)."""
    await db.executemany(
        "INSERT INTO case_summaries(host, name, failing, summary) VALUES (?,?,?,?) "
        "ON CONFLICT(host, name) DO UPDATE SET failing=excluded.failing, summary=excluded.summary",
        [(s.host, s.name, 1 if s.failing_runs else 0, s.SerializeToString()) for s in summaries],
    )


class CaseHistoryQueries:
    """The case-history aggregate of both engines' stores (methods documented on `CaseHistoryStore`)."""

    _sql: Sql

    async def case_summaries(self, host: str, names: Sequence[str] = ()) -> dict[str, history_pb.CaseSummary]:
        sql = "SELECT summary FROM case_summaries WHERE host = ?"
        args: list[Any] = [host]
        if names:
            among, names_args = self._sql.dialect.among(names, "text")
            sql += f" AND name {among}"
            args.extend(names_args)
        summaries = {
            s.name: s for s in (parse(history_pb.CaseSummary, r[0]) for r in await self._sql.all(sql, args))
        }
        if not names:
            for name, runs, passes in await self._sql.all(
                _RETAINED + " GROUP BY c.name", (pb.TEST_OUTCOME_PASSED, host, *_VERDICTS)
            ):
                if name in summaries:
                    summaries[name].retained_runs = runs
                    summaries[name].retained_passes = passes or 0
        return dict(sorted(summaries.items()))

    async def case_summary(self, host: str, name: str) -> history_pb.CaseSummary | None:
        row = await self._sql.one(
            "SELECT summary FROM case_summaries WHERE host = ? AND name = ?", (host, name)
        )
        if row is None:
            return None
        summary = parse(history_pb.CaseSummary, row[0])
        counts = await self._sql.one(
            _RETAINED + " AND c.name = ? GROUP BY c.name", (pb.TEST_OUTCOME_PASSED, host, *_VERDICTS, name)
        )
        if counts is not None:
            summary.retained_runs = counts[1]
            summary.retained_passes = counts[2] or 0
        return summary

    async def list_case_results(
        self, host: str, name: str, limit: int, cursor: int | None
    ) -> Page[history_pb.CaseResult]:
        sql = (
            "SELECT r.ord, r.run, c.outcome, c.classification, c.duration_ms, c.exit_code, c.message "
            "FROM test_cases c JOIN test_runs r ON r.id = c.run_id WHERE r.host = ? AND c.name = ?"
        )
        args: list[Any] = [host, name]
        if cursor is not None:
            sql += " AND r.ord < ?"
            args.append(cursor)
        rows = await self._sql.all(sql + " ORDER BY r.ord DESC LIMIT ?", [*args, limit + 1])
        results = [case_result(host, name, row) for row in rows[:limit]]
        return Page(results, rows[limit - 1][0] if len(rows) > limit else None)

    async def failing_case_summaries(self) -> list[history_pb.CaseSummary]:
        rows = await self._sql.all("SELECT summary FROM case_summaries WHERE failing = 1 ORDER BY name, host")
        return [parse(history_pb.CaseSummary, r[0]) for r in rows]


def case_result(host: str, name: str, row: Any) -> history_pb.CaseResult:
    """A CaseResult from (ord, run blob, outcome, classification, duration_ms, exit_code, message)."""
    run = parse(pb.TestRun, row[1])
    result = history_pb.CaseResult(
        run_id=run.id,
        host=host,
        name=name,
        outcome=row[2],
        classification=row[3],
        generation=run.generation,
        commit=run.commit,
        trigger=run.trigger,
        duration=duration(row[4]),
        exit_code=row[5],
        message=row[6],
    )
    if run.HasField("finished_at"):
        result.finished_at.CopyFrom(run.finished_at)
    return result
