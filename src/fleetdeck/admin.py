"""`fleetdeck token …` (agent tokens) and `fleetdeck api-token …` (API tokens with a role)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import click

from fleetdeck import exits, roles
from fleetdeck.invocation import DEADLINE_SECONDS, Options, call, common_options
from fleetdeck.render import agent_tokens_table, api_tokens_table, console, print_json
from fleetdeck.roles import role_name
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import types_pb2 as pb

if TYPE_CHECKING:
    from fleetdeck.invocation import Stub

ROLES = {role_name(value): value for value in roles.ROLES}
"""{"viewer": ROLE_VIEWER, …}, lowest first: every role the contract ranks."""


@click.group("token")
@common_options()
def token() -> None:
    """Create, list or revoke agent tokens (needs an admin API token)."""


async def _token_create(stub: Stub, opts: Options, host: str, enrollment: bool) -> int:
    created = await stub.CreateAgentToken(
        fleet_pb.CreateAgentTokenRequest(host=host, enrollment=enrollment), timeout=DEADLINE_SECONDS
    )
    if opts.json:
        print_json(created)
        return exits.OK
    print(created.token)
    kind = "enrollment token" if enrollment else "token"
    print(f"{kind} id {created.token_id} for host {host}; it is shown only once", flush=True)
    return exits.OK


@token.command("create")
@click.argument("host")
@click.option(
    "--enrollment", is_flag=True, help="a one-time token the agent exchanges for its host token (30 min)"
)
@common_options()
def token_create(host: str, enrollment: bool) -> int:
    """Create a token for HOST and print it once (first line: the token alone)."""
    return call(lambda stub, opts: _token_create(stub, opts, host, enrollment))


async def _token_list(stub: Stub, opts: Options, host: str) -> int:
    tokens = await stub.ListAgentTokens(fleet_pb.ListAgentTokensRequest(host=host), timeout=DEADLINE_SECONDS)
    if opts.json:
        print_json(tokens)
    else:
        console().print(agent_tokens_table(tokens.tokens))
    return exits.OK


@token.command("list")
@click.argument("host", required=False, default="")
@common_options()
def token_list(host: str) -> int:
    """List agent tokens (never their secrets), of HOST or of every host."""
    return call(lambda stub, opts: _token_list(stub, opts, host))


async def _token_revoke(stub: Stub, opts: Options, token_id: str) -> int:
    revoked = await stub.RevokeAgentToken(
        fleet_pb.RevokeAgentTokenRequest(token_id=token_id), timeout=DEADLINE_SECONDS
    )
    if opts.json:
        print_json(revoked)
    else:
        print(f"revoked {revoked.token.token_id} of host {revoked.token.host}", flush=True)
    return exits.OK


@token.command("revoke")
@click.argument("token_id")
@common_options()
def token_revoke(token_id: str) -> int:
    """Revoke an agent token by its id; the host's open stream is closed."""
    return call(lambda stub, opts: _token_revoke(stub, opts, token_id))


@click.group("api-token")
@common_options()
def api_token() -> None:
    """Create, list or revoke API tokens for people and scripts (needs an admin API token)."""


async def _api_token_create(stub: Stub, opts: Options, name: str, role: str) -> int:
    created = await stub.CreateApiToken(
        fleet_pb.CreateApiTokenRequest(name=name, role=cast(pb.Role, ROLES[role])), timeout=DEADLINE_SECONDS
    )
    if opts.json:
        print_json(created)
        return exits.OK
    print(created.token)
    print(f"{role} API token id {created.api_token.token_id} for {name}; it is shown only once", flush=True)
    return exits.OK


@api_token.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(list(ROLES)), required=True, help="what the token may do")
@common_options()
def api_token_create(name: str, role: str) -> int:
    """Create an API token for NAME (who or what uses it) and print it once (first line: the token)."""
    return call(lambda stub, opts: _api_token_create(stub, opts, name, role))


async def _api_token_list(stub: Stub, opts: Options) -> int:
    tokens = await stub.ListApiTokens(fleet_pb.ListApiTokensRequest(), timeout=DEADLINE_SECONDS)
    if opts.json:
        print_json(tokens)
    else:
        console().print(api_tokens_table(tokens.tokens))
    return exits.OK


@api_token.command("list")
@common_options()
def api_token_list() -> int:
    """List API tokens (never their secrets)."""
    return call(_api_token_list)


async def _api_token_revoke(stub: Stub, opts: Options, token_id: str) -> int:
    revoked = await stub.RevokeApiToken(
        fleet_pb.RevokeApiTokenRequest(token_id=token_id), timeout=DEADLINE_SECONDS
    )
    if opts.json:
        print_json(revoked)
    else:
        print(f"revoked API token {revoked.api_token.token_id} ({revoked.api_token.name})", flush=True)
    return exits.OK


@api_token.command("revoke")
@click.argument("token_id")
@common_options()
def api_token_revoke(token_id: str) -> int:
    """Revoke an API token by its id; calls with it are refused from then on."""
    return call(lambda stub, opts: _api_token_revoke(stub, opts, token_id))
