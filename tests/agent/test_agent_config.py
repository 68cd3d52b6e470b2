"""The agent config: defaults, and errors that name the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.config import ConfigError, load_config, parse_config

BASE: dict[str, Any] = {
    "controlplane": "127.0.0.1:50051",
    "host": "gpc0",
    "token_file": "token",
    "repo_dir": "/etc/nixcfg",
    "state_dir": "state",
}


def test_defaults(tmp_path: Path) -> None:
    config = parse_config(dict(BASE), tmp_path, os_name="nixos")
    assert config.tests_dir == Path("/etc/nixcfg/hosts/gpc0/tests")
    assert config.switch == ("nixos-rebuild", "switch", "--flake", "/etc/nixcfg#gpc0")
    assert config.rollback == ("nixos-rebuild", "switch", "--rollback")
    assert config.generation_path == Path("/nix/var/nix/profiles/system")
    assert config.state_dir == tmp_path / "state"
    assert config.tests.enabled is None
    assert config.spool_bytes == 16 * 1024 * 1024


def test_macos_defaults(tmp_path: Path) -> None:
    config = parse_config(dict(BASE), tmp_path, os_name="darwin")
    assert config.switch[:2] == ("home-manager", "switch")


def test_tests_and_operations_tables(tmp_path: Path) -> None:
    data = {
        **BASE,
        "operations": {"switch": ["./switch.sh", "--fast"]},
        "tests": {"enabled": True, "auto_run_after_switch": False, "timeout": 30},
    }
    config = parse_config(data, tmp_path, os_name="nixos")
    assert config.switch == ("./switch.sh", "--fast")
    assert (config.tests.enabled, config.tests.auto_run_after_switch, config.tests.timeout) == (
        True,
        False,
        30.0,
    )


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"controlplane": None}, "controlplane"),
        ({"controlplane": "nohostport"}, "controlplane"),
        ({"token_file": None}, "token_file"),
        ({"repo_dir": ""}, "repo_dir"),
        ({"state_dir": 3}, "state_dir"),
        ({"operations": {"switch": "nixos-rebuild switch"}}, "operations.switch"),
        ({"operations": {"deploy": ["x"]}}, "operations.deploy"),
        ({"tests": {"enabled": "yes"}}, "tests.enabled"),
        ({"tests": {"timeout": -1}}, "tests.timeout"),
        ({"spool_bytes": 0}, "spool_bytes"),
        ({"colour": "blue"}, "colour"),
        ({"host": "GPC_0"}, "host"),
    ],
)
def test_an_invalid_key_is_named(tmp_path: Path, change: dict[str, Any], key: str) -> None:
    data = {**BASE, **change}
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(ConfigError) as error:
        parse_config(data, tmp_path, os_name="nixos")
    assert str(error.value).startswith(f"{key}:")


def test_a_file_that_is_not_toml(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text("controlplane = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


def test_an_unreadable_token_is_named(tmp_path: Path) -> None:
    config = parse_config(dict(BASE), tmp_path, os_name="nixos")
    with pytest.raises(ConfigError, match=r"^token_file:"):
        config.read_token()


def test_tls_keys(tmp_path: Path) -> None:
    for name in ("ca.crt", "gpc0.crt", "gpc0.key"):
        (tmp_path / name).write_text("pem\n")
    data = {**BASE, "tls_ca": "ca.crt", "tls_cert": "gpc0.crt", "tls_key": "gpc0.key"}
    config = parse_config(data, tmp_path, os_name="nixos")
    assert config.tls is not None
    assert (config.tls.ca, config.tls.cert, config.tls.key) == (
        tmp_path / "ca.crt",
        tmp_path / "gpc0.crt",
        tmp_path / "gpc0.key",
    )
    assert parse_config({**BASE, "tls": True}, tmp_path, os_name="nixos").tls is not None
    assert parse_config(dict(BASE), tmp_path, os_name="nixos").tls is None


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"tls_ca": "missing.crt"}, "tls_ca"),
        ({"tls_cert": "ca.crt"}, "tls_cert"),
        ({"tls": False, "tls_ca": "ca.crt"}, "tls"),
    ],
)
def test_invalid_tls_keys_are_named(tmp_path: Path, change: dict[str, Any], key: str) -> None:
    (tmp_path / "ca.crt").write_text("pem\n")
    with pytest.raises(ConfigError) as error:
        parse_config({**BASE, **change}, tmp_path, os_name="nixos")
    assert str(error.value).startswith(f"{key}:")
