"""JUnit XML of a test run: read back by junitparser, valid against the Ant/Jenkins JUnit schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import xmlschema
from google.protobuf import duration_pb2, timestamp_pb2
from junitparser import Error, Failure, JUnitXml, Skipped

from fleetdeck.junit import junit_xml
from fleetdeck.v1 import types_pb2 as pb

SCHEMA = xmlschema.XMLSchema(Path(__file__).with_name("junit.xsd"))


def _case(name: str, outcome: int, ms: int, output: str = "", exit_code: int = 0) -> pb.TestCaseResult:
    return pb.TestCaseResult(
        name=name,
        outcome=outcome,  # type: ignore[arg-type]
        duration=duration_pb2.Duration(nanos=ms * 1_000_000),
        output=output,
        exit_code=exit_code,
        file=name.lower() + ".sh",
    )


def _run(*cases: pb.TestCaseResult) -> pb.TestRun:
    return pb.TestRun(
        id="run1",
        host="gpc0",
        trigger=pb.TEST_TRIGGER_AFTER_SWITCH,
        generation="system-2-link",
        state=pb.TEST_STATE_FAILED,
        started_at=timestamp_pb2.Timestamp(seconds=1_800_000_000, nanos=500_000_000),
        duration=duration_pb2.Duration(seconds=3, nanos=250_000_000),
        commit="0123456789abcdef0123456789abcdef01234567",
        triggered_by_command_id="switch1",
        cases=list(cases),
    )


EVERY_OUTCOME = _run(
    _case("Network", pb.TEST_OUTCOME_PASSED, 400, "ping ok"),
    _case("GPU acceleration", pb.TEST_OUTCOME_FAILED, 610, "Error: nvidia-smi not found", exit_code=1),
    _case("Docker", pb.TEST_OUTCOME_TIMED_OUT, 2000, "waiting for dockerd", exit_code=-1),
    _case("Broken", pb.TEST_OUTCOME_ERROR, 0, "exec format error", exit_code=-1),
    _case("Last", pb.TEST_OUTCOME_NOT_RUN, 0, exit_code=-1),
)


def _parse(xml: bytes, tmp_path: Path) -> JUnitXml:
    path = tmp_path / "report.xml"
    path.write_bytes(xml)
    return JUnitXml.fromfile(str(path))


def test_every_outcome_becomes_the_element_ci_servers_expect(tmp_path: Path) -> None:
    (suite,) = _parse(junit_xml(EVERY_OUTCOME), tmp_path)
    assert suite.name == "gpc0 system-2-link" and suite.hostname == "gpc0"
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (5, 2, 1, 1)
    assert suite.time == 3.25 and suite.timestamp == "2027-01-15T08:00:00"
    assert {p.name: p.value for p in suite.properties()} == {
        "commit": "0123456789abcdef0123456789abcdef01234567",
        "generation": "system-2-link",
        "trigger": "after switch",
        "run_id": "run1",
        "triggered_by_command_id": "switch1",
    }
    by_name = {case.name: case for case in suite}
    assert list(by_name) == ["Network", "GPU acceleration", "Docker", "Broken", "Last"]
    assert by_name["Network"].is_passed and by_name["Network"].time == 0.4
    gpu = by_name["GPU acceleration"].result[0]
    assert isinstance(gpu, Failure) and gpu.text == "Error: nvidia-smi not found"
    assert gpu.message == "exit code 1"
    docker = by_name["Docker"].result[0]
    assert isinstance(docker, Failure) and docker.type == "timed out"
    assert isinstance(by_name["Broken"].result[0], Error)
    assert isinstance(by_name["Last"].result[0], Skipped)


@pytest.mark.parametrize(
    "run",
    [
        EVERY_OUTCOME,
        _run(),  # a run with no cases
        _run(_case("Colours", pb.TEST_OUTCOME_FAILED, 5, "\x1b[31mred\x1b[0m \x00 done", exit_code=2)),
        pb.TestRun(id="bare", host="h", cases=[_case("x", pb.TEST_OUTCOME_PASSED, 1)]),  # unset fields
    ],
    ids=["every outcome", "no cases", "control characters", "unset fields"],
)
def test_the_xml_is_valid_against_the_junit_schema(run: pb.TestRun) -> None:
    SCHEMA.validate(junit_xml(run))


def test_control_characters_are_shown_not_dropped(tmp_path: Path) -> None:
    run = _run(_case("Colours", pb.TEST_OUTCOME_FAILED, 5, "\x1b[31mred\x1b[0m", exit_code=2))
    (suite,) = _parse(junit_xml(run), tmp_path)
    (case,) = suite
    assert case.result[0].text == "\\x1b[31mred\\x1b[0m"


def test_the_schema_rejects_what_ci_servers_would_not_read() -> None:
    # The validator is not a formality: a suite without its required parts is refused.
    assert not SCHEMA.is_valid(b'<testsuite name="x"><testcase name="a" classname="b" time="1"/></testsuite>')
