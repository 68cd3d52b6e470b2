"""Webhook subscriptions and the notification outbox in the store, on every engine."""

from __future__ import annotations

import pytest
from stores import DiskError, EngineStore, aggregate_module, command

from controlplane.store import Notification
from controlplane.timeutil import to_ts
from fleetdeck.v1 import notifications_pb2 as notifications_pb
from fleetdeck.v1 import types_pb2 as pb

FAILED = notifications_pb.NOTIFICATION_EVENT_TESTS_FAILED
OFFLINE = notifications_pb.NOTIFICATION_EVENT_HOST_OFFLINE


async def _webhook(store: EngineStore, webhook_id: str, events: list[int], created: int) -> None:
    webhook = notifications_pb.Webhook(
        id=webhook_id,
        url=f"http://r/{webhook_id}",
        events=events,
        created_at=to_ts(created),  # type: ignore[arg-type]
    )
    mask = 0
    for event in events:
        mask |= 1 << event
    await store.add_webhook(webhook, f"secret-{webhook_id}", mask)


def _note(event_id: str, event: int = FAILED, host: str = "gpc0", not_before: float = 10.0) -> Notification:
    return Notification(event_id, event, host, b'{"x":1}', not_before)


async def test_a_notification_queues_once_per_subscriber_of_its_event(store: EngineStore) -> None:
    await _webhook(store, "all", [], 1)
    await _webhook(store, "failures", [FAILED], 2)
    await _webhook(store, "offline", [OFFLINE], 3)
    await store.enqueue_notifications([_note("e1")], now=5.0)
    await store.enqueue_notifications([_note("e1")], now=6.0)  # the same event again: deduplicated
    assert await store.due_notifications(9.0, 10) == []
    due = await store.due_notifications(10.0, 10)
    assert sorted((d.event_id, d.webhook.id, d.secret) for d in due) == [
        ("e1", "all", "secret-all"),
        ("e1", "failures", "secret-failures"),
    ]
    assert await store.next_notification_at() == 10.0
    assert [(w.id, w.pending) for w in await store.list_webhooks()] == [
        ("all", 1),
        ("failures", 1),
        ("offline", 0),
    ]


async def test_a_delivery_is_recorded_with_the_subscriptions_last_delivery(store: EngineStore) -> None:
    await _webhook(store, "w", [], 1)
    await store.enqueue_notifications([_note("e1")], now=5.0)
    failed = notifications_pb.WebhookDelivery(
        event_id="e1", event=FAILED, attempts=1, http_status=500, error="HTTP 500"
    )
    await store.record_delivery("w", failed, retry_at=20.0, now=11.0)
    assert await store.due_notifications(19.0, 10) == []
    (again,) = await store.due_notifications(20.0, 10)
    assert again.attempts == 1
    delivered = notifications_pb.WebhookDelivery(
        event_id="e1", event=FAILED, attempts=2, http_status=200, delivered=True
    )
    await store.record_delivery("w", delivered, retry_at=None, now=21.0)
    assert await store.due_notifications(100.0, 10) == []
    assert await store.next_notification_at() is None
    (webhook,) = await store.list_webhooks()
    assert webhook.last_delivery == delivered and webhook.pending == 0
    await store.enqueue_notifications([_note("e1")], now=30.0)  # delivered already: still deduplicated
    assert await store.due_notifications(100.0, 10) == []
    assert await store.prune_notifications(before=22.0) == 1


async def test_a_given_up_delivery_is_no_longer_due(store: EngineStore) -> None:
    await _webhook(store, "w", [], 1)
    await store.enqueue_notifications([_note("e1")], now=5.0)
    gave_up = notifications_pb.WebhookDelivery(event_id="e1", attempts=12, error="refused")
    await store.record_delivery("w", gave_up, retry_at=None, now=11.0)
    assert await store.due_notifications(1e12, 10) == []
    assert (await store.list_webhooks())[0].last_delivery.error == "refused"


async def test_an_offline_notice_not_sent_yet_is_cancelled_when_the_host_returns(store: EngineStore) -> None:
    await _webhook(store, "w", [], 1)
    await store.enqueue_notifications([_note("off1", OFFLINE, not_before=300.0), _note("f1")], now=5.0)
    assert await store.cancel_notifications("gpc0", OFFLINE) == 1
    assert [d.event_id for d in await store.due_notifications(1e9, 10)] == ["f1"]


async def test_deleting_a_subscription_drops_its_queue(store: EngineStore) -> None:
    await _webhook(store, "w", [], 1)
    await store.enqueue_notifications([_note("e1")], now=5.0)
    assert await store.delete_webhook("w") is True
    assert await store.delete_webhook("w") is False
    assert await store.due_notifications(1e9, 10) == []


async def test_a_test_notification_goes_to_one_subscription(store: EngineStore) -> None:
    await _webhook(store, "a", [], 1)
    await _webhook(store, "b", [OFFLINE], 2)  # a test reaches it whatever events it chose
    note = Notification("t1", notifications_pb.NOTIFICATION_EVENT_TEST, "", b"{}", 1.0, webhook_id="b")
    await store.enqueue_notifications([note], now=1.0)
    assert [d.webhook.id for d in await store.due_notifications(2.0, 10)] == ["b"]


async def test_notifications_commit_with_the_command_result_or_not_at_all(
    store: EngineStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _webhook(store, "w", [], 1)
    await store.insert_command(command("c1"))
    finished = command("c1", state=pb.COMMAND_STATE_FAILED)

    async def disk_error(*args: object) -> None:
        raise DiskError

    with monkeypatch.context() as patch:
        patch.setattr(aggregate_module("commands"), "write_host_result", disk_error)
        with pytest.raises(DiskError):
            await store.finish_command(finished, 1, pb.Host(name="gpc0"), [_note("command_failed:c1")])
    assert await store.due_notifications(1e9, 10) == []
    await store.finish_command(finished, 1, pb.Host(name="gpc0"), [_note("command_failed:c1")])
    assert [d.event_id for d in await store.due_notifications(1e9, 10)] == ["command_failed:c1"]
