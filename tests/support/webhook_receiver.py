"""A real HTTP receiver for webhook tests: a Starlette app served by uvicorn on a port-0 socket of
its own, recording every request and answering the statuses it is told to first, then 200."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it, and what it answered."""

    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Receiver:
    """The requests so far; `answers` are used up first, then every request gets `then`."""

    url: str = ""
    answers: list[int] = field(default_factory=list)
    then: int = 200
    requests: list[Received] = field(default_factory=list)
    arrived: asyncio.Queue[Received] = field(default_factory=asyncio.Queue)

    async def next(self, within: float = 10.0) -> Received:
        """The next request, awaited."""
        async with asyncio.timeout(within):
            return await self.arrived.get()

    async def next_delivered(self, within: float = 10.0) -> Received:
        """The next request answered with a 2xx, awaited."""
        async with asyncio.timeout(within):
            while True:
                received = await self.arrived.get()
                if 200 <= received.status < 300:
                    return received

    def delivered(self) -> list[Received]:
        """Requests answered with a 2xx."""
        return [r for r in self.requests if 200 <= r.status < 300]


@contextlib.asynccontextmanager
async def webhook_receiver(answers: list[int] | None = None) -> AsyncIterator[Receiver]:
    """A receiver listening on 127.0.0.1 (a port of its own) until the block ends."""
    receiver = Receiver(answers=list(answers or []))

    async def hook(request: Request) -> Response:
        status = receiver.answers.pop(0) if receiver.answers else receiver.then
        received = Received({k.lower(): v for k, v in request.headers.items()}, await request.body(), status)
        receiver.requests.append(received)
        receiver.arrived.put_nowait(received)
        return Response(status_code=status)

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound before serving: connections queue until uvicorn accepts
    sock.listen(16)
    receiver.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield receiver
    finally:
        server.should_exit = True
        await task
        sock.close()
