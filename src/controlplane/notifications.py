"""What a webhook is told, as pure functions: the versioned JSON payload of each event, its Slack and
Alertmanager renderings, the HMAC signature, the event ids that deduplicate, and the retry backoff.

The payload is built once, when the event happens, and stored in the outbox; the format is applied
when it is delivered, so one event reads the same in every format.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

from fleetdeck.v1 import history_pb2 as history_pb
from fleetdeck.v1 import notifications_pb2 as notifications_pb
from fleetdeck.v1 import types_pb2 as pb

from .case_history import classification_name

PAYLOAD_VERSION = "fleetdeck.notification/v1"
SIGNATURE_HEADER = "X-Fleetdeck-Signature"
EVENT_ID_HEADER = "X-Fleetdeck-Event-Id"
EVENT_HEADER = "X-Fleetdeck-Event"
MAX_ATTEMPTS = 12
MAX_BACKOFF_SECONDS = 3600.0

Payload = dict[str, Any]


def event_name(event: int) -> str:
    """'tests_failed', 'host_offline', …"""
    return notifications_pb.NotificationEvent.Name(event).removeprefix("NOTIFICATION_EVENT_").lower()


def event_from_name(name: str) -> notifications_pb.NotificationEvent:
    """The event a name ('tests_failed') stands for; ValueError when there is none."""
    value = notifications_pb.NotificationEvent.Value("NOTIFICATION_EVENT_" + name.upper().replace("-", "_"))
    if value == notifications_pb.NOTIFICATION_EVENT_UNSPECIFIED:
        raise ValueError(name)
    return cast(notifications_pb.NotificationEvent, value)


def events_mask(events: Sequence[int]) -> int:
    """The stored form of a subscription's events: one bit per event, 0 for all."""
    mask = 0
    for event in events:
        mask |= 1 << event
    return mask


def host_link(base_url: str, host: str) -> str:
    """A link to the host in the page; empty when the control plane does not know its public URL."""
    return f"{base_url.rstrip('/')}/#host={host}" if base_url else ""


def _iso(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).isoformat().replace("+00:00", "Z")


def _base(event: int, event_id: str, host: str, at: float, link: str, summary: str) -> Payload:
    return {
        "version": PAYLOAD_VERSION,
        "event_id": event_id,
        "event": event_name(event),
        "occurred_at": _iso(at),
        "host": host,
        "summary": summary,
        "link": link,
    }


def tests_failed(
    run: pb.TestRun,
    cases: Sequence[history_pb.FailedCase],
    offered: Sequence[int],
    advice: str,
    *,
    at: float,
    link: str,
) -> tuple[str, Payload]:
    """The event id and payload of a failed run."""
    event_id = f"tests_failed:{run.id}"
    named = ", ".join(f"{c.name} ({classification_name(c.classification) or 'failed'})" for c in cases)
    payload = _base(
        notifications_pb.NOTIFICATION_EVENT_TESTS_FAILED,
        event_id,
        run.host,
        at,
        link,
        f"Tests failed on {run.host}" + (f": {named}" if named else ""),
    )
    payload.update(
        run_id=run.id,
        generation=run.generation,
        commit=run.commit,
        passed=run.passed,
        failed=run.failed,
        total=run.total,
        failed_cases=[
            {
                "name": c.name,
                "outcome": pb.TestOutcome.Name(c.outcome).removeprefix("TEST_OUTCOME_").lower(),
                "classification": classification_name(c.classification),
                "failing_since_generation": c.failing_since_generation,
                "failing_runs": c.failing_runs,
                "output_head": c.output_head,
            }
            for c in cases
        ],
        offer={
            "operations": [pb.Operation.Name(op).removeprefix("OPERATION_").lower() for op in offered],
            "advice": advice,
        },
    )
    return event_id, payload


def tests_recovered(run: pb.TestRun, *, at: float, link: str) -> tuple[str, Payload]:
    """The event id and payload of a passing run after a failed one."""
    event_id = f"tests_recovered:{run.id}"
    payload = _base(
        notifications_pb.NOTIFICATION_EVENT_TESTS_RECOVERED,
        event_id,
        run.host,
        at,
        link,
        f"Tests pass again on {run.host} ({run.passed}/{run.total} passed)",
    )
    payload.update(
        run_id=run.id, generation=run.generation, commit=run.commit, passed=run.passed, total=run.total
    )
    return event_id, payload


def command_failed(command: pb.Command, generation: str, *, at: float, link: str) -> tuple[str, Payload]:
    """The event id and payload of a failed pull, switch or rollback."""
    event_id = f"command_failed:{command.id}"
    operation = pb.Operation.Name(command.operation).removeprefix("OPERATION_").lower()
    state = pb.CommandState.Name(command.state).removeprefix("COMMAND_STATE_").lower()
    payload = _base(
        notifications_pb.NOTIFICATION_EVENT_COMMAND_FAILED,
        event_id,
        command.host,
        at,
        link,
        f"{operation.capitalize()} {state.replace('_', ' ')} on {command.host} (exit {command.exit_code})"
        + (f": {command.message}" if command.message else ""),
    )
    payload.update(
        command_id=command.id,
        operation=operation,
        state=state,
        exit_code=command.exit_code,
        message=command.message,
        generation=generation,
    )
    return event_id, payload


def host_offline(host: str, since: float, grace: float, *, link: str) -> tuple[str, Payload]:
    """The event id and payload of a host that went offline at `since` (sent after the grace)."""
    event_id = f"host_offline:{host}:{since:.6f}"
    payload = _base(
        notifications_pb.NOTIFICATION_EVENT_HOST_OFFLINE,
        event_id,
        host,
        since + grace,
        link,
        f"{host} has been offline since {_iso(since)}",
    )
    payload.update(offline_since=_iso(since), grace_seconds=grace)
    return event_id, payload


def test_delivery(webhook_id: str, event_id: str, *, at: float) -> Payload:
    """The payload TestWebhook sends."""
    return _base(
        notifications_pb.NOTIFICATION_EVENT_TEST,
        event_id,
        "",
        at,
        "",
        f"Test notification for webhook {webhook_id}",
    )


def encode(payload: Payload) -> bytes:
    """A payload as stored and as sent in the JSON format."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def render(payload: Mapping[str, Any], format: int) -> bytes:
    """The body of a delivery in a subscription's format."""
    if format == notifications_pb.WEBHOOK_FORMAT_SLACK:
        return json.dumps(slack(payload), sort_keys=True).encode()
    if format == notifications_pb.WEBHOOK_FORMAT_ALERTMANAGER:
        return json.dumps(alertmanager(payload), sort_keys=True).encode()
    return encode(dict(payload))


def slack(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook message: the summary, each failing case, the advice and the link."""
    lines = [f"*{payload['summary']}*"]
    if payload.get("generation") or payload.get("commit"):
        lines.append(
            f"generation `{payload.get('generation', '')}`, commit `{str(payload.get('commit', ''))[:12]}`"
        )
    for case in payload.get("failed_cases", []):
        since = (
            f", failing since {case['failing_since_generation']}" if case["failing_since_generation"] else ""
        )
        head = case["output_head"].splitlines()[0] if case["output_head"] else ""
        lines.append(
            f"• {case['name']}: {case['classification'] or case['outcome']}{since}"
            + (f" — `{head}`" if head else "")
        )
    advice = payload.get("offer", {}).get("advice", "")
    if advice:
        lines.append(advice)
    if payload.get("link"):
        lines.append(f"<{payload['link']}|Open in Fleetdeck>")
    text = "\n".join(lines)
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


_ALERT_NAMES = {
    "tests_failed": "FleetdeckTestsFailing",
    "tests_recovered": "FleetdeckTestsFailing",  # resolves the alert tests_failed raised
    "command_failed": "FleetdeckCommandFailed",
    "host_offline": "FleetdeckHostOffline",
    "test": "FleetdeckTest",
}


def alertmanager(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The Alertmanager webhook body (version 4) with one alert; tests_recovered resolves."""
    name = _ALERT_NAMES.get(payload["event"], "Fleetdeck")
    resolved = payload["event"] == "tests_recovered"
    labels = {"alertname": name, "host": payload["host"], "event": payload["event"]}
    if payload.get("generation"):
        labels["generation"] = payload["generation"]
    annotations = {"summary": payload["summary"]}
    cases = payload.get("failed_cases", [])
    if cases:
        annotations["description"] = "\n".join(
            f"{c['name']}: {c['classification'] or c['outcome']}: {c['output_head']}" for c in cases
        )
    group_labels = {"alertname": name, "host": payload["host"]}
    alert = {
        "status": "resolved" if resolved else "firing",
        "labels": labels,
        "annotations": annotations,
        "startsAt": payload["occurred_at"],
        "endsAt": payload["occurred_at"] if resolved else "0001-01-01T00:00:00Z",
        "generatorURL": payload.get("link", ""),
        "fingerprint": hashlib.sha256(f"{name}/{payload['host']}".encode()).hexdigest()[:16],
    }
    return {
        "version": "4",
        "groupKey": json.dumps(group_labels, sort_keys=True),
        "truncatedAlerts": 0,
        "status": alert["status"],
        "receiver": "fleetdeck",
        "groupLabels": group_labels,
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": payload.get("link", ""),
        "alerts": [alert],
    }


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes) -> bool:
    """Whether a signature header was made with `secret` over `body` (what a receiver checks)."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), f"t={timestamp},v1={parts.get('v1', '')}")


def retry_delay(attempts: int, base: float) -> float | None:
    """Seconds before the next attempt after `attempts` failed ones (exponential, capped); None: give up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return float(min(base * 2 ** (attempts - 1), MAX_BACKOFF_SECONDS))
