"""An agent killed after journaling a switch's result, before the control plane acknowledged it, resends
the output tail from its spool before the result: every line stored once, the exit code right."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from agent_world import COMMAND_TIMEOUT, World

from controlplane.agent_streams import AgentStream
from controlplane.fleet import HostState
from controlplane.ingest import Ingest
from fleetdeck.v1 import agent_service_pb2, types_pb2

LINES = 1000


class _Withheld:
    """The control plane receives one command's messages but never stores (so never acknowledges) them,
    as when its link to the agent is lost with them in flight."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.command_id = ""
        self.finish_arrived = asyncio.Event()
        original = Ingest.submit

        async def submit(
            ingest: Ingest, state: HostState, stream: AgentStream, message: agent_service_pb2.ConnectRequest
        ) -> None:
            kind = message.WhichOneof("message")
            if self.command_id and kind and getattr(message, kind).command_id == self.command_id:
                if kind == "command_finished":
                    self.finish_arrived.set()
                return
            await original(ingest, state, stream, message)

        monkeypatch.setattr(Ingest, "submit", submit)


def _stdout(lines: list[Any]) -> list[str]:
    return [x.text for x in lines if x.stream == types_pb2.OUTPUT_STREAM_STDOUT]


async def test_a_kill_between_journaling_a_result_and_its_ack_loses_no_output(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    withheld = _Withheld(monkeypatch)
    go = world.tmp_path / "go"
    os.mkfifo(go)
    host = await world.host(
        "gpc0",
        switch=f"""
for i in $(seq 1 {LINES}); do
  echo "line $i"
  if (( i == 150 )); then read -r _ < {go}; fi
done
exit 3
""",
    )
    agent = await world.agent(host)
    command_id = await world.fleet.run("gpc0", types_pb2.OPERATION_SWITCH)
    await world.fleet.follow_until(command_id, lambda lines: any(x.text == "line 150" for x in lines))

    # From here the control plane stores nothing of the command: lines 151-1000 and the result reach
    # it, unacknowledged. The agent journals the result before it sends it; once the result arrived,
    # it is journaled, and the kill comes between that and an acknowledgement.
    withheld.command_id = command_id
    async with asyncio.timeout(COMMAND_TIMEOUT):
        await asyncio.to_thread(go.write_text, "go\n")
        await withheld.finish_arrived.wait()
    agent.kill()
    await agent.wait()
    withheld.command_id = ""
    await world.agent(host, online=False)  # systemd (here the test) restarts the agent

    command = await world.fleet.finished(command_id)
    assert command.state == types_pb2.COMMAND_STATE_FAILED, command.message
    assert command.exit_code == 3
    lines = await world.fleet.output(command_id)
    assert _stdout(lines) == [f"line {i}" for i in range(1, LINES + 1)]  # every line, each once
    assert not [x.text for x in lines if "missing" in x.text or "dropped" in x.text]
    numbers = [x.number for x in lines]
    assert numbers == sorted(set(numbers))
    # The stored result is the journaled one, sent once the output before it was stored.
    got = await world.fleet.wait_host("gpc0", lambda h: h.online and not h.running_command_id)
    assert got.online
