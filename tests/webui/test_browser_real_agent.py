"""The card's story in Chromium with a real `fleetdeck agent` subprocess running the demo's gpc0 tests."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, expect
from webui_support import User, compartment, login

from controlplane.app import ControlPlane
from fleetdeck import demo
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc

STEP = 15_000  # ms: a real switch or a real 8-case test run takes a few seconds


@pytest.fixture
async def gpc0(
    tmp_path: Path, cp: ControlPlane, fleet: fleet_grpc.FleetServiceAsyncStub
) -> AsyncIterator[asyncio.subprocess.Process]:
    """The demo's gpc0 (a git checkout, switch/rollback scripts, 8 tests) run by a real agent."""
    origin, head, lock_hash = demo.build_fleet_repo(tmp_path)
    await fleet.SetDesiredState(fleet_pb.SetDesiredStateRequest(commit=head, lock_hash=lock_hash), timeout=5)
    host = next(h for h in demo.HOSTS if h.name == "gpc0")
    config = demo.prepare_host(tmp_path, origin, host, cp.grpc_target)
    token = await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0"), timeout=5)
    (config.parent / "token").write_text(token.token + "\n")
    log = (config.parent / "agent.log").open("wb")
    agent = await asyncio.create_subprocess_exec(
        *demo.fleetdeck_argv("agent", "--config", str(config)), stdout=log, stderr=log
    )
    try:
        yield agent
    finally:
        if agent.returncode is None:
            agent.terminate()
            await asyncio.wait_for(agent.wait(), 15)
        log.close()


async def test_real_agent_switch_fails_tests_then_rollback_from_the_popup_and_a_rerun_passes(
    cp: ControlPlane, gpc0: asyncio.subprocess.Process, page: Page, user: User
) -> None:
    await login(page, cp.http_url, user)
    tests = compartment(page, "gpc0", "tests")
    await expect(page.locator('tr[data-host="gpc0"] .online-dot')).to_have_attribute("data-online", "yes")
    await expect(tests).to_have_attribute("data-status", "outdated")

    await page.locator('tr[data-host="gpc0"] [data-action="switch"]').click()
    await page.locator('[data-confirm="ok"]').click()
    await expect(compartment(page, "gpc0", "system")).to_have_attribute("data-status", "ok", timeout=STEP)
    await expect(tests).to_have_attribute("data-status", "working", timeout=STEP)
    await expect(tests).to_have_attribute("data-status", "error", timeout=STEP)
    await expect(page.locator(".toast", has_text="Tests failed on gpc0")).to_be_visible()
    await expect(page.locator("#log-output .line--stderr")).to_contain_text(
        "nvidia-smi not found", timeout=STEP
    )

    await tests.click()
    popup = page.locator("#popup")
    await expect(popup.locator("li.case")).to_have_count(8)
    await expect(popup.locator('li.case[data-outcome="failed"]')).to_have_text(re.compile("GPU acceleration"))
    await expect(popup.locator(".summary")).to_have_text("7/8 tests passed")
    await popup.get_by_role("button", name="Rollback", exact=True).click()
    await page.locator('[data-confirm="ok"]').click()
    await expect(tests).to_have_attribute("data-tooltip", re.compile("after rollback"), timeout=STEP)
    await expect(tests).to_have_attribute("data-status", "outdated")

    await page.locator('tr[data-host="gpc0"] .prompt').click()
    await expect(tests).to_have_attribute("data-status", "ok", timeout=STEP)
    await expect(tests).to_have_attribute("data-tooltip", re.compile(r"^Last test: just now \(8/8 passed\)$"))
