"""`fleetdeck token …` and `fleetdeck api-token …`, and how the CLI says it was refused or could not
reach the control plane: against a real control plane that requires API tokens."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fleetdeck_cli import fleetdeck

ADMIN = "fdapi_" + "a" * 40


@pytest.fixture
async def target(tmp_path: Path) -> AsyncIterator[str]:
    """A control plane that requires API tokens, with a known first admin token."""
    from controlplane.app import ControlPlane, ControlPlaneConfig

    cp = ControlPlane(
        ControlPlaneConfig(
            database=tmp_path / "fleet.db",
            grpc_address="127.0.0.1:0",
            shutdown_grace_seconds=0.2,
            admin_token=ADMIN,
            admin_password="correct horse battery",
        )
    )
    await cp.start()
    try:
        yield cp.grpc_target
    finally:
        await cp.stop()


async def test_agent_tokens_create_list_revoke(target: str, tmp_path: Path) -> None:
    # The option between the group and its verb, as docs and older scripts write it.
    created = await fleetdeck("token", "--controlplane", target, "create", "gpc0", token=ADMIN)
    assert created.code == 0, created.err
    secret, about = created.out.splitlines()
    assert secret.startswith("fdat_") and about.endswith("it is shown only once")
    token_id = about.split()[2]

    token_file = tmp_path / "admin.token"
    token_file.write_text(ADMIN + "\n")
    listed = await fleetdeck("token", "list", "gpc0", target=target, FLEETDECK_TOKEN_FILE=str(token_file))
    assert listed.code == 0 and token_id in listed.out and secret not in listed.out

    revoked = await fleetdeck("token", "revoke", token_id, target=target, token=ADMIN)
    assert revoked.code == 0 and f"revoked {token_id} of host gpc0" in revoked.out
    again = await fleetdeck("token", "revoke", "nosuch", target=target, token=ADMIN)
    assert again.code == 3


async def test_api_tokens_and_what_a_viewer_may_not_do(target: str) -> None:
    created = await fleetdeck("api-token", "create", "ci", "--role", "viewer", target=target, token=ADMIN)
    assert created.code == 0, created.err
    viewer = created.out.splitlines()[0]
    listed = await fleetdeck("api-token", "list", "-o", "json", target=target, token=ADMIN)
    assert {t["name"]: t["role"] for t in json.loads(listed.out)["tokens"]}["ci"] == "ROLE_VIEWER"

    assert (await fleetdeck("hosts", target=target, token=viewer)).code == 0
    denied = await fleetdeck("run", "switch", "web1", target=target, token=viewer)
    assert denied.code == 3
    assert denied.err.strip() == "fleetdeck: RunOperation needs the operator role; this token has viewer"
    anonymous = await fleetdeck("hosts", target=target)
    assert anonymous.code == 3 and "API token" in anonymous.err

    token_id = next(t["token_id"] for t in json.loads(listed.out)["tokens"] if t["name"] == "ci")
    revoked = await fleetdeck("api-token", "revoke", token_id, target=target, token=ADMIN)
    assert revoked.code == 0 and f"revoked API token {token_id} (ci)" in revoked.out
    gone = await fleetdeck("hosts", target=target, token=viewer)
    assert gone.code == 3 and "not valid" in gone.err


async def test_an_unreachable_control_plane_is_one_sentence_and_exit_4(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gone = f"127.0.0.1:{port}"
    # The address from the option after the verb, before it, and from the environment.
    for args, env_target in (
        (["hosts", "--controlplane", gone], None),
        (["--controlplane", gone, "hosts"], None),
        (["hosts"], gone),
    ):
        done = await fleetdeck(*args, target=env_target)
        assert done.code == 4, done.err
        assert done.err.strip() == (
            f"fleetdeck: cannot reach the control plane at {gone} (connection refused); "
            "check that it runs and that --controlplane or FLEETDECK_CONTROLPLANE names it"
        )
    missing = await fleetdeck("hosts", target=gone, FLEETDECK_TOKEN_FILE=str(tmp_path / "nope"))
    assert missing.code == 2 and "FLEETDECK_TOKEN_FILE" in missing.err


async def test_a_deployer_token_sets_the_desired_state_but_manages_no_tokens(target: str) -> None:
    created = await fleetdeck("api-token", "create", "ci", "--role", "deployer", target=target, token=ADMIN)
    assert created.code == 0, created.err
    assert created.out.splitlines()[1].startswith("deployer API token id ")
    deployer = created.out.splitlines()[0]

    commit, lock = "c" * 40, "d" * 64
    done = await fleetdeck(
        "desired", "set", "--commit", commit, "--lock-hash", lock, target=target, token=deployer
    )
    assert done.code == 0, done.err
    got = await fleetdeck("desired", "get", "-o", "json", target=target, token=deployer)
    assert commit in got.out

    denied = await fleetdeck("api-token", "create", "more", "--role", "admin", target=target, token=deployer)
    assert denied.code == 3
    assert denied.err.strip() == "fleetdeck: CreateApiToken needs the admin role; this token has deployer"
    settings = await fleetdeck("settings", "set", "--test-timeout", "30", target=target, token=deployer)
    assert settings.code == 3 and "needs the admin role" in settings.err
