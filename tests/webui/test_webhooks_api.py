"""The Webhooks panel's JSON routes against a real control plane: admins manage subscriptions, other
roles are refused with a sentence, bad input comes back as the control plane's sentence with 400."""

from __future__ import annotations

import pytest
from webhook_receiver import webhook_receiver
from webui_support import User, logged_in, put_user

from controlplane import notifications
from controlplane.app import ControlPlane
from fleetdeck.v1 import types_pb2 as pb


@pytest.mark.parametrize(
    ("role", "name"), [(pb.ROLE_VIEWER, "victor"), (pb.ROLE_OPERATOR, "olga")], ids=["viewer", "operator"]
)
async def test_only_an_admin_may_see_or_change_webhooks(cp: ControlPlane, role: int, name: str) -> None:
    someone = await put_user(
        cp.grpc_target, cp.bootstrap_admin_token, User(name, f"{name}-password-12", role)
    )
    async with logged_in(cp.http_url, someone) as http:
        listed = await http.get("/api/webhooks")
        created = await http.post("/api/webhooks", json={"url": "http://127.0.0.1:9/hook"})
        tested = await http.post("/api/webhooks/wh_1/test", json={})
        removed = await http.request("DELETE", "/api/webhooks/wh_1", json={})
    for response in (listed, created, tested, removed):
        assert response.status_code == 403
        assert "that needs the admin role" in response.json()["error"]
    assert "may not add webhooks" in created.json()["error"]


async def test_an_admin_adds_lists_tests_and_removes_a_webhook(
    cp: ControlPlane, user: User, caplog: pytest.LogCaptureFixture
) -> None:
    async with webhook_receiver() as receiver, logged_in(cp.http_url, user) as http:
        created = await http.post(
            "/api/webhooks",
            json={"url": receiver.url, "events": ["tests_failed", "host_offline"], "format": "slack"},
        )
        assert created.status_code == 200, created.text
        webhook, secret = created.json()["webhook"], created.json()["secret"]
        assert secret.startswith("whsec_")
        assert webhook["events"] == ["NOTIFICATION_EVENT_TESTS_FAILED", "NOTIFICATION_EVENT_HOST_OFFLINE"]
        assert webhook["format"] == "WEBHOOK_FORMAT_SLACK"

        tested = await http.post(f"/api/webhooks/{webhook['id']}/test", json={})
        assert tested.status_code == 200, tested.text
        received = await receiver.next_delivered()
        assert received.headers["x-fleetdeck-event-id"] == tested.json()["event_id"]
        assert notifications.verify(secret, received.headers["x-fleetdeck-signature"], received.body)

        listed = (await http.get("/api/webhooks")).json()
        assert listed["events"] == ["tests_failed", "tests_recovered", "command_failed", "host_offline"]
        assert listed["formats"] == ["json", "slack", "alertmanager"]
        [shown] = listed["webhooks"]
        assert shown["id"] == webhook["id"] and shown["url"] == receiver.url
        assert "secret" not in shown

        removed = await http.request("DELETE", f"/api/webhooks/{webhook['id']}", json={})
        assert removed.json() == {"id": webhook["id"], "removed": True}
        assert (await http.get("/api/webhooks")).json()["webhooks"] == []
        again = await http.request("DELETE", f"/api/webhooks/{webhook['id']}", json={})
    assert again.status_code == 404
    assert again.json()["error"] == f"no webhook with id {webhook['id']}"
    # Shown to the admin once, never logged by Fleetdeck. (aiosqlite's own DEBUG log of every SQL
    # statement with its parameters does carry it, as it carries any stored value.)
    logged = [r.name for r in caplog.records if secret in r.getMessage() and r.name != "aiosqlite"]
    assert logged == []


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"url": "ftp://example.org/hook"}, "webhook url must be an http:// or https:// URL with a host"),
        ({"url": "http:///no-host"}, "webhook url must be an http:// or https:// URL with a host"),
        ({"url": ""}, "url is required"),
        ({"url": "http://127.0.0.1:9/hook", "events": ["tests_exploded"]}, "unknown event 'tests_exploded'"),
        (
            {"url": "http://127.0.0.1:9/hook", "events": "tests_failed"},
            "events must be a list of event names",
        ),
        ({"url": "http://127.0.0.1:9/hook", "format": "xml"}, "unknown format 'xml'; use json, slack"),
    ],
    ids=["scheme", "no-host", "no-url", "unknown-event", "events-not-a-list", "unknown-format"],
)
async def test_a_bad_webhook_is_refused_with_a_sentence_and_nothing_is_stored(
    cp: ControlPlane, user: User, body: dict[str, object], error: str
) -> None:
    async with logged_in(cp.http_url, user) as http:
        response = await http.post("/api/webhooks", json=body)
        listed = (await http.get("/api/webhooks")).json()
    assert response.status_code == 400
    assert response.json()["error"].startswith(error)
    assert listed["webhooks"] == []


async def test_a_test_notification_to_no_such_webhook_is_not_found(cp: ControlPlane, user: User) -> None:
    async with logged_in(cp.http_url, user) as http:
        response = await http.post("/api/webhooks/wh_missing/test", json={})
    assert response.status_code == 404
    assert response.json() == {"error": "no webhook with id wh_missing"}


async def test_changing_webhooks_needs_the_sessions_csrf_token(cp: ControlPlane, user: User) -> None:
    async with logged_in(cp.http_url, user) as http:
        del http.headers["x-csrf-token"]
        response = await http.post("/api/webhooks", json={"url": "http://127.0.0.1:9/hook"})
        listed = (await http.get("/api/webhooks")).json()
    assert response.status_code == 403
    assert listed["webhooks"] == []
