"""A case's JUnit XML ($FLEETDECK_JUNIT_OUTPUT) through a real agent run: its test cases become
sub-cases; a malformed or oversized report is a clear case error and the run goes on."""

from __future__ import annotations

from agent_world import World

from agent import junit
from fleetdeck.v1 import types_pb2

REPORT = """<?xml version="1.0"?>
<testsuites>
  <testsuite name="goss" tests="4">
    <testcase classname="service" name="sshd running" time="0.012"/>
    <testcase classname="port" name="tcp:443 listening" time="1.5">
      <failure message="expected listening: true, got false">details</failure>
    </testcase>
    <testcase classname="file" name="/etc/motd" time="0"><skipped message="not on this host"/></testcase>
    <testcase classname="command" name="nvidia-smi" time="0.2"><error message="exec failed"/></testcase>
  </testsuite>
</testsuites>
"""

WRITES_REPORT = f"""cat > "$FLEETDECK_JUNIT_OUTPUT" <<'XML'
{REPORT}XML
echo "goss done"
"""
MALFORMED = """printf '<testsuites><testcase name="a">' > "$FLEETDECK_JUNIT_OUTPUT"; echo wrote half"""
ENTITY_BOMB = """cat > "$FLEETDECK_JUNIT_OUTPUT" <<'XML'
<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>
<testsuites><testcase name="&b;"/></testsuites>
XML
"""
OVERSIZED = (
    f"""head -c {junit.MAX_BYTES + 1} /dev/zero | tr '\\0' ' ' > "$FLEETDECK_JUNIT_OUTPUT"; echo big"""
)
PASSING_REPORT = (
    """printf '<testsuite><testcase name="ok" time="0.1"/></testsuite>' > "$FLEETDECK_JUNIT_OUTPUT" """
)


async def test_a_real_run_imports_junit_results_and_survives_bad_reports(world: World) -> None:
    host = await world.host(
        "ci1",
        tests={
            "10-goss.sh": WRITES_REPORT,
            "20-malformed.sh": MALFORMED,
            "30-entities.sh": ENTITY_BOMB,
            "40-oversized.sh": OVERSIZED,
            "50-passing.sh": PASSING_REPORT,
            "60-plain.sh": "echo 'no report'",
        },
    )
    await world.agent(host)
    test_id = await world.fleet.run("ci1", types_pb2.OPERATION_TEST)
    await world.fleet.finished(test_id)
    run = await world.fleet.test_run(test_id)
    cases = {c.name: c for c in run.cases}

    goss = cases["Goss"]
    assert goss.outcome == types_pb2.TEST_OUTCOME_FAILED  # the script exited 0; two test cases did not
    assert goss.message == "2 of 4 JUnit test cases failed"
    assert [(s.classname, s.name, s.outcome, s.message) for s in goss.sub_cases] == [
        ("service", "sshd running", types_pb2.TEST_OUTCOME_PASSED, ""),
        ("port", "tcp:443 listening", types_pb2.TEST_OUTCOME_FAILED, "expected listening: true, got false"),
        ("file", "/etc/motd", types_pb2.TEST_OUTCOME_NOT_RUN, "not on this host"),
        ("command", "nvidia-smi", types_pb2.TEST_OUTCOME_ERROR, "exec failed"),
    ]
    assert [s.duration.ToMilliseconds() for s in goss.sub_cases] == [12, 1500, 0, 200]

    malformed = cases["Malformed"]
    assert malformed.outcome == types_pb2.TEST_OUTCOME_ERROR
    assert malformed.message.startswith("JUnit XML 1.xml is malformed: ")
    assert "wrote half" in malformed.output and malformed.message in malformed.output
    entities = cases["Entities"]
    assert entities.outcome == types_pb2.TEST_OUTCOME_ERROR and "is malformed" in entities.message
    assert not entities.sub_cases
    oversized = cases["Oversized"]
    assert oversized.outcome == types_pb2.TEST_OUTCOME_ERROR
    assert oversized.message == (
        f"JUnit XML 3.xml is {junit.MAX_BYTES + 1} bytes, more than the {junit.MAX_BYTES} read; "
        "its test cases were not recorded"
    )

    # The run went on past the bad reports.
    assert cases["Passing"].outcome == types_pb2.TEST_OUTCOME_PASSED
    assert [s.name for s in cases["Passing"].sub_cases] == ["ok"]
    assert (cases["Plain"].outcome, list(cases["Plain"].sub_cases)) == (types_pb2.TEST_OUTCOME_PASSED, [])
    assert (run.passed, run.failed, run.total) == (2, 4, 6)
