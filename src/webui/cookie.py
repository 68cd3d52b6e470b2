"""The session cookie: the control plane's session token, signed with an HMAC key.

The key is the control plane's stored one for the web UI it serves, else `fleetdeck webui
--cookie-key-file`, else a random key of this process."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

COOKIE_NAME = "fleetdeck_session"


class CookieSigner:
    """Signs session tokens for the cookie and checks signatures before any call is made with them."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)  # no key given: one of this process

    def _mac(self, token: str) -> str:
        digest = hmac.new(self._key, token.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def sign(self, token: str) -> str:
        """The cookie value for `token`: the token, a dot, its MAC."""
        return f"{token}.{self._mac(token)}"

    def unsign(self, value: str | None) -> str | None:
        """The token in a cookie value whose MAC is right; None for a missing or tampered cookie."""
        if not value:
            return None
        token, dot, mac = value.rpartition(".")
        if not dot or not token or not hmac.compare_digest(mac.encode(), self._mac(token).encode()):
            return None
        return token

    def token(self, request: Request) -> str | None:
        """The verified session token of the request's cookie, if any."""
        return self.unsign(request.cookies.get(COOKIE_NAME))


def is_secure(request: Request) -> bool:
    """Whether the browser reached us over TLS (the cookie is then sent only over TLS)."""
    return request.url.scheme in ("https", "wss")


def set_session_cookie(response: Response, request: Request, signer: CookieSigner, token: str) -> None:
    """Give the browser its session cookie: HttpOnly, SameSite=Lax, Path=/, Secure over TLS."""
    response.set_cookie(
        COOKIE_NAME,
        signer.sign(token),
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_secure(request),
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    """Make the browser forget its session cookie."""
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax", secure=is_secure(request))
