"""Notification payloads, their formats, signatures and retry delays: pure functions, table-driven."""

from __future__ import annotations

import json

import pytest

from controlplane import notifications
from fleetdeck.v1 import history_pb2 as history_pb
from fleetdeck.v1 import notifications_pb2 as notifications_pb
from fleetdeck.v1 import types_pb2 as pb


def _failed_payload() -> dict[str, object]:
    run = pb.TestRun(
        id="r1", host="gpc0", generation="system-42", commit="a" * 40, passed=2, failed=1, total=3
    )
    cases = [
        history_pb.FailedCase(
            name="Gpu",
            outcome=pb.TEST_OUTCOME_FAILED,
            classification=pb.CASE_CLASSIFICATION_REGRESSION,
            failing_since_generation="system-42",
            failing_runs=1,
            output_head="nvidia-smi not found\nsecond line",
        )
    ]
    event_id, payload = notifications.tests_failed(
        run,
        cases,
        [pb.OPERATION_ROLLBACK, pb.OPERATION_TEST],
        "roll back",
        at=1_700_000_000,
        link="http://fleet:8080/#host=gpc0",
    )
    assert event_id == "tests_failed:r1"
    return payload


def test_a_tests_failed_payload_carries_the_evidence() -> None:
    payload = _failed_payload()
    assert payload["version"] == "fleetdeck.notification/v1"
    assert payload["summary"] == "Tests failed on gpc0: Gpu (regression)"
    assert (payload["host"], payload["generation"], payload["commit"]) == ("gpc0", "system-42", "a" * 40)
    assert payload["failed_cases"] == [
        {
            "name": "Gpu",
            "outcome": "failed",
            "classification": "regression",
            "failing_since_generation": "system-42",
            "failing_runs": 1,
            "output_head": "nvidia-smi not found\nsecond line",
        }
    ]
    assert payload["offer"] == {"operations": ["rollback", "test"], "advice": "roll back"}
    assert payload["link"] == "http://fleet:8080/#host=gpc0"
    assert payload["occurred_at"] == "2023-11-14T22:13:20Z"


@pytest.mark.parametrize(
    ("format", "check"),
    [
        (notifications_pb.WEBHOOK_FORMAT_JSON, lambda b: b["event"] == "tests_failed"),
        (notifications_pb.WEBHOOK_FORMAT_UNSPECIFIED, lambda b: b["event_id"] == "tests_failed:r1"),
        (
            notifications_pb.WEBHOOK_FORMAT_SLACK,
            lambda b: (
                b["text"].startswith("*Tests failed on gpc0: Gpu (regression)*")
                and "• Gpu: regression, failing since system-42 — `nvidia-smi not found`" in b["text"]
                and "<http://fleet:8080/#host=gpc0|Open in Fleetdeck>" in b["text"]
                and b["blocks"][0]["text"]["text"] == b["text"]
            ),
        ),
        (
            notifications_pb.WEBHOOK_FORMAT_ALERTMANAGER,
            lambda b: (
                b["version"] == "4"
                and b["status"] == "firing"
                and b["alerts"][0]["labels"]
                == {
                    "alertname": "FleetdeckTestsFailing",
                    "host": "gpc0",
                    "event": "tests_failed",
                    "generation": "system-42",
                }
                and b["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"
                and "Gpu: regression: nvidia-smi" in b["alerts"][0]["annotations"]["description"]
            ),
        ),
    ],
)
def test_one_event_renders_in_every_format(format: int, check: object) -> None:
    body = json.loads(notifications.render(_failed_payload(), format))
    assert callable(check) and check(body)


def test_tests_recovered_resolves_the_alert_tests_failed_raised() -> None:
    run = pb.TestRun(id="r2", host="gpc0", passed=3, total=3)
    _event_id, payload = notifications.tests_recovered(run, at=1_700_000_000, link="")
    recovered = notifications.alertmanager(payload)
    failed = notifications.alertmanager(_failed_payload())
    assert recovered["status"] == "resolved"
    assert recovered["alerts"][0]["fingerprint"] == failed["alerts"][0]["fingerprint"]


@pytest.mark.parametrize(
    ("secret", "header_secret", "body", "sent_body", "valid"),
    [
        ("s1", "s1", b"{}", b"{}", True),
        ("s1", "s2", b"{}", b"{}", False),
        ("s1", "s1", b"{}", b"{ }", False),
    ],
)
def test_a_signature_verifies_only_with_its_secret_and_body(
    secret: str, header_secret: str, body: bytes, sent_body: bytes, valid: bool
) -> None:
    header = notifications.signature(header_secret, 1_700_000_000, body)
    assert header.startswith("t=1700000000,v1=")
    assert notifications.verify(secret, header, sent_body) is valid


@pytest.mark.parametrize("header", ["", "t=x,v1=00", "v1=00", "t=1"])
def test_a_malformed_signature_header_does_not_verify(header: str) -> None:
    assert not notifications.verify("s", header, b"{}")


@pytest.mark.parametrize(
    ("attempts", "delay"),
    [(1, 5.0), (2, 10.0), (3, 20.0), (10, 2560.0), (11, 3600.0), (12, None), (13, None)],
)
def test_retries_back_off_exponentially_then_give_up(attempts: int, delay: float | None) -> None:
    assert notifications.retry_delay(attempts, 5.0) == delay


@pytest.mark.parametrize(
    ("events", "mask"),
    [
        ([], 0),
        ([notifications_pb.NOTIFICATION_EVENT_TESTS_FAILED], 0b10),
        (
            [
                notifications_pb.NOTIFICATION_EVENT_TESTS_FAILED,
                notifications_pb.NOTIFICATION_EVENT_HOST_OFFLINE,
            ],
            0b10010,
        ),
    ],
)
def test_events_are_stored_as_one_bit_each(events: list[int], mask: int) -> None:
    assert notifications.events_mask(events) == mask


@pytest.mark.parametrize(
    ("name", "event"),
    [
        ("tests_failed", notifications_pb.NOTIFICATION_EVENT_TESTS_FAILED),
        ("tests-recovered", notifications_pb.NOTIFICATION_EVENT_TESTS_RECOVERED),
        ("HOST_OFFLINE", notifications_pb.NOTIFICATION_EVENT_HOST_OFFLINE),
    ],
)
def test_event_names_round_trip(name: str, event: int) -> None:
    assert notifications.event_from_name(name) == event
    assert notifications.event_name(event) == name.lower().replace("-", "_")


@pytest.mark.parametrize("name", ["unspecified", "nope"])
def test_an_unknown_event_name_is_refused(name: str) -> None:
    with pytest.raises(ValueError):
        notifications.event_from_name(name)


def test_command_failed_and_host_offline_say_what_happened() -> None:
    command = pb.Command(
        id="c1",
        host="gpc0",
        operation=pb.OPERATION_SWITCH,
        state=pb.COMMAND_STATE_FAILED,
        exit_code=2,
        message="x",
    )
    event_id, payload = notifications.command_failed(command, "system-9", at=0, link="")
    assert (event_id, payload["summary"], payload["generation"]) == (
        "command_failed:c1",
        "Switch failed on gpc0 (exit 2): x",
        "system-9",
    )
    event_id, payload = notifications.host_offline("gpc0", 100.0, 300.0, link="")
    assert event_id == "host_offline:gpc0:100.000000"
    assert payload["summary"] == "gpc0 has been offline since 1970-01-01T00:01:40Z"
