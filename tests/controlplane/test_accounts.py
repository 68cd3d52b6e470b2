"""Web users on the control plane: passwords, sessions, the failed-login limit."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from controlplane.app import ControlPlane, ControlPlaneConfig
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc
from fleetdeck.v1 import types_pb2 as pb

PASSWORD = "correct horse battery"


async def _put(fleet, name: str = "alice", role: int = pb.ROLE_OPERATOR) -> None:
    await fleet.PutUser(fleet_pb.PutUserRequest(username=name, password=PASSWORD, role=role))


async def _login(fleet, name: str = "alice", password: str = PASSWORD, client: str = "10.0.0.1"):
    return await fleet.Login(fleet_pb.LoginRequest(username=name, password=password, client=client))


async def test_login_opens_a_session_and_logout_ends_it(fleet) -> None:
    await _put(fleet)
    login = await _login(fleet)
    assert login.session.username == "alice" and login.session.role == pb.ROLE_OPERATOR
    assert len(login.session.csrf_token) >= 32 and login.session_token != login.session.csrf_token
    got = (
        await fleet.GetWebSession(fleet_pb.GetWebSessionRequest(session_token=login.session_token))
    ).session
    assert got.csrf_token == login.session.csrf_token
    await fleet.Logout(fleet_pb.LogoutRequest(session_token=login.session_token))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await fleet.GetWebSession(fleet_pb.GetWebSessionRequest(session_token=login.session_token))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_login_rotates_the_previous_session(fleet) -> None:
    await _put(fleet)
    first = await _login(fleet)
    second = await fleet.Login(
        fleet_pb.LoginRequest(
            username="alice", password=PASSWORD, client="10.0.0.1", previous_session_token=first.session_token
        )
    )
    assert second.session_token != first.session_token
    with pytest.raises(grpc.aio.AioRpcError):
        await fleet.GetWebSession(fleet_pb.GetWebSessionRequest(session_token=first.session_token))


@pytest.mark.parametrize("name", ["alice", "nobody"])
async def test_wrong_password_and_unknown_user_get_the_same_answer(fleet, name) -> None:
    await _put(fleet)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _login(fleet, name, "wrong password!")
    assert (caught.value.code(), caught.value.details()) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "wrong user name or password",
    )


async def test_sixth_failed_login_is_limited_and_the_limit_survives_a_restart(tmp_path: Path) -> None:
    config = ControlPlaneConfig(
        database=tmp_path / "fleet.db", grpc_address="127.0.0.1:0", require_api_tokens=False
    )
    async with ControlPlane(config) as cp, grpc.aio.insecure_channel(cp.grpc_target) as channel:
        fleet = fleet_grpc.FleetServiceStub(channel)
        await _put(fleet)
        for _ in range(5):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await _login(fleet, password="wrong password!")
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        await _login(fleet, client="10.0.0.2")  # another client is not limited
    async with ControlPlane(config) as cp, grpc.aio.insecure_channel(cp.grpc_target) as channel:
        fleet = fleet_grpc.FleetServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _login(fleet)  # even the right password, from the limited client
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        retry_after = dict(caught.value.trailing_metadata() or ())["retry-after"]
        assert 1 <= int(retry_after) <= 301


@pytest.mark.parametrize(
    ("name", "password", "role"),
    [("bad name!", PASSWORD, pb.ROLE_VIEWER), ("bob", "short", pb.ROLE_VIEWER), ("bob", PASSWORD, 0)],
)
async def test_put_user_validates(fleet, name, password, role) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await fleet.PutUser(fleet_pb.PutUserRequest(username=name, password=password, role=role))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_first_start_creates_admin_with_a_password_shown_once(tmp_path: Path) -> None:
    config = ControlPlaneConfig(
        database=tmp_path / "fleet.db", grpc_address="127.0.0.1:0", require_api_tokens=False
    )
    async with ControlPlane(config) as cp, grpc.aio.insecure_channel(cp.grpc_target) as channel:
        password = cp.bootstrap_admin_password
        assert password is not None and len(password) >= 16
        login = await _login(fleet_grpc.FleetServiceStub(channel), "admin", password)
        assert login.session.role == pb.ROLE_ADMIN
    async with ControlPlane(config) as cp:
        assert cp.bootstrap_admin_password is None
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("fleet.db*"))  # noqa: ASYNC240
    assert password.encode() not in stored and login.session_token.encode() not in stored


async def test_parallel_wrong_passwords_cannot_get_past_the_limit(fleet) -> None:
    import asyncio

    await _put(fleet)

    async def attempt() -> grpc.StatusCode:
        try:
            await _login(fleet, password="wrong password!")
        except grpc.aio.AioRpcError as error:
            return error.code()
        return grpc.StatusCode.OK

    codes = await asyncio.gather(*(attempt() for _ in range(12)))
    assert codes.count(grpc.StatusCode.UNAUTHENTICATED) == 5
    assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) == 7
