"""Webhook subscriptions and the notification outbox. `enqueue` runs inside the transaction of the
state change it announces (a command's result); deliveries update the outbox row and the
subscription's last delivery together."""

from __future__ import annotations

from collections.abc import Sequence

from fleetdeck.v1 import notifications_pb2 as notifications_pb

from ..codec import parse
from ..records import Notification, OutboxItem
from .connection import Connection, Sql

PENDING, DELIVERED, GIVEN_UP = 0, 1, 2


async def enqueue(db: Connection, notifications: Sequence[Notification], now: float) -> None:
    """Queue each notification for every subscriber of its event (inside the caller's transaction)."""
    for n in notifications:
        await db.execute(
            "INSERT INTO notification_outbox(event_id, webhook_id, event, host, payload, created_at, "
            "attempts, next_attempt_at, state) SELECT ?, id, ?, ?, ?, ?, 0, ?, 0 FROM webhooks "
            "WHERE (? = '' AND (events_mask = 0 OR (events_mask & ?) != 0)) OR id = ? "
            "ON CONFLICT (event_id, webhook_id) DO NOTHING",
            n.event_id,
            n.event,
            n.host,
            n.payload,
            now,
            n.not_before,
            n.webhook_id,
            1 << n.event,
            n.webhook_id,
        )


class NotificationQueries:
    """The notification aggregate of both engines' stores (methods documented on `NotificationStore`)."""

    _sql: Sql

    async def add_webhook(self, webhook: notifications_pb.Webhook, secret: str, events_mask: int) -> None:
        async with self._sql.transaction() as db:
            await db.execute(
                "INSERT INTO webhooks(id, secret, events_mask, created_at, webhook) VALUES (?,?,?,?,?)",
                webhook.id,
                secret,
                events_mask,
                webhook.created_at.ToMicroseconds() / 1e6,
                webhook.SerializeToString(),
            )

    async def list_webhooks(self) -> list[notifications_pb.Webhook]:
        rows = await self._sql.all(
            "SELECT webhook_id, COUNT(*) FROM notification_outbox WHERE state = ? GROUP BY webhook_id",
            (PENDING,),
        )
        pending: dict[str, int] = {r[0]: r[1] for r in rows}
        webhooks = []
        for webhook_id, blob, last in await self._sql.all(
            "SELECT id, webhook, last_delivery FROM webhooks ORDER BY created_at, id"
        ):
            webhook = parse(notifications_pb.Webhook, blob)
            if last is not None:
                webhook.last_delivery.ParseFromString(last)
            webhook.pending = pending.get(webhook_id, 0)
            webhooks.append(webhook)
        return webhooks

    async def delete_webhook(self, webhook_id: str) -> bool:
        async with self._sql.transaction() as db:
            return await db.execute("DELETE FROM webhooks WHERE id = ?", webhook_id) > 0

    async def enqueue_notifications(self, notifications: Sequence[Notification], now: float) -> None:
        async with self._sql.transaction() as db:
            await enqueue(db, notifications, now)

    async def cancel_notifications(self, host: str, event: int) -> int:
        async with self._sql.transaction() as db:
            count = await db.execute(
                "DELETE FROM notification_outbox WHERE host = ? AND event = ? AND state = ? AND attempts = 0",
                host,
                event,
                PENDING,
            )
            return count

    async def due_notifications(self, now: float, limit: int) -> list[OutboxItem]:
        rows = await self._sql.all(
            "SELECT o.event_id, w.webhook, w.secret, o.event, o.payload, o.attempts FROM notification_outbox o "
            "JOIN webhooks w ON w.id = o.webhook_id WHERE o.state = ? AND o.next_attempt_at <= ? "
            "ORDER BY o.next_attempt_at, o.created_at LIMIT ?",
            (PENDING, now, limit),
        )
        return [OutboxItem(r[0], parse(notifications_pb.Webhook, r[1]), r[2], r[3], r[4], r[5]) for r in rows]

    async def next_notification_at(self) -> float | None:
        row = await self._sql.one(
            "SELECT MIN(next_attempt_at) FROM notification_outbox WHERE state = ?", (PENDING,)
        )
        return None if row is None or row[0] is None else float(row[0])

    async def record_delivery(
        self, webhook_id: str, delivery: notifications_pb.WebhookDelivery, retry_at: float | None, now: float
    ) -> None:
        state = DELIVERED if delivery.delivered else PENDING if retry_at is not None else GIVEN_UP
        async with self._sql.transaction() as db:
            await db.execute(
                "UPDATE notification_outbox SET attempts = ?, next_attempt_at = ?, state = ? "
                "WHERE event_id = ? AND webhook_id = ?",
                delivery.attempts,
                now if retry_at is None else retry_at,
                state,
                delivery.event_id,
                webhook_id,
            )
            await db.execute(
                "UPDATE webhooks SET last_delivery = ? WHERE id = ?",
                delivery.SerializeToString(),
                webhook_id,
            )

    async def prune_notifications(self, before: float) -> int:
        async with self._sql.transaction() as db:
            count = await db.execute(
                "DELETE FROM notification_outbox WHERE state != ? AND next_attempt_at < ?", PENDING, before
            )
            return count
