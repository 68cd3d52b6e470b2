"""The JSON API behind the page's buttons: each route is one FleetService call with a deadline."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from google.protobuf import duration_pb2, field_mask_pb2
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fleetdeck.history import run_offer
from fleetdeck.junit import junit_xml
from fleetdeck.operations import operation_name
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc
from fleetdeck.v1 import history_pb2 as history_pb
from fleetdeck.v1 import types_pb2
from webui.client import DEADLINE_SECONDS
from webui.convert import BadRequest, host_names, operation, optional_bool, optional_seconds, to_dict
from webui.roles import calls


def _stub(request: Request) -> fleet_grpc.FleetServiceAsyncStub:
    stub: fleet_grpc.FleetServiceAsyncStub = request.app.state.fleet.stub
    return stub


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise BadRequest("the request body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


def _duration(seconds: float) -> duration_pb2.Duration:
    """Seconds as a Duration."""
    duration = duration_pb2.Duration()
    duration.FromTimedelta(timedelta(seconds=seconds))
    return duration


@calls("ListHosts")
async def list_hosts(request: Request) -> JSONResponse:
    """Every host with its compartments, and the fleet version."""
    response = await _stub(request).ListHosts(fleet_pb.ListHostsRequest(), timeout=DEADLINE_SECONDS)
    return JSONResponse(to_dict(response))


@calls("GetHost")
async def get_host(request: Request) -> JSONResponse:
    """One host."""
    name = request.path_params["name"]
    response = await _stub(request).GetHost(fleet_pb.GetHostRequest(name=name), timeout=DEADLINE_SECONDS)
    return JSONResponse(to_dict(response.host))


@calls("RunOperation")
async def run_operation(request: Request) -> JSONResponse:
    """Start pull, switch, test or rollback on one or more hosts; refusals come back per host."""
    body = await _body(request)
    message = fleet_pb.RunOperationRequest(
        hosts=host_names(body.get("hosts")), operation=operation(body.get("operation"))
    )
    response = await _stub(request).RunOperation(message, timeout=DEADLINE_SECONDS)
    return JSONResponse(to_dict(response))


@calls("CancelCommand")
async def cancel_command(request: Request) -> JSONResponse:
    """Ask the agent to stop a running command."""
    message = fleet_pb.CancelCommandRequest(command_id=request.path_params["command_id"])
    response = await _stub(request).CancelCommand(message, timeout=DEADLINE_SECONDS)
    return JSONResponse(to_dict(response.command))


@calls("GetCommand")
async def get_command(request: Request) -> JSONResponse:
    """One command."""
    message = fleet_pb.GetCommandRequest(command_id=request.path_params["command_id"])
    response = await _stub(request).GetCommand(message, timeout=DEADLINE_SECONDS)
    return JSONResponse(to_dict(response.command))


@calls("ListCommands")
async def list_commands(request: Request) -> JSONResponse:
    """A host's recent commands, newest first."""
    message = fleet_pb.ListCommandsRequest(host=request.path_params["name"], page_size=20)
    response = await _stub(request).ListCommands(message, timeout=DEADLINE_SECONDS)
    return JSONResponse(to_dict(response))


@calls("ListTestRuns")
async def list_test_runs(request: Request) -> JSONResponse:
    """A host's recent test runs, newest first, without case output."""
    message = fleet_pb.ListTestRunsRequest(host=request.path_params["name"], page_size=20)
    response = await _stub(request).ListTestRuns(message, timeout=DEADLINE_SECONDS)
    return JSONResponse(to_dict(response))


@calls("GetTestRun")
async def get_test_run(request: Request) -> JSONResponse:
    """One test run with every case and its output."""
    message = fleet_pb.GetTestRunRequest(run_id=request.path_params["run_id"])
    response = await _stub(request).GetTestRun(message, timeout=DEADLINE_SECONDS)
    run = to_dict(response.run)
    if response.run.state == types_pb2.TEST_STATE_FAILED:
        offer = run_offer(response.run)  # what the popup offers first, decided where the CLI's is
        run["offer"] = {"operations": [operation_name(op) for op in offer.operations], "advice": offer.advice}
    return JSONResponse(run)


@calls("ListCaseSummaries")
async def list_case_summaries(request: Request) -> JSONResponse:
    """The summary of every case a host ran: since when it fails, its last pass, its pass rate."""
    message = history_pb.ListCaseSummariesRequest(host=request.path_params["name"])
    response = await _stub(request).ListCaseSummaries(message, timeout=DEADLINE_SECONDS)
    return JSONResponse(to_dict(response))


@calls("ListCaseResults")
async def list_case_results(request: Request) -> JSONResponse:
    """One case's recent results on a host with its summary."""
    message = history_pb.ListCaseResultsRequest(
        host=request.path_params["name"], name=request.path_params["case"], page_size=20
    )
    response = await _stub(request).ListCaseResults(message, timeout=DEADLINE_SECONDS)
    return JSONResponse(to_dict(response))


@calls("ListFailingCases")
async def list_failing_cases(request: Request) -> JSONResponse:
    """Every case failing somewhere in the fleet, with its hosts."""
    response = await _stub(request).ListFailingCases(
        history_pb.ListFailingCasesRequest(), timeout=DEADLINE_SECONDS
    )
    return JSONResponse(to_dict(response))


@calls("GetTestRun")
async def get_test_run_junit(request: Request) -> Response:
    """One test run as JUnit XML, as a download (the same document as `fleetdeck test-run --junit`)."""
    message = fleet_pb.GetTestRunRequest(run_id=request.path_params["run_id"])
    response = await _stub(request).GetTestRun(message, timeout=DEADLINE_SECONDS)
    name = f"{response.run.host}-{response.run.id}.xml"
    return Response(
        junit_xml(response.run),
        media_type="application/xml",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


@calls("UpdateHostSettings")
async def update_host_settings(request: Request) -> JSONResponse:
    """Override a host's test settings; only the fields present in the body change (null clears)."""
    body = await _body(request)
    override = types_pb2.TestSettingsOverride()
    paths: list[str] = []
    for key in ("enabled", "auto_run_after_switch"):
        if key in body:
            value = optional_bool(body, key)
            if value is not None:
                setattr(override, key, value)
            paths.append(key)
    if "timeout_seconds" in body:
        seconds = optional_seconds(body, "timeout_seconds")
        if seconds is not None:
            override.timeout.CopyFrom(_duration(seconds))
        paths.append("timeout")
    if not paths:
        raise BadRequest("nothing to change: send enabled, auto_run_after_switch or timeout_seconds")
    message = fleet_pb.UpdateHostSettingsRequest(
        host=request.path_params["name"],
        test_settings_override=override,
        update_mask=field_mask_pb2.FieldMask(paths=paths),
    )
    response = await _stub(request).UpdateHostSettings(message, timeout=DEADLINE_SECONDS)
    return JSONResponse(to_dict(response.host))


@calls("GetSettings", "GetDesiredState")
async def get_settings(request: Request) -> JSONResponse:
    """The fleet-wide settings and the desired state, for the settings form and the popups."""
    stub = _stub(request)
    settings = await stub.GetSettings(fleet_pb.GetSettingsRequest(), timeout=DEADLINE_SECONDS)
    desired = await stub.GetDesiredState(fleet_pb.GetDesiredStateRequest(), timeout=DEADLINE_SECONDS)
    return JSONResponse(
        {"settings": to_dict(settings.settings), "desired_state": to_dict(desired.desired_state)}
    )


@calls("UpdateSettings")
async def update_settings(request: Request) -> JSONResponse:
    """Change the global test timeout."""
    body = await _body(request)
    seconds = optional_seconds(body, "test_timeout_seconds")
    if seconds is None:
        raise BadRequest("test_timeout_seconds is required")
    message = fleet_pb.UpdateSettingsRequest(
        settings=types_pb2.Settings(test_timeout=_duration(seconds)),
        update_mask=field_mask_pb2.FieldMask(paths=["test_timeout"]),
    )
    response = await _stub(request).UpdateSettings(message, timeout=DEADLINE_SECONDS)
    return JSONResponse({"settings": to_dict(response.settings)})


routes = [
    Route("/api/hosts", list_hosts),
    Route("/api/hosts/{name}", get_host),
    Route("/api/hosts/{name}/commands", list_commands),
    Route("/api/hosts/{name}/test-runs", list_test_runs),
    Route("/api/hosts/{name}/cases", list_case_summaries),
    Route("/api/hosts/{name}/cases/{case:path}", list_case_results),
    Route("/api/failing-cases", list_failing_cases),
    Route("/api/hosts/{name}/settings", update_host_settings, methods=["PATCH"]),
    Route("/api/operations", run_operation, methods=["POST"]),
    Route("/api/commands/{command_id}", get_command),
    Route("/api/commands/{command_id}/cancel", cancel_command, methods=["POST"]),
    Route("/api/test-runs/{run_id}", get_test_run),
    Route("/api/test-runs/{run_id}/junit.xml", get_test_run_junit),
    Route("/api/settings", get_settings),
    Route("/api/settings", update_settings, methods=["PATCH"]),
]

# For the other API modules (rollouts_api): the same request helpers.
stub_of, body_of, duration_of = _stub, _body, _duration
