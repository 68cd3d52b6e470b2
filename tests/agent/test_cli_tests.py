"""`fleetdeck test-runs HOST` and `fleetdeck test-run RUN_ID [--junit FILE]` against a real fleet."""

from __future__ import annotations

import json
from pathlib import Path

import xmlschema
from agent_world import World
from fleetdeck_cli import fleetdeck
from junitparser import Failure, JUnitXml

from fleetdeck.v1 import types_pb2

JUNIT_XSD = Path(__file__).parents[1] / "fleetdeck" / "junit.xsd"
CASES = {"10-ok.sh": "echo 'all good'", "20-broken.sh": "echo 'disk full' >&2; exit 3"}


async def test_test_runs_and_one_run_with_its_junit_xml(world: World, tmp_path: Path) -> None:
    web1 = await world.host("web1", tests=CASES)
    await world.agent(web1)
    run_id = await world.fleet.run("web1", types_pb2.OPERATION_TEST)
    await world.fleet.finished(run_id)
    target = world.cp.grpc_target

    listed = await fleetdeck("test-runs", "web1", target=target)
    assert listed.code == 0, listed.err
    assert listed.out.splitlines()[1].split()[:3] == [run_id, "failed", "1/2"]
    as_json = json.loads((await fleetdeck("test-runs", "web1", "-o", "json", target=target)).out)
    assert [r["id"] for r in as_json["runs"]] == [run_id]

    report = tmp_path / "report.xml"
    shown = await fleetdeck("test-run", run_id, "--junit", str(report), target=target)
    assert shown.code == 1  # the run failed
    assert "tests failed on web1" in shown.out and "disk full" in shown.out
    xmlschema.XMLSchema(JUNIT_XSD).validate(str(report))
    (suite,) = JUnitXml.fromfile(str(report))  # the document's one <testsuite>
    assert (suite.name, suite.tests, suite.failures) == ("web1 system-1-link", 2, 1)
    broken = next(case for case in suite if case.name == "Broken")
    failure = broken.result[0]
    assert isinstance(failure, Failure) and failure.text == "disk full"

    missing = await fleetdeck("test-run", "nosuch", target=target)
    assert missing.code == 3
