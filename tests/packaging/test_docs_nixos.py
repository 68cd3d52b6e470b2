"""docs/nixos.md: its fleet flake evaluates, and every host in it gets a config its agent accepts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from nix_support import ROOT, Nix, fake_package, render_unit, systemd_verify

from agent.config import load_config

DOC = ROOT / "docs" / "nixos.md"
STAND_INS = Path(__file__).parent / "nix"
NIXOS = {
    "nix": {"package": "/nix/store/00000000000000000000000000000000-nix"},
    "system": {"build": {"nixos-rebuild": "/nix/store/00000000000000000000000000000000-nixos-rebuild"}},
}


def fleet_flake(nix: Nix, tmp_path: Path) -> dict[str, Any]:
    """The doc's flake.nix, written out and evaluated with stand-in inputs."""
    blocks = re.findall(r"```nix\n(.*?)```", DOC.read_text(), re.DOTALL)
    (flake,) = [b for b in blocks if "nixosConfigurations" in b]
    path = tmp_path / "fleet" / "flake.nix"
    path.parent.mkdir()
    path.write_text(flake)
    nix.parse(path)
    hosts: dict[str, Any] = nix.eval_json(
        f"import {STAND_INS / 'eval-fleet-flake.nix'} {{ flakeFile = {path}; }}"
    )
    return hosts


def with_package(definitions: dict[str, Any], service: str, package: Path) -> dict[str, Any]:
    services = {
        **definitions["services"],
        service: {**definitions["services"][service], "package": str(package)},
    }
    return {**NIXOS, **definitions, "services": services}


def test_every_host_of_the_doc_flake_runs_an_agent_its_parser_accepts(nix: Nix, tmp_path: Path) -> None:
    hosts = fleet_flake(nix, tmp_path)
    assert sorted(hosts) == ["db1", "fleet", "web1"]
    package = fake_package(tmp_path / "fleetdeck")
    for name in ("web1", "db1"):
        assert hosts[name]["fleetdeck"] == ["agent.nix"]
        host = with_package(hosts[name]["definitions"], "fleetdeck-agent", package)
        config = nix.eval_module(ROOT / "nix/modules/agent.nix", host, {"git": "/nix/store/git"})["config"]
        toml = tmp_path / f"{name}.toml"
        toml.write_text(config["environment"]["etc"]["fleetdeck/agent.toml"]["text"])
        parsed = load_config(toml)
        assert parsed.host == name
        assert parsed.switch == ("nixos-rebuild", "switch", "--flake", f"/etc/nixos#{name}")
        assert parsed.tests.auto_run_after_switch is True
        assert parsed.tls is not None
        units = tmp_path / f"units-{name}"
        units.mkdir()
        (units / "fleetdeck-agent.service").write_text(
            render_unit(config["systemd"]["services"]["fleetdeck-agent"])
        )
        assert systemd_verify(units) == ""


def test_the_doc_flakes_control_plane_opens_its_two_ports(nix: Nix, tmp_path: Path) -> None:
    fleet = fleet_flake(nix, tmp_path)["fleet"]
    assert fleet["fleetdeck"] == ["controlplane.nix"]
    host = with_package(fleet["definitions"], "fleetdeck-controlplane", tmp_path / "fleetdeck")
    config = nix.eval_module(ROOT / "nix/modules/controlplane.nix", host, {})["config"]
    assert config["networking"]["firewall"]["allowedTCPPorts"] == [50051, 8443]
    unit = config["systemd"]["services"]["fleetdeck-controlplane"]["serviceConfig"]
    assert unit["LoadCredential"] == [
        "tls-cert:/var/lib/acme/fleet.example.org/fullchain.pem",
        "tls-key:/var/lib/acme/fleet.example.org/key.pem",
        "admin-token:/run/keys/fleetdeck-admin-token",
    ]
