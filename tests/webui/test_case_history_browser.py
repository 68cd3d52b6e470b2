"""The Tests popup tells a case's story in Chromium: a badge per case (regression, flaky, broken),
its last results and since when it fails, and the offer in the order the classification asks for."""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import Page, expect
from scripted_agent import ScriptedAgent
from webui_support import Connect, User, compartment, login, set_desired

from controlplane.app import ControlPlane
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc
from fleetdeck.v1 import types_pb2 as pb

SECOND = 1000


async def _run(
    fleet: fleet_grpc.FleetServiceAsyncStub, agent: ScriptedAgent, generation: int, gpu: bool, dns: bool
) -> None:
    """One test run on `generation` with the gpu and dns cases passing or not."""
    agent.generation = generation
    agent.heartbeat()
    watch = fleet.WatchFleet(fleet_pb.WatchFleetRequest())
    await watch.read()  # the snapshot: what follows is after it
    await fleet.RunOperation(fleet_pb.RunOperationRequest(hosts=[agent.host], operation=pb.OPERATION_TEST))
    command = await agent.next_command()
    cases = [
        ("network", True, ""),
        ("gpu", gpu, "" if gpu else "nvidia-smi not found"),
        ("dns", dns, "" if dns else "no resolver"),
    ]
    agent.report_tests(command.command_id, cases, trigger=pb.TEST_TRIGGER_MANUAL)
    agent.finish(command.command_id, 0 if gpu and dns else 1)
    async with asyncio.timeout(5):
        while True:
            event = await watch.read()
            if (
                event.HasField("command")
                and event.command.id == command.command_id
                and event.command.finished_at.seconds
            ):
                break
    watch.cancel()


async def test_the_popup_shows_badges_history_and_rollback_first_for_a_regression(
    cp: ControlPlane, fleet: fleet_grpc.FleetServiceAsyncStub, connect: Connect, page: Page, user: User
) -> None:
    agent = await connect("gpc0")
    await set_desired(fleet)
    await login(page, cp.http_url, user)
    tests = compartment(page, "gpc0", "tests")
    popup = page.locator("#popup")

    await _run(fleet, agent, 1, gpu=True, dns=False)
    await expect(tests).to_have_attribute("data-status", "error", timeout=5 * SECOND)
    await _run(fleet, agent, 2, gpu=False, dns=False)  # passed on system-1, fails on system-2
    toast = page.locator(".toast", has_text="gpu passed on the previous generation")
    await expect(toast).to_be_visible(timeout=5 * SECOND)
    await expect(toast.get_by_role("button", name="Run again")).to_have_count(0)

    await tests.click()
    gpu = popup.locator('li.case[data-case="gpu"]')
    await expect(gpu.locator(".case__badge")).to_have_text("REGRESSION")
    await expect(popup.locator('li.case[data-case="dns"] .case__badge')).to_have_text("BROKEN")
    await expect(popup.locator('li.case[data-case="network"] .case__badge')).to_have_count(0)
    await expect(popup.locator("[data-advice]")).to_contain_text("gpu passed on the previous generation")
    await expect(popup.get_by_role("button", name="Rollback", exact=True)).to_be_visible()
    await expect(popup.get_by_role("button", name="Run again")).to_have_count(0)
    history = popup.locator('[data-case-history="gpu"]')
    await expect(history.locator(".hist")).to_have_text(["✓", "✗"])
    await expect(history.locator(".case-history__text")).to_contain_text("failing since system-2-link, 1 run")
    await popup.get_by_role("button", name="Close", exact=True).click()

    await _run(fleet, agent, 2, gpu=True, dns=False)
    await _run(fleet, agent, 2, gpu=False, dns=False)  # passed and failed on system-2: flaky
    await expect(page.locator(".toast", has_text="gpu, dns")).to_be_visible(timeout=5 * SECOND)
    await tests.click()
    await expect(gpu.locator(".case__badge")).to_have_text("FLAKY")
    await expect(gpu.locator(".case__badge")).to_have_attribute(
        "title", "Passed and failed on this generation: the deployment is not to blame"
    )
    await expect(history.locator(".hist")).to_have_text(["✓", "✗", "✓", "✗"])
    await expect(history.locator(".case-history__text")).to_have_text(
        re.compile(r"failing since system-2-link, 1 run · last passed on system-2-link .+ · 2/4 passed")
    )
    await expect(popup.locator('[data-case-history="dns"] .case-history__text')).to_have_text(
        "failing since system-1-link, 4 runs · never passed · 0/4 passed"
    )


async def test_a_flaky_failure_offers_to_run_again_first_and_says_why(
    cp: ControlPlane, fleet: fleet_grpc.FleetServiceAsyncStub, connect: Connect, page: Page, user: User
) -> None:
    agent = await connect("web1")
    await set_desired(fleet)
    await login(page, cp.http_url, user)
    tests = compartment(page, "web1", "tests")
    await _run(fleet, agent, 3, gpu=True, dns=True)
    await expect(tests).to_have_attribute("data-status", "ok", timeout=5 * SECOND)
    await _run(fleet, agent, 3, gpu=False, dns=True)
    toast = page.locator(".toast", has_text="gpu is flaky on system-3-link")
    await expect(toast).to_be_visible(timeout=5 * SECOND)
    buttons = toast.locator("button")
    await expect(buttons.filter(has_text=re.compile("Run again|Rollback"))).to_have_text(
        ["Run again", "Rollback"]
    )

    await tests.click()
    popup = page.locator("#popup")
    await expect(popup.locator('li.case[data-case="gpu"] .case__badge')).to_have_text("FLAKY")
    await expect(popup.locator("[data-advice]")).to_have_text(
        "gpu is flaky on system-3-link (passed and failed on this generation): run the tests again before rolling back"
    )
    footer = popup.locator("footer button")
    await expect(footer).to_have_text(["View Full Output", "Run again", "Rollback", "Close"])
    await popup.get_by_role("button", name="Run again").click()
    again = await agent.next_command()
    assert again.operation == pb.OPERATION_TEST


async def test_the_failing_cases_section_counts_cases_and_hosts(
    cp: ControlPlane, fleet: fleet_grpc.FleetServiceAsyncStub, connect: Connect, page: Page, user: User
) -> None:
    gpc0 = await connect("gpc0")
    web1 = await connect("web1")
    await set_desired(fleet)
    await login(page, cp.http_url, user)
    section = page.locator("#failing-cases")
    await expect(section).to_be_hidden()

    await _run(fleet, gpc0, 1, gpu=False, dns=False)
    await _run(fleet, web1, 1, gpu=True, dns=False)
    await expect(section).to_be_visible(timeout=5 * SECOND)
    await expect(page.locator("#failing-count")).to_have_text("2 cases on 2 hosts")
    dns = section.locator('[data-failing-case="dns"]')
    await expect(section.locator("[data-failing-case]")).to_have_text(
        [re.compile("^dns"), re.compile("^gpu")]
    )
    await expect(dns.locator(".failing__meta")).to_have_text("2 hosts · same commit everywhere")
    await expect(dns.locator("[data-failing-host]")).to_have_text(
        ["gpc0 · since system-1-link", "web1 · since system-1-link"]
    )

    await _run(fleet, gpc0, 1, gpu=True, dns=True)  # gpc0 passes again
    await expect(page.locator("#failing-count")).to_have_text("1 case on 1 host", timeout=5 * SECOND)
    await dns.locator('[data-failing-host="web1"]').click()
    await expect(page.locator("#popup h2")).to_have_text("web1 - Test Results")
