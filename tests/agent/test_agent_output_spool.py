"""End to end: a switch's output survives the agent's death (kill -9, SIGTERM) through its spool."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import pytest
from agent_world import COMMAND_TIMEOUT, AgentProcess, HostWorld, World

from agent.process import wait_exit
from fleetdeck.v1 import types_pb2

LINES = 1000


def _steady_switch(tmp_path: Path, code: int) -> str:
    """A switch printing lines steadily; at line 150 it waits for `go`, at 200 it tells `printed`."""
    for fifo in ("go", "printed"):
        os.mkfifo(tmp_path / fifo)
    return f"""
for i in $(seq 1 {LINES}); do
  echo "line $i"
  if (( i == 150 )); then read -r _ < {tmp_path / "go"}; fi
  if (( i == 200 )); then echo printed > {tmp_path / "printed"}; fi
  if (( i % 10 == 0 )); then sleep 0.02; fi
done
exit {code}
"""


async def _killed_mid_switch(world: World, host: HostWorld, agent: AgentProcess, how: str) -> str:
    """Start the switch and take the agent down while lines it read, or had in its pipe, are unsent.

    The agent is paused (SIGSTOP) while the switch prints lines 151-200 into its pipe, so at least
    those are read-or-buffered but not stored when the agent goes: before the spool, they were lost.
    """
    command_id = await world.fleet.run(host.name, types_pb2.OPERATION_SWITCH)
    await world.fleet.follow_until(command_id, lambda lines: any(x.text == "line 150" for x in lines))
    os.kill(agent.pid, signal.SIGSTOP)
    async with asyncio.timeout(COMMAND_TIMEOUT):
        await asyncio.to_thread((world.tmp_path / "go").write_text, "go\n")
        await asyncio.to_thread((world.tmp_path / "printed").read_text)
    if how == "KILL":
        agent.kill()
    else:
        # SIGTERM: the agent shuts down as it wakes, and the switch outlives it.
        os.kill(agent.pid, signal.SIGTERM)
        os.kill(agent.pid, signal.SIGCONT)
    await agent.wait()
    return command_id


def _stdout(lines: list[object]) -> list[str]:
    return [x.text for x in lines if x.stream == types_pb2.OUTPUT_STREAM_STDOUT]  # type: ignore[attr-defined]


@pytest.mark.parametrize(("how", "code"), [("KILL", 0), ("TERM", 4)])
async def test_every_line_of_a_switch_is_stored_once_after_the_agent_dies_mid_switch(
    world: World, how: str, code: int
) -> None:
    host = await world.host("gpc0", switch=_steady_switch(world.tmp_path, code))
    agent = await world.agent(host)
    command_id = await _killed_mid_switch(world, host, agent, how)
    await world.agent(host, online=False)  # systemd (here the test) restarts the agent

    command = await world.fleet.finished(command_id)
    assert command.exit_code == code, command.message
    expected = types_pb2.COMMAND_STATE_SUCCEEDED if code == 0 else types_pb2.COMMAND_STATE_FAILED
    assert command.state == expected, command.message
    lines = await world.fleet.output(command_id)
    assert _stdout(lines) == [f"line {i}" for i in range(1, LINES + 1)]
    assert not [x.text for x in lines if "missing" in x.text]
    numbers = [x.number for x in lines]
    assert numbers == sorted(set(numbers))


async def test_a_spool_cut_short_shows_how_many_lines_are_missing(world: World) -> None:
    host = await world.host("gpc0", switch=_steady_switch(world.tmp_path, 0))
    agent = await world.agent(host)
    command_id = await _killed_mid_switch(world, host, agent, "KILL")
    stored = _stdout(await world.fleet.output(command_id))

    # While no agent runs, the switch ends and then its spool is cut (a disk error, a careless admin).
    journal = json.loads((host.state_dir / "journal.json").read_text())
    async with asyncio.timeout(COMMAND_TIMEOUT):
        await wait_exit(journal["commands"][command_id]["pid"])
    [segment] = (host.state_dir / "commands").glob(f"{command_id}.stdout.*")
    segment.write_bytes(b"")
    await world.agent(host, online=False)

    command = await world.fleet.finished(command_id)
    assert command.state == types_pb2.COMMAND_STATE_SUCCEEDED, command.message
    lines = await world.fleet.output(command_id)
    kept = _stdout(lines)
    assert kept == [f"line {i}" for i in range(1, len(kept) + 1)]
    assert len(kept) >= len(stored)  # what the control plane had stored stays
    markers = [x.text for x in lines if x.stream == types_pb2.OUTPUT_STREAM_SYSTEM and "missing" in x.text]
    assert markers == [
        f"[fleetdeck] {LINES - len(kept)} lines missing from stdout (lost from the agent's spool)"
    ]
    assert LINES - len(kept) > 0
