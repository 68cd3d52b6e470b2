"""`/metrics` over HTTP: beside the web UI on its port (a viewer API token as `authorization: Bearer`),
or alone on `--metrics ADDR` without credentials, for a scraper inside a trusted network."""

from __future__ import annotations

import json

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Receive, Scope, Send

from fleetdeck.roles import allows, role_name
from fleetdeck.v1 import types_pb2 as pb

from .access import ApiTokens
from .errors import FleetError, PermissionDenied
from .metrics import FleetMetrics

PATH = "/metrics"


async def _answer(send: Send, status: int, body: bytes, content_type: str) -> None:
    headers = [(b"content-type", content_type.encode()), (b"cache-control", b"no-store")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def metrics_app(metrics: FleetMetrics, tokens: ApiTokens | None) -> ASGIApp:
    """The scrape endpoint; with `tokens`, only for a caller whose API token has the viewer role."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if tokens is not None:
            metadata = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"])
            try:
                role = await tokens.role_of(metadata)
                if not allows(role, pb.ROLE_VIEWER):
                    raise PermissionDenied(
                        f"/metrics needs the viewer role; this token has {role_name(role)}"
                    )
            except FleetError as error:
                status = 403 if isinstance(error, PermissionDenied) else 401
                await _answer(send, status, json.dumps({"error": str(error)}).encode(), "application/json")
                return
        await _answer(send, 200, await metrics.render(), CONTENT_TYPE_LATEST)

    return app


def with_metrics(app: ASGIApp, metrics: ASGIApp) -> ASGIApp:
    """`app`, except that GET /metrics goes to `metrics`."""

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == PATH:
            await metrics(scope, receive, send)
        else:
            await app(scope, receive, send)

    return dispatch
