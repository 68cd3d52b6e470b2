"""The control plane's configuration: read once into a frozen dataclass, checked whole before a start."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path

from .accounts import MIN_PASSWORD_LENGTH
from .budgets import Budgets
from .listen import StartFailed, split_address


@dataclass(frozen=True)
class ControlPlaneConfig:
    """How to run the control plane; read once at start."""

    # A SQLite file, or a postgresql:// URI (see controlplane.store.location).
    database: Path | str
    grpc_address: str = "127.0.0.1:50051"
    http_address: str | None = None
    shutdown_grace_seconds: float = 5.0
    output_cap_bytes: int = 10 * 1024 * 1024
    # The first admin API token on an empty database; generated (and shown once) when None.
    admin_token: str | None = None
    # The password of the first web user "admin" on an empty database; generated (shown once) when None.
    admin_password: str | None = None
    require_api_tokens: bool = True  # deny by default; tests that are not about access opt out
    # Agent streams, watchers and unary calls together; beyond it calls get RESOURCE_EXHAUSTED.
    max_concurrent_rpcs: int = 25_000
    # TLS for the gRPC and HTTP ports (PEM files); both or neither.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # CA that signs agent client certificates; when set, agents must connect to agent_grpc_address
    # (mutual TLS, a certificate is required there) with a certificate naming their host.
    agent_ca: Path | None = None
    agent_grpc_address: str | None = None
    # Webhook notifications: the page's URL for their links (the web UI's own address when empty),
    # the first retry delay (doubling after each failed attempt), and how long a host must stay
    # offline before host_offline goes out.
    public_url: str = ""
    webhook_retry_seconds: float = 5.0
    host_offline_grace_seconds: float = 300.0
    # Serve /metrics here without credentials (for a scraper in a trusted network).
    metrics_address: str | None = None
    # What one client, peer or token may hold: timeouts, per-connection and per-peer limits.
    budgets: Budgets = field(default_factory=Budgets)


class ConfigError(StartFailed):
    """The configuration cannot work; found before anything was opened, bound or created."""


@dataclass(frozen=True)
class TlsFiles:
    """The PEM bytes of the server's certificate and key, and of the agents' CA when there is one."""

    cert: bytes
    key: bytes
    agent_ca: bytes | None
    # A name the certificate is valid for: what the web UI inside the control plane verifies it by,
    # connecting over loopback (whose address the certificate need not name).
    server_name: str = ""


def certificate_name(path: Path) -> str:
    """A name the PEM certificate at `path` is valid for: its first DNS name or IP address
    (subjectAltName), else its common name; "" when it names none."""
    # The ssl module's own certificate decoder (the only one in the standard library).
    decoded = ssl._ssl._test_decode_cert(str(path))  # type: ignore[attr-defined]
    alternatives = decoded.get("subjectAltName", ())
    for kind in ("DNS", "IP Address"):
        for found, value in alternatives:
            if found == kind:
                return f"fleetdeck{value[1:]}" if value.startswith("*.") else str(value)
    for rdn in decoded.get("subject", ()):
        for found, value in rdn:
            if found == "commonName":
                return str(value)
    return ""


def problems(config: ControlPlaneConfig) -> list[str]:
    """Everything wrong with `config` that shows without opening a file or a port, one sentence each."""
    found: list[str] = []
    addresses = {
        "--grpc": config.grpc_address,
        "--http": config.http_address,
        "--agent-grpc": config.agent_grpc_address,
        "--metrics": config.metrics_address,
    }
    for flag, address in addresses.items():
        if address is not None and split_address(address) is None:
            found.append(f"{flag} {address!r} is not an address to listen on; use HOST:PORT or [IPv6]:PORT")
    fixed = [(flag, a) for flag, a in addresses.items() if a is not None and not a.endswith(":0")]
    for i, (flag, address) in enumerate(fixed):
        for other_flag, other in fixed[i + 1 :]:
            if address == other:
                found.append(f"{flag} and {other_flag} are both {address}; give each its own port")
    if (config.tls_cert is None) != (config.tls_key is None):
        found.append("--tls-cert and --tls-key go together; give both or neither")
    if config.agent_ca is not None:
        if config.tls_cert is None or config.tls_key is None:
            found.append("--agent-ca needs TLS: give --tls-cert and --tls-key too")
        if not config.agent_grpc_address:
            found.append("--agent-ca needs --agent-grpc: the mutual-TLS address agents connect to")
    elif config.agent_grpc_address:
        found.append("--agent-grpc needs --agent-ca: the CA that signs the agents' certificates")
    if config.admin_password is not None and len(config.admin_password) < MIN_PASSWORD_LENGTH:
        found.append(f"the first admin's password needs at least {MIN_PASSWORD_LENGTH} characters")
    if config.webhook_retry_seconds <= 0:
        found.append("the webhook retry delay must be more than 0 seconds")
    if config.host_offline_grace_seconds < 0:
        found.append("--host-offline-grace cannot be negative")
    if config.public_url and not config.public_url.startswith(("http://", "https://")):
        found.append(f"--public-url {config.public_url!r} must start with http:// or https://")
    if config.shutdown_grace_seconds < 0:
        found.append("the shutdown grace period cannot be negative")
    if config.output_cap_bytes <= 0 or config.max_concurrent_rpcs <= 0:
        found.append("the output cap and the call limit must be positive")
    return found


def _pem(path: Path, flag: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read {flag} {path}: {error.strerror or error}") from None


def read_tls(config: ControlPlaneConfig) -> TlsFiles | None:
    """The TLS files, read and checked (the key fits the certificate, the CA parses); None without TLS."""
    if config.tls_cert is None or config.tls_key is None:
        return None
    cert, key = _pem(config.tls_cert, "--tls-cert"), _pem(config.tls_key, "--tls-key")
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(config.tls_cert, config.tls_key)
    except (ssl.SSLError, ValueError) as error:
        raise ConfigError(
            f"--tls-cert {config.tls_cert} and --tls-key {config.tls_key} are not a PEM certificate "
            f"and its private key ({error})"
        ) from None
    agent_ca = None
    if config.agent_ca is not None:
        agent_ca = _pem(config.agent_ca, "--agent-ca")
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_verify_locations(cadata=agent_ca.decode("ascii"))
        except (ssl.SSLError, ValueError) as error:
            raise ConfigError(f"--agent-ca {config.agent_ca} is not a PEM CA certificate ({error})") from None
    return TlsFiles(cert=cert, key=key, agent_ca=agent_ca, server_name=certificate_name(config.tls_cert))


def checked(config: ControlPlaneConfig) -> TlsFiles | None:
    """The TLS files of a configuration that can work; ConfigError naming every problem otherwise."""
    found = problems(config)
    if found:
        raise ConfigError("; ".join(found))
    return read_tls(config)
