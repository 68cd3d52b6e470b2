"""The control plane process: store, live view, gRPC server (with health and reflection), web UI.

Longer than most modules: it is the one place that wires every part together, phase by phase, each
phase next to the undo that `stop()` runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from types import TracebackType
from typing import Any, cast

import grpc
import uvicorn
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2_grpc

from fleetdeck.limits import MAX_MESSAGE_BYTES
from fleetdeck.v1 import agent_service_pb2, agent_service_pb2_grpc, fleet_service_pb2, fleet_service_pb2_grpc
from fleetdeck.v1 import types_pb2 as pb

from .access import AccessInterceptor, ApiTokens
from .accounts import Accounts
from .agent_admission import AgentAdmission
from .agent_service import AgentService
from .agent_streams import AgentStreams
from .agent_tokens import AgentTokens
from .audit import AuditInterceptor, AuditLog
from .command_queue import CommandQueue
from .commands import Commands
from .config import ConfigError as ConfigError  # re-exported: what a failed start raises
from .config import ControlPlaneConfig as ControlPlaneConfig
from .config import TlsFiles, checked
from .errors import ErrorInterceptor, InvalidArgument, Unavailable
from .fleet import Fleet
from .fleet_service import FleetService
from .hub import Hub
from .ingest import Ingest
from .listen import StartFailed as StartFailed
from .listen import client_host, listening_socket, why_unbindable
from .metrics import FleetMetrics
from .metrics_http import metrics_app, with_metrics
from .notifier import Notifier
from .output import OutputFollowers
from .replicas import Replicas
from .rollouts import Rollouts
from .storage_health import StorageHealth
from .store import Store, make_store, redacted

log = logging.getLogger(__name__)

SERVICE_NAMES = (
    agent_service_pb2.DESCRIPTOR.services_by_name["AgentService"].full_name,
    fleet_service_pb2.DESCRIPTOR.services_by_name["FleetService"].full_name,
)


class ControlPlane:
    """Everything the control plane runs, started and stopped in named phases; `async with` it.

    start(): check the configuration (nothing touched yet) → open the store → load the live view →
    bind the ports → create the first credentials → serve. A start that fails undoes what it did
    (an AsyncExitStack), so nothing stays open and no credential was created. stop() runs that
    undo in reverse: stop accepting → drain → cancel background work → write what is in memory → close.
    """

    def __init__(self, config: ControlPlaneConfig) -> None:
        self.config = config
        self.store: Store = make_store(config.database, output_cap_bytes=config.output_cap_bytes)
        self.streams = AgentStreams()
        self.followers = OutputFollowers()
        self.hub: Hub | None = None
        self.storage: StorageHealth | None = None
        self.fleet: Fleet | None = None
        self.ingest: Ingest | None = None
        self.commands: Commands | None = None
        self.rollouts: Rollouts | None = None
        self.queue: CommandQueue | None = None
        self.notifier: Notifier | None = None
        self.replicas: Replicas | None = None  # on PostgreSQL: this process among other replicas
        self.accounts = Accounts(self.store)
        self.api_tokens = ApiTokens(self.store)
        self.tokens = AgentTokens(self.store)
        self._health = health.aio.HealthServicer() if hasattr(health, "aio") else health.HealthServicer()
        self._server: grpc.aio.Server | None = None
        self._grpc_started = False
        self._running: contextlib.AsyncExitStack | None = None
        self.grpc_port = 0
        self.agent_grpc_port = 0
        self.http_port = 0
        self.metrics_port = 0
        self.metrics: FleetMetrics | None = None
        self._webui: Any = None  # the in-process web UI's app, for its count of browser streams
        self._metrics_socket: socket.socket | None = None
        # Set when this start created the first admin token: show it once, never log it.
        self.bootstrap_admin_token: str | None = None
        self.bootstrap_admin_password: str | None = None

    @property
    def grpc_target(self) -> str:
        """host:port clients connect to."""
        return f"{client_host(self.config.grpc_address)}:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        """Base URL of the web UI, when it is served."""
        assert self.config.http_address is not None
        scheme = "http" if self.config.tls_cert is None else "https"
        return f"{scheme}://{client_host(self.config.http_address)}:{self.http_port}"

    @property
    def metrics_url(self) -> str:
        """URL of the credential-free /metrics listener, when there is one."""
        assert self.config.metrics_address is not None
        return f"http://{client_host(self.config.metrics_address)}:{self.metrics_port}/metrics"

    async def __aenter__(self) -> ControlPlane:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start in phases; StartFailed (ConfigError for the flags) with nothing left open when it
        cannot. Safe to call twice."""
        if self._running is not None:
            return
        tls = checked(self.config)  # before anything is opened, bound or created
        self._check_ports()
        async with contextlib.AsyncExitStack() as undo:
            await self._open(undo)
            await self._load(undo)
            http_socket = self._bind(undo, tls)
            await self._create_first_credentials()
            await self._serve(undo, tls, http_socket)
            self._running = undo.pop_all()

    async def stop(self) -> None:
        """Stop accepting, drain, cancel, write what is in memory, close; safe to call twice."""
        running, self._running = self._running, None
        if running is None:
            return
        await running.aclose()
        log.info("control plane stopped")

    # --- start-up phases; each registers its undo, which stop() runs in reverse ---------------------

    def _check_ports(self) -> None:
        """StartFailed when a port is taken already, before the store is opened.

        gRPC itself would say only "failed to bind", and keeps a port it bound until its server has
        run; the ports are bound for good later (a port taken in between still fails cleanly)."""
        config = self.config
        for address, what in (
            (config.grpc_address, "listen for gRPC"),
            (config.agent_grpc_address, "listen for gRPC"),
            (config.http_address, "serve the web UI"),
            (config.metrics_address, "serve /metrics"),
        ):
            reason = None if address is None else why_unbindable(address)
            if reason is not None:
                raise StartFailed(f"cannot {what} on {address}: {reason}")

    async def _open(self, undo: contextlib.AsyncExitStack) -> None:
        """Open the store (and close it last; a half-opened store is closed too)."""
        undo.push_async_callback(self.store.close)
        await self.store.open()

    async def _load(self, undo: contextlib.AsyncExitStack) -> None:
        """Rebuild the live view from the database; commands that were running become interrupted."""
        replication = self.store.replication
        if replication is not None:  # versions come from the fleet log all replicas share
            self.hub = Hub(await replication.log_version())
        else:
            self.hub = Hub(await self.store.reserve_versions(0))
        self.fleet = Fleet(self.store, self.hub, self.streams)
        if replication is not None:
            self.replicas = Replicas(replication, self.fleet, self.followers)
            undo.push_async_callback(self.replicas.stop)  # after the fleet's last writes: lets go of hosts
        await self.fleet.load()
        if self.replicas is not None:
            await self.replicas.load()
        undo.push_async_callback(self.fleet.stop)  # writes what is still in memory
        self.commands = Commands(self.fleet, self.followers)
        undo.push_async_callback(self.commands.stop)
        await self.commands.interrupt_all_unfinished()
        self.storage = StorageHealth(self._probe_store, self._storage_changed)
        undo.push_async_callback(self.storage.stop)
        self.fleet.storage_trouble = self.storage.noticed
        self.rollouts = Rollouts(self.fleet, self.commands)
        undo.push_async_callback(self.rollouts.stop)
        await self.rollouts.load()
        self.queue = CommandQueue(self.fleet, self.commands)
        undo.push_async_callback(self.queue.stop)
        self.ingest = Ingest(self.store, self.commands, self.followers, self.storage)
        undo.push_async_callback(self.ingest.stop)  # stores what is queued
        self.notifier = Notifier(
            self.store,
            self.hub,
            link_base=self.config.public_url,
            backoff_seconds=self.config.webhook_retry_seconds,
            offline_grace_seconds=self.config.host_offline_grace_seconds,
        )
        self.commands.notifier = self.notifier
        undo.push_async_callback(self.notifier.stop)
        self.fleet.flush_hooks.append(self.tokens.flush_last_used)
        self.metrics = FleetMetrics(self.fleet, self.store, self._sse_clients)
        self.store.observe_writes(self.fleet.counts.store_write_seconds.observe)
        self.fleet.flush_hooks.append(self.commands.agents_lost)
        if self.replicas is not None:
            self._share_duties(self.replicas, self.rollouts, self.notifier)

    def _share_duties(self, replicas: Replicas, rollouts: Rollouts, notifier: Notifier) -> None:
        """Among replicas: the leader runs rollouts, the queue and webhooks (woken when it starts
        leading); rollouts stored elsewhere are adopted; revoked API tokens end their streams here."""
        assert self.queue is not None
        replicas.on_leading += [rollouts.wake, self.queue.wake, notifier.wake]
        replicas.on_rollout = lambda event: rollouts.adopt(event.rollout)
        replicas.on_api_token_revoked = self.api_tokens.revoked
        notifier.leading = lambda: replicas.leading
        notifier.poll_seconds = 1.0  # other replicas queue notifications too

    def _sse_clients(self) -> int | None:
        """Browsers streaming from the in-process web UI; None without one."""
        streams = getattr(self._webui.state, "streams", None) if self._webui is not None else None
        return None if streams is None else int(streams.open_streams)

    def _bind(self, undo: contextlib.AsyncExitStack, tls: TlsFiles | None) -> socket.socket | None:
        """Bind the web UI's socket and the gRPC ports; nothing is served yet."""
        config = self.config
        sock = None
        if config.http_address is not None:
            sock = listening_socket(config.http_address, "serve the web UI")
            undo.callback(sock.close)
            self.http_port = sock.getsockname()[1]
        if config.metrics_address is not None:
            metrics_sock = listening_socket(config.metrics_address, "serve /metrics")
            undo.callback(metrics_sock.close)
            self.metrics_port = metrics_sock.getsockname()[1]
            self._metrics_socket = metrics_sock
        storage = self.storage
        assert storage is not None
        server = grpc.aio.server(
            maximum_concurrent_rpcs=config.max_concurrent_rpcs,
            interceptors=[
                ErrorInterceptor(storage=storage.noticed),  # first: maps what the access check refuses
                *([AccessInterceptor(self.api_tokens)] if config.require_api_tokens else []),
                AuditInterceptor(AuditLog(self.store, self.api_tokens.internal_token)),  # after access
            ],
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ("grpc.keepalive_time_ms", 30_000),
                ("grpc.keepalive_timeout_ms", 10_000),
                ("grpc.http2.ping_timeout_ms", 10_000),  # else a ping waits 60 s, whatever keepalive says
                ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.so_reuseport", 0),
                *config.budgets.grpc_options(),
            ],
        )
        undo.push_async_callback(self._drain_grpc, server)
        generic = cast(grpc.aio.Server, _GenericHandlersOnly(server))
        self._add_servicers(generic)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, generic)
        reflection_pb2_grpc.add_ServerReflectionServicer_to_server(
            reflection.aio.ReflectionServicer(
                (
                    *SERVICE_NAMES,
                    health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                    reflection.SERVICE_NAME,
                )
            ),
            generic,
        )
        self.grpc_port = _add_port(server, config.grpc_address, _credentials(tls, require_client_auth=False))
        if config.agent_grpc_address is not None:
            mutual = _credentials(tls, require_client_auth=True)
            self.agent_grpc_port = _add_port(server, config.agent_grpc_address, mutual)
        self._server = server
        return sock

    def _add_servicers(self, server: grpc.aio.Server) -> None:
        """AgentService and FleetService, wired to the domain objects the load phase built."""
        assert self.fleet is not None and self.commands is not None and self.ingest is not None
        assert self.notifier is not None
        agents = AgentService(
            self.fleet,
            self.commands,
            self.ingest,
            self.tokens,
            AgentAdmission(
                self.config.budgets, self.config.budgets.agent_streams(self.config.max_concurrent_rpcs)
            ),
            require_client_cert=self.config.agent_ca is not None,
        )
        fleet_service = FleetService(
            self.fleet,
            self.commands,
            self.followers,
            self.tokens,
            self.api_tokens,
            self.accounts,
            self.notifier,
        )
        assert self.rollouts is not None and self.queue is not None
        fleet_service.rollouts, fleet_service.queue = self.rollouts, self.queue
        agent_service_pb2_grpc.add_AgentServiceServicer_to_server(agents, server)
        fleet_service_pb2_grpc.add_FleetServiceServicer_to_server(fleet_service, server)

    async def _create_first_credentials(self) -> None:
        """On an empty database: the first admin API token and web login (shown once by the caller).

        Only now, when every port is bound: a start that fails earlier must not use them up."""
        if await self.store.count_api_tokens() == 0:
            try:
                token, _ = await self.api_tokens.create("admin", pb.ROLE_ADMIN, self.config.admin_token)
            except InvalidArgument as error:
                raise ConfigError(f"the first admin API token (--admin-token-file): {error}") from None
            self.bootstrap_admin_token = token
            log.info("created the first admin API token")
        self.bootstrap_admin_password = await self.accounts.bootstrap(self.config.admin_password)

    async def _serve(
        self, undo: contextlib.AsyncExitStack, tls: TlsFiles | None, http_socket: socket.socket | None
    ) -> None:
        """Start the background work and the servers, then report SERVING."""
        assert self.fleet is not None and self.ingest is not None and self._server is not None
        if self.replicas is not None:
            await self.replicas.start()
        await self.fleet.start()
        await self.ingest.start()
        assert self.notifier is not None
        if not self.notifier.link_base and self.config.http_address is not None:
            self.notifier.link_base = self.http_url
        await self.notifier.start(self.fleet.presence)
        assert self.rollouts is not None and self.queue is not None
        await self.rollouts.start()
        await self.queue.start()
        await self._server.start()
        self._grpc_started = True
        if http_socket is not None:
            await self._serve_http(undo, tls, http_socket)
        if self._metrics_socket is not None:
            await self._serve_metrics(undo, self._metrics_socket)
        for name in ("", *SERVICE_NAMES):
            await self._set_health(name, health_pb2.HealthCheckResponse.SERVING)
        undo.push_async_callback(self._stop_accepting)
        log.info(
            "control plane serving gRPC on %s (database %s)", self.grpc_target, redacted(self.config.database)
        )

    async def _serve_http(
        self, undo: contextlib.AsyncExitStack, tls: TlsFiles | None, sock: socket.socket
    ) -> None:
        from webui.app import create_app

        assert self.metrics is not None
        self._webui = create_app(
            self.grpc_target,
            api_token=self.api_tokens.internal_token,
            cookie_key=await self.store.secret("webui-cookie-key"),  # sessions survive restarts
            tls_ca=tls.cert if tls is not None else None,
            tls_server_name=tls.server_name if tls is not None else "",
        )
        tokens = self.api_tokens if self.config.require_api_tokens else None
        config = uvicorn.Config(
            with_metrics(self._webui, metrics_app(self.metrics, tokens)),
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
        # The socket is bound and listening already, so clients may connect before uvicorn accepts.
        task = asyncio.create_task(server.serve(sockets=[sock]), name="webui")
        undo.push_async_callback(self._stop_http, server, task)
        log.info("web UI on %s", self.http_url)

    async def _serve_metrics(self, undo: contextlib.AsyncExitStack, sock: socket.socket) -> None:
        """/metrics alone, without credentials, on the --metrics listener."""
        assert self.metrics is not None
        config = uvicorn.Config(
            metrics_app(self.metrics, None), log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]), name="metrics")
        undo.push_async_callback(self._stop_http, server, task)
        log.info("metrics on %s", self.metrics_url)

    # --- shut-down phases, run by stop() (or by a failed start) in this order ------------------------

    async def _stop_accepting(self) -> None:
        """Say NOT_SERVING and end the long streams, so no grace period is spent waiting on them."""
        for name in ("", *SERVICE_NAMES):
            await self._set_health(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        if self.hub is not None:  # first: the hosts are not going offline, this process is going away
            self.hub.close()
        for stream in self.streams.all():
            stream.close(Unavailable("the control plane is shutting down; reconnect shortly"))
        self.followers.close_all()

    async def _stop_http(self, server: uvicorn.Server, task: asyncio.Task[None]) -> None:
        """Let the web UI finish its requests (its browser streams ended with NOT_SERVING)."""
        server.should_exit = True
        try:
            await asyncio.wait_for(task, self.config.shutdown_grace_seconds)
        except TimeoutError:
            log.warning(
                "the web UI did not stop within %.0f s; cancelled", self.config.shutdown_grace_seconds
            )
        except Exception:
            log.exception("the web UI failed")

    async def _drain_grpc(self, server: grpc.aio.Server) -> None:
        """Refuse new calls, give running ones the grace period, then cancel them."""
        if not self._grpc_started:
            # A gRPC server that never ran keeps its bound ports until the process ends; running it
            # for a moment (no call is served: health says nothing, stop gives no grace) frees them.
            await server.start()
            await server.stop(None)
        else:
            await server.stop(self.config.shutdown_grace_seconds)
        self._server, self._grpc_started = None, False

    async def _probe_store(self) -> None:
        """A small write: does the store work again?"""
        assert self.fleet is not None
        await self.store.extend_version_reservation(self.fleet.reserved_version)

    async def _storage_changed(self, working: bool) -> None:
        """The server's overall health follows the store: NOT_SERVING while it cannot write. The
        services stay SERVING: reads from memory still work, and watchers keep their streams."""
        if self._running is None and working:
            return  # stopped or stopping: health says NOT_SERVING already
        serving, not_serving = (
            health_pb2.HealthCheckResponse.SERVING,
            health_pb2.HealthCheckResponse.NOT_SERVING,
        )
        await self._set_health("", serving if working else not_serving)

    async def _set_health(self, name: str, status: int) -> None:
        result = self._health.set(name, status)
        if asyncio.iscoroutine(result):
            await result


def _credentials(tls: TlsFiles | None, require_client_auth: bool) -> grpc.ServerCredentials | None:
    """Server credentials for a port; mutual TLS (client certificates signed by the agents' CA)
    on the agents' own port, since gRPC Python asks every client of a port or none."""
    if tls is None:
        return None
    return grpc.ssl_server_credentials(
        [(tls.key, tls.cert)],
        root_certificates=tls.agent_ca if require_client_auth else None,
        require_client_auth=require_client_auth,
    )


def _add_port(server: grpc.aio.Server, address: str, credentials: grpc.ServerCredentials | None) -> int:
    """Bind `address` for `server`; StartFailed when it cannot (taken since it was checked)."""
    try:
        if credentials is None:
            port: int = server.add_insecure_port(address)
        else:
            port = server.add_secure_port(address, credentials)
    except RuntimeError:
        port = 0
    if not port:
        raise StartFailed(
            f"cannot listen for gRPC on {address}: {why_unbindable(address) or 'gRPC could not bind it'}"
        )
    return port


class _GenericHandlersOnly:
    """Hands the generated `add_*Servicer_to_server` functions a server that takes their generic
    handler and skips their registered-method table.

    grpc.aio keeps one pending request per registered method and, for every call it accepts, waits on
    all of them at once (`asyncio.wait`, callbacks added and removed on each): with our 47 methods
    that was a fifth of the server's CPU per call, paid for every junk stream of a flood
    (bench/abuse.py, cProfile). Through the generic handler every call waits on one request. The
    method is then found by name in a dict, which costs nothing next to that."""

    def __init__(self, server: grpc.aio.Server) -> None:
        self._server = server

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        self._server.add_generic_rpc_handlers(handlers)

    def add_registered_method_handlers(self, service: str, handlers: Any) -> None:
        pass
