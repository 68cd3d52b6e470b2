"""TLS on the gRPC port, and mutual TLS for agents with the certificate's name bound to the host."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import pytest
from pki import make_pki

from controlplane.app import ControlPlane, ControlPlaneConfig
from controlplane.config import certificate_name
from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import agent_service_pb2_grpc as agent_grpc
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    hosts = {
        "controlplane": "DNS:localhost,IP:127.0.0.1",
        "named": "DNS:localhost",  # a name only, as a certificate from a real CA has it
        "gpc0": "DNS:gpc0",
        "web1": "DNS:web1",
    }
    return make_pki(tmp_path_factory.mktemp("pki"), hosts)


@pytest.fixture
async def tls_cp(tmp_path: Path, pki: Path) -> AsyncIterator[ControlPlane]:
    config = ControlPlaneConfig(
        require_api_tokens=False,
        database=tmp_path / "fleet.db",
        grpc_address="127.0.0.1:0",
        tls_cert=pki / "controlplane.crt",
        tls_key=pki / "controlplane.key",
        agent_ca=pki / "ca.crt",
        agent_grpc_address="127.0.0.1:0",
    )
    async with ControlPlane(config) as cp:
        yield cp


def _credentials(pki: Path, client: str | None = None) -> grpc.ChannelCredentials:
    if client is None:
        return grpc.ssl_channel_credentials(root_certificates=(pki / "ca.crt").read_bytes())
    return grpc.ssl_channel_credentials(
        root_certificates=(pki / "ca.crt").read_bytes(),
        private_key=(pki / f"{client}.key").read_bytes(),
        certificate_chain=(pki / f"{client}.crt").read_bytes(),
    )


async def _hello(target: str, pki: Path, token: str, client: str | None) -> grpc.StatusCode:
    async with grpc.aio.secure_channel(target, _credentials(pki, client)) as channel:
        call = agent_grpc.AgentServiceStub(channel).Connect(metadata=(("authorization", f"Bearer {token}"),))
        await call.write(agent_pb.ConnectRequest(hello=agent_pb.Hello(host="gpc0")))
        try:
            message = await call.read()
        except grpc.aio.AioRpcError as error:
            return error.code()
        assert message.HasField("welcome")
        call.cancel()
        return grpc.StatusCode.OK


async def test_api_over_tls_and_agents_need_a_certificate_for_their_host(
    tls_cp: ControlPlane, pki: Path
) -> None:
    target = f"localhost:{tls_cp.grpc_port}"
    async with grpc.aio.secure_channel(target, _credentials(pki)) as channel:
        fleet = fleet_grpc.FleetServiceStub(channel)
        token = (await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0"), timeout=5)).token
    agents = f"localhost:{tls_cp.agent_grpc_port}"
    assert await _hello(agents, pki, token, "gpc0") == grpc.StatusCode.OK
    assert await _hello(agents, pki, token, "web1") == grpc.StatusCode.PERMISSION_DENIED
    assert await _hello(target, pki, token, None) == grpc.StatusCode.UNAUTHENTICATED  # no certificate
    with pytest.raises(grpc.aio.AioRpcError):  # the agent port requires a client certificate
        await _hello(agents, pki, token, None)


async def test_plaintext_is_refused_on_a_tls_port(tls_cp: ControlPlane) -> None:
    async with grpc.aio.insecure_channel(tls_cp.grpc_target) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await fleet_grpc.FleetServiceStub(channel).ListHosts(fleet_pb.ListHostsRequest(), timeout=2)
    assert caught.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


async def test_the_web_ui_inside_reaches_its_control_plane_with_a_certificate_for_a_name_only(
    tmp_path: Path, pki: Path
) -> None:
    """The web UI inside the control plane talks to it over loopback, whose address the certificate
    (a CA's, naming the public name only) does not name: it verifies it by the certificate's name."""
    config = ControlPlaneConfig(
        database=tmp_path / "fleet.db",
        grpc_address="127.0.0.1:0",
        http_address="127.0.0.1:0",
        tls_cert=pki / "named.crt",
        tls_key=pki / "named.key",
        admin_password="correct horse battery",
    )
    async with ControlPlane(config) as cp:
        verify = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        url = f"https://localhost:{cp.http_port}"
        async with httpx.AsyncClient(base_url=url, verify=verify, timeout=10) as http:
            login = await http.post("/login", data={"username": "admin", "password": "correct horse battery"})
            assert login.status_code == 303, login.text
            assert (await http.get("/api/hosts")).status_code == 200


@pytest.mark.parametrize(
    ("name", "san", "expected"),
    [
        ("dns", "DNS:fleet.example.org,IP:192.0.2.10", "fleet.example.org"),
        ("ip", "IP:192.0.2.10", "192.0.2.10"),
        ("wildcard", "DNS:*.example.org", "fleetdeck.example.org"),
    ],
)
def test_certificate_name(tmp_path: Path, name: str, san: str, expected: str) -> None:
    make_pki(tmp_path, {name: san})
    assert certificate_name(tmp_path / f"{name}.crt") == expected
