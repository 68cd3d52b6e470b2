"""The whole configuration is checked before a start touches anything: one sentence per problem."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from pki import make_pki

from controlplane.config import ConfigError, ControlPlaneConfig, checked, problems, read_tls
from controlplane.listen import split_address

BASE = ControlPlaneConfig(database=Path("fleet.db"), grpc_address="127.0.0.1:0")
CERT, KEY, CA = Path("cp.crt"), Path("cp.key"), Path("ca.crt")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({}, [], id="defaults"),
        pytest.param({"tls_cert": CERT, "tls_key": KEY}, [], id="tls"),
        pytest.param(
            {"tls_cert": CERT, "tls_key": KEY, "agent_ca": CA, "agent_grpc_address": "0.0.0.0:50052"},
            [],
            id="mutual-tls-for-agents",
        ),
        pytest.param(
            {"tls_cert": CERT}, ["--tls-cert and --tls-key go together; give both or neither"], id="cert-only"
        ),
        pytest.param(
            {"tls_key": KEY}, ["--tls-cert and --tls-key go together; give both or neither"], id="key-only"
        ),
        pytest.param(
            {"agent_ca": CA, "agent_grpc_address": "127.0.0.1:0"},
            ["--agent-ca needs TLS: give --tls-cert and --tls-key too"],
            id="agent-ca-without-tls",
        ),
        pytest.param(
            {"tls_cert": CERT, "tls_key": KEY, "agent_ca": CA},
            ["--agent-ca needs --agent-grpc: the mutual-TLS address agents connect to"],
            id="agent-ca-without-address",
        ),
        pytest.param(
            {"agent_grpc_address": "127.0.0.1:0"},
            ["--agent-grpc needs --agent-ca: the CA that signs the agents' certificates"],
            id="agent-address-without-ca",
        ),
        pytest.param(
            {"grpc_address": "localhost"},
            ["--grpc 'localhost' is not an address to listen on; use HOST:PORT or [IPv6]:PORT"],
            id="no-port",
        ),
        pytest.param(
            {"http_address": "127.0.0.1:http"},
            ["--http '127.0.0.1:http' is not an address to listen on; use HOST:PORT or [IPv6]:PORT"],
            id="port-not-a-number",
        ),
        pytest.param(
            {"metrics_address": "metrics"},
            ["--metrics 'metrics' is not an address to listen on; use HOST:PORT or [IPv6]:PORT"],
            id="metrics-without-port",
        ),
        pytest.param(
            {"http_address": "127.0.0.1:9100", "metrics_address": "127.0.0.1:9100"},
            ["--http and --metrics are both 127.0.0.1:9100; give each its own port"],
            id="metrics-on-the-web-ui-port",
        ),
        pytest.param(
            {"grpc_address": "127.0.0.1:8080", "http_address": "127.0.0.1:8080"},
            ["--grpc and --http are both 127.0.0.1:8080; give each its own port"],
            id="same-address-twice",
        ),
        pytest.param(
            {"admin_password": "short"},
            ["the first admin's password needs at least 12 characters"],
            id="short-admin-password",
        ),
        pytest.param({"public_url": "https://fleet.example.org"}, [], id="public-url"),
        pytest.param(
            {"public_url": "fleet.example.org"},
            ["--public-url 'fleet.example.org' must start with http:// or https://"],
            id="public-url-without-scheme",
        ),
        pytest.param(
            {"host_offline_grace_seconds": -1.0},
            ["--host-offline-grace cannot be negative"],
            id="negative-offline-grace",
        ),
        pytest.param(
            {"webhook_retry_seconds": 0.0},
            ["the webhook retry delay must be more than 0 seconds"],
            id="no-retry-delay",
        ),
        pytest.param(
            {"tls_cert": CERT, "http_address": "web"},
            [
                "--http 'web' is not an address to listen on; use HOST:PORT or [IPv6]:PORT",
                "--tls-cert and --tls-key go together; give both or neither",
            ],
            id="every-problem-at-once",
        ),
    ],
)
def test_configuration_problems(changes: dict[str, object], expected: list[str]) -> None:
    assert problems(dataclasses.replace(BASE, **changes)) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("address", "parts"),
    [
        ("127.0.0.1:50051", ("127.0.0.1", 50051)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),
        ("[::]:8080", ("::", 8080)),
        ("[::1]:8080", ("::1", 8080)),
        ("localhost:1", ("localhost", 1)),
        (":50051", ("", 50051)),
        ("::1:8080", None),  # IPv6 without brackets
        ("[::1:8080", None),
        ("[]:8080", None),
        ("127.0.0.1:65536", None),
        ("127.0.0.1:-1", None),
        ("127.0.0.1:", None),
        ("127.0.0.1", None),
        ("127.0.0.1:٣", None),  # a digit, but not an ASCII one
    ],
)
def test_listen_addresses(address: str, parts: tuple[str, int] | None) -> None:
    assert split_address(address) == parts


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pki(tmp_path_factory.mktemp("pki"), {"cp": "DNS:localhost", "other": "DNS:other"})


def test_tls_files_are_read_and_checked_before_the_start(pki: Path) -> None:
    config = dataclasses.replace(BASE, tls_cert=pki / "cp.crt", tls_key=pki / "cp.key")
    tls = checked(config)
    assert tls is not None and tls.cert == (pki / "cp.crt").read_bytes() and tls.agent_ca is None
    assert read_tls(BASE) is None


@pytest.mark.parametrize(
    ("files", "message"),
    [
        pytest.param(
            {"tls_cert": "missing.crt"}, r"cannot read --tls-cert .*missing\.crt: No such file", id="missing"
        ),
        pytest.param(
            {"tls_key": "other.key"}, r"are not a PEM certificate and its private key", id="wrong-key"
        ),
        pytest.param(
            {"tls_cert": "cp.key"}, r"are not a PEM certificate and its private key", id="key-as-cert"
        ),
        pytest.param(
            {"agent_ca": "cp.key"}, r"--agent-ca .*cp\.key is not a PEM CA certificate", id="bad-ca"
        ),
    ],
)
def test_unusable_tls_files_are_refused_with_a_sentence(
    pki: Path, files: dict[str, str], message: str
) -> None:
    paths = {"tls_cert": "cp.crt", "tls_key": "cp.key", **files}
    extra = {"agent_grpc_address": "127.0.0.1:0"} if "agent_ca" in files else {}
    config = dataclasses.replace(BASE, **{key: pki / name for key, name in paths.items()}, **extra)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=message):
        checked(config)


def test_every_problem_is_named_in_one_error() -> None:
    with pytest.raises(ConfigError) as caught:
        checked(dataclasses.replace(BASE, tls_key=KEY, grpc_address="nowhere"))
    assert str(caught.value) == (
        "--grpc 'nowhere' is not an address to listen on; use HOST:PORT or [IPv6]:PORT; "
        "--tls-cert and --tls-key go together; give both or neither"
    )


def test_the_notification_flags_reach_the_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    from controlplane import cli

    monkeypatch.delenv("FLEETDECK_PUBLIC_URL", raising=False)
    monkeypatch.setenv("FLEETDECK_HOST_OFFLINE_GRACE", "120")
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    config = cli._config(parser.parse_args(["--db", "fleet.db", "--public-url", "https://fleet.example.org"]))
    assert (config.public_url, config.host_offline_grace_seconds) == ("https://fleet.example.org", 120.0)


def test_the_metrics_flag_and_variable_name_the_listener(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import argparse

    from controlplane import cli

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    flagged = cli._config(parser.parse_args(["--db", str(tmp_path / "f.db"), "--metrics", "0.0.0.0:9100"]))
    assert flagged.metrics_address == "0.0.0.0:9100"
    monkeypatch.setenv("FLEETDECK_METRICS", "127.0.0.1:9101")
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    assert (
        cli._config(parser.parse_args(["--db", str(tmp_path / "f.db")])).metrics_address == "127.0.0.1:9101"
    )
