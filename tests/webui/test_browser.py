"""The dashboard in Debian's Chromium against a real control plane and scripted agents over real gRPC."""

from __future__ import annotations

import re

import grpc
from playwright.async_api import Page, expect
from scripted_agent import COMMIT, ScriptedAgent
from webui_support import Connect, Proxy, User, compartment, login, serve_webui, set_desired

from controlplane.app import ControlPlane, ControlPlaneConfig
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc
from fleetdeck.v1 import types_pb2 as pb

STATUSES = {"ok", "outdated", "error", "working", "unknown", "disabled"}
KINDS = ["agent", "git", "lock", "system", "tests"]
SECOND = 1000  # ms: how fast the page must show a change
# Records every distinct data-status the host's Tests element shows, so no step can be skipped.
RECORD_STATUSES = """host => {
  const element = document.querySelector(`tr[data-host="${host}"] [data-compartment="tests"]`);
  window.__testsStatuses = [element.dataset.status];
  new MutationObserver(() => {
    const seen = window.__testsStatuses;
    if (seen[seen.length - 1] !== element.dataset.status) seen.push(element.dataset.status);
  }).observe(element, { attributes: true, attributeFilter: ["data-status"] });
}"""
XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'


async def test_table_shows_every_hosts_five_compartments(
    cp: ControlPlane, fleet: fleet_grpc.FleetServiceAsyncStub, connect: Connect, page: Page, user: User
) -> None:
    for name in ("gpc0", "hsb1", "imac0"):
        await connect(name)
    await set_desired(fleet)
    await login(page, cp.http_url, user)
    await expect(page.locator("tr.host-row")).to_have_count(3)
    for name in ("gpc0", "hsb1", "imac0"):
        row = page.locator(f'tr[data-host="{name}"]')
        await expect(row.locator("[data-compartment]")).to_have_count(5)
        for kind in KINDS:
            status = await row.locator(f'[data-compartment="{kind}"]').get_attribute("data-status")
            assert status in STATUSES
        await expect(compartment(page, name, "git")).to_have_attribute("data-status", "ok")
        await expect(compartment(page, name, "tests")).to_have_attribute("data-status", "outdated")
        await expect(row.locator(".prompt")).to_have_text("Run tests to verify system")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")


async def test_switch_then_failing_tests_go_yellow_blue_red_and_roll_back_from_the_popup(
    cp: ControlPlane, fleet: fleet_grpc.FleetServiceAsyncStub, connect: Connect, page: Page, user: User
) -> None:
    agent = await connect("gpc0")
    await set_desired(fleet)
    await login(page, cp.http_url, user)
    tests = compartment(page, "gpc0", "tests")
    await expect(compartment(page, "gpc0", "system")).to_have_attribute("data-status", "unknown")
    await expect(tests).to_have_attribute("data-status", "outdated")
    await page.evaluate(RECORD_STATUSES, "gpc0")

    await page.locator('tr[data-host="gpc0"] [data-action="switch"]').click()
    await expect(page.locator("#confirm")).to_contain_text("Switch gpc0")
    await page.locator('[data-confirm="ok"]').click()
    switch = await agent.next_command()
    assert switch.operation == pb.OPERATION_SWITCH
    await expect(compartment(page, "gpc0", "system")).to_have_attribute(
        "data-status", "working", timeout=SECOND
    )
    await expect(tests).to_have_attribute("data-status", "outdated")
    agent.output(switch.command_id, "building the system configuration…")
    agent.output(switch.command_id, "\x1b]0;nixos-rebuild\x07\x1b[2K\x1b[1Gactivating")
    agent.output(switch.command_id, "\x1b[31mwarning:\x1b[0m " + XSS, stream=pb.OUTPUT_STREAM_STDERR)
    agent.generation = 2
    agent.finish(switch.command_id, 0)
    await expect(compartment(page, "gpc0", "system")).to_have_attribute("data-status", "ok", timeout=SECOND)

    # The log panel streamed the switch's output; stderr is marked, ANSI rendered, markup shown as text.
    stderr_line = page.locator("#log-output .line--stderr")
    await expect(stderr_line).to_contain_text(XSS)
    await expect(stderr_line.locator(".ansi-1")).to_have_text("warning:")
    await expect(page.locator("#log-output .line--stdout .line__text").nth(1)).to_have_text("activating")

    run = await agent.next_command()  # tests run automatically after the switch
    assert run.operation == pb.OPERATION_TEST
    await expect(tests).to_have_attribute("data-status", "working", timeout=SECOND)
    agent.progress(run.command_id, 1, 3, "ssh")
    await expect(tests).to_have_attribute("data-tooltip", re.compile(r"Tests running: 1/3"), timeout=SECOND)
    cases = [
        ("network", True, ""),
        ("ssh", True, ""),
        ("gpu", False, "Error: nvidia-smi not found\n" + XSS),
    ]
    agent.output(run.command_id, "gpu: " + XSS, stream=pb.OUTPUT_STREAM_STDERR)
    agent.report_tests(run.command_id, cases, trigger=pb.TEST_TRIGGER_AFTER_SWITCH)
    agent.finish(run.command_id, 1)
    await expect(tests).to_have_attribute("data-status", "error", timeout=SECOND)
    assert await page.evaluate("window.__testsStatuses") == ["outdated", "working", "error"]
    await expect(page).to_have_title("(1 failing) Fleetdeck")
    toast = page.locator(".toast", has_text="Tests failed on gpc0")
    await expect(toast).to_be_visible()
    await expect(toast.get_by_role("button", name="Rollback")).to_be_visible()

    await tests.click()
    popup = page.locator("#popup")
    await expect(popup.locator("h2")).to_have_text("gpc0 - Test Results")
    await expect(popup.locator("li.case")).to_have_count(3)
    await expect(popup.locator("li.case .case__mark")).to_have_text(["✓", "✓", "✗"])
    await expect(popup.locator('li.case[data-outcome="failed"]')).to_contain_text("gpu")
    await expect(popup.locator(".case-output")).to_contain_text("nvidia-smi not found")
    await expect(popup.locator(".case-output")).to_contain_text(XSS)
    await expect(popup.locator(".summary")).to_have_text("2/3 tests passed")
    await expect(popup.locator(".meta").first).to_have_text("Run time: 1.5s")
    for label in ("View Full Output", "Rollback", "Close"):
        await expect(popup.get_by_role("button", name=label, exact=True)).to_be_visible()
    junit = popup.get_by_role("link", name="JUnit XML")
    await expect(junit).to_have_attribute("href", f"/api/test-runs/{run.command_id}/junit.xml")
    assert await page.locator("#popup script, #popup img, #log-output script, #log-output img").count() == 0
    assert await page.evaluate("window.__xss") is None

    await popup.get_by_role("button", name="Rollback", exact=True).click()
    await page.locator('[data-confirm="ok"]').click()
    rollback = await agent.next_command()
    assert rollback.operation == pb.OPERATION_ROLLBACK
    await expect(compartment(page, "gpc0", "system")).to_have_attribute(
        "data-status", "working", timeout=SECOND
    )
    agent.generation = 1
    agent.finish(rollback.command_id, 0)
    await expect(tests).to_have_attribute("data-status", "outdated", timeout=SECOND)
    await expect(tests).to_have_attribute("data-tooltip", re.compile("after rollback"))


async def test_a_dropped_event_stream_recovers_without_a_reload(
    cp: ControlPlane, fleet: fleet_grpc.FleetServiceAsyncStub, connect: Connect, page: Page, user: User
) -> None:
    await connect("gpc0")
    async with serve_webui(cp.grpc_target) as url:
        proxy = Proxy(int(url.rsplit(":", 1)[1]))
        await proxy.start()
        try:
            await login(page, f"http://127.0.0.1:{proxy.port}", user)
            await expect(compartment(page, "gpc0", "git")).to_have_attribute("data-status", "error")
            await page.evaluate("window.__sameDocument = true")
            connections = proxy.connections
            proxy.drop_all()
            await set_desired(fleet)
            await expect(compartment(page, "gpc0", "git")).to_have_attribute("data-status", "ok")
            await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
            assert proxy.connections > connections
            assert await page.evaluate("window.__sameDocument") is True
        finally:
            await proxy.stop()


async def test_a_control_plane_restart_recovers_without_a_reload_and_keeps_the_session(
    cp: ControlPlane, connect: Connect, page: Page, user: User
) -> None:
    # The cookie key and the sessions live in the control plane's database, so the page keeps its
    # session across the restart and comes back live on its own, without a reload.
    agent = await connect("gpc0")
    await login(page, cp.http_url, user)
    await expect(compartment(page, "gpc0", "git")).to_have_attribute("data-status", "error")
    await page.evaluate("window.__noReload = true")
    grpc_port, http_port, db_path = cp.grpc_port, cp.http_port, cp.config.database
    await agent.close()
    await cp.stop()
    await expect(page.locator("#connection")).not_to_have_attribute("data-state", "live")
    config = ControlPlaneConfig(
        require_api_tokens=False,
        database=db_path,
        grpc_address=f"127.0.0.1:{grpc_port}",
        http_address=f"127.0.0.1:{http_port}",
        shutdown_grace_seconds=2.0,
    )
    async with ControlPlane(config) as restarted:
        again = ScriptedAgent(restarted.grpc_target, "gpc0", agent.token)
        await again.connect()
        again.heartbeat()
        async with grpc.aio.insecure_channel(restarted.grpc_target) as channel:
            await set_desired(fleet_grpc.FleetServiceStub(channel))  # type: ignore[arg-type]
        await expect(compartment(page, "gpc0", "git")).to_have_attribute("data-status", "ok", timeout=10_000)
        await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
        assert await page.evaluate("window.__noReload === true")  # the same page, never reloaded
        assert page.url.rstrip("/") == restarted.http_url
        await again.close()


async def test_settings_turn_off_auto_run_then_the_prompt_runs_tests_that_pass(
    cp: ControlPlane, fleet: fleet_grpc.FleetServiceAsyncStub, connect: Connect, page: Page, user: User
) -> None:
    agent = await connect("gpc0")
    await set_desired(fleet)
    await login(page, cp.http_url, user)
    tests = compartment(page, "gpc0", "tests")
    await expect(tests).to_have_attribute("data-status", "outdated")

    await page.get_by_role("button", name="Settings of gpc0").click()
    dialog = page.locator("#settings-dialog")
    await dialog.get_by_label("Auto-run tests after switch").select_option("off")
    await dialog.get_by_label("Test timeout override (seconds, empty for the default)").fill("45")
    await dialog.get_by_role("button", name="Save").click()
    await expect(page.locator(".toast", has_text="Saved test settings of gpc0")).to_be_visible()
    host = (await fleet.GetHost(fleet_pb.GetHostRequest(name="gpc0"), timeout=5)).host
    assert not host.test_settings.auto_run_after_switch and host.test_settings.timeout.seconds == 45

    await page.locator('tr[data-host="gpc0"] [data-action="switch"]').click()
    await page.locator('[data-confirm="ok"]').click()
    switch = await agent.next_command()
    agent.generation = 2
    agent.finish(switch.command_id, 0)
    await expect(compartment(page, "gpc0", "system")).to_have_attribute("data-status", "ok", timeout=SECOND)
    await expect(tests).to_have_attribute("data-status", "outdated")
    prompt = page.locator('tr[data-host="gpc0"] .prompt')
    await expect(prompt).to_have_text("Run tests to verify system")

    await prompt.click()
    run = await agent.next_command()
    assert run.operation == pb.OPERATION_TEST and run.trigger == pb.TEST_TRIGGER_MANUAL
    await expect(tests).to_have_attribute("data-status", "working", timeout=SECOND)
    await expect(prompt).to_be_hidden()
    agent.report_tests(
        run.command_id, [("network", True, ""), ("ssh", True, "")], trigger=pb.TEST_TRIGGER_MANUAL
    )
    agent.finish(run.command_id, 0)
    await expect(tests).to_have_attribute("data-status", "ok", timeout=SECOND)
    await expect(tests).to_have_attribute("data-tooltip", "Last test: just now (2/2 passed)")
    await tests.hover()
    await expect(page.locator("#tooltip")).to_have_text("Last test: just now (2/2 passed)")

    await tests.click()
    popup = page.locator("#popup")
    await expect(popup.locator(".summary")).to_have_text("2/2 tests passed")
    await popup.get_by_role("button", name="View Full Output").click()
    await expect(page.locator("#log-title")).to_have_text("test on gpc0")
    await expect(page.locator("#log-output")).to_contain_text("test succeeded (exit 0)")

    await page.get_by_role("button", name="History of gpc0").click()
    await expect(popup.locator("h2")).to_have_text("gpc0 - History")
    await expect(popup.locator("table.history tbody tr")).to_have_count(2)
    await expect(popup.locator("table.history thead th").nth(4)).to_have_text("By")
    await expect(popup.locator(".history__by").first).to_have_text(re.compile(r"^(user \S+|control plane)$"))
    await popup.locator('[data-popup-action="output"][data-op="switch"]').click()
    await expect(page.locator("#log-title")).to_have_text("switch on gpc0")
    await expect(page.locator("#log-output")).to_contain_text("switch succeeded (exit 0)")

    await page.locator("#open-settings").click()
    dialog = page.locator("#settings-dialog")
    await dialog.get_by_label("Test timeout (seconds)").fill("90")
    await dialog.get_by_role("button", name="Save").click()
    await expect(page.locator(".toast", has_text="Saved the fleet's test timeout")).to_be_visible()
    settings = await fleet.GetSettings(fleet_pb.GetSettingsRequest(), timeout=5)
    assert settings.settings.test_timeout.seconds == 90


async def test_bulk_switch_asks_first_and_shows_each_refusal_as_a_sentence(
    cp: ControlPlane, fleet: fleet_grpc.FleetServiceAsyncStub, connect: Connect, page: Page, user: User
) -> None:
    gpc0 = await connect("gpc0")
    offline = await connect("hsb1")
    await offline.close()
    await set_desired(fleet)
    await login(page, cp.http_url, user)
    await expect(page.locator('tr[data-host="hsb1"]')).to_have_class(re.compile("host-row--offline"))
    await page.locator("#select-all").check()
    await expect(page.locator("#selection-count")).to_have_text("2 selected")
    await page.locator('[data-bulk="switch"]').click()
    await expect(page.locator("#confirm")).to_contain_text("Switch gpc0, hsb1")
    await page.locator('[data-confirm="cancel"]').click()
    await expect(page.locator("#confirm")).to_be_hidden()

    await page.locator('[data-bulk="switch"]').click()
    await page.locator('[data-confirm="ok"]').click()
    switch = await gpc0.next_command()
    assert switch.operation == pb.OPERATION_SWITCH
    refusal = page.locator(".toast--error", has_text="hsb1")
    await expect(refusal).to_be_visible()
    assert "FAILED_PRECONDITION" not in (await refusal.inner_text())

    await compartment(page, "gpc0", "system").click()
    popup = page.locator("#popup")
    await expect(popup.locator("h2")).to_have_text("gpc0 - System")
    await popup.get_by_role("button", name="Stop").click()
    cancel = await gpc0.recv("cancel_command")
    assert cancel.cancel_command.command_id == switch.command_id


async def test_a_standalone_web_ui_shows_the_outage_and_recovers_when_the_control_plane_returns(
    cp: ControlPlane, connect: Connect, page: Page, user: User
) -> None:
    agent = await connect("gpc0")
    async with serve_webui(cp.grpc_target) as url:
        await login(page, url, user)
        await expect(compartment(page, "gpc0", "git")).to_have_attribute("data-status", "error")
        await page.evaluate("window.__sameDocument = true")
        grpc_port, db_path = cp.grpc_port, cp.config.database
        await agent.close()
        await cp.stop()
        connection = page.locator("#connection")
        await expect(connection).to_have_attribute("data-state", "degraded")
        await expect(connection).to_contain_text("unreachable")
        config = ControlPlaneConfig(
            require_api_tokens=False,
            database=db_path,
            grpc_address=f"127.0.0.1:{grpc_port}",
            shutdown_grace_seconds=1,
        )
        async with ControlPlane(config) as restarted:
            async with grpc.aio.insecure_channel(restarted.grpc_target) as channel:
                await set_desired(fleet_grpc.FleetServiceStub(channel))  # type: ignore[arg-type]
            await expect(compartment(page, "gpc0", "git")).to_have_attribute(
                "data-status", "ok", timeout=10_000
            )
            await expect(connection).to_have_attribute("data-state", "live")
            assert await page.evaluate("window.__sameDocument") is True


async def test_a_compartment_popup_shows_the_desired_state_as_it_is_when_opened(
    cp: ControlPlane, fleet: fleet_grpc.FleetServiceAsyncStub, connect: Connect, page: Page, user: User
) -> None:
    await connect("gpc0")
    await set_desired(fleet)
    await login(page, cp.http_url, user)
    git = compartment(page, "gpc0", "git")
    await expect(git).to_have_attribute("data-status", "ok")
    popup = page.locator("#popup")
    await git.click()
    await expect(popup.locator("dl.facts dd").first).to_have_text(COMMIT)
    await popup.locator('[data-popup-action="close"]').first.click()
    await set_desired(fleet, commit="b" * 40)  # CI moved on; no event carries the desired state itself
    await expect(git).to_have_attribute("data-status", "outdated")
    await git.click()
    await expect(popup.locator("dl.facts dd").first).to_have_text("b" * 40)


async def test_a_bulk_actions_refusals_share_one_toast_and_sticky_toasts_are_never_evicted(
    cp: ControlPlane, fleet: fleet_grpc.FleetServiceAsyncStub, connect: Connect, page: Page, user: User
) -> None:
    await connect("gpc0")
    offline = [f"off{i}" for i in range(8)]
    for name in offline:
        await (await connect(name)).close()
    await set_desired(fleet)
    await login(page, cp.http_url, user)
    for name in offline:
        await expect(page.locator(f'tr[data-host="{name}"]')).to_have_class(re.compile("host-row--offline"))
    await page.locator("#select-all").check()
    await page.locator('[data-bulk="test"]').click()
    refusals = page.locator("#toasts .toast--error")
    await expect(refusals).to_have_count(1)
    for name in offline:
        await expect(refusals).to_contain_text(name)
    await expect(refusals.locator(".toast__list li")).to_have_count(len(offline))

    # A sticky toast (like "Tests failed on X" with Rollback) outlives any number of others.
    await page.evaluate(
        """async () => {
          const { toast } = await import("/static/toasts.js");
          toast("Tests failed on gpc0", { tone: "error", sticky: true, key: "tests-gpc0" });
          for (let i = 0; i < 10; i++) toast(`note ${i}`);
        }"""
    )
    await expect(page.locator("#toasts .toast", has_text="Tests failed on gpc0")).to_have_count(1)
    await expect(page.locator("#toasts .toast")).to_have_count(6)
    await expect(page.locator("#toasts .toast", has_text="note 9")).to_have_count(1)
