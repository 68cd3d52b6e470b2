"""Web login against a real control plane: sessions on every route, CSRF, the limit, roles, logs."""

from __future__ import annotations

import json
import logging
import re
import ssl
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect
from scripted_agent import TIMEOUT
from starlette.routing import Route
from webui_support import (
    Connect,
    Proxy,
    SSEReader,
    User,
    free_port,
    logged_in,
    login,
    put_user,
    serve_webui,
)

from controlplane.app import ControlPlane, ControlPlaneConfig
from fleetdeck.client import aio_channel
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc
from fleetdeck.v1 import types_pb2 as pb
from webui.app import create_app
from webui.cookie import COOKIE_NAME

OPEN = {"/login", "/healthz"}


def anonymous(base_url: str, cookie: str | None = None) -> httpx.AsyncClient:
    """A client of the web UI without a session, or with exactly the cookie value given."""
    headers = {"cookie": f"{COOKIE_NAME}={cookie}"} if cookie is not None else {}
    return httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT, headers=headers)


def every_route() -> list[tuple[str, str]]:
    """(method, path) of every route the web UI serves, path parameters filled in."""
    found = []
    for route in create_app("127.0.0.1:1").routes:
        if isinstance(route, Route):
            path = re.sub(r"\{[^}]+\}", "gpc0", route.path)
            found += [(method, path) for method in sorted(route.methods or ()) if method != "HEAD"]
    return found


def session_cookie(http: httpx.AsyncClient) -> str:
    """The session cookie a logged-in client holds."""
    value = http.cookies.get(COOKIE_NAME)
    assert value
    return value


async def test_every_route_but_login_healthz_and_static_needs_a_session(cp: ControlPlane) -> None:
    routes = every_route()
    assert ("GET", "/") in routes and ("GET", "/events") in routes and ("POST", "/api/operations") in routes
    async with anonymous(cp.http_url) as http:
        for method, path in routes:
            response = await http.request(method, path, json={}, headers={"accept": "text/html"})
            if path in OPEN:
                assert response.status_code in (200, 401, 415), (method, path)  # a bad login, no session
                continue
            if method == "GET" and not path.startswith("/api/") and path != "/events":
                assert response.status_code == 303, (method, path)
                assert response.headers["location"] == "/login"
            else:
                assert response.status_code == 401, (method, path)
                assert "log in" in response.json()["error"].lower(), (method, path)
        assert (await http.get("/static/app.js")).status_code == 200
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/login")).status_code == 200


async def test_events_without_a_session_is_a_401(cp: ControlPlane) -> None:
    async with anonymous(cp.http_url) as http:
        response = await http.get("/events")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")


async def test_a_login_sets_a_signed_httponly_lax_cookie_and_goes_to_the_dashboard(
    cp: ControlPlane, user: User
) -> None:
    async with anonymous(cp.http_url) as http:
        response = await http.post("/login", data={"username": user.name, "password": user.password})
        assert response.status_code == 303 and response.headers["location"] == "/"
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE_NAME}=")
        attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "samesite=lax", "path=/"} <= attributes
        assert "secure" not in attributes  # plain http here; over TLS the cookie is Secure
        page = await http.get("/")
    assert page.status_code == 200
    assert '<meta name="csrf-token" content="' in page.text and user.name in page.text


async def test_over_tls_the_session_cookie_is_secure(tmp_path: Path, self_signed: Path) -> None:
    config = ControlPlaneConfig(
        require_api_tokens=False,
        database=tmp_path / "fleet.db",
        grpc_address="127.0.0.1:0",
        http_address="127.0.0.1:0",
        tls_cert=self_signed / "cert.pem",
        tls_key=self_signed / "key.pem",
    )
    async with ControlPlane(config) as cp:
        ca = (self_signed / "cert.pem").read_bytes()
        user = await put_user(cp.grpc_target, None, User("alice", "alice-password-123"), tls_ca=ca)
        verify = ssl.create_default_context(cafile=str(self_signed / "cert.pem"))
        url = cp.http_url.replace("http://", "https://")
        async with httpx.AsyncClient(base_url=url, verify=verify, timeout=TIMEOUT) as http:
            response = await http.post("/login", data={"username": user.name, "password": user.password})
            assert response.status_code == 303
            attributes = {part.strip().lower() for part in response.headers["set-cookie"].split(";")[1:]}
            assert {"secure", "httponly", "samesite=lax", "path=/"} <= attributes
            assert (await http.get("/api/hosts")).status_code == 200


async def test_a_wrong_password_shows_the_sentence_and_the_sixth_failure_is_a_429(
    cp: ControlPlane, user: User
) -> None:
    async with anonymous(cp.http_url) as http:
        unknown = await http.post("/login", data={"username": "nobody", "password": "whatever-it-is"})
        assert unknown.status_code == 401
        for _ in range(5):
            wrong = await http.post("/login", data={"username": user.name, "password": "not-the-password"})
            assert wrong.status_code == 401
            assert "wrong user name or password" in wrong.text
            assert COOKIE_NAME not in wrong.headers.get("set-cookie", "")
        limited = await http.post("/login", data={"username": user.name, "password": user.password})
        empty = await http.post("/login", data={"username": user.name, "password": ""})
    assert empty.status_code == 400 and "Enter your user name and password" in empty.text
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert "too many failed logins" in limited.text


async def test_a_login_form_from_a_foreign_origin_is_refused(cp: ControlPlane, user: User) -> None:
    async with anonymous(cp.http_url) as http:
        form = {"username": user.name, "password": user.password}
        for origin in ("http://evil.example", "null"):
            response = await http.post("/login", data=form, headers={"origin": origin})
            assert response.status_code == 403
        cross_site = await http.post("/login", data=form, headers={"sec-fetch-site": "cross-site"})
        assert cross_site.status_code == 403


async def test_state_changes_need_the_sessions_csrf_token_and_the_same_origin(
    cp: ControlPlane, connect: Connect, user: User
) -> None:
    await connect("gpc0")
    body = {"hosts": ["gpc0"], "operation": "pull"}
    async with logged_in(cp.http_url, user) as http:
        token = http.headers.pop("x-csrf-token")
        missing = await http.post("/api/operations", json=body)
        wrong = await http.post("/api/operations", json=body, headers={"x-csrf-token": token[:-2] + "xx"})
        settings = await http.patch("/api/settings", json={"test_timeout_seconds": 60})
        logout = await http.post("/logout", json={})
        foreign = await http.post(
            "/api/operations", json=body, headers={"x-csrf-token": token, "origin": "http://evil.example"}
        )
        allowed = await http.post("/api/operations", json=body, headers={"x-csrf-token": token})
    for refused in (missing, wrong, settings, logout):
        assert refused.status_code == 403
        assert "CSRF" in refused.json()["error"]
    assert foreign.status_code == 403
    assert allowed.status_code == 200


async def test_a_login_rotates_the_session(cp: ControlPlane, user: User) -> None:
    async with logged_in(cp.http_url, user) as http:
        first = session_cookie(http)
        again = await http.post("/login", data={"username": user.name, "password": user.password})
        assert again.status_code == 303
        second = session_cookie(http)
        assert (await http.get("/api/hosts")).status_code == 200
    assert second != first
    async with anonymous(cp.http_url, first) as old:
        assert (await old.get("/api/hosts")).status_code == 401


async def test_logout_ends_the_session_its_cookie_and_its_open_streams(cp: ControlPlane, user: User) -> None:
    async with logged_in(cp.http_url, user) as http:
        cookie = session_cookie(http)
        async with http.stream("GET", "/events") as events:
            reader = SSEReader(events.aiter_lines())
            await reader.next_of("snapshot")
            response = await http.post("/logout", json={})
            assert response.status_code == 200
            assert f'{COOKIE_NAME}=""' in response.headers["set-cookie"]
            with pytest.raises(EOFError):
                await reader.next_event()
    async with anonymous(cp.http_url, cookie) as old:
        assert (await old.get("/api/hosts")).status_code == 401
        assert (await old.get("/events")).status_code == 401
        page = await old.get("/")
        assert page.status_code == 303 and page.headers["location"] == "/login"


async def test_logout_while_the_control_plane_is_down_still_clears_the_cookie_and_ends_the_streams(
    cp: ControlPlane, user: User
) -> None:
    proxy = Proxy(int(cp.grpc_target.rpartition(":")[2]))
    await proxy.start()
    try:
        async with (
            serve_webui(f"127.0.0.1:{proxy.port}") as url,
            logged_in(url, user) as http,
            http.stream("GET", "/events") as events,
        ):
            reader = SSEReader(events.aiter_lines())
            await reader.next_of("snapshot")
            await proxy.stop()  # the control plane is unreachable (not stopping: no drain)
            _, _, status = await reader.next_of("status")
            assert json.loads(status)["connected"] is False
            response = await http.post("/logout", json={})
            assert response.status_code == 200
            assert f'{COOKIE_NAME}=""' in response.headers["set-cookie"]
            with pytest.raises(EOFError):
                await reader.next_event()
    finally:
        await proxy.stop()


async def test_a_tampered_cookie_is_refused_before_any_call_to_the_control_plane(
    cp: ControlPlane, user: User
) -> None:
    async with logged_in(cp.http_url, user) as http:
        cookie = session_cookie(http)
    token, _, mac = cookie.rpartition(".")
    flipped = ("A" if token[0] != "A" else "B") + token[1:]
    tampered = [f"{flipped}.{mac}", token, f"{token}.", f"{token}.{mac[:-1]}", "garbage"]
    async with anonymous(cp.http_url, f"{token}.{mac}") as genuine:
        assert (await genuine.get("/api/hosts")).status_code == 200
    # A web UI whose control plane is down would answer 503 had it asked: 401 shows it did not.
    async with serve_webui(f"127.0.0.1:{free_port()}") as url:
        for value in tampered:
            async with anonymous(url, value) as http:
                response = await http.get("/api/hosts")
                assert response.status_code == 401, value
    for value in tampered:
        async with anonymous(cp.http_url, value) as http:
            assert (await http.get("/api/hosts")).status_code == 401, value


async def test_a_viewer_watches_but_may_not_run_operations_or_change_settings(
    cp: ControlPlane, connect: Connect
) -> None:
    await connect("gpc0")
    viewer = await put_user(
        cp.grpc_target, cp.bootstrap_admin_token, User("victor", "victor-password-1", pb.ROLE_VIEWER)
    )
    async with logged_in(cp.http_url, viewer) as http:
        assert (await http.get("/api/hosts")).status_code == 200
        assert (await http.get("/api/settings")).status_code == 200
        async with http.stream("GET", "/events") as events:
            _, _, data = await SSEReader(events.aiter_lines()).next_of("snapshot")
            assert [h["name"] for h in json.loads(data)["hosts"]] == ["gpc0"]
        run = await http.post("/api/operations", json={"hosts": ["gpc0"], "operation": "switch"})
        cancel = await http.post("/api/commands/nope/cancel", json={})
        settings = await http.patch("/api/settings", json={"test_timeout_seconds": 60})
        assert (await http.get("/api/session")).json() == {"username": "victor", "role": "viewer"}
    assert run.status_code == 403
    assert run.json()["error"] == (
        "victor is logged in as viewer and may not run operations; that needs the operator role."
    )
    assert cancel.status_code == 403 and settings.status_code == 403


async def test_an_operator_runs_operations_but_may_not_change_settings(
    cp: ControlPlane, connect: Connect
) -> None:
    await connect("gpc0")
    operator = await put_user(
        cp.grpc_target, cp.bootstrap_admin_token, User("olga", "olga-password-12", pb.ROLE_OPERATOR)
    )
    async with logged_in(cp.http_url, operator) as http:
        run = await http.post("/api/operations", json={"hosts": ["gpc0"], "operation": "pull"})
        settings = await http.patch("/api/hosts/gpc0/settings", json={"enabled": False})
    assert run.status_code == 200
    assert settings.status_code == 403 and "admin role" in settings.json()["error"]


async def test_a_viewers_page_shows_who_is_logged_in_and_hides_what_the_role_may_not_do(
    cp: ControlPlane, connect: Connect, page: Page
) -> None:
    await connect("gpc0")
    viewer = await put_user(
        cp.grpc_target, cp.bootstrap_admin_token, User("victor", "victor-password-1", pb.ROLE_VIEWER)
    )
    await login(page, cp.http_url, viewer)
    await expect(page.locator("#user")).to_contain_text("victor")
    await expect(page.locator("#user")).to_contain_text("viewer")
    row = page.locator('tr[data-host="gpc0"]')
    await expect(row.locator('[data-compartment="tests"]')).to_be_visible()
    await expect(row.locator('[data-action="history"]')).to_be_visible()
    for action in ("pull", "switch", "test", "rollback", "settings"):
        await expect(row.locator(f'.actions [data-action="{action}"]')).to_be_hidden()
    await expect(row.locator(".prompt")).to_be_hidden()
    await expect(page.locator("#open-settings")).to_be_hidden()

    await page.get_by_role("button", name="Log out").click()
    await expect(page).to_have_url(f"{cp.http_url}/login")
    await page.goto(cp.http_url)
    await expect(page).to_have_url(f"{cp.http_url}/login")


async def test_no_password_token_cookie_or_csrf_token_reaches_the_logs(
    cp: ControlPlane, connect: Connect, user: User, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await connect("gpc0")
    secrets: list[str] = [user.password, "not-the-password"]
    async with anonymous(cp.http_url) as http:
        await http.post("/login", data={"username": user.name, "password": "not-the-password"})
    async with logged_in(cp.http_url, user) as http:
        cookie = session_cookie(http)
        csrf = str(http.headers["x-csrf-token"])
        secrets += [cookie, cookie.rpartition(".")[0]]
        await http.post("/api/operations", json={"hosts": ["gpc0"], "operation": "pull"})
        await http.post(
            "/api/operations", json={"hosts": ["gpc0"], "operation": "pull"}, headers={"x-csrf-token": "x"}
        )
        async with http.stream("GET", "/events") as events:
            await SSEReader(events.aiter_lines()).next_of("snapshot")
        await http.post("/logout", json={})
    async with anonymous(cp.http_url, cookie) as http:
        await http.get("/api/hosts")
    if cp.bootstrap_admin_token:
        secrets.append(cp.bootstrap_admin_token)
    # httpx and httpcore are the test's stand-in for a browser; their records show its own headers.
    ours = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in ours)
    assert "logged in" in logged  # the control plane's records were captured
    for secret in secrets:
        assert secret not in logged
    # The CSRF token is derived from the session's secret, never stored, so no SQL log shows it either.
    assert csrf not in logged


async def test_a_web_ui_whose_api_token_is_not_admin_says_so_instead_of_logging_in(tmp_path: Path) -> None:
    admin = "fleetdeck-webui-test-token-" + "x" * 32
    config = ControlPlaneConfig(
        database=tmp_path / "fleet.db", grpc_address="127.0.0.1:0", require_api_tokens=True, admin_token=admin
    )
    async with ControlPlane(config) as cp:
        user = await put_user(cp.grpc_target, admin, User("alice", "alice-password-123"))
        async with aio_channel(cp.grpc_target, admin) as channel:
            stub = fleet_grpc.FleetServiceStub(channel)
            created = await stub.CreateApiToken(
                fleet_pb.CreateApiTokenRequest(name="webui", role=pb.ROLE_VIEWER), timeout=TIMEOUT
            )
        async with serve_webui(cp.grpc_target, api_token=created.token) as url, anonymous(url) as http:
            answer = await http.post("/login", data={"username": user.name, "password": user.password})
    assert answer.status_code == 403
    assert "admin role" in answer.text and created.token not in answer.text
