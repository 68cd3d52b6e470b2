"""Logging in and out: the login page, the form it posts, and ending a session."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import parse_qs

import grpc
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from fleetdeck.roles import role_name
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from webui.client import DEADLINE_SECONDS
from webui.cookie import CookieSigner, clear_session_cookie, set_session_cookie
from webui.roles import calls
from webui.statuses import http_status_for

log = logging.getLogger(__name__)

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

MAX_FORM_BYTES = 4096
FILL_IN = "Enter your user name and password."
UNREACHABLE = "The control plane is unreachable right now; try again in a moment."


def login_page(request: Request, *, message: str = "", username: str = "", status: int = 200) -> Response:
    """The login form, with a sentence above it when something went wrong."""
    response = templates.TemplateResponse(
        request, "login.html", {"message": message, "username": username}, status_code=status
    )
    response.headers["cache-control"] = "no-store"
    return response


async def show(request: Request) -> Response:
    """`GET /login`."""
    return login_page(request)


async def _form(request: Request) -> dict[str, str]:
    """The fields of a small urlencoded form (the first value of each)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    fields = parse_qs(body.decode(errors="replace"), max_num_fields=8)
    return {name: values[0] for name, values in fields.items()}


def _retry_after(exc: grpc.aio.AioRpcError) -> str:
    for key, value in exc.trailing_metadata() or ():
        if key == "retry-after":
            return value.decode() if isinstance(value, bytes) else str(value)
    return "300"


def _refused(request: Request, exc: grpc.aio.AioRpcError, username: str) -> Response:
    code = exc.code()
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return login_page(request, message=UNREACHABLE, username=username, status=503)
    message = exc.details() or "the control plane refused the login"
    status = 401 if code == grpc.StatusCode.UNAUTHENTICATED else http_status_for(code)
    response = login_page(request, message=message, username=username, status=status)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        response.status_code = 429
        response.headers["retry-after"] = _retry_after(exc)
    return response


async def login(request: Request) -> Response:
    """`POST /login`: check the password with the control plane; a new session replaces any old one."""
    form = await _form(request)
    username, password = form.get("username", "").strip(), form.get("password", "")
    if not username or not password:
        return login_page(request, message=FILL_IN, username=username, status=400)
    signer: CookieSigner = request.app.state.signer
    previous = signer.token(request) or ""
    message = fleet_pb.LoginRequest(
        username=username,
        password=password,
        client=request.client.host if request.client else "",
        previous_session_token=previous,
    )
    try:
        answer = await request.app.state.fleet.stub.Login(message, timeout=DEADLINE_SECONDS)
    except grpc.aio.AioRpcError as exc:
        return _refused(request, exc, username)
    if previous:  # the control plane ended it: so does this web UI, at once
        request.app.state.sessions.forget(previous)
        request.app.state.streams.end_session(previous)
    response = RedirectResponse("/", status_code=303)
    set_session_cookie(response, request, signer, answer.session_token)
    return response


def logged_out_here(request: Request, token: str) -> Response:
    """Forget the session in this browser and this web UI: end its streams, clear the cookie."""
    request.app.state.sessions.forget(token)
    request.app.state.streams.end_session(token)
    response = JSONResponse({"ok": True})
    clear_session_cookie(response, request)
    return response


@calls()
async def logout(request: Request) -> Response:
    """`POST /logout`: end the session at the control plane, close its streams, drop the cookie.

    The streams and the cookie go whatever the control plane answers: a user who logs out while it
    is down is logged out of this browser all the same."""
    token: str = request.state.session_token
    try:
        await request.app.state.fleet.stub.Logout(
            fleet_pb.LogoutRequest(session_token=token), timeout=DEADLINE_SECONDS
        )
    except grpc.aio.AioRpcError as exc:
        log.warning("Logout at the control plane failed (%s); logging out here anyway", exc.code().name)
    return logged_out_here(request, token)


@calls()
async def whoami(request: Request) -> Response:
    """`GET /api/session`: who is logged in and with which role."""
    session: fleet_pb.WebSession = request.state.web_session
    return JSONResponse({"username": session.username, "role": role_name(session.role)})


routes = [
    Route("/login", show, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/api/session", whoami),
]
