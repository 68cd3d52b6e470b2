"""`fleetdeck run --wait` on the control plane's verdict: the reason no test run followed, and
--wait-timeout giving up while the command goes on. A real control plane and real agents."""

from __future__ import annotations

import json

from agent_world import World
from fleetdeck_cli import fleetdeck

PASSING = {"10-http.sh": "echo 'GET / 200'"}


async def test_the_verdict_says_why_no_test_run_followed(world: World) -> None:
    web1 = await world.host("web1", tests=PASSING, config_extra="[tests]\nauto_run_after_switch = false")
    await world.agent(web1)

    done = await fleetdeck("run", "switch", "web1", "--wait", target=world.cp.grpc_target)

    assert done.code == 0, done.out + done.err
    assert done.out.rstrip().splitlines()[-1] == (
        "web1: switch succeeded; no test run followed: auto-run tests after switch is off for host web1"
    )


async def test_wait_timeout_gives_up_with_exit_1_and_the_command_goes_on(world: World) -> None:
    slow = await world.host("slow", tests={"10-slow.sh": "echo started; sleep 30"})
    await world.agent(slow)

    done = await fleetdeck("run", "test", "slow", "--wait-timeout", "1", target=world.cp.grpc_target)

    assert done.code == 1, done.out + done.err
    assert done.err.strip().startswith("fleetdeck: gave up waiting for the verdict after 1 s")
    listed = await fleetdeck("commands", "slow", "-o", "json", target=world.cp.grpc_target)
    (command,) = json.loads(listed.out)["commands"]
    assert command["state"] in ("COMMAND_STATE_PENDING", "COMMAND_STATE_RUNNING")
    stopped = await fleetdeck("cancel", command["id"], target=world.cp.grpc_target)
    assert stopped.code == 0, stopped.err
