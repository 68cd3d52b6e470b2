"""Suite-wide guard: every test runs with DEBUG logging captured, and no secret may appear in it."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest

pytest_plugins = ("stores", "postgres")  # store fixtures on every engine, and the PostgreSQL cluster

# Agent and API tokens carry a prefix, so any of them in a log line is found by shape alone.
SECRET = re.compile(r"\b(fdat|fdapi)_[A-Za-z0-9_-]{20,}")


@pytest.fixture(autouse=True)
def _no_secrets_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    leaked = SECRET.search(caplog.text)
    assert leaked is None, f"a token was logged: {leaked.group(0)[:12]}…"
