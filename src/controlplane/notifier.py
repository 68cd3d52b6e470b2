"""Webhook notifications: subscriptions, what a finished command or an offline host queues, and the
delivery of the durable outbox with retries and exponential backoff.

Delivery is at least once per (event, subscription): a row is marked delivered only after a 2xx
answer, so a control plane that dies between the answer and the mark sends it again after its
restart; receivers deduplicate on the `X-Fleetdeck-Event-Id` header.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
import urllib.parse
import uuid
from collections.abc import Callable, Sequence
from typing import cast

import httpx

from fleetdeck.tasks import cancel_and_wait
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import notifications_pb2 as notifications_pb
from fleetdeck.v1 import types_pb2 as pb
from fleetdeck.version import __version__

from . import notifications
from .errors import InvalidArgument, NotFound
from .hub import Hub
from .store import Notification, OutboxItem, Store
from .timeutil import now_ts

log = logging.getLogger(__name__)

BATCH = 50
KEEP_FINISHED_SECONDS = 7 * 24 * 3600
MAX_URL_LENGTH = 2048
FAILED_COMMAND_STATES = frozenset({pb.COMMAND_STATE_FAILED, pb.COMMAND_STATE_TIMED_OUT})


def check_url(url: str) -> str:
    """A webhook URL, or InvalidArgument saying what is wrong with it."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname or len(url) > MAX_URL_LENGTH:
        raise InvalidArgument(
            f"webhook url must be an http:// or https:// URL with a host, at most {MAX_URL_LENGTH} characters"
        )
    return url


class Notifier:
    """Queues notifications with the state changes that cause them and delivers the outbox."""

    def __init__(
        self,
        store: Store,
        hub: Hub,
        *,
        link_base: str = "",
        backoff_seconds: float = 5.0,
        offline_grace_seconds: float = 300.0,
        timeout_seconds: float = 10.0,
    ) -> None:
        self.store = store
        self.hub = hub
        self.link_base = link_base
        self.backoff_seconds = backoff_seconds
        self.offline_grace_seconds = offline_grace_seconds
        self.timeout_seconds = timeout_seconds
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._client: httpx.AsyncClient | None = None
        # With replicas, one of them delivers and queues host_offline (the others only store what
        # their commands announce): the leader, which looks at the outbox at least this often.
        self.leading: Callable[[], bool] = lambda: True
        self.poll_seconds: float | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self, snapshot: object | None = None) -> None:
        """Start delivering (and watching hosts go offline when `snapshot` is the fleet's); safe twice."""
        if self._tasks:
            return
        self._stopping = False
        self._client = httpx.AsyncClient(timeout=self.timeout_seconds, follow_redirects=False)
        self._tasks.append(asyncio.create_task(self._deliver_forever(), name="notifier-delivery"))
        if callable(snapshot):
            self._tasks.append(asyncio.create_task(self._watch_offline(snapshot), name="notifier-offline"))

    async def stop(self) -> None:
        """Let the deliveries under way end and be recorded (within the HTTP timeout), then stop;
        what is pending stays in the outbox for the next start. Safe to call twice."""
        tasks, self._tasks = self._tasks, []
        if tasks:
            self._stopping = True
            self._wake.set()
            await asyncio.wait(tasks[:1], timeout=self.timeout_seconds + 1)
        await cancel_and_wait(*tasks)
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    def wake(self) -> None:
        """Something was queued: look at the outbox now."""
        self._wake.set()

    # --- subscriptions -------------------------------------------------------------------------

    async def create(
        self, url: str, events: Sequence[int], format: int
    ) -> tuple[notifications_pb.Webhook, str]:
        """A new subscription and its signing secret (shown once)."""
        check_url(url)
        for event in events:
            if event not in notifications_pb.NotificationEvent.values() or event == 0:
                raise InvalidArgument(f"unknown notification event {event}")
        if format not in notifications_pb.WebhookFormat.values():
            raise InvalidArgument(f"unknown webhook format {format}")
        webhook = notifications_pb.Webhook(
            id="wh_" + secrets.token_hex(8),
            url=url,
            events=sorted({cast(notifications_pb.NotificationEvent, e) for e in events}),
            format=format or notifications_pb.WEBHOOK_FORMAT_JSON,  # type: ignore[arg-type]
            created_at=now_ts(),
        )
        secret = "whsec_" + secrets.token_urlsafe(32)
        await self.store.add_webhook(webhook, secret, notifications.events_mask(webhook.events))
        log.info("webhook %s created", webhook.id)  # never its URL: Slack's carry a token
        return webhook, secret

    async def delete(self, webhook_id: str) -> None:
        """Remove a subscription; NotFound when there is none."""
        if not await self.store.delete_webhook(webhook_id):
            raise NotFound(f"no webhook with id {webhook_id}")
        log.info("webhook %s deleted", webhook_id)

    async def test(self, webhook_id: str) -> str:
        """Queue a test notification to one subscription; its event id."""
        if webhook_id not in {w.id for w in await self.store.list_webhooks()}:
            raise NotFound(f"no webhook with id {webhook_id}")
        event_id = "test:" + uuid.uuid4().hex
        now = time.time()
        payload = notifications.test_delivery(webhook_id, event_id, at=now)
        await self.store.enqueue_notifications(
            [
                Notification(
                    event_id,
                    notifications_pb.NOTIFICATION_EVENT_TEST,
                    "",
                    notifications.encode(payload),
                    now,
                    webhook_id=webhook_id,
                )
            ],
            now,
        )
        self.wake()
        return event_id

    # --- what happened -------------------------------------------------------------------------

    async def for_finished_command(
        self,
        command: pb.Command,
        run: pb.TestRun | None,
        failed: fleet_pb.TestsFailed | None,
        generation: str,
    ) -> list[Notification]:
        """The notifications a finished command causes (queued in its result's transaction)."""
        now = time.time()
        link = notifications.host_link(self.link_base, command.host)
        if command.operation != pb.OPERATION_TEST:
            if command.state not in FAILED_COMMAND_STATES:
                return []
            event_id, payload = notifications.command_failed(command, generation, at=now, link=link)
            event = notifications_pb.NOTIFICATION_EVENT_COMMAND_FAILED
        elif failed is not None and run is not None:
            event_id, payload = notifications.tests_failed(
                run, failed.cases, failed.offered_operations, failed.advice, at=now, link=link
            )
            event = notifications_pb.NOTIFICATION_EVENT_TESTS_FAILED
        elif run is not None and run.state == pb.TEST_STATE_PASSED and await self._after_failure(run):
            event_id, payload = notifications.tests_recovered(run, at=now, link=link)
            event = notifications_pb.NOTIFICATION_EVENT_TESTS_RECOVERED
        else:
            return []
        return [Notification(event_id, event, command.host, notifications.encode(payload), now)]

    async def _after_failure(self, run: pb.TestRun) -> bool:
        """Whether the host's run before `run` failed."""
        runs = (await self.store.list_test_runs(run.host, 2, None)).items
        before = [r for r in runs if r.id != run.id]
        return bool(before) and before[0].state == pb.TEST_STATE_FAILED

    async def _watch_offline(self, snapshot: object) -> None:
        """Queue host_offline, due after the grace period, when a host goes offline; drop it when the
        host is back before it went out."""
        online: dict[str, bool] = {}
        async for event in self.hub.watch(0, snapshot):  # type: ignore[arg-type]
            kind = event.WhichOneof("event")
            hosts = event.snapshot.hosts if kind == "snapshot" else [event.host] if kind == "host" else []
            for host in hosts:
                was = online.get(host.name)
                online[host.name] = host.online
                if kind == "snapshot" or was is None or was == host.online or not self.leading():
                    continue
                try:
                    await self._offline_changed(host.name, host.online)
                except Exception:
                    log.exception("could not queue the offline notification of %s", host.name)

    async def _offline_changed(self, host: str, now_online: bool) -> None:
        if now_online:
            await self.store.cancel_notifications(host, notifications_pb.NOTIFICATION_EVENT_HOST_OFFLINE)
            return
        since = time.time()
        link = notifications.host_link(self.link_base, host)
        event_id, payload = notifications.host_offline(host, since, self.offline_grace_seconds, link=link)
        due = since + self.offline_grace_seconds
        note = Notification(
            event_id,
            notifications_pb.NOTIFICATION_EVENT_HOST_OFFLINE,
            host,
            notifications.encode(payload),
            due,
        )
        await self.store.enqueue_notifications([note], since)
        self.wake()

    # --- delivery ------------------------------------------------------------------------------

    async def _deliver_forever(self) -> None:
        while not self._stopping:
            self._wake.clear()
            if not self.leading():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_seconds):
                        await self._wake.wait()
                continue
            try:
                due = await self.store.due_notifications(time.time(), BATCH)
                async with asyncio.TaskGroup() as group:
                    for item in due:
                        group.create_task(self._deliver(item))
                if len(due) == BATCH or self._stopping:
                    continue
                await self.store.prune_notifications(time.time() - KEEP_FINISHED_SECONDS)
                next_at = await self.store.next_notification_at()
            except Exception:
                log.exception("delivering notifications failed; trying again shortly")
                next_at = time.time() + self.backoff_seconds
            wait = None if next_at is None else max(0.0, next_at - time.time())
            if self.poll_seconds is not None:
                wait = self.poll_seconds if wait is None else min(wait, self.poll_seconds)
            try:
                async with asyncio.timeout(wait):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _deliver(self, item: OutboxItem) -> None:
        assert self._client is not None
        webhook = item.webhook
        body = notifications.render(json.loads(item.payload), webhook.format)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"fleetdeck/{__version__}",
            notifications.EVENT_ID_HEADER: item.event_id,
            notifications.EVENT_HEADER: notifications.event_name(item.event),
            notifications.SIGNATURE_HEADER: notifications.signature(item.secret, int(time.time()), body),
        }
        delivery = notifications_pb.WebhookDelivery(
            event_id=item.event_id,
            event=item.event,  # type: ignore[arg-type]
            attempted_at=now_ts(),
            attempts=item.attempts + 1,
        )
        try:
            response = await self._client.post(webhook.url, content=body, headers=headers)
            delivery.http_status = response.status_code
            delivery.delivered = 200 <= response.status_code < 300
            if not delivery.delivered:
                delivery.error = f"the receiver answered HTTP {response.status_code}"
        except httpx.HTTPError as error:
            delivery.error = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        delay = (
            None if delivery.delivered else notifications.retry_delay(delivery.attempts, self.backoff_seconds)
        )
        now = time.time()
        await self.store.record_delivery(webhook.id, delivery, None if delay is None else now + delay, now)
        if delivery.delivered:
            log.info("webhook %s: delivered %s", webhook.id, item.event_id)
        elif delay is None:
            log.warning(
                "webhook %s: gave up on %s after %d attempts", webhook.id, item.event_id, delivery.attempts
            )
        else:
            log.info(
                "webhook %s: %s failed (%s); retry in %.1f s",
                webhook.id,
                item.event_id,
                delivery.error,
                delay,
            )
