"""A case's JUnit XML report (the file named by $FLEETDECK_JUNIT_OUTPUT) as sub-cases.

Read with a hardened parser (defusedxml: no entities, no external references) and capped in size,
count and message length, so a hostile or runaway report costs a clear case error, never the run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from google.protobuf import duration_pb2

from fleetdeck.v1 import types_pb2

ENV_VAR = "FLEETDECK_JUNIT_OUTPUT"
MAX_BYTES = 1024 * 1024
MAX_SUB_CASES = 500
MAX_MESSAGE = 500


@dataclass
class JunitReport:
    """What a case's JUnit file said: its test cases, or why it could not be read."""

    sub_cases: list[types_pb2.TestSubCase] = field(default_factory=list)
    error: str = ""
    dropped: int = 0  # test cases beyond MAX_SUB_CASES

    @property
    def failed(self) -> int:
        """Test cases that failed or errored."""
        bad = (types_pb2.TEST_OUTCOME_FAILED, types_pb2.TEST_OUTCOME_ERROR)
        return sum(s.outcome in bad for s in self.sub_cases)


def read_report(path: Path, max_bytes: int = MAX_BYTES) -> JunitReport | None:
    """The report at `path`; None when the case wrote none."""
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > max_bytes:
                return JunitReport(
                    error=f"JUnit XML {path.name} is {size} bytes, more than the {max_bytes} read; "
                    "its test cases were not recorded"
                )
            data = f.read(max_bytes + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return JunitReport(error=f"JUnit XML {path.name} could not be read: {exc.strerror or exc}")
    if len(data) > max_bytes:  # grew while being read
        return JunitReport(error=f"JUnit XML {path.name} is more than the {max_bytes} bytes read")
    try:
        root = fromstring(data)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        return JunitReport(
            error=f"JUnit XML {path.name} is malformed: {_clip(str(exc) or type(exc).__name__)}"
        )
    if root.tag not in ("testsuites", "testsuite"):
        return JunitReport(
            error=f"JUnit XML {path.name} has no testsuites or testsuite root (found <{root.tag}>)"
        )
    report = JunitReport()
    for testcase in root.iter("testcase"):
        if len(report.sub_cases) >= MAX_SUB_CASES:
            report.dropped += 1
            continue
        report.sub_cases.append(_sub_case(testcase))
    return report


def _sub_case(testcase: Element) -> types_pb2.TestSubCase:
    sub = types_pb2.TestSubCase(
        name=_clip(testcase.get("name", "")),
        classname=_clip(testcase.get("classname", "")),
        outcome=types_pb2.TEST_OUTCOME_PASSED,
        duration=_seconds(testcase.get("time", "")),
    )
    for tag, outcome in (
        ("failure", types_pb2.TEST_OUTCOME_FAILED),
        ("error", types_pb2.TEST_OUTCOME_ERROR),
        ("skipped", types_pb2.TEST_OUTCOME_NOT_RUN),
    ):
        found = testcase.find(tag)
        if found is not None:
            sub.outcome = outcome
            sub.message = _clip(found.get("message") or (found.text or "").strip())
            break
    return sub


def _seconds(text: str) -> duration_pb2.Duration:
    d = duration_pb2.Duration()
    try:
        seconds = float(text.replace(",", ""))
    except ValueError:
        return d
    if 0 <= seconds < 10**9:
        d.FromNanoseconds(int(seconds * 1e9))
    return d


def _clip(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"
