"""Which role a route needs: the least role of the FleetService calls it makes for the user."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from fleetdeck.roles import allows, highest, required_role, role_name
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import types_pb2 as pb

Endpoint = Callable[[Request], Awaitable[Response]]

NEEDED_ROLE = "fleetdeck_needed_role"
"""Attribute every guarded endpoint carries; a route without it is refused when the app is built."""

_WHAT = {
    "RunOperation": "run operations",
    "CancelCommand": "stop commands",
    "UpdateHostSettings": "change a host's test settings",
    "UpdateSettings": "change the fleet's settings",
    "ListWebhooks": "see the webhooks",
    "CreateWebhook": "add webhooks",
    "DeleteWebhook": "remove webhooks",
    "TestWebhook": "send test notifications",
}


def role_for(methods: tuple[str, ...]) -> int:
    """The least role that may make every one of `methods` (FleetService method names)."""
    roles = [required_role(method) for method in methods]
    known = [role for role in roles if role is not None]
    if len(known) != len(roles):
        raise ValueError(f"not every one of {methods} is a FleetService method")
    return highest(known, default=pb.ROLE_VIEWER)


def refusal(session: fleet_pb.WebSession, needed: int, methods: tuple[str, ...]) -> str:
    """Why `session` may not do what a route does, as a sentence."""
    what = " and ".join(_WHAT.get(method, f"call {method}") for method in methods)
    return (
        f"{session.username} is logged in as {role_name(session.role)} and may not {what}; "
        f"that needs the {role_name(needed)} role."
    )


def calls(*methods: str) -> Callable[[Endpoint], Endpoint]:
    """Guard an endpoint with the role its FleetService `methods` need (none: any logged-in user)."""
    needed = role_for(methods)

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            session: fleet_pb.WebSession = request.state.web_session
            if not allows(session.role, needed):
                return JSONResponse({"error": refusal(session, needed, methods)}, status_code=403)
            return await endpoint(request)

        setattr(guarded, NEEDED_ROLE, needed)
        return guarded

    return decorate
