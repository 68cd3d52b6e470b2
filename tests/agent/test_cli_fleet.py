"""`fleetdeck hosts [--watch]`, `host`, `desired`, `settings`, `host-settings`: the CLI as a subprocess
against a real control plane and a real agent."""

from __future__ import annotations

import asyncio
import json
import os
import signal

from agent_world import COMMAND_TIMEOUT, World
from fleetdeck_cli import FLEETDECK, cli_env, fleetdeck

from fleetdeck.v1 import types_pb2

COMMIT = "0123456789abcdef0123456789abcdef01234567"
LOCK = "ab" * 32


async def test_hosts_and_host_show_the_five_compartments_as_table_and_json(world: World) -> None:
    web1 = await world.host("web1", tests={"10-http.sh": "echo ok"})
    await world.agent(web1)
    target = world.cp.grpc_target

    table = await fleetdeck("hosts", target=target)
    assert table.code == 0, table.err
    header, row = table.out.splitlines()[:2]
    assert header.split()[:7] == ["HOST", "ONLINE", "AGENT", "GIT", "LOCK", "SYSTEM", "TESTS"]
    assert row.split()[:2] == ["web1", "online"]

    # -o before or after the verb; JSON is the proto mapping with every field present.
    for args in (["-o", "json", "hosts"], ["hosts", "-o", "json"]):
        listed = json.loads((await fleetdeck(*args, target=target)).out)
        host = listed["hosts"][0]
        assert host["name"] == "web1" and host["online"] is True
        assert [c["kind"] for c in host["compartments"]] == [
            "COMPARTMENT_KIND_AGENT",
            "COMPARTMENT_KIND_GIT",
            "COMPARTMENT_KIND_LOCK",
            "COMPARTMENT_KIND_SYSTEM",
            "COMPARTMENT_KIND_TESTS",
        ]
        assert host["running_command_id"] == ""  # defaults are emitted: stable for jq

    one = await fleetdeck("host", "web1", target=target)
    assert one.code == 0
    assert any(line.split()[:1] == ["tests"] and "enabled" in line for line in one.out.splitlines())
    assert "COMPARTMENT" in one.out
    missing = await fleetdeck("host", "nosuch", target=target)
    assert missing.code == 3 and "nosuch" in missing.err and "Traceback" not in missing.err


async def test_hosts_watch_streams_changes_until_ctrl_c(world: World) -> None:
    web1 = await world.host("web1", tests={"10-http.sh": "echo ok"})
    await world.agent(web1)
    proc = await asyncio.create_subprocess_exec(
        str(FLEETDECK),
        "hosts",
        "--watch",
        "-o",
        "json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cli_env(world.cp.grpc_target),
    )
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(COMMAND_TIMEOUT):
            first = json.loads(await proc.stdout.readline())
            assert [h["name"] for h in first["snapshot"]["hosts"]] == ["web1"]
            command_id = await world.fleet.run("web1", types_pb2.OPERATION_TEST)
            while True:
                event = json.loads(await proc.stdout.readline())
                if event.get("host", {}).get("running_command_id") == command_id:
                    break
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(COMMAND_TIMEOUT):
            assert await proc.wait() == 130
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_desired_state_and_settings_round_trip(world: World) -> None:
    target = world.cp.grpc_target
    done = await fleetdeck("desired", "set", "--commit", COMMIT, "--lock-hash", LOCK, target=target)
    assert done.code == 0, done.err
    got = json.loads((await fleetdeck("desired", "get", "-o", "json", target=target)).out)
    assert (got["desired_state"]["commit"], got["desired_state"]["lock_hash"]) == (COMMIT, LOCK)
    assert COMMIT in (await fleetdeck("desired", "get", target=target)).out
    bad = await fleetdeck("desired", "set", "--commit", "abc", target=target)
    assert bad.code == 2 and "40" in bad.err  # the control plane's INVALID_ARGUMENT is a usage error

    done = await fleetdeck(
        "settings", "set", "--test-timeout", "42", "--test-history-limit", "7", target=target
    )
    assert done.code == 0, done.err
    settings = json.loads((await fleetdeck("settings", "get", "-o", "json", target=target)).out)["settings"]
    assert (settings["test_timeout"], settings["test_history_limit"]) == ("42s", 7)
    nothing = await fleetdeck("settings", "set", target=target)
    assert nothing.code == 2 and "nothing to change" in nothing.err


async def test_host_settings_override_and_return_to_default(world: World) -> None:
    web1 = await world.host("web1", tests={"10-http.sh": "echo ok"})
    await world.agent(web1)
    target = world.cp.grpc_target

    off = await fleetdeck(
        "host-settings", "web1", "--tests", "off", "--timeout", "5", "-o", "json", target=target
    )
    assert off.code == 0, off.err
    host = json.loads(off.out)["host"]
    assert host["test_settings"]["enabled"] is False and host["test_settings"]["timeout"] == "5s"
    refused = await fleetdeck("run", "test", "web1", target=target)
    assert refused.code == 3 and "tests are disabled for host web1" in refused.err

    back = await fleetdeck(
        "host-settings", "web1", "--tests", "default", "--timeout", "default", target=target
    )
    assert back.code == 0, back.err
    shown = await fleetdeck("host-settings", "web1", target=target)
    line = next(line for line in shown.out.splitlines() if line.startswith("tests "))
    assert line.split()[1] == "on" and "override: default" in line
    bad = await fleetdeck("host-settings", "web1", "--timeout", "soon", target=target)
    assert bad.code == 2 and "--timeout" in bad.err


async def test_hosts_watch_on_a_terminal_redraws_coloured_cells(world: World) -> None:
    web1 = await world.host("web1", tests={"10-http.sh": "echo ok"})
    await world.agent(web1)
    controller, terminal = os.openpty()
    env = cli_env(world.cp.grpc_target, COLUMNS="120", LINES="20", TERM="xterm-256color")
    env.pop("NO_COLOR")
    proc = await asyncio.create_subprocess_exec(
        str(FLEETDECK),
        "hosts",
        "--watch",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        env=env,
    )
    os.close(terminal)
    screen = b""
    loop = asyncio.get_running_loop()
    readable: asyncio.Queue[None] = asyncio.Queue()
    loop.add_reader(controller, readable.put_nowait, None)
    try:
        async with asyncio.timeout(COMMAND_TIMEOUT):
            while b"web1" not in screen:
                await readable.get()
                screen += os.read(controller, 65536)
            command_id = await world.fleet.run("web1", types_pb2.OPERATION_TEST)
            await world.fleet.finished(command_id)
            while b" working " not in screen:  # the Tests cell went blue and was redrawn in place
                await readable.get()
                screen += os.read(controller, 65536)
        assert b"\x1b[" in screen  # colours on a terminal
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(COMMAND_TIMEOUT):
            assert await proc.wait() == 130
    finally:
        loop.remove_reader(controller)
        os.close(controller)
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
