"""A replayed command id (a confused or malicious control plane) is answered, never run twice."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from agent.config import parse_config
from agent.executor import Executor
from agent.journal import DONE_KEPT, Journal, JournalEntry
from agent.outbox import Outbox
from fleetdeck.v1 import agent_service_pb2, types_pb2

COMMAND = "3" * 32


def _executor(
    tmp_path: Path, script: Callable[..., Path]
) -> tuple[Executor, list[agent_service_pb2.ConnectRequest], Path]:
    marker = tmp_path / "ran"
    switch = script("bin/switch", f"echo ran >> {marker}\nexit 3")
    config = parse_config(
        {
            "controlplane": "127.0.0.1:1",
            "host": "gpc0",
            "token_file": "token",
            "repo_dir": "repo",
            "state_dir": "state",
            "generation_path": "generation",
            "operations": {"switch": [str(switch)], "rollback": [str(switch)]},
        },
        tmp_path,
        os_name="nixos",
    )
    (tmp_path / "repo").mkdir(exist_ok=True)
    sent: list[agent_service_pb2.ConnectRequest] = []
    tests = types_pb2.TestSettings(enabled=True)
    executor = Executor(config, Journal.open(config.state_dir), Outbox(1 << 20), sent.append, lambda: tests)
    return executor, sent, marker


async def test_a_finished_and_acknowledged_command_replayed_is_answered_not_rerun(
    tmp_path: Path, script: Callable[..., Path]
) -> None:
    executor, sent, marker = _executor(tmp_path, script)
    run = agent_service_pb2.RunCommand(command_id=COMMAND, operation=types_pb2.OPERATION_SWITCH)
    executor.start(run)
    async with asyncio.timeout(10):
        await executor.wait_idle()
    # The control plane stored everything, its finish included, and said so.
    while (request := executor.outbox.take_ready()) is not None:
        executor.outbox.ack(COMMAND, getattr(request, request.WhichOneof("message") or "").seq)
    executor.on_acked(COMMAND)
    executor.start(run)  # ... and sends it again
    answers = [m.command_finished for m in sent if m.HasField("command_finished")]
    assert [(a.command_id, a.state, a.exit_code) for a in answers] == [
        (COMMAND, types_pb2.COMMAND_STATE_FAILED, 3)
    ]
    assert marker.read_text() == "ran\n"
    # A restarted agent remembers it too.
    again, sent_again, _ = _executor(tmp_path, script)
    again.start(run)
    assert [m.command_finished.exit_code for m in sent_again if m.HasField("command_finished")] == [3]
    assert again.running is None and marker.read_text() == "ran\n"


def test_the_journal_remembers_a_bounded_number_of_done_commands(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path)

    for i in range(DONE_KEPT + 5):
        command_id = f"{i:032x}"
        journal.data.commands[command_id] = JournalEntry(
            command_id, types_pb2.OPERATION_PULL, 0.0, finished={"commandId": command_id}
        )
        journal.forget(command_id)
    assert len(journal.data.done) == DONE_KEPT
    assert journal.done(f"{0:032x}") is None
    assert journal.done(f"{DONE_KEPT + 4:032x}") is not None
