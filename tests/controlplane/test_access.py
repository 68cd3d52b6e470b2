"""Deny by default: every FleetService RPC without credentials, with each too-low role, with an agent token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import symbol_database
from grpc_health.v1 import health_pb2, health_pb2_grpc

from controlplane.app import ControlPlane, ControlPlaneConfig
from controlplane.audit import AUDITED
from fleetdeck.client import aio_channel
from fleetdeck.roles import allows, declared_role, rank, required_role, role_name
from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import audit_pb2 as audit_pb
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc
from fleetdeck.v1 import types_pb2 as pb

ADMIN_TOKEN = "fdapi_" + "t" * 40
SERVICE = fleet_pb.DESCRIPTOR.services_by_name["FleetService"]
VIEWER = {
    "ListHosts",
    "GetHost",
    "WatchFleet",
    "GetCommand",
    "ListCommands",
    "StreamCommandOutput",
    "ListTestRuns",
    "GetTestRun",
    "GetSettings",
    "GetDesiredState",
    "ListCaseResults",
    "ListCaseSummaries",
    "ListFailingCases",
    "WatchCommand",
    "GetRollout",
    "ListRollouts",
}
OPERATOR = {
    "RunOperation",
    "CancelCommand",
    "PauseRollout",
    "ResumeRollout",
    "AbortRollout",
    "ApproveRollout",
}
DEPLOYER = {"SetDesiredState", "CreateRollout"}
ADMIN = {
    "UpdateHostSettings",
    "UpdateSettings",
    "CreateAgentToken",
    "ListAgentTokens",
    "RevokeAgentToken",
    "CreateApiToken",
    "ListApiTokens",
    "RevokeApiToken",
    # Web logins: only the web UI's own (admin) token may check passwords and sessions.
    "Login",
    "GetWebSession",
    "Logout",
    "PutUser",
    "CreateWebhook",
    "ListWebhooks",
    "DeleteWebhook",
    "TestWebhook",
    "ListAuditEvents",
    "UpdateHostLabels",
}
ROLE_OF = {
    **{m: pb.ROLE_VIEWER for m in VIEWER},
    **{m: pb.ROLE_OPERATOR for m in OPERATOR},
    **{m: pb.ROLE_DEPLOYER for m in DEPLOYER},
    **{m: pb.ROLE_ADMIN for m in ADMIN},
}
"""The policy, stated once more here: the contract's `required_role` options must say the same."""


@pytest.fixture
async def secured(tmp_path: Path) -> AsyncIterator[ControlPlane]:
    config = ControlPlaneConfig(
        database=tmp_path / "fleet.db",
        grpc_address="127.0.0.1:0",
        admin_token=ADMIN_TOKEN,
        require_api_tokens=True,
    )
    async with ControlPlane(config) as plane:
        yield plane


async def _audit_count(target: str) -> int:
    async with aio_channel(target, ADMIN_TOKEN) as channel:
        fleet = fleet_grpc.FleetServiceStub(channel)
        listed = await fleet.ListAuditEvents(audit_pb.ListAuditEventsRequest(page_size=1000), timeout=5)
    return len(listed.events)


async def _call(target: str, token: str | None, method_name: str) -> grpc.StatusCode:
    """Call one FleetService method with an empty request; the status code it ends with."""
    method = SERVICE.methods_by_name[method_name]
    request_class = symbol_database.Default().GetSymbol(method.input_type.full_name)
    response_class = symbol_database.Default().GetSymbol(method.output_type.full_name)
    path = f"/{SERVICE.full_name}/{method_name}"
    async with aio_channel(target, token) as channel:
        kwargs = {
            "request_serializer": request_class.SerializeToString,
            "response_deserializer": response_class.FromString,
        }
        try:
            if method.server_streaming:
                call = channel.unary_stream(path, **kwargs)(request_class(), timeout=5)
                await call.read()
                call.cancel()
            else:
                await channel.unary_unary(path, **kwargs)(request_class(), timeout=5)
        except grpc.aio.AioRpcError as error:
            return error.code()
    return grpc.StatusCode.OK


def test_every_rpc_has_a_role() -> None:
    assert set(SERVICE.methods_by_name) == set(ROLE_OF)


@pytest.mark.parametrize("method_name", sorted(SERVICE.methods_by_name))
def test_the_contract_names_the_role_of_every_rpc(method_name: str) -> None:
    assert required_role(f"/{SERVICE.full_name}/{method_name}") == ROLE_OF[method_name]
    assert required_role(method_name) == ROLE_OF[method_name]


@pytest.mark.parametrize(
    "method",
    [
        "/fleetdeck.v1.FleetService/NoSuchCall",
        "/fleetdeck.v1.AgentService/Connect",  # a method of another service has no role here
        "/other.v1.FleetService/GetHost",
        "NoSuchCall",
        "",
    ],
)
def test_unknown_methods_need_no_role_so_they_are_denied(method: str) -> None:
    assert required_role(method) is None


def test_a_method_without_the_option_declares_no_role() -> None:
    connect = agent_pb.DESCRIPTOR.services_by_name["AgentService"].methods_by_name["Connect"]
    assert declared_role(connect) is None


@pytest.mark.parametrize(
    ("role", "name"),
    [
        (pb.ROLE_VIEWER, "viewer"),
        (pb.ROLE_OPERATOR, "operator"),
        (pb.ROLE_DEPLOYER, "deployer"),
        (pb.ROLE_ADMIN, "admin"),
        (9, "role 9"),
    ],
)
def test_role_names(role: int, name: str) -> None:
    assert role_name(role) == name


def test_deployer_ranks_between_operator_and_admin_whatever_its_number() -> None:
    order = [pb.ROLE_VIEWER, pb.ROLE_OPERATOR, pb.ROLE_DEPLOYER, pb.ROLE_ADMIN]
    assert [rank(role) for role in order] == sorted(rank(role) for role in order)
    assert pb.ROLE_DEPLOYER > pb.ROLE_ADMIN  # appended to the enum: numbers are no order
    assert allows(pb.ROLE_ADMIN, pb.ROLE_DEPLOYER)
    assert allows(pb.ROLE_DEPLOYER, pb.ROLE_OPERATOR)
    assert not allows(pb.ROLE_DEPLOYER, pb.ROLE_ADMIN)
    assert not allows(pb.ROLE_UNSPECIFIED, pb.ROLE_VIEWER)
    assert not allows(9, pb.ROLE_VIEWER)


@pytest.mark.parametrize("method_name", sorted(SERVICE.methods_by_name))
async def test_every_rpc_refuses_callers_without_a_valid_token(secured, method_name) -> None:
    assert await _call(secured.grpc_target, None, method_name) == grpc.StatusCode.UNAUTHENTICATED
    assert (
        await _call(secured.grpc_target, "fdapi_" + "x" * 40, method_name) == grpc.StatusCode.UNAUTHENTICATED
    )


@pytest.mark.parametrize("method_name", sorted(SERVICE.methods_by_name))
async def test_every_rpc_checks_the_role(secured, method_name) -> None:
    async with aio_channel(secured.grpc_target, ADMIN_TOKEN) as channel:
        fleet = fleet_grpc.FleetServiceStub(channel)
        viewer = (
            await fleet.CreateApiToken(fleet_pb.CreateApiTokenRequest(name="v", role=pb.ROLE_VIEWER))
        ).token
        operator = (
            await fleet.CreateApiToken(fleet_pb.CreateApiTokenRequest(name="o", role=pb.ROLE_OPERATOR))
        ).token
        deployer = (
            await fleet.CreateApiToken(fleet_pb.CreateApiTokenRequest(name="d", role=pb.ROLE_DEPLOYER))
        ).token
        agent = (await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0"))).token
    needed = ROLE_OF[method_name]
    for role, token in ((pb.ROLE_VIEWER, viewer), (pb.ROLE_OPERATOR, operator), (pb.ROLE_DEPLOYER, deployer)):
        before = await _audit_count(secured.grpc_target)
        code = await _call(secured.grpc_target, token, method_name)
        if rank(role) < rank(needed):
            assert code == grpc.StatusCode.PERMISSION_DENIED, (method_name, role)
        else:
            assert code not in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED), (
                method_name,
                role,
            )
        # A state change that happened leaves exactly one audit event; a refused or failed call none.
        changed = code == grpc.StatusCode.OK and method_name in AUDITED
        assert await _audit_count(secured.grpc_target) == before + changed, (method_name, role, code)
    assert await _call(secured.grpc_target, agent, method_name) == grpc.StatusCode.PERMISSION_DENIED


async def test_health_stays_open_and_revoked_token_is_refused(secured) -> None:
    async with grpc.aio.insecure_channel(secured.grpc_target) as channel:
        health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
    async with aio_channel(secured.grpc_target, ADMIN_TOKEN) as channel:
        fleet = fleet_grpc.FleetServiceStub(channel)
        created = await fleet.CreateApiToken(fleet_pb.CreateApiTokenRequest(name="ci", role=pb.ROLE_OPERATOR))
        await fleet.RevokeApiToken(fleet_pb.RevokeApiTokenRequest(token_id=created.api_token.token_id))
    assert await _call(secured.grpc_target, created.token, "ListHosts") == grpc.StatusCode.UNAUTHENTICATED


async def test_a_token_in_use_is_refused_at_once_when_revoked(secured) -> None:
    async with aio_channel(secured.grpc_target, ADMIN_TOKEN) as channel:
        fleet = fleet_grpc.FleetServiceStub(channel)
        created = await fleet.CreateApiToken(fleet_pb.CreateApiTokenRequest(name="ci", role=pb.ROLE_OPERATOR))
        assert await _call(secured.grpc_target, created.token, "ListHosts") == grpc.StatusCode.OK  # now known
        await fleet.RevokeApiToken(fleet_pb.RevokeApiTokenRequest(token_id=created.api_token.token_id))
    assert await _call(secured.grpc_target, created.token, "ListHosts") == grpc.StatusCode.UNAUTHENTICATED


async def test_tokens_are_stored_only_as_hashes(secured, tmp_path) -> None:
    async with aio_channel(secured.grpc_target, ADMIN_TOKEN) as channel:
        fleet = fleet_grpc.FleetServiceStub(channel)
        api = (
            await fleet.CreateApiToken(fleet_pb.CreateApiTokenRequest(name="ci", role=pb.ROLE_VIEWER))
        ).token
        agent = (await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0"))).token
    await secured.stop()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("fleet.db*"))
    for token in (ADMIN_TOKEN, api, agent):
        assert token.encode() not in stored
