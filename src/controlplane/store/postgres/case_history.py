"""Per-case history in PostgreSQL: a case's results across a host's retained runs, and the summary per
(host, case) that `put_test_run` keeps in the run's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fleetdeck.v1 import history_pb2 as history_pb
from fleetdeck.v1 import types_pb2 as pb

from ..codec import duration, parse
from ..records import Page
from .database import Connection, Database

_VERDICTS = (pb.TEST_OUTCOME_PASSED, pb.TEST_OUTCOME_FAILED, pb.TEST_OUTCOME_TIMED_OUT, pb.TEST_OUTCOME_ERROR)
_RETAINED = (
    "SELECT c.name, COUNT(*), SUM(CASE WHEN c.outcome = $1 THEN 1 ELSE 0 END) FROM test_cases c "
    "JOIN test_runs r ON r.id = c.run_id WHERE r.host = $2 AND c.outcome IN ($3,$4,$5,$6)"
)


async def write_summaries(db: Connection, summaries: Sequence[history_pb.CaseSummary]) -> None:
    """Insert or replace case summaries (inside the caller's transaction)."""
    await db.executemany(
        "INSERT INTO case_summaries(host, name, failing, summary) VALUES ($1,$2,$3,$4) "
        "ON CONFLICT(host, name) DO UPDATE SET failing=excluded.failing, summary=excluded.summary",
        [(s.host, s.name, 1 if s.failing_runs else 0, s.SerializeToString()) for s in summaries],
    )


class PostgresCaseHistory:
    """The case-history aggregate of `PostgresStore` (methods documented on `CaseHistoryStore`)."""

    _db: Database

    async def case_summaries(self, host: str, names: Sequence[str] = ()) -> dict[str, history_pb.CaseSummary]:
        sql = "SELECT summary FROM case_summaries WHERE host = $1"
        args: list[Any] = [host]
        if names:
            sql += " AND name = ANY($2::text[])"
            args.append(list(names))
        summaries = {
            s.name: s for s in (parse(history_pb.CaseSummary, r[0]) for r in await self._db.all(sql, args))
        }
        if not names:
            for name, runs, passes in await self._db.all(
                _RETAINED + " GROUP BY c.name", (pb.TEST_OUTCOME_PASSED, host, *_VERDICTS)
            ):
                if name in summaries:
                    summaries[name].retained_runs = runs
                    summaries[name].retained_passes = passes or 0
        return dict(sorted(summaries.items()))

    async def case_summary(self, host: str, name: str) -> history_pb.CaseSummary | None:
        row = await self._db.one(
            "SELECT summary FROM case_summaries WHERE host = $1 AND name = $2", (host, name)
        )
        if row is None:
            return None
        summary = parse(history_pb.CaseSummary, row[0])
        counts = await self._db.one(
            _RETAINED + " AND c.name = $7 GROUP BY c.name", (pb.TEST_OUTCOME_PASSED, host, *_VERDICTS, name)
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
            "FROM test_cases c JOIN test_runs r ON r.id = c.run_id WHERE r.host = $1 AND c.name = $2"
        )
        args: list[Any] = [host, name]
        if cursor is not None:
            sql += " AND r.ord < $3"
            args.append(cursor)
        args.append(limit + 1)
        rows = await self._db.all(sql + f" ORDER BY r.ord DESC LIMIT ${len(args)}", args)
        results = [case_result(host, name, row) for row in rows[:limit]]
        return Page(results, rows[limit - 1][0] if len(rows) > limit else None)

    async def failing_case_summaries(self) -> list[history_pb.CaseSummary]:
        rows = await self._db.all("SELECT summary FROM case_summaries WHERE failing = 1 ORDER BY name, host")
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
