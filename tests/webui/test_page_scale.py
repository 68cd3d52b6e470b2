"""The page at 10,000 hosts, in Chromium: first snapshot and changes within their budgets, only
visible rows drawn, filter and "needs attention" sort, and "last seen … ago" ageing without events.

The event stream is the web UI's own framing (a Fanout fed the synthetic fleet) served to the real
page through Playwright's routing, so the budgets measure the page alone.
"""

from __future__ import annotations

import asyncio
import re
import statistics
from typing import Any

import liveview
from playwright.async_api import Page, Route, expect
from scripted_agent import TIMEOUT
from webui_support import User, free_port, login, serve_webui

from controlplane.app import ControlPlane
from fleetdeck.v1 import types_pb2 as pb
from webui.fanout import Fanout
from webui.relay import Status

HOSTS = 10_000
# The budgets are 1 s for the first snapshot and 16 ms (a frame) for a change; this shared 2-core
# machine runs other suites beside this one, so the test allows that much again on top (the figures
# themselves are printed by bench/sse_fanout.py --page and kept in bench/README.md).
FIRST_RENDER_LIMIT_MS = 2000
CHANGE_LIMIT_MS = 32
"""For the median change: one change may meet a garbage collection or lose the CPU to another suite,
so the slowest is only held to OUTLIER_LIMIT_MS."""
OUTLIER_LIMIT_MS = 150
MORE_CHANGES = 12
SLOW_START_MS = 20_000
"""Login, Chromium and the 12 MB opening under load: how long the test waits (not a budget)."""

MEASURES = """names => Object.fromEntries(names.map(n => [n, performance.getEntriesByName(`fleetdeck:${n}`).map(e => e.duration)]))"""


def streams() -> tuple[bytes, bytes]:
    """The opening of /events (status, 10,000-host snapshot) and, on the reconnect, the changes."""
    fanout = Fanout(None)
    fanout.apply(Status(True, "live"))
    hosts = liveview.fleet(HOSTS)
    hosts[1].online = False  # offline since 30 s before the fleet was built
    hosts[1].last_seen.FromSeconds(hosts[1].last_seen.seconds - 30)
    fanout.apply(liveview.snapshot(hosts, 100))
    opening = b"retry: 500\n\n" + fanout.opening(0)
    red = liveview.host(3, tests=pb.COMPARTMENT_STATUS_ERROR)
    fanout.apply(liveview.change(red, 101))  # a row in view turns red
    fanout.apply(liveview.change(liveview.host(7000, online=False), 102))  # far off-screen, goes offline
    fanout.apply(liveview.change(liveview.host(HOSTS, tests=pb.COMPARTMENT_STATUS_ERROR), 103))  # a new host
    for version, index in enumerate(range(10, 10 + MORE_CHANGES), start=104):  # rows in view and out of it
        fanout.apply(liveview.change(liveview.host(index * 331 % HOSTS, note=f"change {version}"), version))
    return opening, fanout.opening(100)


async def test_ten_thousand_hosts_render_within_budget_and_filter_and_sort(
    cp: ControlPlane, page: Page, user: User
) -> None:
    opening, changes = streams()
    release = asyncio.Event()
    served: list[str] = []

    async def serve(route: Route) -> None:
        served.append(route.request.url)
        if len(served) == 1:
            body = opening
        elif len(served) == 2:
            await release.wait()
            body = changes
        else:
            body = b"retry: 60000\n\n"
        await route.fulfill(status=200, headers={"content-type": "text/event-stream"}, body=body)

    await page.route("**/events*", serve)
    await login(page, cp.http_url, user)
    await page.wait_for_function(
        "() => performance.getEntriesByName('fleetdeck:snapshot-painted').length > 0", timeout=SLOW_START_MS
    )
    first: dict[str, list[float]] = await page.evaluate(MEASURES, ["snapshot", "snapshot-painted"])
    await expect(page.locator("#summary")).to_contain_text(f"{HOSTS} hosts")
    drawn = await page.locator("tr.host-row").count()
    assert 0 < drawn < 200, f"{drawn} rows in the DOM for {HOSTS} hosts"
    assert first["snapshot-painted"][0] < FIRST_RENDER_LIMIT_MS, first

    # An online host just says so; an offline one's "last seen 30 s ago" ages in the page, with no event.
    assert (
        await page.locator('tr[data-host="host00002"] .host__meta').text_content() == "NixOS 25.05 · online"
    )
    meta = page.locator('tr[data-host="host00001"] .host__meta')
    seen = await meta.text_content() or ""
    assert re.search(r"seen \d+ s ago", seen) and int(seen.split("seen ")[1].split()[0]) >= 30, seen
    await expect(meta).not_to_have_text(seen)

    await page.select_option("#sort", "attention")
    first_row = page.locator("tr.host-row").first
    await expect(first_row).to_have_attribute("data-host", "host00000")  # red, and first by name
    release.set()
    await page.wait_for_function(
        f"() => performance.getEntriesByName('fleetdeck:host').length >= {3 + MORE_CHANGES}",
        timeout=TIMEOUT * 1000,
    )
    applied: dict[str, Any] = await page.evaluate(MEASURES, ["host"])
    assert statistics.median(applied["host"]) < CHANGE_LIMIT_MS, applied
    assert max(applied["host"]) < OUTLIER_LIMIT_MS, applied
    red = page.locator('tr[data-host="host00003"] [data-compartment="tests"]')
    await expect(red).to_have_attribute("data-status", "error")  # moved among the red ones, drawn
    await expect(page.locator("#summary")).to_contain_text(f"{HOSTS + 1} hosts")

    await page.fill("#filter-text", "host0004")
    await expect(page.locator("tr.host-row")).to_have_count(10)
    await page.fill("#filter-text", "")
    await page.select_option("#filter-status", "offline")
    offline = page.locator("tr.host-row")
    await expect(offline).to_have_count(2)
    assert [await r.get_attribute("data-host") for r in await offline.all()] == ["host00001", "host07000"]
    await page.select_option("#filter-status", "error")
    await expect(page.locator("tr.host-row")).to_have_count(HOSTS // 97 + 1 + 2)
    await page.fill("#filter-text", "role=web")  # labels: the hook matches nothing until hosts have them
    await expect(page.locator("#no-match")).to_be_visible()


def _host(
    name: str, *statuses: str, online: bool = True, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    host: dict[str, Any] = {
        "name": name,
        "online": online,
        "compartments": [{"status": f"COMPARTMENT_STATUS_{s.upper()}"} for s in statuses],
    }
    if labels is not None:
        host["labels"] = labels
    return host


VIEW_HOSTS = [
    _host("web1", "ok", "ok"),
    _host("web2", "ok", "error"),
    _host("db1", "ok", online=False),
    _host("db2", "outdated", "working"),
    _host("mail", "working"),
    _host("edge", "ok", "disabled", labels={"role": "web", "site": "fra"}),
]
VIEWS = [
    ({"text": "", "status": "all", "sort": "name"}, ["db1", "db2", "edge", "mail", "web1", "web2"]),
    ({"text": "", "status": "all", "sort": "attention"}, ["web2", "db1", "db2", "mail", "edge", "web1"]),
    ({"text": "WEB", "status": "all", "sort": "name"}, ["web1", "web2"]),
    ({"text": "db 2", "status": "all", "sort": "name"}, ["db2"]),
    ({"text": "", "status": "error", "sort": "name"}, ["web2"]),
    ({"text": "", "status": "offline", "sort": "name"}, ["db1"]),
    ({"text": "", "status": "working", "sort": "attention"}, ["db2", "mail"]),
    ({"text": "", "status": "ok", "sort": "name"}, ["db1", "edge", "web1"]),
    ({"text": "role=web", "status": "all", "sort": "name"}, ["edge"]),
    ({"text": "role=web site=ber", "status": "all", "sort": "name"}, []),
]


async def test_filter_and_sort_are_pure_functions_of_the_view(page: Page) -> None:
    async with serve_webui(f"127.0.0.1:{free_port()}") as url:
        await page.goto(f"{url}/login")
        got = await page.evaluate(
            """async ([hosts, views]) => {
                const { ordered, insertionPoint } = await import("/static/view.js");
                const byName = new Map(hosts.map(h => [h.name, h]));
                return views.map(view => {
                    const names = ordered(hosts, view);
                    // Inserting each host into the others' order puts it where the full sort does.
                    const placed = names.every((name, i) => {
                        const rest = names.filter(n => n !== name);
                        return insertionPoint(rest, byName.get(name), n => byName.get(n), view) === i;
                    });
                    return [names, placed];
                });
            }""",
            [VIEW_HOSTS, [view for view, _ in VIEWS]],
        )
    assert got == [[names, True] for _, names in VIEWS]
