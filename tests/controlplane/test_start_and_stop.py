"""Start-up in phases: a start that cannot work changes nothing, leaves nothing open, says why in one
sentence, and never uses up the first admin's credentials."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pki import make_pki

from controlplane.app import ConfigError, ControlPlane, ControlPlaneConfig, StartFailed

TIMEOUT = 20


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pki(tmp_path_factory.mktemp("pki"), {"controlplane": "DNS:localhost,IP:127.0.0.1"})


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something else listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _open_files_under(path: Path) -> list[str]:
    """Files under `path` this process holds open (the database, its WAL and shared memory)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # closed while listing
        if target.startswith(str(path)):
            found.append(target)
    return found


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


FAILURES = {
    # what is in the way -> (config changes, the sentence)
    "grpc-port": (
        {"grpc_address": "127.0.0.1:{busy}"},
        "cannot listen for gRPC on 127.0.0.1:{busy}: Address already in use",
    ),
    "http-port": (
        {"http_address": "127.0.0.1:{busy}"},
        "cannot serve the web UI on 127.0.0.1:{busy}: Address already in use",
    ),
    "agent-port": (
        {"agent_grpc_address": "127.0.0.1:{busy}"},
        "cannot listen for gRPC on 127.0.0.1:{busy}: Address already in use",
    ),
    # Found only once every port is bound: those ports must be free again.
    "short-admin-token": (
        {"admin_token": "too-short"},
        "the first admin API token (--admin-token-file): an API token must be at least 32 characters",
    ),
}


@pytest.mark.parametrize("failing", sorted(FAILURES))
async def test_a_start_that_fails_leaves_nothing_open_and_creates_nothing(
    tmp_path: Path, pki: Path, busy_port: int, failing: str
) -> None:
    changes, sentence = FAILURES[failing]
    everything = ControlPlaneConfig(
        database=tmp_path / "fleet.db",
        grpc_address="127.0.0.1:0",
        http_address="127.0.0.1:0",
        tls_cert=pki / "controlplane.crt",
        tls_key=pki / "controlplane.key",
        agent_ca=pki / "ca.crt",
        agent_grpc_address="127.0.0.1:0",
    )
    config = dataclasses.replace(
        everything, **{key: value.format(busy=busy_port) for key, value in changes.items()}
    )
    tasks_before = asyncio.all_tasks()
    for _ in range(2):  # and once more: the first failure left nothing in the way of the second
        plane = ControlPlane(config)
        with pytest.raises(StartFailed) as caught:
            await plane.start()
        assert str(caught.value) == sentence.format(busy=busy_port)
        assert asyncio.all_tasks() == tasks_before
        assert _open_files_under(tmp_path) == []
        bound = [port for port in (plane.grpc_port, plane.agent_grpc_port, plane.http_port) if port]
        assert all(_port_is_free(port) for port in bound)
        assert plane.bootstrap_admin_token is None and plane.bootstrap_admin_password is None
        await plane.stop()  # harmless after a failed start
    if failing == "short-admin-token":
        assert len(bound) == 3  # it failed after binding every port
    good = ControlPlaneConfig(database=tmp_path / "fleet.db", grpc_address="127.0.0.1:0")
    async with ControlPlane(good) as plane:
        # Nothing was used up by the failed starts: this first good start creates the credentials.
        assert plane.bootstrap_admin_token is not None and plane.bootstrap_admin_password is not None


async def test_stop_is_safe_twice_and_closes_everything(tmp_path: Path) -> None:
    tasks_before = asyncio.all_tasks()
    config = ControlPlaneConfig(
        database=tmp_path / "fleet.db", grpc_address="127.0.0.1:0", http_address="127.0.0.1:0"
    )
    plane = ControlPlane(config)
    await plane.start()
    await plane.start()
    assert _open_files_under(tmp_path)
    ports = (plane.grpc_port, plane.http_port)
    await plane.stop()
    await plane.stop()
    assert asyncio.all_tasks() == tasks_before
    assert _open_files_under(tmp_path) == []
    assert all(_port_is_free(port) for port in ports)


async def test_a_first_start_with_only_a_certificate_creates_nothing_and_the_corrected_one_shows_the_credentials(
    tmp_path: Path, pki: Path
) -> None:
    db = tmp_path / "fleet.db"
    only_cert = ControlPlaneConfig(database=db, grpc_address="127.0.0.1:0", tls_cert=pki / "controlplane.crt")
    with pytest.raises(ConfigError, match="--tls-cert and --tls-key go together"):
        await ControlPlane(only_cert).start()
    assert not db.exists()  # checked before anything was touched
    corrected = ControlPlaneConfig(
        database=db,
        grpc_address="127.0.0.1:0",
        tls_cert=pki / "controlplane.crt",
        tls_key=pki / "controlplane.key",
    )
    async with ControlPlane(corrected) as plane:
        assert plane.bootstrap_admin_token is not None and plane.bootstrap_admin_password is not None


# --- the same story as an operator sees it: the `fleetdeck controlplane` command -------------------------


async def _fleetdeck(*argv: str, **env: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "fleetdeck.cli",
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**{key: value for key, value in os.environ.items() if not key.startswith("FLEETDECK_")}, **env},
    )


async def _refused(*argv: str, **env: str) -> tuple[int, list[str]]:
    """Exit code and stderr lines of a start that must fail at once (a hung one fails the test)."""
    process = await _fleetdeck(*argv, **env)
    async with asyncio.timeout(TIMEOUT):
        _, stderr = await process.communicate()
    assert process.returncode is not None
    return process.returncode, [line for line in stderr.decode().splitlines() if line.strip()]


async def test_the_command_recovers_from_a_first_start_with_only_a_certificate(
    tmp_path: Path, pki: Path
) -> None:
    db = tmp_path / "fleet.db"
    flags = (
        "controlplane",
        "--db",
        str(db),
        "--grpc",
        "127.0.0.1:0",
        "--tls-cert",
        str(pki / "controlplane.crt"),
    )
    code, stderr = await _refused(*flags)
    assert (code, stderr) == (
        2,
        ["fleetdeck controlplane: --tls-cert and --tls-key go together; give both or neither"],
    )
    assert not db.exists()

    process = await _fleetdeck(*flags, "--tls-key", str(pki / "controlplane.key"))
    assert process.stdout is not None
    try:
        async with asyncio.timeout(TIMEOUT):
            token_line = (await process.stdout.readline()).decode()
            password_line = (await process.stdout.readline()).decode()
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(TIMEOUT):
            await process.communicate()
    assert token_line.startswith("First admin API token (shown once): fdapi_")
    assert password_line.startswith("Web login (shown once): user admin, password ")
    assert process.returncode == 0


@pytest.mark.parametrize(
    ("flags", "env", "code", "sentence"),
    [
        pytest.param(
            ("--grpc", "127.0.0.1:{busy}"),
            {},
            1,
            "cannot listen for gRPC on 127.0.0.1:{busy}: Address already in use",
            id="grpc-port-in-use",
        ),
        pytest.param(
            ("--http", "127.0.0.1:{busy}"),
            {},
            1,
            "cannot serve the web UI on 127.0.0.1:{busy}: Address already in use",
            id="http-port-in-use",
        ),
        pytest.param(
            ("--http", "127.0.0.1:0"),
            {"FLEETDECK_ADMIN_TOKEN": "too-short"},  # found once the store is open and the ports bound
            2,
            "the first admin API token (--admin-token-file): an API token must be at least 32 characters",
            id="bad-admin-token",
        ),
    ],
)
async def test_the_command_exits_at_once_with_one_sentence_when_it_cannot_start(
    tmp_path: Path, busy_port: int, flags: tuple[str, ...], env: dict[str, str], code: int, sentence: str
) -> None:
    argv = ("controlplane", "--db", str(tmp_path / "fleet.db"), "--grpc", "127.0.0.1:0")
    argv += tuple(flag.format(busy=busy_port) for flag in flags)
    exit_code, stderr = await _refused(*argv, FLEETDECK_LOG_LEVEL="WARNING", **env)
    assert (exit_code, stderr) == (code, [f"fleetdeck controlplane: {sentence.format(busy=busy_port)}"])
