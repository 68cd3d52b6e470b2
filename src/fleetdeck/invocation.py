"""What every `fleetdeck` verb shares: its connection and output options, and how it calls the API."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click
import grpc

from fleetdeck.client import aio_channel, token_from_env
from fleetdeck.exits import USAGE, CliError, exit_code_for
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc

DEFAULT_TARGET = "127.0.0.1:50051"
DEADLINE_SECONDS = 10.0
"""The deadline of every unary call."""

ENVIRONMENT_HELP = """\b
Environment:
  FLEETDECK_CONTROLPLANE  the control plane's HOST:PORT (or --controlplane)
  FLEETDECK_TOKEN         an API token, sent as `authorization: Bearer <token>`
  FLEETDECK_TOKEN_FILE    a file holding the API token (when FLEETDECK_TOKEN is unset)
  FLEETDECK_TLS_CA        use TLS, trusting this CA certificate (or --tls-ca)"""

F = TypeVar("F", bound=Callable[..., Any])
if TYPE_CHECKING:  # the typed asyncio stub exists in the .pyi only
    Stub = fleet_grpc.FleetServiceAsyncStub


@dataclass
class Options:
    """The connection and output options, whether given before or after the verb."""

    controlplane: str = DEFAULT_TARGET
    output: str = "table"
    tls_ca: str = ""

    @property
    def json(self) -> bool:
        """Whether to print the proto JSON mapping instead of tables."""
        return self.output == "json"


def _store(root: bool) -> Callable[[click.Context, click.Parameter, Any], None]:
    def store(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        options = ctx.ensure_object(Options)
        source = ctx.get_parameter_source(str(param.name))
        # The root group records defaults too; a verb's own copy only what was given to it.
        if root or source not in (None, click.core.ParameterSource.DEFAULT):
            setattr(options, str(param.name), value)

    return store


def common_options(root: bool = False) -> Callable[[F], F]:
    """Add --controlplane and -o/--output, accepted before the verb (root) or after it."""

    def decorate(f: F) -> F:
        f = click.option(
            "-o",
            "--output",
            type=click.Choice(["table", "json"]),
            default="table",
            show_default=root,
            expose_value=False,
            callback=_store(root),
            help="table for people; json for scripts (the proto JSON mapping, every field present)",
        )(f)
        f = click.option(
            "--controlplane",
            metavar="HOST:PORT",
            envvar="FLEETDECK_CONTROLPLANE",
            show_envvar=True,
            default=DEFAULT_TARGET,
            show_default=root,
            expose_value=False,
            callback=_store(root),
            help="the control plane's gRPC address",
        )(f)
        f = click.option(
            "--tls-ca",
            metavar="FILE",
            envvar="FLEETDECK_TLS_CA",
            show_envvar=True,
            default="",
            expose_value=False,
            callback=_store(root),
            help="connect with TLS, trusting the CA certificate (PEM) in FILE",
        )(f)
        return f

    return decorate


def options() -> Options:
    """The options of the current invocation."""
    return click.get_current_context().ensure_object(Options)


def describe(error: grpc.aio.AioRpcError, target: str) -> str:
    """A sentence for a failed call: the server's own sentence, or why it could not be reached."""
    code, details = error.code(), error.details() or ""
    hint = "check that it runs and that --controlplane or FLEETDECK_CONTROLPLANE names it"
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"the control plane at {target} did not answer within {DEADLINE_SECONDS:g} s; {hint}"
    if code == grpc.StatusCode.UNAVAILABLE:
        lowered = details.lower()
        if "connection refused" in lowered:
            reason = "connection refused"
        elif "ssl" in lowered or "handshake" in lowered or "certificate" in lowered:
            reason = "the TLS handshake failed; is --tls-ca the CA that signed its certificate?"
        elif "dns" in lowered or "resolve" in lowered:
            reason = "its name does not resolve"
        elif "failed to connect" in lowered or "socket closed" in lowered or not details:
            reason = "no connection"
        else:
            return f"the control plane at {target} is unavailable: {details}"
        return f"cannot reach the control plane at {target} ({reason}); {hint}"
    return details or f"the call failed with {code.name}"


T = TypeVar("T")


def call(verb: Callable[[Stub, Options], Awaitable[T]]) -> T:
    """Run `verb` with a FleetService stub for the current options; gRPC errors become CliErrors."""
    opts = options()
    try:
        token = token_from_env()
    except OSError as error:
        path = os.environ.get("FLEETDECK_TOKEN_FILE", "")
        raise CliError(f"cannot read FLEETDECK_TOKEN_FILE {path}: {error.strerror}", USAGE) from error
    tls_ca = None
    if opts.tls_ca:
        try:
            with open(opts.tls_ca, "rb") as f:
                tls_ca = f.read()
        except OSError as error:
            raise CliError(
                f"cannot read the TLS CA certificate {opts.tls_ca}: {error.strerror}", USAGE
            ) from error

    async def session() -> T:
        async with aio_channel(opts.controlplane, token, tls_ca=tls_ca) as channel:
            try:
                return await verb(cast("Stub", fleet_grpc.FleetServiceStub(channel)), opts)
            except grpc.aio.AioRpcError as error:
                raise CliError(describe(error, opts.controlplane), exit_code_for(error.code())) from None

    return asyncio.run(session())
