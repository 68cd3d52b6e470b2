"""Webhook notifications end to end: real agents, a real control plane, a real HTTP receiver.

Every event reaches the receiver exactly once, signed with the subscription's secret, also when the
receiver answers 500 twice first and also when the control plane restarts between the failure and
the delivery (the outbox is in the database)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from agent_world import Fleet, World, control_plane_config
from webhook_receiver import Receiver, webhook_receiver

from controlplane import notifications
from controlplane.app import ControlPlane
from fleetdeck.v1 import notifications_pb2 as notifications_pb
from fleetdeck.v1 import types_pb2

GPU = 'echo "nvidia-smi not found" >&2; exit "$(cat "$(dirname "$FLEETDECK_GENERATION_PATH")/gpu-exit")"'
CASES = {"10-ok.sh": "echo ok", "20-gpu.sh": GPU}


def _config(tmp_path: Path, port: int = 0) -> object:
    return dataclasses.replace(
        control_plane_config(tmp_path, port),
        public_url="http://fleet.example:8080",
        webhook_retry_seconds=0.05,
        host_offline_grace_seconds=0.3,
    )


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    """A control plane with fast webhook retries; agents are stopped at the end."""
    cp = ControlPlane(_config(tmp_path))  # type: ignore[arg-type]
    await cp.start()
    w = World(tmp_path, cp, Fleet(cp.grpc_target))
    try:
        yield w
    finally:
        for agent in w.agents:
            await agent.stop()
        await w.fleet.close()
        await w.cp.stop()


async def _subscribe(world: World, url: str, fmt: int = notifications_pb.WEBHOOK_FORMAT_JSON) -> str:
    response = await world.fleet.stub.CreateWebhook(
        notifications_pb.CreateWebhookRequest(url=url, format=fmt)
    )
    assert response.secret.startswith("whsec_")
    return str(response.secret)


def _check(receiver: Receiver, secret: str, event_id: str) -> dict[str, object]:
    """Every request for `event_id` was signed with `secret`; exactly one was delivered. Its payload."""
    mine = [r for r in receiver.requests if r.headers["x-fleetdeck-event-id"] == event_id]
    assert mine
    for request in mine:
        assert notifications.verify(secret, request.headers["x-fleetdeck-signature"], request.body)
        assert not notifications.verify("whsec_other", request.headers["x-fleetdeck-signature"], request.body)
    delivered = [r for r in mine if r.status == 200]
    assert len(delivered) == 1
    payload = json.loads(delivered[0].body)
    assert isinstance(payload, dict)
    return payload


async def _failing_run(world: World) -> str:
    host = await world.host("gpc0", tests=CASES)
    (host.root / "gpu-exit").write_text("1\n")
    world.hosts = host  # type: ignore[attr-defined]
    await world.agent(host)
    test_id = await world.fleet.run("gpc0", types_pb2.OPERATION_TEST)
    await world.fleet.finished(test_id)
    return test_id


async def test_one_signed_notification_per_event_after_two_500s(world: World) -> None:
    async with webhook_receiver(answers=[500, 500]) as receiver:
        secret = await _subscribe(world, receiver.url)
        test_id = await _failing_run(world)
        first = await receiver.next_delivered()
        assert [r.status for r in receiver.requests] == [500, 500, 200]
        payload = _check(receiver, secret, f"tests_failed:{test_id}")
        assert first.headers["x-fleetdeck-event"] == "tests_failed"
        assert payload["version"] == "fleetdeck.notification/v1"
        assert (payload["host"], payload["generation"], payload["run_id"]) == (
            "gpc0",
            "system-1-link",
            test_id,
        )
        assert payload["commit"] and payload["link"] == "http://fleet.example:8080/#host=gpc0"
        assert payload["failed_cases"] == [
            {
                "name": "Gpu",
                "outcome": "failed",
                "classification": "broken",
                "failing_since_generation": "system-1-link",
                "failing_runs": 1,
                "output_head": "nvidia-smi not found",
            }
        ]
        (webhook,) = (await world.fleet.stub.ListWebhooks(notifications_pb.ListWebhooksRequest())).webhooks

        # The case passes again: tests_recovered.
        (world.hosts.root / "gpu-exit").write_text("0\n")  # type: ignore[attr-defined]
        again = await world.fleet.run("gpc0", types_pb2.OPERATION_TEST)
        recovered = await receiver.next_delivered()
        assert recovered.headers["x-fleetdeck-event-id"] == f"tests_recovered:{again}"
        _check(receiver, secret, f"tests_recovered:{again}")

        # The agent stops: host_offline after the grace period, once.
        await world.agents[0].stop()
        offline = await receiver.next_delivered()
        assert offline.headers["x-fleetdeck-event"] == "host_offline"
        assert json.loads(offline.body)["summary"].startswith("gpc0 has been offline since ")

        # A test delivery goes out after all of them: nothing was sent twice meanwhile.
        test_event = (
            await world.fleet.stub.TestWebhook(notifications_pb.TestWebhookRequest(id=webhook.id))
        ).event_id
        assert (await receiver.next_delivered()).headers["x-fleetdeck-event-id"] == test_event
        ids = [r.headers["x-fleetdeck-event-id"] for r in receiver.delivered()]
        assert len(ids) == len(set(ids)) == 4


async def test_a_notification_survives_a_control_plane_restart(world: World, tmp_path: Path) -> None:
    async with webhook_receiver() as receiver:
        receiver.then = 503
        secret = await _subscribe(world, receiver.url)
        test_id = await _failing_run(world)
        assert (await receiver.next()).status == 503  # queued, attempted, not delivered

        port = world.cp.grpc_port
        await world.fleet.close()
        await world.cp.stop()
        receiver.then = 200
        world.cp = ControlPlane(_config(tmp_path, port))  # type: ignore[arg-type]
        await world.cp.start()
        world.fleet = Fleet(world.cp.grpc_target)

        delivered = await receiver.next_delivered()
        assert delivered.headers["x-fleetdeck-event-id"] == f"tests_failed:{test_id}"
        _check(receiver, secret, f"tests_failed:{test_id}")

        # A stop lets the delivery be recorded: after one more restart it is shown, and not sent again.
        await world.fleet.close()
        await world.cp.stop()
        world.cp = ControlPlane(_config(tmp_path, port))  # type: ignore[arg-type]
        await world.cp.start()
        world.fleet = Fleet(world.cp.grpc_target)
        (webhook,) = (await world.fleet.stub.ListWebhooks(notifications_pb.ListWebhooksRequest())).webhooks
        assert webhook.last_delivery.event_id == f"tests_failed:{test_id}"
        assert webhook.last_delivery.delivered and webhook.last_delivery.attempts >= 2
        assert webhook.last_delivery.http_status == 200 and webhook.pending == 0
        probe = (
            await world.fleet.stub.TestWebhook(notifications_pb.TestWebhookRequest(id=webhook.id))
        ).event_id
        assert (await receiver.next_delivered()).headers["x-fleetdeck-event-id"] == probe
        _check(receiver, secret, f"tests_failed:{test_id}")


async def test_a_failed_switch_reaches_slack_and_alertmanager_receivers(world: World) -> None:
    async with webhook_receiver() as slack, webhook_receiver() as alertmanager:
        await _subscribe(world, slack.url, notifications_pb.WEBHOOK_FORMAT_SLACK)
        await _subscribe(world, alertmanager.url, notifications_pb.WEBHOOK_FORMAT_ALERTMANAGER)
        host = await world.host("web1", switch="echo 'activation failed' >&2; exit 3")
        await world.agent(host)
        switch_id = await world.fleet.run("web1", types_pb2.OPERATION_SWITCH)
        text = json.loads((await slack.next_delivered()).body)["text"]
        assert text.startswith("*Switch failed on web1 (exit 3)")
        alert = json.loads((await alertmanager.next_delivered()).body)
        assert alert["version"] == "4" and alert["status"] == "firing"
        assert alert["alerts"][0]["labels"]["alertname"] == "FleetdeckCommandFailed"
        assert alertmanager.requests[0].headers["x-fleetdeck-event-id"] == f"command_failed:{switch_id}"


async def test_a_webhook_must_be_an_http_url_and_exist(world: World) -> None:
    import grpc

    for url in ["ftp://x/y", "http://", "not a url"]:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await world.fleet.stub.CreateWebhook(notifications_pb.CreateWebhookRequest(url=url))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    for call in (world.fleet.stub.DeleteWebhook, world.fleet.stub.TestWebhook):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(notifications_pb.DeleteWebhookRequest(id="wh_nope"))  # type: ignore[operator]
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_the_webhook_verbs(world: World) -> None:
    from fleetdeck_cli import fleetdeck

    target = world.cp.grpc_target
    async with webhook_receiver() as receiver:
        added = await fleetdeck(
            "webhook", "add", receiver.url, "--event", "tests_failed", "--format", "slack", target=target
        )
        assert added.code == 0, added.err
        secret, note = added.out.splitlines()[:2]
        assert secret.startswith("whsec_") and "shown only once" in note
        webhook_id = note.split()[1].rstrip(":")
        listed = await fleetdeck("webhook", "list", target=target)
        assert listed.out.splitlines()[1].split()[:5] == [
            webhook_id,
            receiver.url,
            "slack",
            "tests",
            "failed",
        ]
        as_json = json.loads((await fleetdeck("webhook", "list", "-o", "json", target=target)).out)
        assert as_json["webhooks"][0]["events"] == ["NOTIFICATION_EVENT_TESTS_FAILED"]
        assert "secret" not in json.dumps(as_json)

        tested = await fleetdeck("webhook", "test", webhook_id, target=target)
        assert tested.code == 0 and tested.out.startswith("queued test notification test:")
        request = await receiver.next_delivered()
        assert notifications.verify(secret, request.headers["x-fleetdeck-signature"], request.body)
        assert json.loads(request.body)["text"] == f"*Test notification for webhook {webhook_id}*"

        removed = await fleetdeck("webhook", "remove", webhook_id, target=target)
        assert removed.code == 0 and removed.out.strip() == f"removed webhook {webhook_id}"
        again = await fleetdeck("webhook", "remove", webhook_id, target=target)
        assert again.code == 3 and f"no webhook with id {webhook_id}" in again.err
        bad = await fleetdeck("webhook", "add", "ftp://nowhere", target=target)
        assert bad.code == 2 or "http:// or https://" in bad.err
