"""Test runs and their cases; a run is stored with its command's acknowledgement and the
host's test status in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fleetdeck.v1 import history_pb2 as history_pb
from fleetdeck.v1 import types_pb2 as pb

from ...timeutil import from_ts
from ..codec import duration, ms, parse, sub_cases_blob
from ..records import Page
from .case_history import write_summaries
from .commands import command_ord, raise_max_seq
from .connection import Connection, Sql
from .hosts import write_test_status


class TestRunQueries:
    """The test-run aggregate of both engines' stores (methods documented on `TestRunStore`)."""

    _sql: Sql

    async def put_test_run(
        self,
        run: pb.TestRun,
        seq: int = 0,
        host: pb.Host | None = None,
        summaries: Sequence[history_pb.CaseSummary] = (),
    ) -> None:
        async with self._sql.transaction() as db:
            await self._write_test_run(db, run)
            if summaries:
                await write_summaries(db, summaries)
            if seq:
                await raise_max_seq(db, run.id, seq)
            if host is not None:
                await write_test_status(db, host)

    async def _write_test_run(self, db: Connection, run: pb.TestRun) -> None:
        summary = pb.TestRun()
        summary.CopyFrom(run)
        del summary.cases[:]
        ord_ = await command_ord(db, run.id)  # a run lists where the command that ran it does
        if ord_ is None:  # ... or, without one, where the next command would
            ord_ = await self._sql.take_ord(db)
        await db.execute(
            "INSERT INTO test_runs(id, ord, host, state, passed, failed, started_at, finished_at, run) "
            "VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET state=excluded.state, "
            "passed=excluded.passed, failed=excluded.failed, started_at=excluded.started_at, "
            "finished_at=excluded.finished_at, run=excluded.run",
            run.id,
            ord_,
            run.host,
            run.state,
            run.passed,
            run.failed,
            from_ts(run.started_at) if run.HasField("started_at") else None,
            from_ts(run.finished_at) if run.HasField("finished_at") else None,
            summary.SerializeToString(),
        )
        if run.cases:
            await db.execute("DELETE FROM test_cases WHERE run_id = ?", run.id)
            await db.executemany(
                "INSERT INTO test_cases(run_id, idx, name, outcome, duration_ms, exit_code, file, output, "
                "classification, message, sub_cases) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        run.id,
                        i,
                        c.name,
                        c.outcome,
                        ms(c.duration),
                        c.exit_code,
                        c.file,
                        c.output,
                        c.classification,
                        c.message,
                        sub_cases_blob(c),
                    )
                    for i, c in enumerate(run.cases)
                ],
            )

    async def get_test_run(self, run_id: str, with_output: bool = True) -> pb.TestRun | None:
        r = await self._sql.one("SELECT run FROM test_runs WHERE id = ?", (run_id,))
        if r is None:
            return None
        run = parse(pb.TestRun, r[0])
        output = "output" if with_output else "''"
        for c in await self._sql.all(
            f"SELECT name, outcome, duration_ms, exit_code, file, {output}, classification, message, "
            "sub_cases FROM test_cases WHERE run_id = ? ORDER BY idx",
            (run_id,),
        ):
            case = run.cases.add(
                name=c[0],
                outcome=c[1],
                duration=duration(c[2]),
                exit_code=c[3],
                file=c[4],
                output=c[5],
                classification=c[6],
                message=c[7],
            )
            case.sub_cases.extend(parse(pb.TestCaseResult, c[8]).sub_cases)
        return run

    async def list_test_runs(self, host: str, limit: int, cursor: int | None) -> Page[pb.TestRun]:
        sql = "SELECT id, ord FROM test_runs WHERE host = ?"
        args: list[Any] = [host]
        if cursor is not None:
            sql += " AND ord < ?"
            args.append(cursor)
        rows = await self._sql.all(sql + " ORDER BY ord DESC LIMIT ?", [*args, limit + 1])
        runs = []
        for run_id, _ord in rows[:limit]:
            run = await self.get_test_run(run_id, with_output=False)
            if run is not None:
                runs.append(run)
        return Page(runs, rows[limit - 1][1] if len(rows) > limit else None)

    async def prune_test_runs(self, host: str, keep: int) -> int:
        async with self._sql.transaction() as db:
            count = await db.execute(
                "DELETE FROM test_runs WHERE host = ? AND id IN ("
                f"  SELECT id FROM test_runs WHERE host = ? ORDER BY ord DESC {db.dialect.no_limit} OFFSET ?"
                ") AND id NOT IN ("
                "  SELECT id FROM (SELECT id FROM test_runs WHERE host = ? AND state = ? "
                "  ORDER BY ord DESC LIMIT 1) passed"
                "  UNION SELECT id FROM (SELECT id FROM test_runs WHERE host = ? AND state = ? "
                "  ORDER BY ord DESC LIMIT 1) failed)",
                host,
                host,
                keep,
                host,
                pb.TEST_STATE_PASSED,
                host,
                pb.TEST_STATE_FAILED,
            )
            return count
