"""The token CLI against grpc_testing's channel: the test plays the control plane."""

from __future__ import annotations

import argparse
import threading

import grpc
import grpc_testing
import pytest

from fleetdeck import admin
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc

SERVICE = fleet_pb.DESCRIPTOR.services_by_name["FleetService"]


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    admin.add_arguments(parser)
    return parser.parse_args(list(argv))


def _run_in_thread(
    channel: grpc_testing.Channel, args: argparse.Namespace
) -> tuple[threading.Thread, list[int]]:
    result: list[int] = []
    thread = threading.Thread(
        target=lambda: result.append(admin.run_with(fleet_grpc.FleetServiceStub(channel), args))
    )
    thread.start()
    return thread, result


def test_token_create_prints_the_token_once(capsys: pytest.CaptureFixture[str]) -> None:
    channel = grpc_testing.channel([SERVICE], grpc_testing.strict_real_time())
    thread, result = _run_in_thread(channel, _args("create", "gpc0"))
    _, request, rpc = channel.take_unary_unary(SERVICE.methods_by_name["CreateAgentToken"])
    assert request.host == "gpc0"
    rpc.terminate(
        fleet_pb.CreateAgentTokenResponse(token="fdat_secret", token_id="abc"), (), grpc.StatusCode.OK, ""
    )
    thread.join(5)
    assert result == [0]
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "fdat_secret"
    assert out.count("fdat_secret") == 1


def test_refusal_prints_the_servers_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    channel = grpc_testing.channel([SERVICE], grpc_testing.strict_real_time())
    thread, result = _run_in_thread(channel, _args("revoke", "nope"))
    _, request, rpc = channel.take_unary_unary(SERVICE.methods_by_name["RevokeAgentToken"])
    assert request.token_id == "nope"
    rpc.terminate(
        fleet_pb.RevokeAgentTokenResponse(), (), grpc.StatusCode.NOT_FOUND, "no agent token with id nope"
    )
    thread.join(5)
    assert result == [1]
    assert "no agent token with id nope" in capsys.readouterr().out
