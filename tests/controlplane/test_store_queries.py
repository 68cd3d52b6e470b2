"""The engine-neutral query layer: placeholders, the dialects, bulk statements on every engine."""

from __future__ import annotations

from typing import Any

import pytest
from stores import EngineStore, chunk, command

from controlplane.store import OutputAppend, StoredOutput
from controlplane.store.postgres.connection import distinct_runs, numbered
from controlplane.store.queries.connection import POSTGRES, SQLITE, SqlDialect
from fleetdeck.v1 import types_pb2 as pb


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 1", "SELECT 1"),
        ("SELECT a FROM t WHERE b = ?", "SELECT a FROM t WHERE b = $1"),
        ("UPDATE t SET a = ?, b = ? WHERE c = ?", "UPDATE t SET a = $1, b = $2 WHERE c = $3"),
        ("VALUES (?,?)", "VALUES ($1,$2)"),
        ("WHERE id = ANY(?::text[]) LIMIT ?", "WHERE id = ANY($1::text[]) LIMIT $2"),
        ("WHERE id = $1", "WHERE id = $1"),  # numbered already: untouched
    ],
)
def test_placeholders_are_numbered_for_postgresql(sql: str, expected: str) -> None:
    assert numbered(sql) == expected


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        (SQLITE, ("IN (?,?,?)", [1, 2, 3])),
        (POSTGRES, ("= ANY(?::bigint[])", [[1, 2, 3]])),
    ],
)
def test_a_membership_test_is_a_list_of_placeholders_or_one_array(
    dialect: SqlDialect, expected: tuple[str, list[Any]]
) -> None:
    assert dialect.among((1, 2, 3), "bigint") == expected


@pytest.mark.parametrize(
    ("keys", "runs"),
    [
        ([], []),
        (["a", "b", "c"], [["a", "b", "c"]]),
        (["a", "b", "a", "c"], [["a", "b"], ["a", "c"]]),
        (["a", "a", "a"], [["a"], ["a"], ["a"]]),
    ],
)
def test_a_bulk_upsert_splits_where_a_key_repeats(keys: list[str], runs: list[list[str]]) -> None:
    rows = [(key, i) for i, key in enumerate(keys)]
    assert [[row[0] for row in run] for run in distinct_runs(rows, [0]) if run] == runs


async def test_an_output_batch_larger_than_one_statement_takes_is_stored_whole(store: EngineStore) -> None:
    await store.insert_command(command("c1", state=pb.COMMAND_STATE_RUNNING))
    # SQLite binds at most 32,766 parameters in a statement: 6,000 chunks of 6 columns need two.
    batch = [OutputAppend("c1", chunk("c1", i + 1, f"line {i}", first_line=i)) for i in range(6000)]
    assert await store.append_output(batch) == {
        "c1": StoredOutput(max_seq=6000, lines=6000, truncated_bytes=0)
    }
    lines = await store.read_output("c1", 5998)
    assert [line.text for line in lines] == ["line 5998", "line 5999"]
