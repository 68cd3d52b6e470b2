"""The store's commands and their output, on every engine."""

from __future__ import annotations

import pytest
from stores import DiskError, EngineStore, aggregate_module, chunk, command, opened_store

from controlplane.store import OutputAppend, StoredOutput
from controlplane.timeutil import to_ts
from fleetdeck.v1 import types_pb2 as pb


async def test_a_command_reads_back_as_inserted_and_updated(store: EngineStore) -> None:
    inserted = command("c1")
    inserted.created_at.CopyFrom(to_ts(1_700_000_000))
    inserted.timeout.FromSeconds(600)
    inserted.trigger = pb.TEST_TRIGGER_AFTER_SWITCH
    inserted.triggered_by_command_id = "c0"
    await store.insert_command(inserted)
    assert await store.get_command("c1") == inserted

    inserted.state = pb.COMMAND_STATE_FAILED
    inserted.exit_code = 3
    inserted.message = "exit 3"
    inserted.started_at.CopyFrom(to_ts(1_700_000_001))
    inserted.finished_at.CopyFrom(to_ts(1_700_000_002))
    await store.update_command(inserted)
    assert await store.get_command("c1") == inserted


async def test_an_unknown_command_is_none(store: EngineStore) -> None:
    assert await store.get_command("nope") is None


async def test_commands_list_newest_first_in_pages(store: EngineStore) -> None:
    for i in range(5):
        await store.insert_command(command(f"c{i}", host="gpc0" if i % 2 == 0 else "mac1"))
    first = await store.list_commands("", 2, None)
    assert [c.id for c in first.items] == ["c4", "c3"]
    assert first.next_cursor is not None
    second = await store.list_commands("", 2, first.next_cursor)
    assert [c.id for c in second.items] == ["c2", "c1"]
    last = await store.list_commands("", 2, second.next_cursor)
    assert [c.id for c in last.items] == ["c0"]
    assert last.next_cursor is None
    of_one_host = await store.list_commands("gpc0", 10, None)
    assert [c.id for c in of_one_host.items] == ["c4", "c2", "c0"]
    assert of_one_host.next_cursor is None


async def test_a_full_last_page_has_no_next_page(store: EngineStore) -> None:
    for i in range(2):
        await store.insert_command(command(f"c{i}"))
    page = await store.list_commands("", 2, None)
    assert [c.id for c in page.items] == ["c1", "c0"]
    assert page.next_cursor is None


async def test_order_continues_after_a_reopen(database: str) -> None:
    async with opened_store(database) as store:
        await store.insert_command(command("old"))
    async with opened_store(database) as store:
        await store.insert_command(command("new"))
        assert [c.id for c in (await store.list_commands("", 10, None)).items] == ["new", "old"]


async def test_unfinished_commands_are_pending_or_running_oldest_first(store: EngineStore) -> None:
    states = {
        "pending": pb.COMMAND_STATE_PENDING,
        "running": pb.COMMAND_STATE_RUNNING,
        "interrupted": pb.COMMAND_STATE_INTERRUPTED,
        "done": pb.COMMAND_STATE_SUCCEEDED,
    }
    for name, state in states.items():
        await store.insert_command(command(name, host="mac1" if name == "running" else "gpc0", state=state))
    assert [c.id for c in await store.unfinished_commands()] == ["pending", "running"]
    assert [c.id for c in await store.unfinished_commands("gpc0")] == ["pending"]
    with_interrupted = await store.unfinished_commands(include_interrupted=True)
    assert [c.id for c in with_interrupted] == ["pending", "running", "interrupted"]


async def test_hosts_and_sequence_numbers_of_known_commands(store: EngineStore) -> None:
    await store.insert_command(command("c1", host="gpc0"))
    await store.insert_command(command("c2", host="mac1"))
    await store.append_output([OutputAppend("c1", chunk("c1", 4, "x"))])
    assert await store.command_hosts({"c1", "c2", "nope"}) == {"c1": "gpc0", "c2": "mac1"}
    assert await store.command_hosts(set()) == {}
    assert await store.max_seqs(["c1", "c2", "nope"]) == {"c1": 4, "c2": 0}
    assert await store.max_seqs([]) == {}


async def test_output_is_stored_once_and_read_from_a_line_on(store: EngineStore) -> None:
    await store.insert_command(command("c1"))
    batch = [
        OutputAppend("c1", chunk("c1", 1, "a", "b")),
        OutputAppend("c1", chunk("c1", 2, "c", first_line=2)),
    ]
    assert await store.append_output(batch) == {"c1": StoredOutput(max_seq=2, lines=3, truncated_bytes=0)}
    # A reconnecting agent resends what was not acknowledged: nothing is stored twice.
    resent = [*batch, OutputAppend("c1", chunk("c1", 3, "d", first_line=3))]
    assert await store.append_output(resent) == {"c1": StoredOutput(max_seq=3, lines=4, truncated_bytes=0)}
    assert [line.text for line in await store.read_output("c1", 0)] == ["a", "b", "c", "d"]
    assert [line.text for line in await store.read_output("c1", 1)] == ["b", "c", "d"]
    found = await store.get_command("c1")
    assert found is not None and found.output_lines == 4


async def test_output_is_capped_keeping_the_tail(database: str) -> None:
    async with opened_store(database, output_cap_bytes=100) as store:
        await store.insert_command(command("c1", state=pb.COMMAND_STATE_RUNNING))
        chunks = [OutputAppend("c1", chunk("c1", i + 1, "x" * 39, first_line=i)) for i in range(5)]
        stored = await store.append_output(chunks)
        assert stored == {"c1": StoredOutput(max_seq=5, lines=2, truncated_bytes=120)}
        lines = await store.read_output("c1", 0)
        found = await store.get_command("c1")
        assert [line.number for line in lines] == [3, 4]  # tail kept
        assert found is not None
        assert found.output_truncated_bytes == 120
        assert found.output_lines == 2
        await store.append_output(chunks[:1])  # a resend of an evicted chunk is not stored again
        assert [line.number for line in await store.read_output("c1", 0)] == [3, 4]


async def test_a_finished_command_is_stored_with_its_host_in_one_transaction(store: EngineStore) -> None:
    host = pb.Host(name="gpc0", facts=pb.HostFacts(commit="abc"))
    await store.save_hosts([host])
    finished = command("c1", state=pb.COMMAND_STATE_SUCCEEDED)
    await store.insert_command(finished)
    finished.exit_code = 0
    finished.finished_at.CopyFrom(to_ts(1_700_000_100))
    host.facts.commit = "def"
    host.last_switch.command_id = "c1"
    host.current_deployment_id = "c1"
    await store.finish_command(finished, 7, host)
    found = await store.get_command("c1")
    assert found is not None
    assert (found.state, found.exit_code, found.finished_at) == (
        pb.COMMAND_STATE_SUCCEEDED,
        0,
        to_ts(1_700_000_100),
    )
    assert await store.max_seqs(["c1"]) == {"c1": 7}
    (loaded,) = await store.load_hosts()
    assert loaded.host.facts.commit == "def"
    assert loaded.host.last_switch.command_id == "c1"
    assert loaded.host.current_deployment_id == "c1"


async def test_a_finish_that_fails_part_way_stores_none_of_it(
    store: EngineStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.save_hosts([pb.Host(name="gpc0")])
    await store.insert_command(command("c1"))

    async def disk_error(db: object, host: pb.Host) -> None:
        raise DiskError("disk I/O error")

    monkeypatch.setattr(aggregate_module("commands"), "write_host_result", disk_error)
    with pytest.raises(DiskError):
        await store.finish_command(command("c1", state=pb.COMMAND_STATE_SUCCEEDED), 5, pb.Host(name="gpc0"))
    found = await store.get_command("c1")
    assert found is not None and found.state == pb.COMMAND_STATE_PENDING
    assert await store.max_seqs(["c1"]) == {"c1": 0}
