"""The login's pure parts, table-driven: cookie signatures, roles per route, open paths, expiry."""

from __future__ import annotations

import time

import pytest
from google.protobuf import timestamp_pb2

from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import types_pb2 as pb
from webui.app import create_app
from webui.browser_streams import BrowserStreams
from webui.cookie import CookieSigner
from webui.gate import is_open
from webui.roles import NEEDED_ROLE, refusal, role_for
from webui.sse import seconds_left


def test_a_signed_token_comes_back_and_any_change_is_refused() -> None:
    signer = CookieSigner(b"k" * 32)
    value = signer.sign("tok-en_123")
    assert signer.unsign(value) == "tok-en_123"
    token, _, mac = value.rpartition(".")
    for tampered in (f"x{value}", f"{token}.{mac[:-1]}", token, f"{token}.", f".{mac}", "", None):
        assert signer.unsign(tampered) is None, tampered
    assert CookieSigner(b"j" * 32).unsign(value) is None  # another process's key
    assert CookieSigner().unsign(value) is None


@pytest.mark.parametrize(
    ("methods", "role"),
    [
        ((), pb.ROLE_VIEWER),
        (("ListHosts",), pb.ROLE_VIEWER),
        (("GetSettings", "GetDesiredState"), pb.ROLE_VIEWER),
        (("WatchFleet",), pb.ROLE_VIEWER),
        (("RunOperation",), pb.ROLE_OPERATOR),
        (("CancelCommand",), pb.ROLE_OPERATOR),
        (("UpdateHostSettings",), pb.ROLE_ADMIN),
        (("ListHosts", "UpdateSettings"), pb.ROLE_ADMIN),
    ],
)
def test_a_route_needs_the_highest_role_of_its_calls(methods: tuple[str, ...], role: int) -> None:
    assert role_for(methods) == role


def test_an_unknown_method_cannot_guard_a_route() -> None:
    with pytest.raises(ValueError):
        role_for(("DropDatabase",))


def test_every_route_behind_the_gate_declares_its_role() -> None:
    app = create_app("127.0.0.1:1")
    needed = {
        (route.path, method): getattr(route.endpoint, NEEDED_ROLE)
        for route in app.routes
        if hasattr(route, "endpoint") and hasattr(route.endpoint, NEEDED_ROLE)
        for method in getattr(route, "methods", None) or ()
    }
    assert needed[("/api/operations", "POST")] == pb.ROLE_OPERATOR
    assert needed[("/api/commands/{command_id}/cancel", "POST")] == pb.ROLE_OPERATOR
    assert needed[("/api/settings", "PATCH")] == pb.ROLE_ADMIN
    assert needed[("/api/hosts/{name}/settings", "PATCH")] == pb.ROLE_ADMIN
    assert needed[("/events", "GET")] == pb.ROLE_VIEWER
    assert needed[("/", "GET")] == pb.ROLE_VIEWER


def test_the_refusal_names_the_user_the_role_and_what_is_needed() -> None:
    session = fleet_pb.WebSession(username="victor", role=pb.ROLE_VIEWER)
    assert refusal(session, pb.ROLE_OPERATOR, ("RunOperation",)) == (
        "victor is logged in as viewer and may not run operations; that needs the operator role."
    )


@pytest.mark.parametrize(
    ("path", "open_"),
    [
        ("/login", True),
        ("/healthz", True),
        ("/static/app.js", True),
        ("/", False),
        ("/events", False),
        ("/logout", False),
        ("/api/hosts", False),
        ("/login/../api/hosts", False),
        ("/static", False),
        ("/healthz/x", False),
    ],
)
def test_only_the_login_page_healthz_and_static_are_open(path: str, open_: bool) -> None:
    assert is_open(path) is open_


def _expiring(seconds: float) -> fleet_pb.WebSession:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromSeconds(int(time.time() + seconds))
    return fleet_pb.WebSession(username="a", expires_at=stamp)


def test_seconds_left_of_a_session() -> None:
    assert seconds_left(_expiring(-60)) == 0
    assert 3500 < seconds_left(_expiring(3600)) <= 3600
    assert seconds_left(fleet_pb.WebSession(username="a")) == 86_400


def test_ending_a_session_ends_only_its_streams() -> None:
    streams = BrowserStreams()
    ended: list[str] = []
    with (
        streams.of_session("one", lambda: ended.append("one")),
        streams.of_session("two", lambda: ended.append("two")),
    ):
        streams.end_session("one")
        streams.end_session("three")
    assert ended == ["one"]
    streams.end_session("two")  # closed streams are forgotten
    assert ended == ["one"]
