"""Prometheus /metrics scraped for real: on the credential-free --metrics listener and on the web UI's
port with a viewer API token, parsed with prometheus_client's own text parser, after a switch and a
failing test run."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from controlplane.app import ControlPlane, ControlPlaneConfig
from controlplane.metrics import MAX_CASE_NAME
from fleetdeck.client import aio_channel
from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc
from fleetdeck.v1 import types_pb2 as pb

ADMIN_TOKEN = "fdapi_" + "m" * 40
COMMIT = "a" * 40  # what the scripted agent reports
LOCK = hashlib.sha256(b"lock").hexdigest()
LONG_CASE = "x" * 300


@pytest.fixture
async def cp(tmp_path: Path) -> AsyncIterator[ControlPlane]:
    """A control plane with the web UI and a --metrics listener, requiring API tokens."""
    config = ControlPlaneConfig(
        database=tmp_path / "fleet.db",
        grpc_address="127.0.0.1:0",
        http_address="127.0.0.1:0",
        metrics_address="127.0.0.1:0",
        admin_token=ADMIN_TOKEN,
        require_api_tokens=True,
    )
    async with ControlPlane(config) as plane:
        yield plane


@pytest.fixture
async def fleet(cp: ControlPlane) -> AsyncIterator[fleet_grpc.FleetServiceStub]:
    async with aio_channel(cp.grpc_target, ADMIN_TOKEN) as channel:
        yield fleet_grpc.FleetServiceStub(channel)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def _switch_then_failing_tests(fleet, agent) -> None:
    await fleet.SetDesiredState(fleet_pb.SetDesiredStateRequest(commit=COMMIT, lock_hash=LOCK))
    await agent.hello()
    for _ in range(3):
        agent.heartbeat()
    switch = (
        (
            await fleet.RunOperation(
                fleet_pb.RunOperationRequest(hosts=["gpc0"], operation=pb.OPERATION_SWITCH)
            )
        )
        .results[0]
        .command_id
    )
    await agent.recv("run_command")
    agent.output(switch, "building", "activating")
    await agent.ack(switch, agent.finish(switch, 0, generation="system-2-link"))
    test = (await agent.recv("run_command")).run_command.command_id
    run = pb.TestRun(generation="system-2-link", state=pb.TEST_STATE_FAILED, total=3, passed=1, failed=2)
    run.duration.FromMilliseconds(2500)
    run.cases.add(name="Network", outcome=pb.TEST_OUTCOME_PASSED)
    run.cases.add(name="GPU", outcome=pb.TEST_OUTCOME_FAILED, output="no device")
    run.cases.add(name=LONG_CASE, outcome=pb.TEST_OUTCOME_TIMED_OUT)
    agent.output(test, "gpu: no device")
    agent.send(test_run=agent_pb.TestRunReport(command_id=test, seq=agent.next_seq(test), run=run))
    await agent.ack(test, agent.finish(test, 1, generation="system-2-link"))


async def test_a_scrape_counts_the_switch_and_the_failing_test_run(cp: ControlPlane, fleet, connect) -> None:
    agent = await connect("gpc0")
    await _switch_then_failing_tests(fleet, agent)
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(cp.metrics_url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    got = _samples(response.text)

    assert got[("fleetdeck_hosts", (("compartment", "tests"), ("status", "error")))] == 1
    assert got[("fleetdeck_hosts", (("compartment", "tests"), ("status", "ok")))] == 0
    assert got[("fleetdeck_hosts", (("compartment", "system"), ("status", "ok")))] == 1
    assert (
        sum(v for (name, _), v in got.items() if name == "fleetdeck_hosts") == 5
    )  # one host, 5 compartments
    assert got[("fleetdeck_hosts_known", ())] == 1
    assert got[("fleetdeck_agents_connected", ())] == 1
    assert got[("fleetdeck_heartbeats_received_total", ())] == 3
    assert got[("fleetdeck_commands_total", (("operation", "switch"), ("outcome", "succeeded")))] == 1
    assert got[("fleetdeck_commands_total", (("operation", "test"), ("outcome", "failed")))] == 1
    assert got[("fleetdeck_test_runs_total", (("outcome", "failed"),))] == 1
    assert got[("fleetdeck_test_run_duration_seconds_count", ())] == 1
    assert got[("fleetdeck_test_run_duration_seconds_sum", ())] == 2.5
    assert got[("fleetdeck_test_run_duration_seconds_bucket", (("le", "5.0"),))] == 1
    assert got[("fleetdeck_test_run_duration_seconds_bucket", (("le", "1.0"),))] == 0
    assert got[("fleetdeck_failing_test_cases", (("case", "GPU"), ("host", "gpc0")))] == 1
    assert got[("fleetdeck_failing_test_cases", (("case", LONG_CASE[:MAX_CASE_NAME]), ("host", "gpc0")))] == 1
    assert ("fleetdeck_failing_test_cases", (("case", "Network"), ("host", "gpc0"))) not in got
    assert got[("fleetdeck_output_lines_stored_total", ())] == 3
    assert got[("fleetdeck_store_write_seconds_count", ())] > 0
    assert got[("fleetdeck_sse_clients", ())] == 0


async def test_the_web_ui_port_serves_metrics_to_a_viewer_token_only(cp: ControlPlane, fleet) -> None:
    viewer = (
        await fleet.CreateApiToken(fleet_pb.CreateApiTokenRequest(name="prom", role=pb.ROLE_VIEWER))
    ).token
    agent = (await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0"))).token
    async with httpx.AsyncClient(base_url=cp.http_url, timeout=10) as http:
        anonymous = await http.get("/metrics")
        as_agent = await http.get("/metrics", headers={"authorization": f"Bearer {agent}"})
        scraped = await http.get("/metrics", headers={"authorization": f"Bearer {viewer}"})
    assert anonymous.status_code == 401 and "API token" in anonymous.json()["error"]
    assert as_agent.status_code in (401, 403) and "error" in as_agent.json()
    assert scraped.status_code == 200
    assert _samples(scraped.text)[("fleetdeck_hosts_known", ())] == 0


async def test_browser_streams_are_counted(cp: ControlPlane) -> None:
    password = cp.bootstrap_admin_password
    assert password is not None
    async with httpx.AsyncClient(base_url=cp.http_url, timeout=10) as browser:
        answer = await browser.post("/login", data={"username": "admin", "password": password})
        assert answer.status_code == 303, answer.text
        async with browser.stream("GET", "/events") as events:
            assert events.status_code == 200
            await anext(events.aiter_lines())  # the stream is open and tracked
            async with httpx.AsyncClient(timeout=10) as scraper:
                scraped = await scraper.get(cp.metrics_url)
    assert _samples(scraped.text)[("fleetdeck_sse_clients", ())] == 1
