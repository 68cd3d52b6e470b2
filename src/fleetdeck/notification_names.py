"""The short names of notification events and webhook formats, as the CLI and the page spell them."""

from __future__ import annotations

from fleetdeck.v1 import notifications_pb2 as notifications_pb

EVENTS: dict[str, int] = {
    notifications_pb.NotificationEvent.Name(v).removeprefix("NOTIFICATION_EVENT_").lower(): v
    for v in notifications_pb.NotificationEvent.values()
    if v not in (notifications_pb.NOTIFICATION_EVENT_UNSPECIFIED, notifications_pb.NOTIFICATION_EVENT_TEST)
}
"""Events a subscription may choose ("tests_failed", ...); "test" is only ever sent by TestWebhook."""

FORMATS: dict[str, int] = {
    notifications_pb.WebhookFormat.Name(v).removeprefix("WEBHOOK_FORMAT_").lower(): v
    for v in notifications_pb.WebhookFormat.values()
    if v != notifications_pb.WEBHOOK_FORMAT_UNSPECIFIED
}
"""Body formats of a subscription: "json", "slack", "alertmanager"."""
