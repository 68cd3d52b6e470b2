"""The NixOS control-plane module: a DynamicUser service with SQLite state, flags the CLI knows, no open port."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from nix_support import ROOT, Nix, NixError, fake_package, render_unit, systemd_verify

from controlplane import cli

MODULE = ROOT / "nix" / "modules" / "controlplane.nix"


def evaluate(
    nix: Nix, settings: dict[str, Any], package: Path | str = "/nix/store/abc-fleetdeck"
) -> dict[str, Any]:
    host = {"services": {"fleetdeck-controlplane": {"enable": True, "package": str(package), **settings}}}
    config: dict[str, Any] = nix.eval_module(MODULE, host, {"fleetdeck": "/nix/store/unused"})["config"]
    return config


def service(config: dict[str, Any]) -> dict[str, Any]:
    unit: dict[str, Any] = config["systemd"]["services"]["fleetdeck-controlplane"]["serviceConfig"]
    return unit


def parsed_flags(exec_start: str, credentials: Path) -> argparse.Namespace:
    """ExecStart's arguments, with systemd's %S and %d filled in, read by `fleetdeck controlplane`'s parser."""
    argv = shlex.split(exec_start.replace("%S", "/var/lib").replace("%d", str(credentials)))
    assert argv[1] == "controlplane"
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(argv[2:])


def test_default_runs_as_a_dynamic_user_with_sqlite_in_its_state_directory(nix: Nix) -> None:
    config = evaluate(nix, {})
    unit = service(config)
    assert unit["ExecStart"].startswith("/nix/store/abc-fleetdeck/bin/fleetdeck controlplane ")
    assert unit["DynamicUser"] is True
    assert unit["StateDirectory"] == "fleetdeck"
    args = parsed_flags(unit["ExecStart"], Path("/run/credentials/fleetdeck-controlplane.service"))
    assert args.db == "/var/lib/fleetdeck/fleetdeck.db"
    assert (args.grpc, args.http) == ("127.0.0.1:50051", "127.0.0.1:8080")
    assert (args.tls_cert, args.tls_key, args.agent_ca, args.admin_token_file) == (None, None, None, None)
    assert unit["LoadCredential"] == []
    assert unit["CapabilityBoundingSet"] == ""
    assert unit["ProtectSystem"] == "strict"
    assert unit["NoNewPrivileges"] is True


def test_no_port_is_opened_unless_asked(nix: Nix) -> None:
    assert "networking" not in evaluate(nix, {"grpcAddress": "0.0.0.0:50051"})
    opened = evaluate(
        nix,
        {
            "openFirewall": True,
            "grpcAddress": "0.0.0.0:50051",
            "httpAddress": "[::]:8443",
            "tls": {"cert": "/etc/fd/cert.pem", "key": "/etc/fd/key.pem"},
            "agentMtls": {"address": "0.0.0.0:50052", "ca": "/etc/fd/agents-ca.pem"},
        },
    )
    assert opened["networking"]["firewall"]["allowedTCPPorts"] == [50051, 8443, 50052]


def test_web_ui_can_be_left_out(nix: Nix) -> None:
    unit = service(evaluate(nix, {"httpAddress": None, "openFirewall": True}))
    assert parsed_flags(unit["ExecStart"], Path("/c")).http is None


def test_secrets_reach_the_dynamic_user_as_credentials(nix: Nix) -> None:
    settings = {
        "tls": {"cert": "/etc/fd/cert.pem", "key": "/run/keys/fd.key"},
        "agentMtls": {"address": "0.0.0.0:50052", "ca": "/etc/fd/agents-ca.pem"},
        "adminTokenFile": "/run/keys/admin-token",
        "environmentFile": "/run/keys/fleetdeck.env",
    }
    unit = service(evaluate(nix, settings))
    assert unit["LoadCredential"] == [
        "tls-cert:/etc/fd/cert.pem",
        "tls-key:/run/keys/fd.key",
        "agent-ca:/etc/fd/agents-ca.pem",
        "admin-token:/run/keys/admin-token",
    ]
    assert unit["EnvironmentFile"] == ["/run/keys/fleetdeck.env"]
    creds = Path("/run/credentials/fleetdeck-controlplane.service")
    args = parsed_flags(unit["ExecStart"], creds)
    assert args.tls_cert == creds / "tls-cert"
    assert args.tls_key == creds / "tls-key"
    assert args.agent_ca == creds / "agent-ca"
    assert args.admin_token_file == creds / "admin-token"
    assert args.agent_grpc == "0.0.0.0:50052"


def test_a_privileged_port_gets_only_the_capability_to_bind_it(nix: Nix) -> None:
    unit = service(evaluate(nix, {"httpAddress": "0.0.0.0:443"}))
    assert unit["AmbientCapabilities"] == unit["CapabilityBoundingSet"] == "CAP_NET_BIND_SERVICE"


def test_systemd_accepts_the_rendered_unit(nix: Nix, tmp_path: Path) -> None:
    package = fake_package(tmp_path / "fleetdeck")
    settings = {"tls": {"cert": "/etc/fd/cert.pem", "key": "/etc/fd/key.pem"}, "adminTokenFile": "/etc/fd/t"}
    services = evaluate(nix, settings, package)["systemd"]["services"]
    units = tmp_path / "units"
    units.mkdir()
    (units / "fleetdeck-controlplane.service").write_text(render_unit(services["fleetdeck-controlplane"]))
    assert systemd_verify(units) == ""


def test_there_is_no_database_option_until_postgresql_exists(nix: Nix) -> None:
    host = {"services": {"fleetdeck-controlplane": {"enable": True, "package": "/nix/store/x"}}}
    options = nix.eval_module(MODULE, host, {})["options"]["services"]["fleetdeck-controlplane"]
    assert not {"database", "postgresql", "databaseUrl"} & set(options)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"grpcAddress": "0.0.0.0"}, "every address must be HOST:PORT"),
        ({"tls": {"cert": "/etc/c.pem"}}, "tls.cert and services.fleetdeck-controlplane.tls.key go together"),
        ({"agentMtls": {"address": "0.0.0.0:50052"}}, "agentMtls.address and .ca go together"),
        (
            {"agentMtls": {"address": "0.0.0.0:50052", "ca": "/etc/ca.pem"}},
            "need services.fleetdeck-controlplane.tls.cert",
        ),
        ({"adminTokenFile": "token"}, "must be absolute paths"),
    ],
)
def test_bad_values_fail_the_evaluation_with_a_clear_message(
    nix: Nix, settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(NixError, match=re.escape(message)):
        evaluate(nix, settings)
