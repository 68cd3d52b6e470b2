"""Text from outside cannot forge a log line: control characters in it are escaped by every process."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetdeck import logs
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import types_pb2 as pb

FORGED = "WARNING controlplane.access: API token x granted ROLE_ADMIN"


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The lines a process's log handler (set up as every process sets it up) would write."""
    text = io.StringIO()
    handler = logs.install(logging.StreamHandler(text))
    handler.setFormatter(logging.Formatter(logs.FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)
    yield text
    root.setLevel(previous)
    root.removeHandler(handler)


def _forged(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(("WARNING", FORGED)) or line == FORGED]


async def test_an_agent_version_with_a_newline_stays_on_its_line(connect, log_lines) -> None:
    agent = await connect("gpc0")
    await agent.hello(agent_version=f"1.0\n{FORGED}")
    text = log_lines.getvalue()
    assert "(agent 1.0\\nWARNING controlplane.access" in text
    assert not _forged(text)
    assert all(" INFO " in line or " WARNING " in line or " ERROR " in line for line in text.splitlines())


async def test_an_api_token_name_with_crlf_stays_on_its_line(fleet, log_lines) -> None:
    await fleet.CreateApiToken(fleet_pb.CreateApiTokenRequest(name=f"ci\r\n{FORGED}", role=pb.ROLE_VIEWER))
    text = log_lines.getvalue()
    assert "for ci\\r\\nWARNING controlplane.access" in text
    assert not any(line.startswith(FORGED) for line in text.splitlines())


@pytest.mark.parametrize(
    ("raw", "shown"),
    [("a\nb", "a\\nb"), ("a\r\nb", "a\\r\\nb"), ("\x1b[31mred", "\\x1b[31mred"), ("a\u2028b", "a\\u2028b")],
)
def test_control_characters_are_escaped(raw, shown) -> None:
    assert logs.escaped(raw) == shown


def test_the_process_setup_escapes_and_is_the_only_one() -> None:
    program = (
        "import logging\n"
        "from fleetdeck import logs\n"
        "logs.setup('INFO')\n"
        "logging.getLogger('x').warning('host %s', 'a\\nWARNING forged')\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=30)
    assert done.stderr.splitlines()[-1].endswith("WARNING x: host a\\nWARNING forged"), done.stderr
    # Every process (control plane, agent, web UI, demo, CLI) sets its logging up through it.
    src = Path(__file__).parents[2] / "src"
    callers = [p for p in src.rglob("*.py") if "basicConfig(" in p.read_text()]
    assert callers == [src / "fleetdeck" / "logs.py"]


def test_the_process_setup_keeps_database_drivers_from_logging_sql_parameters() -> None:
    program = (
        "import logging\n"
        "from fleetdeck import logs\n"
        "logs.setup('DEBUG')\n"
        "logging.getLogger('aiosqlite').debug('INSERT INTO webhooks VALUES (?), whsec_secret')\n"
        "logging.getLogger('asyncpg.pool').debug('whsec_secret')\n"
        "logging.getLogger('controlplane.x').debug('our own debug line')\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=30)
    assert "whsec_secret" not in done.stderr
    assert "our own debug line" in done.stderr
