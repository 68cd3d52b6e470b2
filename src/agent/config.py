"""The agent's configuration, read once from a TOML file into a frozen dataclass."""

from __future__ import annotations

import platform
import re
import socket
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleetdeck import selectors

DEFAULT_SPOOL_BYTES = 16 * 1024 * 1024
DEFAULT_KEEPALIVE_SECONDS = 30.0
"""A ping on the connection after this long; with the timeout, how soon a half-open link is noticed."""
DEFAULT_KEEPALIVE_TIMEOUT_SECONDS = 10.0
MIN_KEEPALIVE_SECONDS = 6.0
"""The control plane closes a connection that pings more often than every 5 s; this leaves a margin."""
_HOST_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
NIXOS_GENERATION_PATH = "/nix/var/nix/profiles/system"


class ConfigError(Exception):
    """The agent config is missing a key or has an invalid value; the message names the key."""


@dataclass(frozen=True)
class TestsConfig:
    """The `[tests]` table: settings the host declares; None where the config leaves a key out."""

    enabled: bool | None = None
    auto_run_after_switch: bool | None = None
    timeout: float | None = None


@dataclass(frozen=True)
class TlsConfig:
    """TLS to the control plane: a CA to trust (else the system's), a client certificate for mTLS."""

    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    server_name: str = ""

    def credentials(self) -> tuple[bytes | None, bytes | None, bytes | None]:
        """(root certificates, private key, certificate chain), read now so renewed files are used."""
        try:
            ca = self.ca.read_bytes() if self.ca else None
            key = self.key.read_bytes() if self.key else None
            cert = self.cert.read_bytes() if self.cert else None
        except OSError as exc:
            raise ConfigError(f"tls: cannot read {exc.filename}: {exc.strerror}") from exc
        return ca, key, cert


@dataclass(frozen=True)
class AgentConfig:
    """Everything the agent needs to know, read once at start."""

    controlplanes: tuple[str, ...]  # HOST:PORT each, tried in order (agent/failover.py)
    host: str
    token_file: Path
    repo_dir: Path
    state_dir: Path
    tests_dir: Path
    switch: tuple[str, ...]
    rollback: tuple[str, ...]
    generation_path: Path
    tests: TestsConfig
    os_name: str
    tls: TlsConfig | None = None
    spool_bytes: int = DEFAULT_SPOOL_BYTES
    stop_grace_seconds: float = 5.0
    backoff_initial_seconds: float = 1.0
    backoff_max_seconds: float = 60.0
    keepalive_seconds: float = DEFAULT_KEEPALIVE_SECONDS
    keepalive_timeout_seconds: float = DEFAULT_KEEPALIVE_TIMEOUT_SECONDS
    labels: dict[str, str] = field(default_factory=dict)  # the [labels] table, sent in the hello

    @property
    def controlplane(self) -> str:
        """The control-plane addresses as a log line names them ("a:50051, b:50051")."""
        return ", ".join(self.controlplanes)

    def read_token(self) -> str:
        """The bearer token from token_file (stripped); ConfigError when it cannot be read."""
        try:
            token = self.token_file.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"token_file: cannot read {self.token_file}: {exc.strerror}") from exc
        if not token:
            raise ConfigError(f"token_file: {self.token_file} is empty")
        return token


def detect_os() -> str:
    """The operating system family: "nixos", "darwin" or "linux"."""
    system = platform.system().lower()
    if system == "linux" and Path("/etc/NIXOS").exists():
        return "nixos"
    return system


def _default_operations(os_name: str, repo_dir: Path, host: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if os_name == "darwin":
        return (
            ("home-manager", "switch", "--flake", f"{repo_dir}#{host}"),
            ("home-manager", "switch", "--rollback"),
        )
    return (
        ("nixos-rebuild", "switch", "--flake", f"{repo_dir}#{host}"),
        ("nixos-rebuild", "switch", "--rollback"),
    )


def _default_generation_path(os_name: str) -> Path:
    if os_name == "darwin":
        return Path.home() / ".local/state/nix/profiles/home-manager"
    return Path(NIXOS_GENERATION_PATH)


class _Table:
    """Typed access to one TOML table; every error names the full key."""

    def __init__(self, data: dict[str, Any], prefix: str = "") -> None:
        self._data = data
        self._prefix = prefix

    def _key(self, key: str) -> str:
        return f"{self._prefix}{key}"

    def has(self, key: str) -> bool:
        return key in self._data

    def names(self) -> list[str]:
        return list(self._data)

    def string(self, key: str, default: str | None = None) -> str:
        value = self._data.get(key, default)
        if value is None:
            raise ConfigError(f"{self._key(key)}: missing (required)")
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{self._key(key)}: must be a non-empty string")
        return value

    def optional_path(self, base: Path, key: str) -> Path | None:
        if key not in self._data:
            return None
        path = _path(base, self.string(key))
        if not path.is_file():
            raise ConfigError(f"{self._key(key)}: {path} is not a readable file")
        return path

    def optional_bool(self, key: str) -> bool | None:
        value = self._data.get(key)
        if value is not None and not isinstance(value, bool):
            raise ConfigError(f"{self._key(key)}: must be true or false")
        return value

    def optional_seconds(self, key: str) -> float | None:
        value = self._data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(f"{self._key(key)}: must be a positive number of seconds")
        return float(value)

    def seconds(self, key: str, default: float) -> float:
        value = self.optional_seconds(key)
        return default if value is None else value

    def positive_int(self, key: str, default: int) -> int:
        value = self._data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(f"{self._key(key)}: must be a positive integer")
        return value

    def addresses(self, key: str) -> tuple[str, ...]:
        """A HOST:PORT string, or a non-empty list of them (distinct), in the order given."""
        value = self._data.get(key)
        if value is None:
            raise ConfigError(f"{self._key(key)}: missing (required)")
        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(item, str) and item.strip() for item in items):
            raise ConfigError(f"{self._key(key)}: must be HOST:PORT or a non-empty list of HOST:PORT strings")
        for item in items:
            if ":" not in item:
                raise ConfigError(f"{self._key(key)}: {item!r} must be host:port")
        if len(set(items)) != len(items):
            raise ConfigError(f"{self._key(key)}: an address is listed twice")
        return tuple(items)

    def argv(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self._data.get(key)
        if value is None:
            return default
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"{self._key(key)}: must be a non-empty list of strings (an argv)")
        return tuple(value)

    def table(self, key: str) -> _Table:
        value = self._data.get(key, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{self._key(key)}: must be a table")
        return _Table(value, f"{self._key(key)}.")

    def check_known(self, known: set[str]) -> None:
        unknown = sorted(set(self._data) - known)
        if unknown:
            raise ConfigError(f"{self._key(unknown[0])}: unknown key")


_TOP_KEYS = {
    "controlplane",
    "host",
    "token_file",
    "repo_dir",
    "state_dir",
    "tests_dir",
    "generation_path",
    "spool_bytes",
    "stop_grace_seconds",
    "backoff_initial_seconds",
    "backoff_max_seconds",
    "keepalive_seconds",
    "keepalive_timeout_seconds",
    "operations",
    "tests",
    "labels",
    "tls",
    "tls_ca",
    "tls_cert",
    "tls_key",
    "tls_server_name",
}


def _path(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base / path)


def _tls(top: _Table, base_dir: Path) -> TlsConfig | None:
    ca = top.optional_path(base_dir, "tls_ca")
    cert = top.optional_path(base_dir, "tls_cert")
    key = top.optional_path(base_dir, "tls_key")
    if (cert is None) != (key is None):
        raise ConfigError("tls_cert: tls_cert and tls_key go together; give both or neither")
    server_name = top.string("tls_server_name") if top.has("tls_server_name") else ""
    enabled = top.optional_bool("tls")
    if enabled is False:
        if ca or cert or server_name:
            raise ConfigError("tls: false, but tls_ca, tls_cert or tls_server_name is set")
        return None
    if enabled or ca or cert or server_name:
        return TlsConfig(ca=ca, cert=cert, key=key, server_name=server_name)
    return None


def _labels(top: _Table) -> dict[str, str]:
    table = top.table("labels")
    labels = {key: table.string(key) for key in table.names()}
    try:
        return selectors.check_labels(labels)
    except selectors.SelectorError as exc:
        raise ConfigError(f"labels: {exc}") from None


def parse_config(data: dict[str, Any], base_dir: Path, os_name: str | None = None) -> AgentConfig:
    """An AgentConfig from parsed TOML; relative paths are relative to `base_dir`."""
    top = _Table(data)
    top.check_known(_TOP_KEYS)
    os_name = os_name or detect_os()
    controlplanes = top.addresses("controlplane")
    host = top.string("host", socket.gethostname().split(".")[0].lower())
    if not _HOST_NAME.match(host):
        raise ConfigError(
            f"host: {host!r} is not an RFC 1123 label (a-z, 0-9 and '-', at most 63 characters)"
        )
    repo_dir = _path(base_dir, top.string("repo_dir"))
    tests_dir = _path(base_dir, top.string("tests_dir", str(repo_dir / "hosts" / host / "tests")))
    ops = top.table("operations")
    ops.check_known({"switch", "rollback"})
    switch_default, rollback_default = _default_operations(os_name, repo_dir, host)
    tests = top.table("tests")
    tests.check_known({"enabled", "auto_run_after_switch", "timeout"})
    tls = _tls(top, base_dir)
    backoff_initial = top.seconds("backoff_initial_seconds", 1.0)
    backoff_max = top.seconds("backoff_max_seconds", 60.0)
    if backoff_max < backoff_initial:
        raise ConfigError("backoff_max_seconds: must not be below backoff_initial_seconds")
    keepalive = top.seconds("keepalive_seconds", DEFAULT_KEEPALIVE_SECONDS)
    if keepalive < MIN_KEEPALIVE_SECONDS:
        raise ConfigError(
            f"keepalive_seconds: must be at least {MIN_KEEPALIVE_SECONDS:.0f} (the control plane closes "
            "a connection that pings more often than every 5 s)"
        )
    return AgentConfig(
        controlplanes=controlplanes,
        host=host,
        token_file=_path(base_dir, top.string("token_file")),
        repo_dir=repo_dir,
        state_dir=_path(base_dir, top.string("state_dir")),
        tests_dir=tests_dir,
        switch=ops.argv("switch", switch_default),
        rollback=ops.argv("rollback", rollback_default),
        generation_path=_path(
            base_dir, top.string("generation_path", str(_default_generation_path(os_name)))
        ),
        tests=TestsConfig(
            enabled=tests.optional_bool("enabled"),
            auto_run_after_switch=tests.optional_bool("auto_run_after_switch"),
            timeout=tests.optional_seconds("timeout"),
        ),
        os_name=os_name,
        tls=tls,
        spool_bytes=top.positive_int("spool_bytes", DEFAULT_SPOOL_BYTES),
        stop_grace_seconds=top.seconds("stop_grace_seconds", 5.0),
        backoff_initial_seconds=backoff_initial,
        backoff_max_seconds=backoff_max,
        keepalive_seconds=keepalive,
        keepalive_timeout_seconds=top.seconds("keepalive_timeout_seconds", DEFAULT_KEEPALIVE_TIMEOUT_SECONDS),
        labels=_labels(top),
    )


def load_config(path: Path) -> AgentConfig:
    """Read and validate the agent config file at `path`."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    return parse_config(data, path.resolve().parent)
