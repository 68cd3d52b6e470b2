"""Render the demo dashboard to a PNG with headless Chromium (run by scripts/screenshot)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

from fleetdeck import logs
from fleetdeck.client import channel
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc
from fleetdeck.v1 import types_pb2

log = logging.getLogger(__name__)

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
READY_SECONDS = 60.0
STEP_MS = 60_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def demo_fleet(state_dir: Path) -> Iterator[tuple[str, str]]:
    """Run `fleetdeck demo` on free ports; yields (gRPC target, web UI URL) once it is up."""
    grpc_target = f"127.0.0.1:{_free_port()}"
    http = f"127.0.0.1:{_free_port()}"
    argv = [sys.executable, "-m", "fleetdeck.cli", "demo", "--grpc", grpc_target, "--http", http]
    proc = subprocess.Popen(
        [*argv, "--dir", str(state_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    try:
        while (line := lines.get(timeout=READY_SECONDS)) is not None and "Press Ctrl-C" not in line:
            if "password" not in line:  # the banner shows the web login's password: never log it
                log.debug("demo: %s", line.rstrip())
        if line is None:
            raise RuntimeError("fleetdeck demo exited before it was ready")
        yield grpc_target, f"http://{http}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _status(page: Page, host: str, kind: str, status: str) -> None:
    element = page.locator(f'tr[data-host="{host}"] [data-compartment="{kind}"]')
    expect(element).to_have_attribute("data-status", status, timeout=STEP_MS)


def stage(page: Page, stub: fleet_grpc.FleetServiceStub, open_tests: bool = False) -> None:
    """Bring the demo fleet into the picture's state: gpc0 red after a switch, web1 testing."""
    expect(page.locator("tr.host-row")).to_have_count(3, timeout=STEP_MS)
    for host in ("gpc0", "web1", "mac1"):
        expect(page.locator(f'tr[data-host="{host}"] .online-dot')).to_have_attribute(
            "data-online", "yes", timeout=STEP_MS
        )
    stub.RunOperation(
        fleet_pb.RunOperationRequest(hosts=["web1"], operation=types_pb2.OPERATION_SWITCH), timeout=10
    )
    _status(page, "web1", "system", "ok")
    page.locator('tr[data-host="gpc0"] [data-action="switch"]').click()
    page.locator('[data-confirm="ok"]').click()
    _status(page, "gpc0", "tests", "working")
    _status(page, "gpc0", "tests", "error")
    expect(page.locator("#log-output")).to_contain_text("test failed", timeout=STEP_MS)
    page.locator("#log-output .line--stderr").last.scroll_into_view_if_needed()
    stub.RunOperation(
        fleet_pb.RunOperationRequest(hosts=["web1"], operation=types_pb2.OPERATION_TEST), timeout=10
    )
    with contextlib.suppress(AssertionError):  # the picture is fine without blue if the run is over
        _status(page, "web1", "tests", "working")
    tests = page.locator('tr[data-host="gpc0"] [data-compartment="tests"]')
    if open_tests:
        tests.click()
        expect(page.locator("#popup .summary")).to_have_text("7/8 tests passed", timeout=STEP_MS)
    else:
        tests.hover()


def log_in(page: Page, url: str, password: str) -> None:
    """Log in to the demo's web UI as admin."""
    page.goto(f"{url}/login")
    page.get_by_label("User name").fill("admin")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#user .user__name")).to_have_text("admin", timeout=STEP_MS)


def render(out: Path, width: int, height: int, open_tests: bool = False) -> None:
    """Start the demo, stage it, and save a screenshot to `out`."""
    with (
        tempfile.TemporaryDirectory(prefix="fleetdeck-shot-") as tmp,
        demo_fleet(Path(tmp)) as (target, url),
        channel(target, (Path(tmp) / "admin-token").read_text().strip()) as grpc_channel,
        sync_playwright() as pw,
    ):
        stub = fleet_grpc.FleetServiceStub(grpc_channel)
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            log_in(page, url, (Path(tmp) / "admin-password").read_text().strip())
            stage(page, stub, open_tests)
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
        finally:
            browser.close()
    log.info("wrote %s", out)


def main() -> int:
    """`scripts/screenshot [--out docs/dashboard.png]`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/dashboard.png"))
    parser.add_argument("--width", type=int, default=1440)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--open-tests", action="store_true", help="show gpc0's Tests popup")
    args = parser.parse_args()
    logs.setup(logging.INFO, fmt="%(levelname)s %(name)s: %(message)s")
    render(args.out, args.width, args.height, args.open_tests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
