"""The nix-darwin agent module: the same agent.toml keys, a launchd daemon that keeps switches alive."""

from __future__ import annotations

import plistlib
import re
from pathlib import Path
from typing import Any

import pytest
from nix_support import ROOT, Nix, NixError

from agent.config import load_config

MODULE = ROOT / "nix" / "modules" / "darwin-agent.nix"
MINIMAL = {
    "controlPlane": "fleet.example.org:50051",
    "tokenFile": "/var/lib/fleetdeck/token",
    "repoDir": "/etc/fleet",
}


def evaluate(nix: Nix, agent: dict[str, Any], host_name: str | None = "mac1") -> dict[str, Any]:
    host = {
        "networking": {"hostName": host_name},
        "nix": {"package": "/nix/store/00000000000000000000000000000000-nix"},
        "services": {"fleetdeck-agent": {"enable": True, "package": "/nix/store/abc-fleetdeck", **agent}},
    }
    pkgs = {"git": "/nix/store/00000000000000000000000000000000-git"}
    config: dict[str, Any] = nix.eval_module(MODULE, host, pkgs)["config"]
    return config


def test_config_uses_darwin_rebuild_and_the_agent_accepts_it(nix: Nix, tmp_path: Path) -> None:
    config = evaluate(nix, {**MINIMAL, "tests": {"enable": True}})
    path = tmp_path / "agent.toml"
    path.write_text(config["environment"]["etc"]["fleetdeck/agent.toml"]["text"])
    parsed = load_config(path)
    assert parsed.host == "mac1"
    assert parsed.switch == ("darwin-rebuild", "switch", "--flake", "/etc/fleet#mac1")
    assert parsed.rollback == ("darwin-rebuild", "switch", "--rollback")
    assert parsed.generation_path == Path("/nix/var/nix/profiles/system")
    assert parsed.tests.enabled is True


def test_launchd_daemon_restarts_always_and_abandons_its_process_group(nix: Nix) -> None:
    daemon = evaluate(nix, MINIMAL)["launchd"]["daemons"]["fleetdeck-agent"]["serviceConfig"]
    assert daemon["ProgramArguments"] == [
        "/nix/store/abc-fleetdeck/bin/fleetdeck",
        "agent",
        "--config",
        "/etc/fleetdeck/agent.toml",
    ]
    assert daemon["KeepAlive"] is True
    assert daemon["RunAtLoad"] is True
    assert daemon["AbandonProcessGroup"] is True
    path = daemon["EnvironmentVariables"]["PATH"].split(":")
    assert "/run/current-system/sw/bin" in path
    assert "/nix/store/00000000000000000000000000000000-git/bin" in path
    # What nix-darwin writes to /Library/LaunchDaemons is a plist of exactly these keys.
    assert plistlib.loads(plistlib.dumps(daemon)) == daemon


def test_a_changed_config_reloads_the_daemon(nix: Nix) -> None:
    def digest(agent: dict[str, Any]) -> str:
        daemon = evaluate(nix, agent)["launchd"]["daemons"]["fleetdeck-agent"]["serviceConfig"]
        value: str = daemon["EnvironmentVariables"]["FLEETDECK_CONFIG_SHA256"]
        return value

    assert digest(MINIMAL) != digest({**MINIMAL, "tests": {"timeout": 30}})


def test_a_host_without_a_name_must_set_one(nix: Nix) -> None:
    with pytest.raises(
        NixError, match=re.escape("services.fleetdeck-agent.host: set it, or networking.hostName")
    ):
        evaluate(nix, MINIMAL, host_name=None)
    named = evaluate(nix, {**MINIMAL, "host": "mac-2"}, host_name=None)
    assert 'host = "mac-2"' in named["environment"]["etc"]["fleetdeck/agent.toml"]["text"]
