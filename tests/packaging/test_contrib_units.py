"""contrib/: systemd accepts the plain units, and the launchd plist parses with the keys that matter."""

from __future__ import annotations

import plistlib
import shlex
from pathlib import Path

from nix_support import ROOT, fake_package, systemd_verify

CONTRIB = ROOT / "contrib"
INSTALLED = "/opt/fleetdeck/bin/fleetdeck"


def unit_lines(path: Path) -> dict[str, list[str]]:
    """Each directive's values, in order (comments and section headers left out)."""
    values: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            values.setdefault(key, []).append(value)
    return values


def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    # verify needs ExecStart's binary to exist: the units point at /opt/fleetdeck, so the copies
    # checked here point at a stand-in executable instead; nothing else is changed.
    binary = fake_package(tmp_path / "opt") / "bin" / "fleetdeck"
    units = tmp_path / "units"
    units.mkdir()
    for unit in sorted(CONTRIB.glob("*.service")):
        text = unit.read_text()
        assert INSTALLED in text
        (units / unit.name).write_text(text.replace(INSTALLED, str(binary)))
    assert len(list(units.iterdir())) == 2
    assert systemd_verify(units) == ""


def test_agent_unit_restarts_always_and_leaves_a_running_switch_alone() -> None:
    unit = unit_lines(CONTRIB / "fleetdeck-agent.service")
    assert unit["ExecStart"] == [f"{INSTALLED} agent --config /etc/fleetdeck/agent.toml"]
    assert unit["Restart"] == ["always"]
    assert unit["KillMode"] == ["process"]
    assert unit["StateDirectory"] == ["fleetdeck-agent"]
    assert not {"ProtectSystem", "PrivateTmp", "ProtectHome", "ProtectHostname", "DynamicUser"} & set(unit)


def test_controlplane_unit_keeps_sqlite_in_its_state_directory() -> None:
    unit = unit_lines(CONTRIB / "fleetdeck-controlplane.service")
    argv = shlex.split(unit["ExecStart"][0])
    assert argv[:2] == [INSTALLED, "controlplane"]
    assert argv[argv.index("--db") + 1] == "%S/fleetdeck/fleetdeck.db"
    assert unit["DynamicUser"] == ["true"]
    assert unit["StateDirectory"] == ["fleetdeck"]


def test_launchd_plist_parses_with_the_keys_that_keep_the_agent_running() -> None:
    plist = plistlib.loads((CONTRIB / "org.fleetdeck.agent.plist").read_bytes())
    assert plist["Label"] == "org.fleetdeck.agent"
    assert plist["ProgramArguments"] == [INSTALLED, "agent", "--config", "/etc/fleetdeck/agent.toml"]
    assert plist["RunAtLoad"] is True
    assert plist["KeepAlive"] is True
    assert plist["AbandonProcessGroup"] is True
    assert plist["StandardErrorPath"] == "/var/log/fleetdeck-agent.log"
    assert "/run/current-system/sw/bin" in plist["EnvironmentVariables"]["PATH"].split(":")
