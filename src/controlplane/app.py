"""The control plane process: store, live view, gRPC server (with health and reflection), web UI."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import grpc
import uvicorn
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from fleetdeck.v1 import agent_service_pb2, agent_service_pb2_grpc, fleet_service_pb2, fleet_service_pb2_grpc
from fleetdeck.v1 import types_pb2 as pb

from .access import AccessInterceptor, ApiTokens
from .accounts import Accounts
from .agent_service import AgentService
from .agent_streams import AgentStreams
from .agent_tokens import AgentTokens
from .commands import Commands
from .errors import ErrorInterceptor, Unavailable
from .fleet import Fleet
from .fleet_service import FleetService
from .hub import Hub
from .ingest import Ingest
from .output import OutputFollowers
from .store import Store

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
SERVICE_NAMES = (
    agent_service_pb2.DESCRIPTOR.services_by_name["AgentService"].full_name,
    fleet_service_pb2.DESCRIPTOR.services_by_name["FleetService"].full_name,
)


@dataclass(frozen=True)
class ControlPlaneConfig:
    """How to run the control plane; read once at start."""

    db_path: Path
    grpc_address: str = "127.0.0.1:50051"
    http_address: str | None = None
    shutdown_grace_seconds: float = 5.0
    output_cap_bytes: int = 10 * 1024 * 1024
    # The first admin API token on an empty database; generated (and shown once) when None.
    admin_token: str | None = None
    # The password of the first web user "admin" on an empty database; generated (shown once) when None.
    admin_password: str | None = None
    require_api_tokens: bool = True  # deny by default; tests that are not about access opt out
    # Agent streams, watchers and unary calls together; beyond it calls get RESOURCE_EXHAUSTED.
    max_concurrent_rpcs: int = 25_000
    # TLS for the gRPC and HTTP ports (PEM files); both or neither.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # CA that signs agent client certificates; when set, agents must connect to agent_grpc_address
    # (mutual TLS, a certificate is required there) with a certificate naming their host.
    agent_ca: Path | None = None
    agent_grpc_address: str | None = None


class ControlPlane:
    """Everything the control plane runs, started and stopped in order; `async with` it."""

    def __init__(self, config: ControlPlaneConfig) -> None:
        self.config = config
        self.store = Store(config.db_path, output_cap_bytes=config.output_cap_bytes)
        self.streams = AgentStreams()
        self.followers = OutputFollowers()
        self.hub: Hub | None = None
        self.fleet: Fleet | None = None
        self.ingest: Ingest | None = None
        self.commands: Commands | None = None
        self._server: grpc.aio.Server | None = None
        self._health = health.aio.HealthServicer() if hasattr(health, "aio") else health.HealthServicer()
        self._http: asyncio.Task[None] | None = None
        self._uvicorn: uvicorn.Server | None = None
        self.grpc_port = 0
        self.agent_grpc_port = 0
        self.http_port = 0
        self._started = False
        self.api_tokens = ApiTokens(self.store)
        # Set when this start created the first admin token: show it once, never log it.
        self.bootstrap_admin_token: str | None = None
        self.bootstrap_admin_password: str | None = None

    @property
    def grpc_target(self) -> str:
        """host:port clients connect to."""
        host = self.config.grpc_address.rsplit(":", 1)[0].strip("[]")
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"{host}:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        """Base URL of the web UI, when it is served."""
        assert self.config.http_address is not None
        host = self.config.http_address.rsplit(":", 1)[0]
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        return f"http://{host}:{self.http_port}"

    async def __aenter__(self) -> ControlPlane:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Open the store, rebuild the live view, start serving; safe to call twice."""
        if self._started:
            return
        self._started = True
        await self.store.open()
        if await self.store.count_api_tokens() == 0:
            token, _ = await self.api_tokens.create("admin", pb.ROLE_ADMIN, self.config.admin_token)
            self.bootstrap_admin_token = token
            log.info("created the first admin API token")
        accounts = Accounts(self.store)
        self.bootstrap_admin_password = await accounts.bootstrap(self.config.admin_password)
        self.hub = Hub(await self.store.reserve_versions(0))
        self.fleet = Fleet(self.store, self.hub, self.streams)
        await self.fleet.load()
        commands = Commands(self.fleet, self.followers)
        await commands.interrupt_all_unfinished()
        self.ingest = Ingest(self.store, commands, self.followers)
        tokens = AgentTokens(self.store)
        self.fleet.flush_hooks.append(tokens.flush_last_used)
        agents = AgentService(
            self.fleet, commands, self.ingest, tokens, require_client_cert=self.config.agent_ca is not None
        )
        fleet_service = FleetService(self.fleet, commands, self.followers, tokens, self.api_tokens, accounts)
        self.commands = commands
        self.tokens = tokens

        server = grpc.aio.server(
            maximum_concurrent_rpcs=self.config.max_concurrent_rpcs,
            interceptors=[
                ErrorInterceptor(),  # first: it maps what the access check refuses too
                *([AccessInterceptor(self.api_tokens)] if self.config.require_api_tokens else []),
            ],
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ("grpc.keepalive_time_ms", 30_000),
                ("grpc.keepalive_timeout_ms", 10_000),
                ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.so_reuseport", 0),
            ],
        )
        agent_service_pb2_grpc.add_AgentServiceServicer_to_server(agents, server)
        fleet_service_pb2_grpc.add_FleetServiceServicer_to_server(fleet_service, server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            (
                *SERVICE_NAMES,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ),
            server,
        )
        credentials = self._server_credentials(require_client_auth=False)
        if credentials is None:
            self.grpc_port = server.add_insecure_port(self.config.grpc_address)
        else:
            self.grpc_port = server.add_secure_port(self.config.grpc_address, credentials)
        if self.config.agent_ca is not None:
            if not self.config.agent_grpc_address:
                raise ValueError("--agent-ca needs --agent-grpc: the mutual-TLS address agents connect to")
            self.agent_grpc_port = server.add_secure_port(
                self.config.agent_grpc_address, self._server_credentials(require_client_auth=True)
            )
        if self.grpc_port == 0:
            raise OSError(f"cannot listen for gRPC on {self.config.grpc_address}")
        await server.start()
        self._server = server
        await self.fleet.start()
        await self.ingest.start()
        for name in ("", *SERVICE_NAMES):
            await self._set_health(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("control plane serving gRPC on %s (database %s)", self.grpc_target, self.config.db_path)
        if self.config.http_address is not None:
            await self._start_http(self.config.http_address)

    def _server_credentials(self, require_client_auth: bool) -> grpc.ServerCredentials | None:
        config = self.config
        if (config.tls_cert is None) != (config.tls_key is None):
            raise ValueError("--tls-cert and --tls-key go together; give both or neither")
        if config.tls_cert is None or config.tls_key is None:
            if config.agent_ca is not None:
                raise ValueError("--agent-ca needs TLS: give --tls-cert and --tls-key too")
            return None
        # gRPC Python either requires client certificates on a port or never asks for them, so agents
        # with certificates get a port of their own; AgentService refuses agents without one.
        return grpc.ssl_server_credentials(
            [(config.tls_key.read_bytes(), config.tls_cert.read_bytes())],
            root_certificates=config.agent_ca.read_bytes()
            if require_client_auth and config.agent_ca
            else None,
            require_client_auth=require_client_auth,
        )

    async def _set_health(self, name: str, status: int) -> None:
        result = self._health.set(name, status)
        if asyncio.iscoroutine(result):
            await result

    async def _start_http(self, address: str) -> None:
        from webui.app import create_app

        host, port = address.rsplit(":", 1)
        family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), int(port)))
        sock.listen(128)
        self.http_port = sock.getsockname()[1]
        config = uvicorn.Config(
            create_app(
                self.grpc_target,
                api_token=self.api_tokens.internal_token,
                cookie_key=await self.store.secret("webui-cookie-key"),  # sessions survive restarts
                tls_ca=self.config.tls_cert.read_bytes() if self.config.tls_cert else None,
            ),
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=1,
            # X-Forwarded-* from loopback must not pick the login limit's client or the cookie's
            # Secure flag: the web UI sees the real peer unless it runs behind a trusted proxy.
            proxy_headers=False,
            ssl_certfile=self.config.tls_cert,
            ssl_keyfile=self.config.tls_key,
        )
        server = uvicorn.Server(config)
        self._uvicorn = server
        # The socket is bound and listening already, so clients may connect before uvicorn accepts.
        self._http = asyncio.create_task(server.serve(sockets=[sock]), name="webui")
        log.info("web UI on %s", self.http_url)

    async def stop(self) -> None:
        """Stop accepting, drain, cancel, write what is in memory, close; safe to call twice."""
        if not self._started:
            return
        self._started = False
        for name in ("", *SERVICE_NAMES):
            await self._set_health(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        # End the long streams first, so the server's grace period is not spent waiting on them.
        for stream in self.streams.all():
            stream.close(Unavailable("the control plane is shutting down; reconnect shortly"))
        if self.hub is not None:
            self.hub.close()
        self.followers.close_all()
        if self._http is not None:
            if self._uvicorn is not None:
                self._uvicorn.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._http, self.config.shutdown_grace_seconds)
            self._http = None
        if self._server is not None:
            await self._server.stop(self.config.shutdown_grace_seconds)
            self._server = None
        if self.ingest is not None:
            await self.ingest.stop()
        if self.commands is not None:
            await self.commands.stop()
        if self.fleet is not None:
            await self.fleet.stop()
        await self.store.close()
        log.info("control plane stopped")
