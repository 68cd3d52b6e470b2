"""The executor: what it refuses, and how one command is reported through the outbox."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from agent.config import parse_config
from agent.executor import Executor
from agent.journal import Journal
from agent.outbox import Outbox
from fleetdeck.v1 import agent_service_pb2, types_pb2


def _executor(
    tmp_path: Path, script: Callable[..., Path], enabled: bool = True
) -> tuple[Executor, list[agent_service_pb2.ConnectRequest]]:
    switch = script("bin/switch", "echo started\nsleep 30")
    config = parse_config(
        {
            "controlplane": "127.0.0.1:1",
            "host": "gpc0",
            "token_file": "token",
            "repo_dir": "repo",
            "state_dir": "state",
            "generation_path": "generation",
            "stop_grace_seconds": 1,
            "operations": {"switch": [str(switch)], "rollback": [str(switch)]},
        },
        tmp_path,
        os_name="nixos",
    )
    (tmp_path / "repo").mkdir()
    sent: list[agent_service_pb2.ConnectRequest] = []
    journal = Journal.open(config.state_dir)
    outbox = Outbox(1 << 20)
    tests = types_pb2.TestSettings(enabled=enabled)
    return Executor(config, journal, outbox, sent.append, lambda: tests), sent


FIRST, SECOND = "1" * 32, "2" * 32


def _refusals(sent: list[agent_service_pb2.ConnectRequest]) -> list[str]:
    return [m.command_refused.reason for m in sent if m.HasField("command_refused")]


async def test_a_second_command_is_refused_naming_the_running_one(
    tmp_path: Path, script: Callable[..., Path]
) -> None:
    executor, sent = _executor(tmp_path, script)
    executor.start(agent_service_pb2.RunCommand(command_id=FIRST, operation=types_pb2.OPERATION_SWITCH))
    executor.start(agent_service_pb2.RunCommand(command_id=SECOND, operation=types_pb2.OPERATION_ROLLBACK))
    assert _refusals(sent) == [f"command {FIRST} is already running"]
    executor.cancel(FIRST)
    async with asyncio.timeout(10):
        await executor.wait_idle()
    finished = [e for e in executor.outbox._entries if e.is_finish]
    assert finished and finished[0].result.state == types_pb2.COMMAND_STATE_CANCELLED  # type: ignore[union-attr]


async def test_unknown_operations_bad_commits_and_disabled_tests_are_refused(
    tmp_path: Path, script: Callable[..., Path]
) -> None:
    executor, sent = _executor(tmp_path, script, enabled=False)
    executor.start(agent_service_pb2.RunCommand(command_id="a" * 32, operation=99))  # type: ignore[arg-type]
    executor.start(
        agent_service_pb2.RunCommand(command_id="b" * 32, operation=types_pb2.OPERATION_UNSPECIFIED)
    )
    executor.start(
        agent_service_pb2.RunCommand(
            command_id="c" * 32, operation=types_pb2.OPERATION_PULL, target_commit="HEAD~1"
        )
    )
    executor.start(agent_service_pb2.RunCommand(command_id="d" * 32, operation=types_pb2.OPERATION_TEST))
    executor.start(
        agent_service_pb2.RunCommand(command_id="../../etc/x", operation=types_pb2.OPERATION_SWITCH)
    )
    reasons = _refusals(sent)
    assert reasons[4] == "command id '../../etc/x' is not 32 lower-case hex digits"
    assert reasons[0].startswith("unknown operation 99")
    assert reasons[1].startswith("unknown operation 0")
    assert reasons[2].startswith("pull needs a target commit of 40 hex digits")
    assert reasons[3] == "tests are disabled for host gpc0"
    assert executor.running is None
    assert executor.journal.entries() == []
