"""The demo: a whole fleet from one command, driven through the API, stopped with Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from agent_world import Fleet

from fleetdeck.v1 import types_pb2

RUN_DEMO = (
    "import argparse, sys; from fleetdeck import demo; p = argparse.ArgumentParser(); "
    "demo.add_arguments(p); sys.exit(demo.run(p.parse_args()))"
)


def _tests_state(name: str) -> object:
    return lambda h: h.test_status.state == getattr(types_pb2, name)


async def test_the_demo_fleet_switches_fails_a_test_rolls_back_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    demo_dir = tmp_path / "demo"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        RUN_DEMO,
        "--grpc",
        "127.0.0.1:0",
        "--http",
        "off",
        "--dir",
        str(demo_dir),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    banner: list[str] = []
    try:
        async with asyncio.timeout(30):
            while not banner or "Press Ctrl-C" not in banner[-1]:
                line = await proc.stdout.readline()
                assert line, "the demo exited early:\n" + "".join(banner)
                banner.append(line.decode())
        target = json.loads((demo_dir / "controlplane.ready.json").read_text())["grpc"]
        assert any(f"grpcurl -plaintext {target}" in line for line in banner)
        # The read-only grpcurl lines the banner prints work as printed.
        env = {
            **os.environ,
            "FLEETDECK_TOKEN": (demo_dir / "admin-token").read_text().strip(),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        }
        printed = [line.strip() for line in banner if line.strip().startswith("grpcurl")]
        readonly = [line for line in printed if line.endswith(("FleetService", "/ListHosts"))]
        assert len(readonly) == 2, printed
        for line in readonly:
            done = await asyncio.create_subprocess_exec(
                "bash", "-c", line, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
            )
            output, _ = await done.communicate()
            assert done.returncode == 0, f"{line}\n{output.decode()}"
        fleet = Fleet(target, api_token=(demo_dir / "admin-token").read_text().strip())
        try:
            mac1 = await fleet.wait_host("mac1", lambda h: h.online and h.test_status.state == 1)
            assert mac1.test_status.message.startswith("No tests defined in")
            gpc0 = await fleet.wait_host("gpc0", lambda h: h.online and h.test_status.defined_cases == 8)
            assert gpc0.facts.generation == "system-1-link"

            await fleet.run("gpc0", types_pb2.OPERATION_SWITCH)
            failed = await fleet.wait_host(
                "gpc0", lambda h: h.test_status.state == types_pb2.TEST_STATE_FAILED
            )
            run = await fleet.test_run(failed.test_status.last_run_id)
            assert [c.name for c in run.cases] == [
                "Network connectivity",
                "SSH service",
                "X11 display",
                "GPU acceleration",
                "Docker daemon",
                "Home directory permissions",
                "Nix store integrity",
                "System services",
            ]
            gpu = run.cases[3]
            assert gpu.outcome == types_pb2.TEST_OUTCOME_FAILED
            assert "Error: nvidia-smi not found" in gpu.output
            assert (run.passed, run.total, run.generation) == (7, 8, "system-2-link")
            await fleet.finished(run.id)

            rollback = await fleet.finished(await fleet.run("gpc0", types_pb2.OPERATION_ROLLBACK))
            assert rollback.state == types_pb2.COMMAND_STATE_SUCCEEDED
            await fleet.wait_host("gpc0", lambda h: h.facts.generation == "system-1-link")

            # web1's DNS resolver is flaky: it passes, then fails on the same generation.
            first = await fleet.finished(await fleet.run("web1", types_pb2.OPERATION_TEST))
            assert first.state == types_pb2.COMMAND_STATE_SUCCEEDED
            second = await fleet.finished(await fleet.run("web1", types_pb2.OPERATION_TEST))
            dns = (await fleet.test_run(second.id)).cases[3]
            assert (dns.name, dns.outcome) == ("DNS resolver", types_pb2.TEST_OUTCOME_FAILED)
            assert dns.classification == types_pb2.CASE_CLASSIFICATION_FLAKY
        finally:
            await fleet.close()

        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(20):
            rest = (await proc.stdout.read()).decode()
            assert await proc.wait() == 0
        assert rest.rstrip().endswith("demo stopped.")
    finally:
        if proc.returncode is None:
            # Ctrl-C first: the demo stops its control plane and agents (their own process groups),
            # which a SIGKILL of the demo alone would leave running.
            proc.send_signal(signal.SIGINT)
            try:
                async with asyncio.timeout(20):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
