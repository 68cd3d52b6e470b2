"""The agent modules' controlPlane option: one address or a list, written as the agent reads it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from nix_support import ROOT, Nix, NixError

from agent.config import load_config

PKGS = {"git": "/nix/store/00000000000000000000000000000000-git", "fleetdeck": "/nix/store/unused"}
MINIMAL = {"tokenFile": "/run/secrets/agent", "repoDir": "/etc/nixos"}


def _agent_toml(nix: Nix, control_plane: Any, tmp_path: Path) -> Any:
    host = {
        "networking": {"hostName": "web1"},
        "nix": {"package": "/nix/store/00000000000000000000000000000000-nix"},
        "system": {"build": {"nixos-rebuild": "/nix/store/00000000000000000000000000000000-nixos-rebuild"}},
        "services": {
            "fleetdeck-agent": {
                "enable": True,
                "package": "/nix/store/fleetdeck",
                "controlPlane": control_plane,
                **MINIMAL,
            }
        },
    }
    config = nix.eval_module(ROOT / "nix" / "modules" / "agent.nix", host, PKGS)["config"]
    path = tmp_path / "agent.toml"
    path.write_text(config["environment"]["etc"]["fleetdeck/agent.toml"]["text"])
    return load_config(path)


@pytest.mark.parametrize(
    ("control_plane", "expected"),
    [
        ("fleet.example.org:50051", ("fleet.example.org:50051",)),
        (["a.example.org:50051", "[fd00::2]:50051"], ("a.example.org:50051", "[fd00::2]:50051")),
    ],
)
def test_one_address_or_a_list_reaches_the_agent(
    nix: Nix, tmp_path: Path, control_plane: Any, expected: tuple[str, ...]
) -> None:
    assert _agent_toml(nix, control_plane, tmp_path).controlplanes == expected


@pytest.mark.parametrize(
    ("control_plane", "message"),
    [
        (["a.example.org:50051", "b.example.org"], "controlPlane must be HOST:PORT or a list of them"),
        (["a.example.org:50051", "a.example.org:50051"], "controlPlane lists an address twice"),
        ([], "controlPlane"),
    ],
)
def test_a_bad_list_fails_the_evaluation(nix: Nix, tmp_path: Path, control_plane: Any, message: str) -> None:
    with pytest.raises(NixError, match=re.escape(message)):
        _agent_toml(nix, control_plane, tmp_path)
