"""The journal: a JSON file that survives the agent."""

from __future__ import annotations

from pathlib import Path

from agent.config import parse_config
from agent.daemon import Agent
from agent.journal import Journal, JournalEntry
from fleetdeck.v1 import agent_service_pb2, types_pb2


def test_round_trip(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "state")
    journal.record(JournalEntry("c1", types_pb2.OPERATION_SWITCH, started_at=100.0, pid=42, line_floor=4096))
    finished = agent_service_pb2.CommandFinished(
        command_id="c1", state=types_pb2.COMMAND_STATE_FAILED, exit_code=3, message="exited with code 3"
    )
    run = types_pb2.TestRun(id="c1", passed=7, failed=1, total=8)
    journal.record_result("c1", finished, run)
    journal.set_last_test(types_pb2.TestStatus(state=types_pb2.TEST_STATE_FAILED, passed=7, failed=1))

    again = Journal.open(tmp_path / "state")
    entry = again.entry("c1")
    assert entry is not None
    assert (entry.operation, entry.pid, entry.line_floor) == (types_pb2.OPERATION_SWITCH, 42, 4096)
    assert entry.finished_message() == finished
    assert entry.test_run_message() == run
    last = again.last_test()
    assert last is not None and (last.passed, last.failed) == (7, 1)

    again.forget("c1")
    assert Journal.open(tmp_path / "state").entries() == []


def test_a_broken_journal_is_set_aside(tmp_path: Path) -> None:
    (tmp_path / "journal.json").write_text("{not json")
    journal = Journal.open(tmp_path)
    assert journal.entries() == []
    assert (tmp_path / "journal.broken").exists()


async def test_a_result_the_welcome_acknowledges_is_forgotten(tmp_path: Path) -> None:
    config = parse_config(
        {"controlplane": "h:1", "host": "gpc0", "token_file": "t", "repo_dir": "r", "state_dir": "state"},
        tmp_path,
        os_name="nixos",
    )
    journal = Journal.open(config.state_dir)
    journal.record(JournalEntry("c1", types_pb2.OPERATION_SWITCH, started_at=1.0, finished_seq=3))
    journal.record_result("c1", agent_service_pb2.CommandFinished(command_id="c1", exit_code=0), None)
    agent = Agent(config)
    await agent.executor.recover()
    assert (await agent.hello()).unacknowledged_command_ids == ["c1"]

    agent.on_welcome(agent_service_pb2.Welcome(acks=[agent_service_pb2.Ack(command_id="c1", seq=3)]))

    assert agent.journal.entries() == []
    assert Journal.open(config.state_dir).entries() == []
    assert len(agent.outbox) == 0


def test_ack_hints_live_in_their_own_file_and_the_journal_is_only_ever_synced(tmp_path) -> None:
    from agent.journal import Journal, JournalEntry

    journal = Journal.open(tmp_path)
    journal.data.commands["c" * 32] = JournalEntry(command_id="c" * 32, operation=2, started_at=1.0)
    journal.save()
    synced = (tmp_path / "journal.json").read_text()
    entry = journal.entry("c" * 32)
    assert entry is not None
    entry.acked_seq, entry.acked_lines = 7, 120
    journal.save(sync=False)
    assert (tmp_path / "journal.json").read_text() == synced  # the journal file is untouched
    reopened = Journal.open(tmp_path)
    again = reopened.entry("c" * 32)
    assert again is not None and (again.acked_seq, again.acked_lines) == (7, 120)
    (tmp_path / "journal.hints.json").write_text("")  # lost to a power cut: hints only
    assert Journal.open(tmp_path).entry("c" * 32) is not None
