"""The JSON API and the page's HTTP surface: refusals as sentences, settings, output, security headers."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from pathlib import Path

import httpx
import pytest
import uvicorn
from scripted_agent import TIMEOUT
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from webui_support import Connect, SSEReader, User, logged_in, put_user, serve_webui, set_desired

from controlplane.app import ControlPlane, ControlPlaneConfig
from fleetdeck.client import aio_channel
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc
from fleetdeck.v1 import types_pb2 as pb
from fleetdeck.v1.fleet_service_pb2 import PutUserRequest
from webui import cli
from webui.cookie import CookieSigner
from webui.roles import calls

STATIC = Path(__file__).parents[2] / "src" / "webui" / "static"
TEMPLATES = Path(__file__).parents[2] / "src" / "webui" / "templates"
JUNIT_XSD = Path(__file__).parents[1] / "fleetdeck" / "junit.xsd"


def anonymous(cp: ControlPlane) -> httpx.AsyncClient:
    """An HTTP client of the web UI served by the control plane, not logged in."""
    return httpx.AsyncClient(base_url=cp.http_url, timeout=TIMEOUT)


async def test_every_response_carries_a_strict_content_security_policy(cp: ControlPlane, user: User) -> None:
    async with logged_in(cp.http_url, user) as http:
        for path in ("/", "/login", "/static/app.js", "/static/style.css", "/api/hosts"):
            response = await http.get(path)
            assert response.status_code == 200, path
            csp = response.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["x-frame-options"] == "DENY"


async def test_healthz_answers_without_touching_the_fleet(cp: ControlPlane) -> None:
    async with anonymous(cp) as http:
        response = await http.get("/healthz")
    assert response.status_code == 200
    assert response.json()["ok"] is True


async def test_the_page_has_no_inline_script_no_handlers_and_only_local_assets(
    cp: ControlPlane, user: User
) -> None:
    async with logged_in(cp.http_url, user) as http:
        pages = [(await http.get(path)).text for path in ("/", "/login")]
    for html in pages:
        assert re.findall(r"<script(?![^>]*\bsrc=\"/static/)", html) == []
        assert re.search(r"\son[a-z]+\s*=", html) is None
        assert re.findall(r"(?:src|href)=\"(?!/static/|#)", html) == []
    for path in STATIC.iterdir():
        text = path.read_text()
        assert "innerHTML" not in text and "insertAdjacentHTML" not in text and "eval(" not in text, path
        assert re.search(r"https?://(?!www\.w3\.org/2000/svg)", text) is None, path


async def test_a_refused_operation_answers_with_the_control_planes_sentence(
    cp: ControlPlane, connect: Connect, user: User
) -> None:
    agent = await connect("gpc0")
    await agent.close()
    async with logged_in(cp.http_url, user) as http:
        response = await http.post("/api/operations", json={"hosts": ["gpc0"], "operation": "switch"})
    assert response.status_code == 409
    error = response.json()["error"]
    assert "gpc0" in error and "FAILED_PRECONDITION" not in error


async def test_an_unknown_test_run_is_a_404_with_a_sentence(cp: ControlPlane, user: User) -> None:
    async with logged_in(cp.http_url, user) as http:
        response = await http.get("/api/test-runs/nope")
    assert response.status_code == 404
    assert response.json()["error"] and "NOT_FOUND" not in response.json()["error"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"hosts": ["gpc0"], "operation": "reboot"}, "unknown operation"),
        ({"hosts": [], "operation": "test"}, "choose at least one host"),
    ],
)
async def test_a_malformed_operation_is_a_400(
    cp: ControlPlane, body: dict[str, object], message: str, user: User
) -> None:
    async with logged_in(cp.http_url, user) as http:
        response = await http.post("/api/operations", json=body)
    assert response.status_code == 400
    assert message in response.json()["error"]


async def test_state_changes_must_be_same_origin_json(cp: ControlPlane, user: User) -> None:
    body = json.dumps({"hosts": ["gpc0"], "operation": "test"})
    async with logged_in(cp.http_url, user) as http:
        cross = await http.post(
            "/api/operations",
            content=body,
            headers={"content-type": "application/json", "origin": "http://evil.example"},
        )
        form = await http.post("/api/operations", content=body, headers={"content-type": "text/plain"})
    assert cross.status_code == 403
    assert form.status_code == 415


async def test_host_settings_change_only_the_fields_sent(
    cp: ControlPlane, connect: Connect, user: User
) -> None:
    await connect("gpc0")
    async with logged_in(cp.http_url, user) as http:
        off = (await http.patch("/api/hosts/gpc0/settings", json={"enabled": False})).json()
        assert off["test_settings"]["enabled"] is False
        assert off["compartments"][4]["status"] == "COMPARTMENT_STATUS_DISABLED"
        later = await http.patch(
            "/api/hosts/gpc0/settings", json={"timeout_seconds": 90, "auto_run_after_switch": False}
        )
        host = later.json()
        assert host["test_settings"] == {"enabled": False, "auto_run_after_switch": False, "timeout": "90s"}
        cleared = (await http.patch("/api/hosts/gpc0/settings", json={"enabled": None})).json()
        assert cleared["test_settings"]["enabled"] is True
        bad = await http.patch("/api/hosts/gpc0/settings", json={"timeout_seconds": -1})
        assert bad.status_code == 400


async def test_global_test_timeout_is_saved(cp: ControlPlane, user: User) -> None:
    async with logged_in(cp.http_url, user) as http:
        saved = await http.patch("/api/settings", json={"test_timeout_seconds": 120})
        assert saved.status_code == 200
        assert saved.json()["settings"]["test_timeout"] == "120s"
        assert (await http.get("/api/settings")).json()["settings"]["test_timeout"] == "120s"


async def test_command_output_streams_lines_with_stderr_marked_then_ends(
    cp: ControlPlane, fleet: fleet_grpc.FleetServiceAsyncStub, connect: Connect, user: User
) -> None:
    agent = await connect("gpc0")
    await set_desired(fleet)
    async with logged_in(cp.http_url, user) as http:
        started = (await http.post("/api/operations", json={"hosts": ["gpc0"], "operation": "test"})).json()
        command_id = started["results"][0]["command_id"]
        run = await agent.next_command()
        assert run.command_id == command_id
        async with http.stream("GET", f"/api/commands/{command_id}/output") as response:
            reader = SSEReader(response.aiter_lines())
            agent.output(command_id, "checking network")
            agent.output(command_id, "ssh: refused", stream=pb.OUTPUT_STREAM_STDERR)
            lines: list[dict[str, str]] = []
            while len(lines) < 2:
                _, next_line, data = await reader.next_of("lines")
                lines += json.loads(data)["lines"]
            assert next_line == "2"
            agent.report_tests(command_id, [("network", True, "")], trigger=pb.TEST_TRIGGER_MANUAL)
            agent.finish(command_id, 0)
            _, _, end = await reader.next_of("end")
    assert [(line["stream"], line["text"]) for line in lines] == [
        ("OUTPUT_STREAM_STDOUT", "checking network"),
        ("OUTPUT_STREAM_STDERR", "ssh: refused"),
    ]
    assert json.loads(end)["state"] == "COMMAND_STATE_SUCCEEDED"
    async with logged_in(cp.http_url, user) as http:
        resumed = await http.get(f"/api/commands/{command_id}/output", headers={"Last-Event-ID": "1"})
        assert "ssh: refused" in resumed.text and "checking network" not in resumed.text
        test_run = (await http.get(f"/api/test-runs/{command_id}")).json()
        assert [c["name"] for c in test_run["cases"]] == ["network"]


async def test_the_web_ui_calls_a_locked_control_plane_with_its_api_token(tmp_path: Path) -> None:
    token = "fleetdeck-webui-test-token-" + "x" * 32
    config = ControlPlaneConfig(
        database=tmp_path / "fleet.db", grpc_address="127.0.0.1:0", require_api_tokens=True, admin_token=token
    )
    async with ControlPlane(config) as cp:
        user = await put_user(cp.grpc_target, token, User("alice", "alice-password-123"))
        async with serve_webui(cp.grpc_target, api_token=token) as url, logged_in(url, user) as http:
            assert (await http.get("/api/hosts")).status_code == 200
            async with http.stream("GET", "/events") as response:
                await SSEReader(response.aiter_lines()).next_of("snapshot")
        async with serve_webui(cp.grpc_target) as url, httpx.AsyncClient(base_url=url) as http:
            refused = await http.post("/login", data={"username": user.name, "password": user.password})
    assert refused.status_code == 401
    assert "token" in refused.text and token not in refused.text


async def test_the_web_ui_verifies_a_control_plane_served_over_tls(tmp_path: Path, self_signed: Path) -> None:
    config = ControlPlaneConfig(
        require_api_tokens=False,
        database=tmp_path / "fleet.db",
        grpc_address="127.0.0.1:0",
        tls_cert=self_signed / "cert.pem",
        tls_key=self_signed / "key.pem",
    )
    async with ControlPlane(config) as cp:
        ca = (self_signed / "cert.pem").read_bytes()
        async with serve_webui(cp.grpc_target, tls_ca=ca) as url:
            user = User("alice", "alice-password-123")
            async with aio_channel(cp.grpc_target, None, tls_ca=ca) as channel:
                stub = fleet_grpc.FleetServiceStub(channel)
                await stub.PutUser(
                    PutUserRequest(username=user.name, password=user.password, role=pb.ROLE_ADMIN)
                )
            async with logged_in(url, user) as http:
                assert (await http.get("/api/hosts")).status_code == 200
        async with serve_webui(cp.grpc_target) as url, httpx.AsyncClient(base_url=url) as http:
            answer = await http.post("/login", data={"username": user.name, "password": user.password})
            assert answer.status_code == 503 and "unreachable" in answer.text


def test_cli_parses_the_control_plane_and_http_addresses() -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--controlplane", "127.0.0.1:50051", "--http", "0.0.0.0:8080"])
    assert args.controlplane == "127.0.0.1:50051"
    assert args.http == ("0.0.0.0", 8080)
    with pytest.raises(SystemExit):
        parser.parse_args(["--controlplane", "x:1", "--http", "nope"])


def run_cli(monkeypatch: pytest.MonkeyPatch, *argv: str) -> uvicorn.Config:
    """`fleetdeck webui ARGV` up to the point where uvicorn would serve; its uvicorn config."""
    configs: list[uvicorn.Config] = []

    class Server:
        def __init__(self, config: uvicorn.Config) -> None:
            configs.append(config)

        def run(self) -> None:
            pass

    monkeypatch.setattr(cli.uvicorn, "Server", Server)
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    assert cli.run(parser.parse_args(["--controlplane", "127.0.0.1:1", *argv])) == 0
    [config] = configs
    return config


def test_the_standalone_web_ui_trusts_no_proxy_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_cli(monkeypatch).proxy_headers is False


def test_a_cookie_key_file_lets_sessions_survive_a_restart_of_the_standalone_web_ui(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def signer(*argv: str) -> CookieSigner:
        app = run_cli(monkeypatch, *argv).app
        assert isinstance(app, Starlette)
        signer: CookieSigner = app.state.signer
        return signer

    key_file = tmp_path / "cookie.key"
    key_file.write_bytes(b"k" * 40 + b"\n")
    cookie = signer("--cookie-key-file", str(key_file)).sign("token")
    assert signer("--cookie-key-file", str(key_file)).unsign(cookie) == "token"
    assert signer().unsign(cookie) is None  # without the flag: a key of this process
    key_file.write_bytes(b"short")
    with pytest.raises(SystemExit, match="at least 32"):
        signer("--cookie-key-file", str(key_file))


async def test_text_that_cannot_be_encoded_is_a_400_with_a_sentence(cp: ControlPlane, user: User) -> None:
    async with logged_in(cp.http_url, user) as http:
        body = '{"hosts": ["\\ud800"], "operation": "test"}'  # JSON for a lone surrogate
        answer = await http.post(
            "/api/operations", content=body, headers={"content-type": "application/json"}
        )
    assert answer.status_code == 400
    assert "Unicode" in answer.json()["error"]
    assert "content-security-policy" in answer.headers


async def test_an_unexpected_error_is_a_json_500_with_the_security_headers(
    cp: ControlPlane, user: User, caplog: pytest.LogCaptureFixture
) -> None:
    @calls()
    async def boom(request: Request) -> Response:
        raise RuntimeError("secret internals")

    async with (
        serve_webui(cp.grpc_target, extra_routes=(Route("/api/boom", boom),)) as url,
        logged_in(url, user) as http,
    ):
        answer = await http.get("/api/boom")
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/json"
    assert "secret internals" not in answer.text and answer.json()["error"]
    assert answer.headers["content-security-policy"] and answer.headers["x-frame-options"] == "DENY"
    assert "secret internals" in caplog.text  # the traceback goes to the log


async def test_a_test_run_downloads_as_junit_xml(cp: ControlPlane, connect: Connect, user: User) -> None:
    import xmlschema
    from junitparser import Failure, JUnitXml

    agent = await connect("gpc0")
    async with logged_in(cp.http_url, user) as http:
        started = await http.post("/api/operations", json={"hosts": ["gpc0"], "operation": "test"})
        assert started.status_code == 200, started.text
        run = await agent.next_command()
        agent.report_tests(
            run.command_id,
            [("network", True, ""), ("gpu", False, "no device")],
            trigger=pb.TEST_TRIGGER_MANUAL,
        )
        agent.finish(run.command_id, 1)
        url = f"/api/test-runs/{run.command_id}/junit.xml"
        async with asyncio.timeout(TIMEOUT):
            while (response := await http.get(url)).status_code == 404:
                await agent.recv("ack")  # the run is stored once the agent's report is acknowledged
        unknown = await http.get("/api/test-runs/nosuch/junit.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert response.headers["content-disposition"] == f'attachment; filename="gpc0-{run.command_id}.xml"'
    xmlschema.XMLSchema(JUNIT_XSD).validate(response.content)
    (suite,) = JUnitXml.fromstring(response.content)
    assert suite.name == "gpc0 system-1-link"
    cases = {case.name: case for case in suite}
    assert set(cases) == {"network", "gpu"}
    assert isinstance(cases["gpu"].result[0], Failure) and not cases["network"].result
    assert unknown.status_code == 404 and "nosuch" in unknown.json()["error"]


async def test_an_unknown_api_route_answers_json(cp: ControlPlane, user: User) -> None:
    async with logged_in(cp.http_url, user) as http:
        response = await http.get("/api/nosuch")
        page = await http.get("/nosuch")
    assert response.status_code == 404
    assert response.json() == {"error": "there is no API route GET /api/nosuch"}
    assert page.status_code == 404 and page.text == "Not Found"


async def test_the_web_ui_runs_operations_as_its_logged_in_user(
    cp: ControlPlane, connect: Connect, user: User, fleet: fleet_grpc.FleetServiceAsyncStub
) -> None:
    from fleetdeck.v1 import audit_pb2, fleet_service_pb2

    agent = await connect("gpc0")
    async with logged_in(cp.http_url, user) as http:
        started = await http.post("/api/operations", json={"hosts": ["gpc0"], "operation": "pull"})
        assert started.status_code == 200, started.text
        command_id = started.json()["results"][0]["command_id"]
        listed = await http.get("/api/hosts/gpc0/commands")
    await agent.next_command()
    assert listed.json()["commands"][0]["requested_by"] == "user alice"
    audit = await fleet.ListAuditEvents(audit_pb2.ListAuditEventsRequest(host="gpc0"), timeout=TIMEOUT)
    (event,) = [e for e in audit.events if e.action == "RunOperation"]
    assert event.actor == "user alice" and f"gpc0 -> command {command_id}" in event.detail
    got = await fleet.GetCommand(fleet_service_pb2.GetCommandRequest(command_id=command_id), timeout=TIMEOUT)
    assert got.command.requested_by == "user alice"
    logins = await fleet.ListAuditEvents(
        audit_pb2.ListAuditEventsRequest(actor="user alice"), timeout=TIMEOUT
    )
    assert "Login" in [e.action for e in logins.events]
