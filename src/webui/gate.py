"""The gate every route but the login page, /healthz and /static passes: a session, and CSRF."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time

import grpc
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from fleetdeck.client import ON_BEHALF_OF
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc
from webui import sse
from webui.client import DEADLINE_SECONDS
from webui.cookie import COOKIE_NAME, CookieSigner, clear_session_cookie
from webui.login import UNREACHABLE, logged_out_here, login_page
from webui.statuses import http_status_for

SESSION_CACHE_SECONDS = 3.0
"""How long the web UI trusts a session the control plane confirmed, for requests and reconnects."""

OPEN_PATHS = frozenset({"/login", "/healthz"})
OPEN_PREFIXES = ("/static/",)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"

NO_SESSION = "Log in first: this needs a session (it is missing, expired or ended)."
BAD_CSRF = "The request's CSRF token is missing or wrong; reload the page and try again."


def is_open(path: str) -> bool:
    """Whether `path` is served without a session."""
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path == "/events" or request.method not in SAFE_METHODS


def _no_session(request: Request, *, clear: bool) -> Response:
    """A page sends the browser to the login form; the API and the streams answer 401."""
    response: Response
    if _wants_json(request):
        response = JSONResponse({"error": NO_SESSION}, status_code=401)
    else:
        response = RedirectResponse("/login", status_code=303)
    if clear:
        clear_session_cookie(response, request)
    return response


def _unreachable(request: Request) -> Response:
    """The session cannot be checked: no data, but the page learns why and retries."""
    if request.url.path == "/events":
        return sse.unreachable(request)
    if _wants_json(request):
        return JSONResponse({"error": UNREACHABLE}, status_code=503)
    return login_page(request, message=UNREACHABLE, status=503)


def _csrf_ok(request: Request, session: fleet_pb.WebSession) -> bool:
    if request.method in SAFE_METHODS:
        return True
    sent = request.headers.get(CSRF_HEADER, "")
    return bool(sent and session.csrf_token) and hmac.compare_digest(
        sent.encode(), session.csrf_token.encode()
    )


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionCache:
    """GetWebSession answers kept for a few seconds; checks of one session at once share one call.

    A browser's reconnects, page loads and API calls then cost a dictionary lookup, and a thousand
    browsers connecting at once cost one call per session. A logout through this web UI forgets the
    session at once (`forget`); a session revoked elsewhere is refused once its answer is older than
    `ttl` (and its open streams end at their next recheck).
    """

    def __init__(self, ttl: float = SESSION_CACHE_SECONDS, *, size: int = 100_000) -> None:
        self._ttl = ttl
        self._size = size
        self._answers: dict[str, tuple[float, fleet_pb.WebSession]] = {}
        self._asking: dict[str, asyncio.Future[fleet_pb.WebSession]] = {}

    async def lookup(
        self, stub: fleet_grpc.FleetServiceAsyncStub, token: str, max_age: float | None = None
    ) -> fleet_pb.WebSession:
        """The session of `token`, at most `max_age` (default: the cache's ttl) seconds old.

        Raises the control plane's AioRpcError (UNAUTHENTICATED for an unknown or ended session)."""
        key = _key(token)
        age = self._ttl if max_age is None else min(max_age, self._ttl)
        known = self._answers.get(key)
        if known is not None and time.monotonic() - known[0] < age and sse.seconds_left(known[1]) > 0:
            return known[1]
        asking = self._asking.get(key)
        if asking is None:
            asking = asyncio.ensure_future(self._ask(stub, token, key))
            self._asking[key] = asking
            asking.add_done_callback(lambda done: self._asked(key, done))
        return await asyncio.shield(asking)

    def _asked(self, key: str, done: asyncio.Future[fleet_pb.WebSession]) -> None:
        """The call is over: the next check after the answer expires asks again. Its failure was
        raised to every waiter; taking it here keeps an unawaited one from being logged as lost."""
        self._asking.pop(key, None)
        if not done.cancelled():
            done.exception()

    async def _ask(self, stub: fleet_grpc.FleetServiceAsyncStub, token: str, key: str) -> fleet_pb.WebSession:
        asked = time.monotonic()
        lookup = fleet_pb.GetWebSessionRequest(session_token=token)
        try:
            answer = await stub.GetWebSession(lookup, timeout=DEADLINE_SECONDS)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
                self._answers.pop(key, None)
            raise
        if len(self._answers) >= self._size:
            self._prune(asked)
        session: fleet_pb.WebSession = answer.session
        self._answers[key] = (asked, session)
        return session

    def _prune(self, now: float) -> None:
        """Drop answers too old to use; if all are fresh, the oldest half."""
        fresh = {k: v for k, v in self._answers.items() if now - v[0] < self._ttl}
        if len(fresh) >= self._size:
            fresh = dict(sorted(fresh.items(), key=lambda kv: kv[1][0])[len(fresh) // 2 :])
        self._answers = fresh

    def forget(self, token: str) -> None:
        """The session ended here (logout): the next check asks the control plane."""
        self._answers.pop(_key(token), None)


class SessionGate:
    """Refuses requests without a valid session (checked per request, through the SessionCache) or, for state changes,
    without the session's CSRF token; passes the session on in `request.state.web_session`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        response = await self._check(request)
        if response is None:
            await self.app(scope, receive, send)
        else:
            await response(scope, receive, send)

    async def _check(self, request: Request) -> Response | None:
        """None when the request may go on, else the refusal."""
        signer: CookieSigner = request.app.state.signer
        token = signer.token(request)  # a tampered cookie stops here, before any call
        if token is None:
            return _no_session(request, clear=request.cookies.get(COOKIE_NAME) is not None)
        state = request.app.state
        try:
            session = await state.sessions.lookup(state.fleet.stub, token)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
                return _no_session(request, clear=True)
            if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                if request.url.path == "/logout" and request.method == "POST":
                    # No CSRF check is possible without the session; logging out here is harmless
                    # (and SecurityMiddleware's same-origin rule applied already).
                    return logged_out_here(request, token)
                return _unreachable(request)
            # E.g. the web UI's own API token lacks the admin role: say so, as the control plane does.
            return JSONResponse(
                {"error": exc.details() or NO_SESSION}, status_code=http_status_for(exc.code())
            )
        if not _csrf_ok(request, session):
            return JSONResponse({"error": BAD_CSRF}, status_code=403)
        request.state.web_session = session
        request.state.session_token = token
        ON_BEHALF_OF.set(session.username)  # the audit log names the user, not the web UI
        return None
