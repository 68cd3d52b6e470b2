"""The JSON API behind the page's Webhooks panel (admin): list, add, remove, send a test."""

from __future__ import annotations

from typing import Any, cast

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from fleetdeck.notification_names import EVENTS, FORMATS
from fleetdeck.v1 import notifications_pb2 as notifications_pb
from webui.api import body_of, stub_of
from webui.client import DEADLINE_SECONDS
from webui.convert import BadRequest, to_dict
from webui.roles import calls


def events_of(body: dict[str, Any]) -> list[notifications_pb.NotificationEvent]:
    """The events a new subscription chose, by short name; every event when none is chosen."""
    names = body.get("events", [])
    if names is None:
        return []
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise BadRequest(f"events must be a list of event names: {', '.join(EVENTS)}")
    unknown = [name for name in names if name not in EVENTS]
    if unknown:
        raise BadRequest(f"unknown event {unknown[0]!r}; use {', '.join(EVENTS)}")
    return [cast(notifications_pb.NotificationEvent, EVENTS[name]) for name in names]


def format_of(body: dict[str, Any]) -> notifications_pb.WebhookFormat:
    """The body format a new subscription chose by short name; JSON when none is given."""
    name = body.get("format") or "json"
    if not isinstance(name, str) or name not in FORMATS:
        raise BadRequest(f"unknown format {name!r}; use {', '.join(FORMATS)}")
    return cast(notifications_pb.WebhookFormat, FORMATS[name])


@calls("ListWebhooks")
async def list_webhooks(request: Request) -> JSONResponse:
    """The subscriptions with their last delivery and pending count, and the names the form offers."""
    response = await stub_of(request).ListWebhooks(
        notifications_pb.ListWebhooksRequest(), timeout=DEADLINE_SECONDS
    )
    return JSONResponse({**to_dict(response), "events": list(EVENTS), "formats": list(FORMATS)})


@calls("CreateWebhook")
async def create_webhook(request: Request) -> JSONResponse:
    """Subscribe a URL; the answer carries the signing secret, the only time it is shown."""
    body = await body_of(request)
    url = body.get("url")
    if not isinstance(url, str) or not url.strip():
        raise BadRequest("url is required: the http:// or https:// address notifications are POSTed to")
    message = notifications_pb.CreateWebhookRequest(
        url=url.strip(), events=events_of(body), format=format_of(body)
    )
    response = await stub_of(request).CreateWebhook(message, timeout=DEADLINE_SECONDS)
    return JSONResponse(to_dict(response))


@calls("DeleteWebhook")
async def delete_webhook(request: Request) -> JSONResponse:
    """Remove a subscription; its undelivered notifications are dropped."""
    webhook_id = request.path_params["webhook_id"]
    await stub_of(request).DeleteWebhook(
        notifications_pb.DeleteWebhookRequest(id=webhook_id), timeout=DEADLINE_SECONDS
    )
    return JSONResponse({"id": webhook_id, "removed": True})


@calls("TestWebhook")
async def test_webhook(request: Request) -> JSONResponse:
    """Queue a test notification to one subscription; its event id (the panel follows its delivery)."""
    message = notifications_pb.TestWebhookRequest(id=request.path_params["webhook_id"])
    response = await stub_of(request).TestWebhook(message, timeout=DEADLINE_SECONDS)
    return JSONResponse(to_dict(response))


routes = [
    Route("/api/webhooks", list_webhooks),
    Route("/api/webhooks", create_webhook, methods=["POST"]),
    Route("/api/webhooks/{webhook_id}", delete_webhook, methods=["DELETE"]),
    Route("/api/webhooks/{webhook_id}/test", test_webhook, methods=["POST"]),
]
