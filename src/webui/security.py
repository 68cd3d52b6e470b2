"""Security headers on every response, and a same-origin rule for every state change."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    # Not no-referrer: under it browsers send `Origin: null` with a form post, which the same-origin
    # rule below must refuse; same-origin still never leaks a URL to another site.
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}

log = logging.getLogger(__name__)

_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
_FORM = "application/x-www-form-urlencoded"  # the login form, the one request that is not JSON


class SecurityMiddleware:
    """Adds the security headers; refuses cross-origin or non-JSON requests that change state."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        refusal = _refusal(scope)
        if refusal is not None:
            await _send_error(send_with_headers, *refusal)
            return
        await self.app(scope, receive, send_with_headers)


INTERNAL_ERROR = "The web UI failed to handle this request; the error is in its log."


async def _send_error(send: Send, status: int, text: str) -> None:
    """A JSON `{"error": text}` response."""
    body = json.dumps({"error": text}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class CatchAllMiddleware:
    """Any unexpected error becomes a JSON 500 sentence (inside SecurityMiddleware, so it carries
    the security headers); the traceback goes to the log, never to the browser."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("%s %s failed", scope.get("method"), scope.get("path"))
            if started:
                raise  # too late for an answer of our own; the server cuts the connection
            await _send_error(send, 500, INTERNAL_ERROR)


def _refusal(scope: Scope) -> tuple[int, str] | None:
    """Why a state-changing request is refused, or None when it may proceed."""
    if scope["method"] in _SAFE_METHODS:
        return None
    headers = Headers(scope=scope)
    origin = headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != headers.get("host", ""):
        return 403, "cross-origin requests may not change the fleet"
    if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return 403, "cross-site requests may not change the fleet"
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    expected = _FORM if scope["path"] == "/login" else "application/json"
    if content_type != expected:
        return 415, f"send the request body as {expected}"
    return None
