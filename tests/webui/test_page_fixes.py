"""What a new user tripped over in the page (issue 10, item 8), in Chromium against a real control
plane and scripted agents: actions offered only where they can run, the legend's words, a tooltip
that follows its element, the log panel's verdict in view, host metrics, and a layout that fits."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect
from scripted_agent import ScriptedAgent, create_token, now
from webui_support import Connect, User, compartment, login, set_desired

from controlplane.app import ControlPlane
from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc
from fleetdeck.v1 import types_pb2 as pb

SECOND = 1000  # ms
GIB = 1 << 30
METRICS = pb.Metrics(
    cpu_percent=12.4,
    memory_total_bytes=8 * GIB,
    memory_used_bytes=4 * GIB,
    load1=0.52,
    load5=0.4,
    load15=0.3,
    disk_total_bytes=100 * GIB,
    disk_used_bytes=25 * GIB,
)
# Whether the log panel shows its last line: scrolled to the bottom.
AT_BOTTOM = "() => { const o = document.getElementById('log-output'); return o.scrollHeight - o.scrollTop - o.clientHeight < 2; }"


def first_generation_heartbeat(agent: ScriptedAgent) -> None:
    """A heartbeat saying the host is at its first generation, with its resource use."""
    facts = agent.facts()
    facts.at_first_generation = True
    agent.send(
        heartbeat=agent_pb.Heartbeat(
            facts=facts, metrics=METRICS, test_status=agent.test_status, sent_at=now()
        )
    )


async def test_actions_that_cannot_run_are_disabled_with_the_reason_and_the_words_are_the_legends(
    cp: ControlPlane, fleet: fleet_grpc.FleetServiceAsyncStub, connect: Connect, page: Page, user: User
) -> None:
    gpc0 = await connect("gpc0")
    web1 = ScriptedAgent(
        cp.grpc_target,
        "web1",
        await create_token(cp.grpc_target, "web1"),
        test_status=pb.TestStatus(
            state=pb.TEST_STATE_DISABLED, message="No tests defined in hosts/web1/tests"
        ),
    )
    try:
        await web1.connect()
        web1.heartbeat()
        first_generation_heartbeat(gpc0)
        await set_desired(fleet)
        await login(page, cp.http_url, user)
        row = page.locator('tr[data-host="gpc0"]')
        rollback = row.locator('[data-action="rollback"]')
        await expect(rollback).to_be_disabled(timeout=SECOND)
        await expect(rollback).to_have_attribute(
            "title", "Nothing to roll back to: gpc0 is at its first generation (system-1-link)"
        )
        await expect(row.locator('.actions [data-action="test"]')).to_be_enabled()
        web1_test = page.locator('tr[data-host="web1"] .actions [data-action="test"]')
        await expect(web1_test).to_be_disabled()
        await expect(web1_test).to_have_attribute("title", "web1 has no tests defined")

        # Bulk: Test is offered while one selected host can take it; Rollback is not at all.
        bulk_test = page.locator('[data-bulk="test"]')
        await page.locator('[data-select="web1"]').check()
        await expect(bulk_test).to_be_disabled()
        await expect(bulk_test).to_have_attribute("title", "web1 has no tests defined")
        await page.locator('[data-select="gpc0"]').check()
        await expect(bulk_test).to_be_enabled()
        bulk_rollback = page.locator('[data-bulk="rollback"]')
        await expect(bulk_rollback).to_be_enabled()  # web1 has an older generation
        await page.locator('[data-select="web1"]').uncheck()
        await expect(bulk_rollback).to_be_disabled()
        await expect(bulk_rollback).to_have_attribute(
            "title", "Nothing to roll back to: gpc0 is at its first generation (system-1-link)"
        )

        # Metrics: a compact hint in the row, the whole reading in the Agent card.
        await expect(row.locator(".host__metrics")).to_have_text("cpu 12% · mem 50% · load 0.52 · disk 25%")
        await compartment(page, "gpc0", "agent").click()
        popup = page.locator("#popup")
        await expect(popup.locator("dt", has_text="Memory").locator("+ dd")).to_have_text(
            "4.0 GiB of 8.0 GiB (50%)"
        )
        await expect(popup.locator("dt", has_text="Disk (/)").locator("+ dd")).to_have_text(
            "25 GiB of 100 GiB (25%)"
        )
        await expect(popup.locator("dt", has_text="Load").locator("+ dd")).to_have_text("0.52 · 0.40 · 0.30")
        await popup.get_by_role("button", name="Close", exact=True).click()
        await expect(popup).to_be_hidden()
        await expect(page.locator("#tooltip")).to_be_hidden()

        # The System card says what a rollback would return to, in the legend's words.
        await compartment(page, "gpc0", "system").click()
        await expect(popup.locator("dt", has_text="Rollback returns to").locator("+ dd")).to_have_text(
            "nothing: this is the first generation"
        )
        await expect(popup.locator("dt", has_text="Git / Lock").locator("+ dd")).to_have_text(
            "current / current"
        )
        await popup.get_by_role("button", name="Close", exact=True).click()
        await expect(popup).to_be_hidden()

        # A test run with long output: the panel ends scrolled to its verdict line.
        await row.locator('.actions [data-action="test"]').click()
        run = await gpc0.next_command()
        assert run.operation == pb.OPERATION_TEST
        for start in range(0, 120, 40):
            gpc0.output(run.command_id, *(f"case output line {i}" for i in range(start, start + 40)))
        await expect(page.locator("#log-output .line")).to_have_count(120, timeout=SECOND * 5)
        tests = compartment(page, "gpc0", "tests")
        gpc0.progress(run.command_id, 1, 3, "ssh")
        # The tooltip follows its element while the row changes under it.
        await tests.hover()
        tooltip = page.locator("#tooltip")
        await expect(tooltip).to_have_text("Tests running: 1/3 — running ssh")
        gpc0.progress(run.command_id, 2, 3, "gpu")
        await expect(tooltip).to_have_text("Tests running: 2/3 — running gpu", timeout=SECOND)
        gpc0.report_tests(
            run.command_id, [("network", True, ""), ("ssh", True, ""), ("gpu", False, "no gpu")], 1
        )
        gpc0.finish(run.command_id, 1)
        await expect(tests).to_have_attribute("data-status", "error", timeout=SECOND)
        await expect(tooltip).to_have_text(re.compile(r"^Last test: .* \(2/3 passed\)$"))
        verdict = page.locator("#log-output .line--system").last
        await expect(verdict).to_have_text(re.compile(r"\[fleetdeck\] test failed \(exit 1\)"))
        await page.wait_for_function(AT_BOTTOM, timeout=SECOND)

        # The card says "failed" as the legend does, never "error".
        await page.mouse.move(0, 0)
        await tests.click()
        badge = popup.locator(".popup__badge")
        await expect(badge).to_have_text("failed")
        await expect(page.locator('.legend__item[data-status="error"]')).to_have_text("failed")
        await popup.get_by_role("button", name="Close", exact=True).click()
        # Closing gives the focus back to the compartment; no tooltip is left over the page.
        await expect(tooltip).to_be_hidden()
        gpc0.heartbeat(generation="system-2-link")
        await expect(compartment(page, "gpc0", "system")).to_have_attribute(
            "data-tooltip", re.compile(".+"), timeout=SECOND
        )
        await expect(tooltip).to_be_hidden()
    finally:
        await web1.close()


async def _nothing_overflows(page: Page) -> None:
    overflowing = await page.evaluate(
        """() => {
          const bad = [];
          const width = document.documentElement.clientWidth;
          if (document.documentElement.scrollWidth > width) bad.push(`page ${document.documentElement.scrollWidth} > ${width}`);
          for (const sel of [".topbar", ".toolbar", ".table-wrap", ".hosts"]) {
            const e = document.querySelector(sel);
            if (e.scrollWidth > e.clientWidth + 1) bad.push(`${sel} ${e.scrollWidth} > ${e.clientWidth}`);
          }
          for (const e of document.querySelectorAll(".topbar > *, .toolbar button, .actions button, [data-compartment]")) {
            const r = e.getBoundingClientRect();
            if (r.width > 0 && (r.right > width + 0.5 || r.left < -0.5)) bad.push(`${e.className || e.id} at ${r.left}..${r.right}`);
          }
          return bad;
        }"""
    )
    assert overflowing == []


async def test_the_layout_fits_a_small_laptop_and_a_phone(
    cp: ControlPlane, connect: Connect, page: Page, user: User
) -> None:
    for name in ("gpc0", "hsb1-with-a-longer-name"):
        await connect(name)
    await login(page, cp.http_url, user)
    await expect(page.locator("tr.host-row")).to_have_count(2)
    for width, height in ((1024, 768), (390, 844)):
        await page.set_viewport_size({"width": width, "height": height})
        await expect(page.locator('tr[data-host="gpc0"] [data-action="settings"]')).to_be_visible()
        await _nothing_overflows(page)
    # At phone width every compartment and action is still there to press.
    await expect(page.locator('tr[data-host="gpc0"] .actions button')).to_have_count(7)
    await page.locator('tr[data-host="gpc0"] [data-action="history"]').click()
    await expect(page.locator("#popup h2")).to_have_text("gpc0 - History")
