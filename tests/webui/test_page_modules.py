"""The page's pure JavaScript helpers, table-driven, run in Chromium from the served static files."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Page, expect
from webui_support import free_port, serve_webui

ANSI = [
    ("plain", [["plain", []]]),
    ("\x1b[31mred\x1b[0m after", [["red", ["ansi-1"]], [" after", []]]),
    ("\x1b[1;92mbold green\x1b[22m", [["bold green", ["ansi-b2", "ansi-bold"]]]),
    ("\x1b]0;window title\x07\x1b[2K\x1b[1Gline", [["line", []]]),
    ("\x1b[38;5;196mindexed\x1b[39m", [["indexed", []]]),
    ("<b>not markup</b>\x07", [["<b>not markup</b>", []]]),
]
DURATIONS = [("0.25s", "250 ms"), ("1.5s", "1.5s"), ("12s", "12s"), ("75s", "1m 15s"), (None, "\u2013")]
NOW = "2026-01-01T12:00:00Z"
AGO = [
    ("2026-01-01T11:59:55Z", "just now"),
    ("2026-01-01T11:59:15Z", "45 s ago"),
    ("2026-01-01T11:58:00Z", "2 min ago"),
    ("2026-01-01T09:00:00Z", "3 h ago"),
    ("", "never"),
]


@pytest.fixture
async def loaded(page: Page) -> AsyncIterator[Page]:
    """The login page of a web UI whose control plane is down; the static modules load regardless."""
    async with serve_webui(f"127.0.0.1:{free_port()}") as url:
        await page.goto(f"{url}/login")
        yield page


async def test_ansi_sgr_codes_become_classes_and_other_escapes_vanish(loaded: Page) -> None:
    got = await loaded.evaluate(
        """async texts => {
            const { ansiSegments } = await import("/static/ansi.js");
            return texts.map(text => ansiSegments(text).map(s => [s.text, s.classes]));
        }""",
        [text for text, _ in ANSI],
    )
    assert got == [segments for _, segments in ANSI]


async def test_durations_and_relative_times_read_like_the_card(loaded: Page) -> None:
    durations, times = await loaded.evaluate(
        """async ([durations, now, times]) => {
            const { formatDuration, ago } = await import("/static/dom.js");
            return [durations.map(formatDuration), times.map(t => ago(t, Date.parse(now)))];
        }""",
        [[value for value, _ in DURATIONS], NOW, [t for t, _ in AGO]],
    )
    assert durations == [text for _, text in DURATIONS]
    assert times == [text for _, text in AGO]


async def test_the_login_page_says_when_the_control_plane_is_unreachable(loaded: Page) -> None:
    await loaded.get_by_label("User name").fill("alice")
    await loaded.get_by_label("Password").fill("alice-password-123")
    await loaded.get_by_role("button", name="Log in").click()
    await expect(loaded.get_by_role("alert")).to_contain_text("The control plane is unreachable")
    await expect(loaded.get_by_label("User name")).to_have_value("alice")
