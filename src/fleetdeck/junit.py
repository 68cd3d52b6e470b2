"""A test run as JUnit XML (the Ant/Jenkins dialect CI servers read): pure, from a TestRun message."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from google.protobuf import duration_pb2

from fleetdeck.v1 import types_pb2 as pb

# XML 1.0 forbids most control characters (test output may hold ANSI escapes): shown as \xNN instead.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_FAILED = {pb.TEST_OUTCOME_FAILED: "failed", pb.TEST_OUTCOME_TIMED_OUT: "timed out"}
_TRIGGERS = {pb.TEST_TRIGGER_MANUAL: "manual", pb.TEST_TRIGGER_AFTER_SWITCH: "after switch"}


def _text(value: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", value)


def _seconds(d: duration_pb2.Duration) -> str:
    return f"{d.seconds + d.nanos / 1e9:.3f}"


def suite_name(run: pb.TestRun) -> str:
    """The testsuite's name: the host and the generation the run verified."""
    return f"{run.host} {run.generation}" if run.generation else run.host


def junit_xml(run: pb.TestRun) -> bytes:
    """One <testsuite> for the run: a <testcase> per case, <failure>/<error> with the case's output,
    <skipped> for cases the deadline never reached, and the run's commit, generation and trigger."""
    cases = list(run.cases)
    count = {o: sum(1 for c in cases if c.outcome == o) for o in pb.TestOutcome.values()}
    started = run.started_at if run.started_at.seconds else run.finished_at
    suite = ET.Element(
        "testsuite",
        {
            "name": _text(suite_name(run)),
            "hostname": _text(run.host or "localhost"),
            # The dialect's timestamp has no zone and no fraction; it is UTC.
            "timestamp": started.ToDatetime().strftime("%Y-%m-%dT%H:%M:%S"),
            "tests": str(len(cases)),
            "failures": str(count[pb.TEST_OUTCOME_FAILED] + count[pb.TEST_OUTCOME_TIMED_OUT]),
            "errors": str(count[pb.TEST_OUTCOME_ERROR]),
            "skipped": str(count[pb.TEST_OUTCOME_NOT_RUN]),
            "time": _seconds(run.duration),
        },
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("commit", run.commit),
        ("generation", run.generation),
        ("trigger", _TRIGGERS.get(run.trigger, "unknown")),
        ("run_id", run.id),
        ("triggered_by_command_id", run.triggered_by_command_id),
    ):
        ET.SubElement(properties, "property", {"name": name, "value": _text(value)})
    for case in cases:
        testcase = ET.SubElement(
            suite,
            "testcase",
            {"name": _text(case.name), "classname": _text(run.host), "time": _seconds(case.duration)},
        )
        if case.outcome in _FAILED:
            kind = _FAILED[case.outcome]
            message = kind if case.outcome == pb.TEST_OUTCOME_TIMED_OUT else f"exit code {case.exit_code}"
            failure = ET.SubElement(testcase, "failure", {"type": kind, "message": message})
            failure.text = _text(case.output)
        elif case.outcome == pb.TEST_OUTCOME_ERROR:
            error = ET.SubElement(testcase, "error", {"type": "error", "message": "the case could not run"})
            error.text = _text(case.output)
        elif case.outcome == pb.TEST_OUTCOME_NOT_RUN:
            ET.SubElement(testcase, "skipped", {"message": "not reached before the run's deadline"})
    ET.SubElement(suite, "system-out").text = ""
    ET.SubElement(suite, "system-err").text = ""
    xml: bytes = ET.tostring(suite, encoding="utf-8", xml_declaration=True)
    return xml
