"""Helpers for the web UI's tests: desired state, a web UI on port 0, a proxy that cuts connections."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx
import uvicorn
from playwright.async_api import Locator, Page, expect
from scripted_agent import COMMIT, LOCK, TIMEOUT, ScriptedAgent
from starlette.routing import BaseRoute

from fleetdeck.client import aio_channel
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc
from fleetdeck.v1 import types_pb2 as pb
from webui.app import create_app

Connect = Callable[[str], Awaitable[ScriptedAgent]]


@dataclass(frozen=True)
class User:
    """A web user the test created, and the password it logs in with."""

    name: str
    password: str
    role: int = pb.ROLE_ADMIN


async def put_user(target: str, admin_token: str | None, user: User, tls_ca: bytes | None = None) -> User:
    """Create (or update) a web user through FleetService.PutUser with an admin API token."""
    async with aio_channel(target, admin_token, tls_ca=tls_ca) as channel:
        stub: fleet_grpc.FleetServiceAsyncStub = fleet_grpc.FleetServiceStub(channel)  # type: ignore[assignment]
        request = fleet_pb.PutUserRequest(username=user.name, password=user.password, role=user.role)
        await stub.PutUser(request, timeout=TIMEOUT)
    return user


def csrf_token(html: str) -> str:
    """The CSRF token the server put in the page's <meta name="csrf-token">."""
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert found is not None, "the page carries no CSRF token"
    return found[1]


@contextlib.asynccontextmanager
async def logged_in(base_url: str, user: User) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the web UI that logged in as `user` and sends the session's CSRF token."""
    async with httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT) as http:
        answer = await http.post("/login", data={"username": user.name, "password": user.password})
        assert answer.status_code == 303, answer.text
        http.headers["x-csrf-token"] = csrf_token((await http.get("/")).text)
        yield http


async def login(page: Page, base_url: str, user: User) -> None:
    """Log in with the form at `base_url` and wait for the dashboard."""
    await page.goto(f"{base_url}/login")
    await page.get_by_label("User name").fill(user.name)
    await page.get_by_label("Password").fill(user.password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("#user .user__name")).to_have_text(user.name)


def compartment(page: Page, host: str, kind: str) -> Locator:
    """The compartment button of `kind` in `host`'s row."""
    return page.locator(f'tr[data-host="{host}"] [data-compartment="{kind}"]')


async def set_desired(stub: fleet_grpc.FleetServiceAsyncStub, commit: str = COMMIT) -> None:
    """Tell the fleet which commit and lock hash it should run."""
    request = fleet_pb.SetDesiredStateRequest(commit=commit, lock_hash=LOCK)
    await stub.SetDesiredState(request, timeout=TIMEOUT)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def serve_webui(
    target: str,
    *,
    keepalive: float = 10.0,
    queue_limit: int = 256,
    api_token: str | None = None,
    tls_ca: bytes | None = None,
    session_check: float = 30.0,
    extra_routes: tuple[BaseRoute, ...] = (),
) -> AsyncIterator[str]:
    """The web UI on its own (uvicorn on port 0) as a client of `target`; yields its base URL."""
    app = create_app(
        target,
        api_token=api_token,
        tls_ca=tls_ca,
        keepalive_seconds=keepalive,
        queue_limit=queue_limit,
        session_check_seconds=session_check,
    )
    app.router.routes[:0] = extra_routes
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    # The socket listens already: clients queue in its backlog until uvicorn accepts.
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, TIMEOUT)


class Proxy:
    """A TCP proxy in front of the web UI whose connections a test can cut, like a network drop."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.connections = 0

    async def start(self) -> None:
        """Listen on a port of its own."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True)
        self._writers.difference_update((writer, up_writer))

    def drop_all(self) -> None:
        """Cut every open connection."""
        for writer in list(self._writers):
            transport = writer.transport
            transport.abort()

    async def stop(self) -> None:
        """Stop listening and cut everything."""
        self.drop_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


class SSEReader:
    """Parses a text/event-stream into (event, id, data) tuples and comments, line by line."""

    def __init__(self, lines: AsyncIterator[str]) -> None:
        self._lines = lines
        self.comments: list[str] = []

    async def next_event(self, within: float = TIMEOUT) -> tuple[str, str | None, str]:
        """The next dispatched event: (event name, id or None, data)."""
        event, event_id, data = "message", None, list[str]()
        async with asyncio.timeout(within):
            async for line in self._lines:
                if line == "":
                    if data:
                        return event, event_id, "\n".join(data)
                    event, event_id = "message", None
                    continue
                field, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if field == "":
                    self.comments.append(value)
                elif field == "event":
                    event = value
                elif field == "id":
                    event_id = value
                elif field == "data":
                    data.append(value)
        raise EOFError("the event stream ended")

    async def next_of(self, *names: str, within: float = TIMEOUT) -> tuple[str, str | None, str]:
        """The next event whose name is one of `names`."""
        async with asyncio.timeout(within):
            while True:
                event = await self.next_event()
                if event[0] in names:
                    return event

    async def next_comment(self, within: float = TIMEOUT) -> str:
        """The next comment line (a keepalive)."""
        seen = len(self.comments)
        async with asyncio.timeout(within):
            async for line in self._lines:
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                if len(self.comments) > seen:
                    return self.comments[-1]
        raise EOFError("the event stream ended")
