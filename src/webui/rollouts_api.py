"""The JSON API behind the page's Rollouts panel: list, create, pause, resume, abort, approve."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from fleetdeck.v1 import rollouts_pb2 as rpb
from webui.api import body_of, duration_of, stub_of
from webui.client import DEADLINE_SECONDS
from webui.convert import BadRequest, optional_bool, to_dict
from webui.roles import calls


def _count(body: dict[str, Any], key: str, maximum: int) -> int:
    value = body.get(key, 0)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise BadRequest(f"{key} must be a whole number from 0 to {maximum}")
    return value


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key, "")
    if not isinstance(value, str):
        raise BadRequest(f"{key} must be text")
    return value.strip()


@calls("ListRollouts")
async def list_rollouts(request: Request) -> JSONResponse:
    """The recent rollouts, newest first."""
    response = await stub_of(request).ListRollouts(
        rpb.ListRolloutsRequest(page_size=20), timeout=DEADLINE_SECONDS
    )
    return JSONResponse(to_dict(response))


@calls("CreateRollout")
async def create_rollout(request: Request) -> JSONResponse:
    """Start a rollout from the panel's form."""
    body = await body_of(request)
    canary = _text(body, "canary_hosts")
    spec = rpb.RolloutSpec(
        commit=_text(body, "commit"),
        lock_hash=_text(body, "lock_hash"),
        selector=_text(body, "selector"),
        canary_hosts=[name.strip() for name in canary.split(",") if name.strip()],
        batch_size=_count(body, "batch_size", 10_000),
        failure_budget=_count(body, "failure_budget", 10_000),
        approve_after_canary=bool(optional_bool(body, "approve_after_canary")),
        failed_host_action=(
            rpb.FAILED_HOST_ACTION_ROLL_BACK
            if optional_bool(body, "roll_back_failed")
            else rpb.FAILED_HOST_ACTION_LEAVE
        ),
    )
    pause = _count(body, "batch_pause_seconds", 86_400)
    if pause:
        spec.batch_pause.CopyFrom(duration_of(pause))
    response = await stub_of(request).CreateRollout(
        rpb.CreateRolloutRequest(spec=spec), timeout=DEADLINE_SECONDS
    )
    return JSONResponse(to_dict(response.rollout))


def _action(rpc: str, request_type: type) -> Any:
    @calls(rpc)
    async def act(request: Request) -> JSONResponse:
        message = request_type(rollout_id=request.path_params["rollout_id"])
        if rpc == "AbortRollout":
            message.roll_back_failed_hosts = bool(
                optional_bool(await body_of(request), "roll_back_failed_hosts")
            )
        response = await getattr(stub_of(request), rpc)(message, timeout=DEADLINE_SECONDS)
        return JSONResponse(to_dict(response.rollout))

    act.__name__ = act.__qualname__ = rpc
    return act


routes = [
    Route("/api/rollouts", list_rollouts),
    Route("/api/rollouts", create_rollout, methods=["POST"]),
    Route(
        "/api/rollouts/{rollout_id}/pause", _action("PauseRollout", rpb.PauseRolloutRequest), methods=["POST"]
    ),
    Route(
        "/api/rollouts/{rollout_id}/resume",
        _action("ResumeRollout", rpb.ResumeRolloutRequest),
        methods=["POST"],
    ),
    Route(
        "/api/rollouts/{rollout_id}/abort", _action("AbortRollout", rpb.AbortRolloutRequest), methods=["POST"]
    ),
    Route(
        "/api/rollouts/{rollout_id}/approve",
        _action("ApproveRollout", rpb.ApproveRolloutRequest),
        methods=["POST"],
    ),
]
