"""The web UI's Starlette app: the page, its static assets, the SSE streams and the JSON API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from fleetdeck.roles import role_name
from fleetdeck.tasks import cancel_and_wait
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from webui import api, login, rollouts_api, sse, webhooks_api
from webui.browser_streams import BrowserStreams
from webui.client import FleetClient
from webui.convert import BadRequest
from webui.cookie import CookieSigner
from webui.fanout import Fanout
from webui.gate import SESSION_CACHE_SECONDS, SessionCache, SessionGate, is_open
from webui.login import templates
from webui.roles import NEEDED_ROLE, calls
from webui.security import CatchAllMiddleware, SecurityMiddleware
from webui.statuses import http_status_for

log = logging.getLogger(__name__)

HEALTH_TIMEOUT_SECONDS = 2.0

_HERE = Path(__file__).parent


@calls()
async def index(request: Request) -> Response:
    """The dashboard; everything on it is drawn by static/app.js from the event stream."""
    session: fleet_pb.WebSession = request.state.web_session
    context = {"session": session, "role": role_name(session.role)}
    response = templates.TemplateResponse(request, "index.html", context)
    response.headers["cache-control"] = "no-store"
    return response


async def healthz(request: Request) -> Response:
    """Liveness of the web UI, and whether the control plane says it is serving (503 while its
    storage is in trouble or it cannot be reached)."""
    if request.app.state.streams.draining:
        return JSONResponse({"ok": True, "controlplane": "stopping"})
    overall = health_pb2_grpc.HealthStub(request.app.state.fleet.channel)
    try:
        answer = await overall.Check(health_pb2.HealthCheckRequest(), timeout=HEALTH_TIMEOUT_SECONDS)
    except grpc.aio.AioRpcError:
        return JSONResponse({"ok": False, "controlplane": "unreachable"}, status_code=503)
    if answer.status != health_pb2.HealthCheckResponse.SERVING:
        return JSONResponse({"ok": False, "controlplane": "degraded"}, status_code=503)
    return JSONResponse({"ok": True, "controlplane": "serving"})


async def rpc_error(request: Request, exc: Exception) -> Response:
    """A refused FleetService call: the control plane's sentence for the user, an HTTP status."""
    assert isinstance(exc, grpc.aio.AioRpcError)
    code = exc.code()
    details = exc.details() or "the control plane refused the request"
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        details = "The control plane is unreachable right now; try again in a moment."
        log.warning("FleetService call to %s failed: %s", request.url.path, code.name)
    return JSONResponse({"error": details}, status_code=http_status_for(code))


async def not_found(request: Request, exc: Exception) -> Response:
    """No route here: a sentence in JSON under /api/ (what scripts and the page read), text elsewhere."""
    if request.url.path.startswith("/api/"):
        return JSONResponse(
            {"error": f"there is no API route {request.method} {request.url.path}"}, status_code=404
        )
    return PlainTextResponse("Not Found", status_code=404)


async def bad_request(request: Request, exc: Exception) -> Response:
    """A request the API could not use."""
    return JSONResponse({"error": str(exc)}, status_code=400)


NOT_UNICODE = (
    "The request holds text that cannot be sent on (it is not valid Unicode, e.g. a lone surrogate)."
)


async def not_encodable(request: Request, exc: Exception) -> Response:
    """A string in the request that protobuf cannot encode as UTF-8 (a lone surrogate, say)."""
    return JSONResponse({"error": NOT_UNICODE}, status_code=400)


def _check_guarded(routes: list[BaseRoute]) -> None:
    """Deny by default: every route behind the gate must say which FleetService calls it makes."""
    for route in routes:
        if isinstance(route, Route) and not is_open(route.path) and not hasattr(route.endpoint, NEEDED_ROLE):
            raise RuntimeError(f"route {route.path} does not declare the calls it makes (@calls)")


def create_app(
    controlplane_target: str,
    *,
    api_token: str | None = None,
    tls_ca: bytes | None = None,
    tls_server_name: str = "",
    keepalive_seconds: float = 10.0,
    queue_limit: int = 256,
    cookie_key: bytes | None = None,
    session_check_seconds: float = 30.0,
    session_cache_seconds: float = SESSION_CACHE_SECONDS,
) -> Starlette:
    """The web UI as a FleetService client of `controlplane_target` (host:port); it holds no state.

    `api_token` is sent as `authorization: Bearer` on every FleetService call when given; with
    `tls_ca` (PEM) the channel uses TLS and verifies the control plane's certificate against it
    (for `tls_server_name`, when given, instead of the target's host).
    Session cookies are signed with `cookie_key`, by default a random key of this process (so a
    restarted web UI asks everyone to log in again). Open streams ask the control plane about their
    session every `session_check_seconds` and end once it is revoked. Sessions the control plane
    confirmed are trusted for `session_cache_seconds` (a logout here forgets them at once).
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        fleet = FleetClient(controlplane_target, api_token, tls_ca, tls_server_name)
        streams = BrowserStreams()
        fanout = Fanout(fleet.stub)
        app.state.fleet, app.state.streams, app.state.fanout = fleet, streams, fanout
        health = asyncio.create_task(streams.follow_health(fleet.channel), name="webui-health")
        try:
            yield
        finally:
            await cancel_and_wait(health)
            await fanout.stop()
            await fleet.close()

    routes: list[BaseRoute] = [
        Route("/", index),
        Route("/healthz", healthz),
        *login.routes,
        Route("/events", sse.events),
        Route("/api/commands/{command_id}/output", sse.command_output),
        *api.routes,
        *rollouts_api.routes,
        *webhooks_api.routes,
        Mount("/static", StaticFiles(directory=_HERE / "static"), name="static"),
    ]
    _check_guarded(routes)
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityMiddleware), Middleware(CatchAllMiddleware), Middleware(SessionGate)],
        exception_handlers={
            404: not_found,
            grpc.aio.AioRpcError: rpc_error,
            BadRequest: bad_request,
            UnicodeEncodeError: not_encodable,
        },
        lifespan=lifespan,
    )
    app.state.signer = CookieSigner(cookie_key)
    app.state.keepalive_seconds = keepalive_seconds
    app.state.queue_limit = queue_limit
    app.state.session_check_seconds = session_check_seconds
    app.state.sessions = SessionCache(session_cache_seconds)
    return app
