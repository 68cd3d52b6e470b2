"""The Webhooks panel in Chromium: an admin adds a webhook pointing at a real local receiver, copies the
secret shown once, sends a test notification, sees it arrive signed and the panel say "delivered",
then removes the webhook; a failing receiver shows as failed until a retry gets through; a viewer never
sees the panel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, expect
from webhook_receiver import webhook_receiver
from webui_support import User, login, put_user

from controlplane import notifications
from controlplane.app import ControlPlane, ControlPlaneConfig
from fleetdeck.v1 import types_pb2 as pb

SEEN = 15_000  # ms: the panel asks again after a test, less and less often, on a loaded machine


@pytest.fixture
async def cp(tmp_path: Path) -> AsyncIterator[ControlPlane]:
    """The web UI's control plane, retrying failed deliveries after 0.5 s (then 1 s, 2 s, ...)."""
    config = ControlPlaneConfig(
        require_api_tokens=False,
        database=tmp_path / "fleet.db",
        grpc_address="127.0.0.1:0",
        http_address="127.0.0.1:0",
        shutdown_grace_seconds=2.0,
        webhook_retry_seconds=0.5,
    )
    async with ControlPlane(config) as plane:
        yield plane


async def test_an_admin_adds_a_webhook_sends_a_test_and_sees_it_delivered(
    cp: ControlPlane, page: Page, user: User
) -> None:
    async with webhook_receiver() as receiver:
        await login(page, cp.http_url, user)
        panel = page.locator("#webhooks")
        await expect(panel.locator("#webhooks-empty")).to_be_visible()

        await panel.locator(".webhook-new summary").click()
        form = page.locator("#webhook-form")
        await form.get_by_label("URL").fill(receiver.url)
        await form.get_by_label("tests failed").check()
        await form.get_by_label("command failed").check()
        await form.get_by_label("Format").select_option("json")
        await form.get_by_role("button", name="Add webhook").click()

        secret_box = page.locator("#webhook-secret")
        await expect(secret_box).to_contain_text("shown only this once")
        secret = await secret_box.get_by_label("Signing secret").input_value()
        assert secret.startswith("whsec_")
        row = panel.locator("tr[data-webhook]")
        await expect(row).to_have_count(1)
        await expect(row.locator(".webhook__url")).to_have_text(receiver.url)
        await expect(row.locator("td").nth(1)).to_have_text("tests failed, command failed")
        await expect(row).to_have_attribute("data-delivery", "none")
        await expect(row.locator(".webhook__delivery")).to_have_text("never")

        await row.locator('[data-webhook-action="test"]').click()
        received = await receiver.next_delivered()
        assert received.headers["x-fleetdeck-event"] == "test"
        assert notifications.verify(secret, received.headers["x-fleetdeck-signature"], received.body)
        await expect(row).to_have_attribute("data-delivery", "delivered", timeout=SEEN)
        await expect(row.locator(".webhook__delivery")).to_contain_text("delivered (HTTP 200) · test")
        await expect(row.locator(".webhook__pending")).to_have_text("0")

        await secret_box.get_by_role("button", name="I have saved it").click()
        await expect(secret_box).to_be_hidden()
        await row.locator('[data-webhook-action="remove"]').click()
        await expect(page.locator("#confirm")).to_contain_text(f"Remove the webhook to {receiver.url}?")
        await page.locator('#confirm [data-confirm="ok"]').click()
        await expect(row).to_have_count(0)
        await expect(panel.locator("#webhooks-empty")).to_be_visible()
    assert len(receiver.requests) == 1


async def test_a_failing_receiver_shows_as_failed_until_a_retry_is_delivered(
    cp: ControlPlane, page: Page, user: User
) -> None:
    async with webhook_receiver() as receiver:
        receiver.then = 500
        await login(page, cp.http_url, user)
        await page.locator("#webhooks .webhook-new summary").click()
        form = page.locator("#webhook-form")
        await form.get_by_label("URL").fill(receiver.url)
        await form.get_by_label("Format").select_option("slack")
        await form.get_by_role("button", name="Add webhook").click()
        row = page.locator("#webhooks tr[data-webhook]")
        await expect(row.locator("td").nth(1)).to_have_text("all events")
        await expect(row.locator("td").nth(2)).to_have_text("slack")

        await row.locator('[data-webhook-action="test"]').click()
        assert (await receiver.next()).status == 500
        await expect(row).to_have_attribute("data-delivery", "failed", timeout=SEEN)
        await expect(row.locator(".webhook__delivery")).to_contain_text("the receiver answered HTTP 500")
        await expect(row.locator(".webhook__pending")).to_have_text("1")

        receiver.then = 200
        await receiver.next_delivered()
        await expect(row).to_have_attribute("data-delivery", "delivered", timeout=SEEN)
        await expect(row.locator(".webhook__pending")).to_have_text("0")


async def test_a_viewer_sees_no_webhooks_panel_and_no_refusal(cp: ControlPlane, page: Page) -> None:
    viewer = await put_user(
        cp.grpc_target, cp.bootstrap_admin_token, User("victor", "victor-password-1", pb.ROLE_VIEWER)
    )
    await login(page, cp.http_url, viewer)
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    await expect(page.locator("#webhooks")).to_be_hidden()
    await expect(page.locator(".toast--error")).to_have_count(0)
