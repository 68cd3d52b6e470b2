"""The Rollouts panel in Chromium with real agents: start a rollout from the page, approve it after the
canary, watch batch 2 fail with its case inline, roll the failed host back from the page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from agent_world import Fleet, World
from playwright.async_api import Page, expect
from rollout_world import LOCK_HASH, fleet_of
from webui_support import User, login

from controlplane.app import ControlPlane

STEP = 20_000  # ms: a pull, a switch and a test run of real agents on a loaded machine


@pytest.fixture
async def world(tmp_path: Path, cp: ControlPlane) -> AsyncIterator[World]:
    """Real agents for h1 (canary), h2, h3 on the web UI's control plane."""
    fleet = Fleet(cp.grpc_target)
    w = World(tmp_path, cp, fleet)
    try:
        yield w
    finally:
        for agent in w.agents:
            await agent.stop()
        await fleet.close()


async def test_a_rollout_from_the_page_with_approval_after_the_canary(
    cp: ControlPlane, world: World, page: Page, user: User
) -> None:
    repo = await fleet_of(world, ["h1", "h2", "h3"])
    second = repo.commit("break h3", {"h3/20-web.sh": "echo 'web is down' >&2\nexit 1\n"})
    await login(page, cp.http_url, user)
    await expect(page.locator("#rollouts-empty")).to_be_visible()

    await page.locator(".rollout-new summary").click()
    form = page.locator("#rollout-form")
    await form.get_by_label("Commit").fill(second)
    await form.get_by_label("flake.lock SHA-256").fill(LOCK_HASH)
    await form.get_by_label("Batch size").fill("2")
    await expect(form.get_by_label("Approve after the canary")).to_be_checked()
    await form.get_by_role("button", name="Start rollout").click()

    card = page.locator("article.rollout").first
    await expect(card).to_have_attribute("data-state", "awaiting approval", timeout=STEP)
    canary = card.locator('[data-rollout-host="h1"]')
    await expect(canary).to_have_attribute("data-state", "succeeded")
    await expect(canary.locator(".rollout-comp").nth(4)).to_have_attribute("data-status", "ok")  # Tests
    await expect(card.locator('[data-rollout-host="h2"]')).to_have_attribute("data-state", "pending")
    created = await card.get_attribute("data-rollout")
    await expect(page.locator('tr[data-host="h2"]')).to_have_attribute("data-rollout", created or "")
    await expect(card.locator(".rollout-batch__label")).to_have_text(["Canary", "Batch 1"])

    await card.locator('[data-rollout-action="approve"]').click()
    await expect(card).to_have_attribute("data-state", "stopped", timeout=STEP)
    failed = card.locator('[data-rollout-host="h3"]')
    await expect(failed).to_have_attribute("data-state", "failed")
    await expect(failed.locator(".rollout-host__cases")).to_have_text("failed: Web")
    await expect(failed.locator(".rollout-comp").nth(4)).to_have_attribute("data-status", "error")
    await expect(card.locator('[data-rollout-host="h2"]')).to_have_attribute("data-state", "succeeded")
    await expect(card.locator(".rollout__message")).to_contain_text("h3 (tests failed: Web)")

    await card.locator('[data-rollout-action="abort"]', has_text="Roll back failed hosts").click()
    await expect(card).to_have_attribute("data-state", "aborted", timeout=STEP)
    await expect(failed.locator(".rollout-host__step")).to_contain_text("rolled back", timeout=STEP)
    await expect(failed.locator(".rollout-comp").nth(4)).to_have_attribute("data-status", "outdated")
    await expect(card.locator("[data-rollout-action]")).to_have_count(0)
    await expect(page.locator('tr[data-host="h2"]')).to_have_attribute("data-rollout", "")  # it ended
