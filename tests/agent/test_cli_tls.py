"""The CLI against a control plane that serves TLS: --tls-ca / FLEETDECK_TLS_CA."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fleetdeck_cli import fleetdeck
from pki import make_pki


@pytest.fixture
async def tls_target(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    """A TLS control plane and the CA that signed its certificate."""
    from controlplane.app import ControlPlane, ControlPlaneConfig

    pki = tmp_path / "pki"
    pki.mkdir()
    make_pki(pki, {"controlplane": "DNS:localhost,IP:127.0.0.1"})
    config = ControlPlaneConfig(
        require_api_tokens=False,
        database=tmp_path / "fleet.db",
        grpc_address="127.0.0.1:0",
        shutdown_grace_seconds=0.2,
        tls_cert=pki / "controlplane.crt",
        tls_key=pki / "controlplane.key",
    )
    async with ControlPlane(config) as cp:
        yield cp.grpc_target, pki / "ca.crt"


async def test_the_cli_speaks_tls_with_the_given_ca(tls_target: tuple[str, Path]) -> None:
    target, ca = tls_target
    flag = await fleetdeck("settings", "get", "--tls-ca", str(ca), target=target)
    assert flag.code == 0, flag.err
    assert "test_timeout" in flag.out
    env = await fleetdeck("settings", "get", target=target, FLEETDECK_TLS_CA=str(ca))
    assert env.code == 0, env.err

    plain = await fleetdeck("settings", "get", target=target)
    assert plain.code == 4
    assert plain.err.startswith(f"fleetdeck: cannot reach the control plane at {target}")
    missing = await fleetdeck("settings", "get", "--tls-ca", str(ca) + ".nope", target=target)
    assert missing.code == 2 and "cannot read the TLS CA certificate" in missing.err
