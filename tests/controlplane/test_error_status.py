"""One error map: every call, unary or streaming, refused or failed, ends with the status that fits."""

from __future__ import annotations

import logging
from pathlib import Path

import grpc
import pytest

from controlplane.app import ControlPlane, ControlPlaneConfig
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc
from fleetdeck.v1 import types_pb2 as pb


async def _code_of(call) -> tuple[grpc.StatusCode, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value.code(), caught.value.details() or ""


async def test_a_domain_error_in_a_unary_call_is_its_status(fleet) -> None:
    code, detail = await _code_of(fleet.GetHost(fleet_pb.GetHostRequest(name="nowhere")))
    assert code == grpc.StatusCode.NOT_FOUND and "nowhere" in detail


async def test_a_domain_error_in_a_server_stream_is_its_status(fleet) -> None:
    stream = fleet.StreamCommandOutput(fleet_pb.StreamCommandOutputRequest(command_id="c0ffee"))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in stream:
            pass
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert caught.value.details() == "no command with id c0ffee"


async def test_an_unexpected_failure_is_internal_and_logged(cp, fleet, caplog, monkeypatch) -> None:
    def broken(name: str) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(cp.fleet, "view", broken)
    with caplog.at_level(logging.ERROR, logger="controlplane.errors"):
        code, detail = await _code_of(fleet.GetHost(fleet_pb.GetHostRequest(name="gpc0")))
    assert code == grpc.StatusCode.INTERNAL
    assert detail == "internal error; see the control plane's log"  # the bug's text stays in the log
    assert "/fleetdeck.v1.FleetService/GetHost failed" in caplog.text and "a bug" in caplog.text


async def test_an_unexpected_failure_in_a_stream_is_internal(cp, fleet, monkeypatch) -> None:
    def broken() -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(cp.fleet, "snapshot", broken)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in fleet.WatchFleet(fleet_pb.WatchFleetRequest()):
            pass
    assert caught.value.code() == grpc.StatusCode.INTERNAL


async def test_a_stream_refused_by_the_access_check_gets_the_refusal(tmp_path: Path) -> None:
    config = ControlPlaneConfig(database=tmp_path / "fleet.db", grpc_address="127.0.0.1:0")
    async with ControlPlane(config) as cp, grpc.aio.insecure_channel(cp.grpc_target) as channel:
        stub = fleet_grpc.FleetServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in stub.WatchFleet(fleet_pb.WatchFleetRequest()):
                pass
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        viewer = (await cp.api_tokens.create("viewer", pb.ROLE_VIEWER))[0]
        metadata = (("authorization", f"Bearer {viewer}"),)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.UpdateSettings(fleet_pb.UpdateSettingsRequest(), metadata=metadata)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
