"""The demo's rollout: the commit on branch `next` breaks a test on web1, the canary, so
`fleetdeck rollout create --commit … --canary web1 --wait` stops after the canary and exits 1."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

from agent_world import Fleet
from fleetdeck_cli import fleetdeck

from fleetdeck import demo

RUN_DEMO = (
    "import argparse, sys; from fleetdeck import demo; p = argparse.ArgumentParser(); "
    "demo.add_arguments(p); sys.exit(demo.run(p.parse_args()))"
)


async def test_the_demo_rollout_stops_on_its_canary_within_a_minute(tmp_path: Path) -> None:
    demo_dir = tmp_path / "demo"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        RUN_DEMO,
        *("--grpc", "127.0.0.1:0", "--http", "off", "--dir", str(demo_dir)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    banner = b""
    try:
        async with asyncio.timeout(30):
            while b"Press Ctrl-C" not in (line := await proc.stdout.readline()):
                assert line, "the demo exited early"
                banner += line
        target = json.loads((demo_dir / "controlplane.ready.json").read_text())["grpc"]
        token_file = demo_dir / "admin-token"
        fleet = Fleet(target, api_token=token_file.read_text().strip())
        try:
            for name in ("gpc0", "web1", "mac1"):
                await fleet.wait_host(name, lambda h: h.online and h.facts.commit != "")
        finally:
            await fleet.close()
        # The command the banner shows, as it shows it.
        shown = banner.decode().split("fleetdeck rollout create ", 1)[1].split("--wait")[0]
        args = shown.replace("\\\n", " ").split()
        assert args[args.index("--commit") + 1] == demo.next_commit(demo_dir)

        done = await fleetdeck(
            "rollout", "create", *args, "--wait", within=60, FLEETDECK_TOKEN_FILE=str(token_file)
        )

        assert done.code == 1, done.out + done.err
        assert "stopped: 1 host(s) failed (budget 0): web1 (tests failed: TLS certificate)" in done.out
        rows = {
            line.split()[1]: line.split()[2]
            for line in done.out.splitlines()
            if line.split()[:1] in (["canary"], ["1"], ["2"])
        }
        assert rows == {"web1": "failed", "gpc0": "pending", "mac1": "pending"}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            async with asyncio.timeout(20):
                await proc.communicate()
        except TimeoutError:
            proc.kill()
            await proc.wait()
