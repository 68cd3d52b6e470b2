"""A TCP proxy for tests: forwards connections to a target, and can turn them into a black hole.

A black-holed connection stays open on both sides but carries nothing any more (what arrives is read
and dropped), as a link does whose far end vanished without a FIN or RST: a half-open link.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field


@dataclass
class _Link:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    blackholed: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class TcpProxy:
    """`async with TcpProxy(host, port) as proxy:` listens on 127.0.0.1 (port 0); `proxy.target`."""

    def __init__(self, host: str, port: int) -> None:
        self._upstream = (host, port)
        self._server: asyncio.Server | None = None
        self._links: list[_Link] = []
        self.connections: asyncio.Queue[float] = asyncio.Queue()  # loop time of each accepted connection
        self.port = 0

    @property
    def target(self) -> str:
        """host:port clients connect to."""
        return f"127.0.0.1:{self.port}"

    async def __aenter__(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for link in self._links:
            for task in link.tasks:
                task.cancel()
            for writer in (link.client, link.upstream):
                writer.close()
        for link in self._links:
            await asyncio.gather(*link.tasks, return_exceptions=True)
        await self._server.wait_closed()

    def blackhole(self) -> None:
        """Every connection open now stops carrying bytes either way, without being closed.
        Connections accepted later are forwarded as usual."""
        for link in self._links:
            link.blackholed = True

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.close()
            return
        link = _Link(writer, up_writer)
        self._links.append(link)
        link.tasks = [
            asyncio.create_task(self._pump(reader, up_writer, link)),
            asyncio.create_task(self._pump(up_reader, writer, link)),
        ]
        self.connections.put_nowait(asyncio.get_running_loop().time())

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: _Link) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                if link.blackholed:
                    continue  # read and dropped: the sender's writes succeed, nothing arrives
                writer.write(data)
                await writer.drain()
            if not link.blackholed:
                writer.write_eof()
