"""The README's CI line in the demo fleet: `fleetdeck run switch gpc0 --wait --follow` shows the switch
and the tests live, then exits 1 because the GPU test fails."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

from agent_world import Fleet
from fleetdeck_cli import fleetdeck

RUN_DEMO = (
    "import argparse, sys; from fleetdeck import demo; p = argparse.ArgumentParser(); "
    "demo.add_arguments(p); sys.exit(demo.run(p.parse_args()))"
)


async def test_the_ci_line_fails_on_the_demos_gpu_test(tmp_path: Path) -> None:
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
    try:
        async with asyncio.timeout(30):
            while b"Press Ctrl-C" not in (line := await proc.stdout.readline()):
                assert line, "the demo exited early"
        target = json.loads((demo_dir / "controlplane.ready.json").read_text())["grpc"]
        token_file = demo_dir / "admin-token"
        fleet = Fleet(target, api_token=token_file.read_text().strip())
        try:
            await fleet.wait_host("gpc0", lambda h: h.online and h.test_status.defined_cases == 8)
        finally:
            await fleet.close()

        done = await fleetdeck(
            "run", "switch", "gpc0", "--wait", "--follow", target=target, FLEETDECK_TOKEN_FILE=str(token_file)
        )

        assert done.code == 1, done.out + done.err
        out = done.out
        assert out.index("activating the configuration") < out.index("Error: nvidia-smi not found")
        assert out.rstrip().splitlines()[-1] == (
            "gpc0: switch succeeded; tests failed on gpc0 (system-2-link): 7/8 passed; failing: GPU acceleration"
        )
    finally:
        # Ctrl-C: the demo stops its control plane and agents (their own process groups).
        proc.send_signal(signal.SIGINT)
        try:
            async with asyncio.timeout(20):
                await proc.communicate()
        except TimeoutError:
            proc.kill()
            await proc.wait()
