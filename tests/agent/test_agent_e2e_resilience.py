"""End to end: heartbeats during commands, stop, timeout, and restarts of either side mid-command."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from agent_world import Fleet, World, control_plane_config

from controlplane import fleet as live_fleet
from controlplane.app import ControlPlane
from fleetdeck.v1 import fleet_service_pb2, types_pb2


def _gone(pid: int) -> bool:
    """Whether a process has ended (a zombie waiting for a reaper counts as ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


async def test_heartbeats_keep_coming_while_a_5_second_command_runs(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    beats: list[tuple[float, str]] = []
    original = live_fleet.Fleet.heartbeat

    def record(self: live_fleet.Fleet, state: Any, heartbeat: Any) -> None:
        beats.append((asyncio.get_running_loop().time(), heartbeat.running_command_id))
        original(self, state, heartbeat)

    monkeypatch.setattr(live_fleet.Fleet, "heartbeat", record)
    await world.fleet.set_heartbeat(1.0)
    host = await world.host("gpc0", switch="for i in 1 2 3 4 5; do echo step $i; sleep 1; done")
    await world.agent(host)

    command_id = await world.fleet.run("gpc0", types_pb2.OPERATION_SWITCH)
    command = await world.fleet.finished(command_id)

    assert command.state == types_pb2.COMMAND_STATE_SUCCEEDED
    during = [t for t, running in beats if running == command_id]
    assert len(during) >= 4, beats
    gaps = [b - a for a, b in itertools.pairwise(during)]
    assert max(gaps) < 1.8, gaps


async def test_stop_terminates_the_process_group_then_kills_it(world: World, tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    host = await world.host(
        "gpc0",
        switch=f"""
trap 'echo got TERM, ignoring it' TERM
sleep 300 &
echo "$$ $!" > {pid_file}
echo started
while true; do sleep 0.1; done
""",
    )
    await world.agent(host)
    command_id = await world.fleet.run("gpc0", types_pb2.OPERATION_SWITCH)
    await world.fleet.follow_until(command_id, lambda lines: any(x.text == "started" for x in lines))

    loop = asyncio.get_running_loop()
    asked = loop.time()
    await world.fleet.stub.CancelCommand(fleet_service_pb2.CancelCommandRequest(command_id=command_id))
    command = await world.fleet.finished(command_id)

    assert command.state == types_pb2.COMMAND_STATE_CANCELLED, command.message
    assert command.exit_code == -1
    assert 0.9 < loop.time() - asked < 5  # SIGTERM ignored, SIGKILL after the 1 s grace
    texts = [line.text for line in await world.fleet.output(command_id)]
    assert "got TERM, ignoring it" in texts
    assert all(_gone(int(pid)) for pid in pid_file.read_text().split())


async def test_a_command_over_its_timeout_is_killed(world: World) -> None:
    host = await world.host("gpc0", switch="echo building; sleep 30; echo never")
    await world.agent(host)
    command_id = await world.fleet.run("gpc0", types_pb2.OPERATION_SWITCH, seconds=1)
    command = await world.fleet.finished(command_id)
    assert command.state == types_pb2.COMMAND_STATE_TIMED_OUT, command.message
    texts = [line.text for line in await world.fleet.output(command_id)]
    assert "building" in texts and "never" not in texts


@pytest.mark.both_engines
async def test_output_is_complete_after_the_control_plane_restarts_mid_command(world: World) -> None:
    host = await world.host(
        "gpc0",
        switch="""
for i in $(seq 1 100); do echo "line $i"; done
sleep 1
for i in $(seq 101 200); do echo "line $i"; done
sleep 1
for i in $(seq 201 300); do echo "line $i"; done
""",
    )
    await world.agent(host)
    command_id = await world.fleet.run("gpc0", types_pb2.OPERATION_SWITCH)
    await world.fleet.follow_until(command_id, lambda lines: len(lines) > 20)

    port = world.cp.grpc_port
    await world.fleet.close()
    await world.cp.stop()
    world.cp = ControlPlane(control_plane_config(world.tmp_path, port, world.database))
    await world.cp.start()
    world.fleet = Fleet(world.cp.grpc_target)

    command = await world.fleet.finished(command_id)
    assert command.state == types_pb2.COMMAND_STATE_SUCCEEDED, command.message
    lines = await world.fleet.output(command_id)
    assert [line.text for line in lines[1:]] == [f"line {i}" for i in range(1, 301)]
    assert [line.number for line in lines] == list(range(301))
    assert command.output_lines == 301


async def test_an_agent_killed_with_its_command_reports_it_failed_not_succeeded(
    world: World, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    host = await world.host("gpc0", switch=f"echo $$ > {pid_file}; echo started; sleep 30; echo done")
    agent = await world.agent(host)
    command_id = await world.fleet.run("gpc0", types_pb2.OPERATION_SWITCH)
    await world.fleet.follow_until(command_id, lambda lines: any(x.text == "started" for x in lines))

    # The machine loses the agent and the switch together (OOM killer, power cut of the service).
    agent.kill()
    await agent.wait()
    os.killpg(os.getpgid(int(pid_file.read_text())), signal.SIGKILL)
    await world.agent(host, online=False)

    command = await world.fleet.finished(command_id)
    assert command.state == types_pb2.COMMAND_STATE_FAILED
    assert command.exit_code == -1
    assert "agent restarted while the command ran; outcome unknown" in command.message


@pytest.mark.parametrize(
    ("how", "exit_code", "state"),
    [
        ("TERM", 3, types_pb2.COMMAND_STATE_FAILED),
        ("KILL", 0, types_pb2.COMMAND_STATE_SUCCEEDED),
    ],
)
async def test_an_agent_restarted_by_its_own_switch_reports_the_switch_exit_code(
    world: World, how: str, exit_code: int, state: int
) -> None:
    host = await world.host(
        "gpc0",
        switch=f"""
echo activating
sleep 0.3
kill -{how} "$FLEETDECK_AGENT_PID"
sleep 1
echo "system-2-link" > "$FLEETDECK_GENERATION_PATH"
echo switched
exit {exit_code}
""",
    )
    agent = await world.agent(host)
    command_id = await world.fleet.run("gpc0", types_pb2.OPERATION_SWITCH)

    await agent.wait()  # the switch took the agent down; a wrapper (systemd, here the test) restarts it
    await world.agent(host, online=False)

    command = await world.fleet.finished(command_id)
    assert command.state == state, command.message
    assert command.exit_code == exit_code
    texts = [line.text for line in await world.fleet.output(command_id)]
    assert "activating" in texts and "switched" in texts
    assert texts.count("switched") == 1
    numbers = [line.number for line in await world.fleet.output(command_id)]
    assert numbers == sorted(set(numbers))  # never a line number twice, whoever sent it
    got = await world.fleet.wait_host("gpc0", lambda h: h.facts.generation == "system-2-link")
    assert not got.running_command_id


async def test_a_full_spool_while_disconnected_keeps_the_tail_behind_a_marker(
    world: World, tmp_path: Path
) -> None:
    fifo = tmp_path / "go"
    os.mkfifo(fifo)
    host = await world.host(
        "gpc0",
        config_extra="spool_bytes = 20000",
        switch=f"""
echo first
read -r _ < {fifo}
for i in $(seq 1 3000); do echo "line $i of a chatty build"; done
echo last
""",
    )
    await world.agent(host)
    command_id = await world.fleet.run("gpc0", types_pb2.OPERATION_SWITCH)
    await world.fleet.follow_until(command_id, lambda lines: any(x.text == "first" for x in lines))

    port = world.cp.grpc_port
    await world.fleet.close()
    await world.cp.stop()
    await asyncio.to_thread(fifo.write_text, "go\n")  # the build prints ~90 kB while nobody listens
    world.cp = ControlPlane(control_plane_config(world.tmp_path, port, world.database))
    await world.cp.start()
    world.fleet = Fleet(world.cp.grpc_target)

    command = await world.fleet.finished(command_id)
    assert command.state == types_pb2.COMMAND_STATE_SUCCEEDED, command.message
    lines = await world.fleet.output(command_id)
    texts = [line.text for line in lines]
    markers = [t for t in texts if t.startswith("[fleetdeck]") and "bytes of output dropped" in t]
    assert len(markers) == 1
    assert texts[-1] == "last" and texts[1] == "first"
    assert len(texts) < 3000
    assert [line.number for line in lines] == list(range(len(lines)))


async def test_a_command_that_outlived_a_killed_agent_is_followed_and_can_be_stopped(world: World) -> None:
    host = await world.host("gpc0", switch="echo started\nsleep 60\necho never")
    agent = await world.agent(host)
    command_id = await world.fleet.run("gpc0", types_pb2.OPERATION_SWITCH)
    await world.fleet.follow_until(command_id, lambda lines: any(x.text == "started" for x in lines))

    agent.kill()
    await agent.wait()
    await world.agent(host, online=False)
    got = await world.fleet.wait_host("gpc0", lambda h: h.online and h.running_command_id == command_id)
    assert got.running_operation == types_pb2.OPERATION_SWITCH

    await world.fleet.stub.CancelCommand(fleet_service_pb2.CancelCommandRequest(command_id=command_id))
    command = await world.fleet.finished(command_id)
    assert command.state == types_pb2.COMMAND_STATE_CANCELLED, command.message
    texts = [line.text for line in await world.fleet.output(command_id)]
    assert "never" not in texts
