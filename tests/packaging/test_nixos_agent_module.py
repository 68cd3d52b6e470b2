"""The NixOS agent module: its agent.toml passes the agent's own parser, its unit keeps switches alive."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from nix_support import ROOT, Nix, NixError, fake_package, render_unit, systemd_verify

from agent.config import load_config

MODULE = ROOT / "nix" / "modules" / "agent.nix"
PKGS = {"git": "/nix/store/00000000000000000000000000000000-git", "fleetdeck": "/nix/store/unused"}
# Options that give a unit its own mount, /tmp or UTS namespace: activation would mount and set the
# hostname inside it, invisible to the host, and a surviving switch would lose its /tmp.
NAMESPACING = {
    "ProtectSystem",
    "ProtectHome",
    "PrivateTmp",
    "PrivateDevices",
    "PrivateMounts",
    "ProtectHostname",
    "ProtectKernelTunables",
    "ProtectKernelModules",
    "ProtectKernelLogs",
    "ProtectControlGroups",
    "ProtectProc",
    "ReadOnlyPaths",
    "InaccessiblePaths",
    "TemporaryFileSystem",
    "RestrictNamespaces",
    "RestrictSUIDSGID",
    "DynamicUser",
    "User",
}


def host(agent: dict[str, Any], package: Path | str = "/nix/store/fleetdeck") -> dict[str, Any]:
    """A sample NixOS host: the few config values the module reads, and its agent settings."""
    return {
        "networking": {"hostName": "web1"},
        "nix": {"package": "/nix/store/00000000000000000000000000000000-nix"},
        "system": {"build": {"nixos-rebuild": "/nix/store/00000000000000000000000000000000-nixos-rebuild"}},
        "services": {"fleetdeck-agent": {"enable": True, "package": str(package), **agent}},
    }


MINIMAL = {
    "controlPlane": "fleet.example.org:50051",
    "tokenFile": "/run/secrets/agent",
    "repoDir": "/etc/nixos",
}


def evaluate(nix: Nix, agent: dict[str, Any], package: Path | str = "/nix/store/fleetdeck") -> dict[str, Any]:
    config: dict[str, Any] = nix.eval_module(MODULE, host(agent, package), PKGS)["config"]
    return config


def agent_config(config: dict[str, Any], tmp_path: Path, os_name: str = "nixos") -> Any:
    """The generated agent.toml, written to a file and read by the agent's own loader."""
    path = tmp_path / "agent.toml"
    path.write_text(config["environment"]["etc"]["fleetdeck/agent.toml"]["text"])
    return load_config(path)


def test_minimal_host_gets_a_config_the_agent_accepts(nix: Nix, tmp_path: Path) -> None:
    parsed = agent_config(evaluate(nix, MINIMAL), tmp_path)
    assert parsed.controlplane == "fleet.example.org:50051"
    assert parsed.host == "web1"
    assert parsed.token_file == Path("/run/secrets/agent")
    assert parsed.repo_dir == Path("/etc/nixos")
    assert parsed.state_dir == Path("/var/lib/fleetdeck-agent")
    assert parsed.tests_dir == Path("/etc/nixos/hosts/web1/tests")
    assert parsed.switch == ("nixos-rebuild", "switch", "--flake", "/etc/nixos#web1")
    assert parsed.rollback == ("nixos-rebuild", "switch", "--rollback")
    assert parsed.generation_path == Path("/nix/var/nix/profiles/system")
    # Tests settings left to the control plane, no TLS.
    assert (parsed.tests.enabled, parsed.tests.auto_run_after_switch, parsed.tests.timeout) == (
        None,
        None,
        None,
    )
    assert parsed.tls is None


def test_every_option_reaches_the_agent(nix: Nix, tmp_path: Path) -> None:
    pki = {}
    for name in ("ca", "cert", "key"):
        pki[name] = tmp_path / f"{name}.pem"
        pki[name].write_text(f"-----BEGIN {name}-----\n")
    agent = {
        **MINIMAL,
        "host": "db-2",
        "stateDir": "/var/lib/fleetdeck/agent",
        "tests": {"enable": True, "autoRunAfterSwitch": False, "timeout": 150},
        "operations": {"switch": ["/run/current-system/sw/bin/deploy", "--now"], "rollback": ["undo"]},
        "tls": {"enable": True, **{k: str(v) for k, v in pki.items()}, "serverName": "fleet.internal"},
        "extraConfig": {"spool_bytes": 1048576, "tests_dir": "/srv/tests", "backoff_max_seconds": 30},
    }
    config = evaluate(nix, agent)
    parsed = agent_config(config, tmp_path)
    assert parsed.host == "db-2"
    assert parsed.state_dir == Path("/var/lib/fleetdeck/agent")
    assert (parsed.tests.enabled, parsed.tests.auto_run_after_switch, parsed.tests.timeout) == (
        True,
        False,
        150.0,
    )
    assert parsed.switch == ("/run/current-system/sw/bin/deploy", "--now")
    assert parsed.rollback == ("undo",)
    assert parsed.tls is not None
    assert (parsed.tls.ca, parsed.tls.cert, parsed.tls.key) == (pki["ca"], pki["cert"], pki["key"])
    assert parsed.tls.server_name == "fleet.internal"
    assert parsed.spool_bytes == 1048576
    assert parsed.tests_dir == Path("/srv/tests")
    assert parsed.backoff_max_seconds == 30.0
    assert (
        config["systemd"]["services"]["fleetdeck-agent"]["serviceConfig"]["StateDirectory"]
        == "fleetdeck/agent"
    )


def test_tls_with_system_cas_only(nix: Nix, tmp_path: Path) -> None:
    parsed = agent_config(evaluate(nix, {**MINIMAL, "tls": {"enable": True}}), tmp_path)
    assert parsed.tls is not None
    assert (parsed.tls.ca, parsed.tls.cert, parsed.tls.server_name) == (None, None, "")


def test_service_restarts_always_and_leaves_a_running_switch_alone(nix: Nix) -> None:
    service = evaluate(nix, MINIMAL, "/nix/store/abc-fleetdeck")["systemd"]["services"]["fleetdeck-agent"]
    unit = service["serviceConfig"]
    assert (
        unit["ExecStart"] == "/nix/store/abc-fleetdeck/bin/fleetdeck agent --config /etc/fleetdeck/agent.toml"
    )
    assert unit["Restart"] == "always"
    assert unit["KillMode"] == "process"
    assert unit["StateDirectory"] == "fleetdeck-agent"
    assert service["stopIfChanged"] is False
    assert service["wantedBy"] == ["multi-user.target"]
    assert service["startLimitIntervalSec"] == 0
    # The hardening chosen, and none that would break nixos-rebuild's activation.
    assert unit["LockPersonality"] is True
    assert unit["RestrictRealtime"] is True
    assert unit["UMask"] == "0077"
    assert "AF_NETLINK" in unit["RestrictAddressFamilies"]
    assert NAMESPACING.isdisjoint(unit), sorted(NAMESPACING & set(unit))
    # nixos-rebuild, nix and git on PATH, then the system's own tools for test scripts.
    assert service["path"][:3] == [
        "/nix/store/00000000000000000000000000000000-nixos-rebuild",
        "/nix/store/00000000000000000000000000000000-nix",
        PKGS["git"],
    ]
    assert "/run/current-system/sw" in service["path"]


def test_a_changed_config_restarts_the_agent(nix: Nix) -> None:
    first = evaluate(nix, MINIMAL)["systemd"]["services"]["fleetdeck-agent"]["restartTriggers"]
    second = evaluate(nix, {**MINIMAL, "tests": {"timeout": 5}})["systemd"]["services"]["fleetdeck-agent"]
    assert first != second["restartTriggers"]


def test_systemd_accepts_the_rendered_unit(nix: Nix, tmp_path: Path) -> None:
    package = fake_package(tmp_path / "fleetdeck")
    service = evaluate(nix, MINIMAL, package)["systemd"]["services"]["fleetdeck-agent"]
    units = tmp_path / "units"
    units.mkdir()
    (units / "fleetdeck-agent.service").write_text(render_unit(service))
    assert systemd_verify(units) == ""


def test_disabled_module_configures_nothing(nix: Nix) -> None:
    config = nix.eval_module(MODULE, host({"enable": False}), PKGS)["config"]
    assert config == {}


@pytest.mark.parametrize(
    ("agent", "message"),
    [
        ({"controlPlane": "fleet.example.org"}, "controlPlane must be HOST:PORT"),
        ({"host": "Web_1"}, "is not an RFC 1123 label"),
        ({"tokenFile": "/nix/store/abc-token"}, "outside the Nix store"),
        ({"tokenFile": "token"}, "tokenFile must be an absolute path"),
        ({"stateDir": "/srv/fleetdeck"}, "stateDir must lie under /var/lib/"),
        ({"operations": {"switch": []}}, "must each be a non-empty list"),
        ({"tls": {"ca": "/etc/ca.pem"}}, "need services.fleetdeck-agent.tls.enable = true"),
        (
            {"tls": {"enable": True, "cert": "/etc/c.pem"}},
            "tls.cert and services.fleetdeck-agent.tls.key go together",
        ),
        ({"tests": {"timeout": 0}}, "tests.timeout: 0 is not a null or positive number"),
        ({"tests": {"enable": "yes"}}, "is not a null or boolean"),
    ],
)
def test_bad_values_fail_the_evaluation_with_a_clear_message(
    nix: Nix, agent: dict[str, Any], message: str
) -> None:
    with pytest.raises(NixError, match=re.escape(message)):
        evaluate(nix, {**MINIMAL, **agent})


def test_labels_are_not_an_option_until_the_agent_reads_them(nix: Nix) -> None:
    options = nix.eval_module(MODULE, host(MINIMAL), PKGS)["options"]["services"]["fleetdeck-agent"]
    assert "labels" not in options
    assert set(options) == {
        "enable",
        "package",
        "controlPlane",
        "host",
        "tokenFile",
        "repoDir",
        "stateDir",
        "tests",
        "operations",
        "tls",
        "extraConfig",
    }
