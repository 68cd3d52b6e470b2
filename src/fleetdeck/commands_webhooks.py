"""`fleetdeck webhook add|list|remove|test`: notification subscriptions (needs an admin API token)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import click

from fleetdeck import exits
from fleetdeck.invocation import DEADLINE_SECONDS, Options, call, common_options
from fleetdeck.notification_names import EVENTS, FORMATS
from fleetdeck.render import console, print_json, webhooks_table
from fleetdeck.v1 import notifications_pb2 as notifications_pb

if TYPE_CHECKING:
    from fleetdeck.invocation import Stub


@click.group("webhook")
@common_options()
def webhook() -> None:
    """Add, list, remove or test webhook notifications (needs an admin API token)."""


async def _add(stub: Stub, opts: Options, url: str, events: tuple[str, ...], fmt: str) -> int:
    request = notifications_pb.CreateWebhookRequest(
        url=url,
        events=[cast(notifications_pb.NotificationEvent, EVENTS[e]) for e in events],
        format=cast(notifications_pb.WebhookFormat, FORMATS[fmt]),
    )
    created = await stub.CreateWebhook(request, timeout=DEADLINE_SECONDS)
    if opts.json:
        print_json(created)
        return exits.OK
    print(created.secret)
    print(
        f"webhook {created.webhook.id}: deliveries are signed with this secret "
        "(X-Fleetdeck-Signature: t=<unix time>,v1=<HMAC-SHA256 of '<t>.' + body>); it is shown only once",
        flush=True,
    )
    return exits.OK


@webhook.command("add")
@click.argument("url")
@click.option(
    "--event",
    "events",
    multiple=True,
    type=click.Choice(list(EVENTS)),
    help="an event to send (repeatable; every event when none is given)",
)
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default="json", show_default=True)
@common_options()
def add(url: str, events: tuple[str, ...], fmt: str) -> int:
    """Subscribe URL; print its signing secret once (first line: the secret alone)."""
    return call(lambda stub, opts: _add(stub, opts, url, events, fmt))


async def _list(stub: Stub, opts: Options) -> int:
    response = await stub.ListWebhooks(notifications_pb.ListWebhooksRequest(), timeout=DEADLINE_SECONDS)
    if opts.json:
        print_json(response)
    else:
        console().print(webhooks_table(response.webhooks))
    return exits.OK


@webhook.command("list")
@common_options()
def list_() -> int:
    """The subscriptions with their last delivery (never their secrets)."""
    return call(_list)


async def _remove(stub: Stub, opts: Options, webhook_id: str) -> int:
    await stub.DeleteWebhook(notifications_pb.DeleteWebhookRequest(id=webhook_id), timeout=DEADLINE_SECONDS)
    if opts.json:
        print_json({"id": webhook_id, "removed": True})
    else:
        print(f"removed webhook {webhook_id}", flush=True)
    return exits.OK


@webhook.command("remove")
@click.argument("webhook_id")
@common_options()
def remove(webhook_id: str) -> int:
    """Remove a subscription; its undelivered notifications are dropped."""
    return call(lambda stub, opts: _remove(stub, opts, webhook_id))


async def _test(stub: Stub, opts: Options, webhook_id: str) -> int:
    response = await stub.TestWebhook(
        notifications_pb.TestWebhookRequest(id=webhook_id), timeout=DEADLINE_SECONDS
    )
    if opts.json:
        print_json(response)
    else:
        print(f"queued test notification {response.event_id} for webhook {webhook_id}", flush=True)
    return exits.OK


@webhook.command("test")
@click.argument("webhook_id")
@common_options()
def test(webhook_id: str) -> int:
    """Queue a test notification to one subscription; `webhook list` shows how it went."""
    return call(lambda stub, opts: _test(stub, opts, webhook_id))
