"""`fleetdeck run … --wait --follow`, `logs`, `cancel`, `commands`: the CLI as a subprocess against a
real control plane and real agents running real scripts."""

from __future__ import annotations

import hashlib
import json

from agent_world import HostWorld, World, git
from fleetdeck_cli import fleetdeck

from fleetdeck.v1 import types_pb2

GPU = """
# fleetdeck-name: GPU acceleration
gen=$(sed -E 's/[^0-9]//g' "$FLEETDECK_GENERATION_PATH")
if [ "$gen" -gt 1 ]; then echo "Error: nvidia-smi not found" >&2; exit 1; fi
echo "nvidia-smi: 1 GPU"
"""
FAILING = {"10-network.sh": "echo 'ping ok'", "40-gpu.sh": GPU}
PASSING = {"10-http.sh": "echo 'GET / 200'"}


async def desire(world: World, host: HostWorld) -> None:
    """Set the desired state to the host's checkout, through the CLI."""
    commit = git(host.repo, "rev-parse", "HEAD")
    lock = hashlib.sha256((host.repo / "flake.lock").read_bytes()).hexdigest()
    done = await fleetdeck(
        "desired", "set", "--commit", commit, "--lock-hash", lock, target=world.cp.grpc_target
    )
    assert done.code == 0, done.err


async def test_switch_wait_follow_shows_both_outputs_and_exits_1_on_a_failing_case(world: World) -> None:
    gpc0 = await world.host("gpc0", tests=FAILING)
    await desire(world, gpc0)
    await world.agent(gpc0)

    done = await fleetdeck("run", "switch", "gpc0", "--wait", "--follow", target=world.cp.grpc_target)

    assert done.code == 1, done.out + done.err
    out = done.out
    # The switch's output, then the test run's, then the per-case summary and the verdict.
    assert out.index("activating system-2-link") < out.index("Error: nvidia-smi not found")
    assert "ping ok" in out
    assert "GPU acceleration" in out and "failed" in out
    assert out.rstrip().splitlines()[-1] == (
        "gpc0: switch succeeded; tests failed on gpc0 (system-2-link): 1/2 passed; failing: GPU acceleration"
    )


async def test_several_hosts_get_a_summary_row_each_and_the_exit_code_of_the_worst(world: World) -> None:
    gpc0 = await world.host("gpc0", tests=FAILING)
    web1 = await world.host("web1", tests=PASSING)
    await desire(world, gpc0)
    await world.agent(gpc0)
    await world.agent(web1)

    done = await fleetdeck("run", "switch", "web1", "gpc0", "--wait", target=world.cp.grpc_target)

    assert done.code == 1, done.out + done.err
    rows = {
        line.split()[0]: line.split()[1]
        for line in done.out.splitlines()
        if line.startswith(("web1 ", "gpc0 "))
    }
    assert rows == {"web1": "passed", "gpc0": "failed"}
    assert "Error: nvidia-smi not found" in done.out  # the failing case's output, without --follow

    # One passing host alone: exit 0, and JSON holds the switch, its test run and the verdict.
    done = await fleetdeck("run", "switch", "web1", "--wait", "-o", "json", target=world.cp.grpc_target)
    assert done.code == 0, done.err
    result = json.loads(done.out)["results"][0]
    assert result["outcome"] == "passed"
    assert result["command"]["state"] == "COMMAND_STATE_SUCCEEDED"
    assert result["test_command"]["triggered_by_command_id"] == result["command"]["id"]
    assert result["test_run"]["state"] == "TEST_STATE_PASSED"
    assert [c["name"] for c in result["test_run"]["cases"]] == ["Http"]


async def test_a_switch_without_auto_run_waits_for_the_switch_alone(world: World) -> None:
    web1 = await world.host("web1", tests=PASSING, config_extra="[tests]\nauto_run_after_switch = false")
    await world.agent(web1)

    done = await fleetdeck("run", "switch", "web1", "--wait", target=world.cp.grpc_target)

    assert done.code == 0, done.out + done.err
    assert "web1: switch succeeded; no test run followed" in done.out


async def test_refusals_exit_3_with_the_servers_sentence(world: World) -> None:
    slow = await world.host("slow", tests={"10-slow.sh": "echo started; sleep 30"})
    await world.agent(slow)
    started = await fleetdeck("run", "test", "slow", "-o", "json", target=world.cp.grpc_target)
    assert started.code == 0, started.err
    command_id = json.loads(started.out)["results"][0]["command_id"]
    await world.fleet.follow_until(command_id, lambda lines: any(line.text == "started" for line in lines))

    busy = await fleetdeck("run", "test", "slow", "--wait", target=world.cp.grpc_target)
    assert busy.code == 3
    assert f"host slow is already running test command {command_id}" in busy.err
    unknown = await fleetdeck("run", "switch", "nosuch", target=world.cp.grpc_target)
    assert unknown.code == 3 and "nosuch" in unknown.err

    cancelled = await fleetdeck("cancel", command_id, target=world.cp.grpc_target)
    assert cancelled.code == 0, cancelled.err
    assert f"asked slow to stop test command {command_id}" in cancelled.out
    # `logs -f` follows to the end and says, by its exit code, that the command did not succeed.
    logs = await fleetdeck("logs", command_id, "-f", target=world.cp.grpc_target)
    assert logs.code == 1 and "started" in logs.out.splitlines()
    again = await fleetdeck("cancel", command_id, target=world.cp.grpc_target)
    assert again.code == 3 and "already finished (cancelled)" in again.err

    history = await fleetdeck("commands", "slow", "-o", "json", target=world.cp.grpc_target)
    assert [c["state"] for c in json.loads(history.out)["commands"]] == ["COMMAND_STATE_CANCELLED"]
    one = await fleetdeck("command", command_id, target=world.cp.grpc_target)
    assert one.code == 0 and "cancelled" in one.out


async def test_logs_prints_a_finished_commands_output_as_text_and_json(world: World) -> None:
    web1 = await world.host("web1", tests=PASSING)
    await world.agent(web1)
    command_id = await world.fleet.run("web1", types_pb2.OPERATION_TEST)
    await world.fleet.finished(command_id)

    text = await fleetdeck("logs", command_id, target=world.cp.grpc_target)
    assert text.code == 0 and "GET / 200" in text.out.splitlines()
    as_json = await fleetdeck("logs", command_id, "-o", "json", target=world.cp.grpc_target)
    messages = [json.loads(line) for line in as_json.out.splitlines()]
    lines = [line["text"] for m in messages for line in m["lines"]]
    assert "GET / 200" in lines
    assert messages[-1]["command"]["state"] == "COMMAND_STATE_SUCCEEDED"
