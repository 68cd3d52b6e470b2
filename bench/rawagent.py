"""A simulated agent that speaks gRPC over HTTP/2 itself: one TCP connection from a chosen source
address, one AgentService.Connect stream, hello, welcome, heartbeats.

Why not grpc.aio: a grpc channel cannot bind its source address, and issue 15's admission allows
4,096 agent streams per address, so 10,000 agents on one loopback address cannot all connect. Real
fleets come from many addresses: here each agent binds its own address in 127.0.0.0/8 (all local on
Linux). It is also cheap: its frames are built once, so 10,000 agents fit in one asyncio process beside
the server on a small machine (a grpc.aio channel per agent costs several times more client CPU).

What it speaks (RFC 9113, the gRPC-over-HTTP/2 spec): the client preface and SETTINGS (a large
initial window, so the server never waits for our WINDOW_UPDATEs; the connection window raised the
same way), one HEADERS frame (HPACK literals without Huffman coding), DATA frames with length-prefixed
messages. It answers SETTINGS and PING, reads the server's DATA on stream 1 as ConnectResponse
messages, and takes a HEADERS frame with END_STREAM, RST_STREAM, GOAWAY or a closed connection as the
stream's end. A refusal's grpc-status / grpc-message are read from the trailers when the server sent
them as plain literals (grpc does, the first time on a connection); otherwise the end is "no welcome".
What it sends per connection stays far below the 64 KiB the server allows before its first
WINDOW_UPDATE, which it therefore does not track.
"""

from __future__ import annotations

import asyncio
import re
import struct

from fleetdeck.v1 import agent_service_pb2 as agent_pb

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 3, 4, 6, 7, 8, 9
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY = 0x1, 0x1, 0x4, 0x8, 0x20
MAX_WINDOW = 2**31 - 1
PATH = "/fleetdeck.v1.AgentService/Connect"
# grpc sends the status and message of a refusal as literal headers (no Huffman coding) the first time.
_STATUS = re.compile(rb"grpc-status[\x00-\x7f]([0-9]{1,2})")
_MESSAGE = re.compile(rb"grpc-message([\x00-\x7f])")


def frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    """One HTTP/2 frame."""
    return struct.pack(">I", len(payload))[1:] + bytes((kind, flags)) + struct.pack(">I", stream) + payload


def hpack_int(value: int, prefix_bits: int, first: int) -> bytes:
    """An HPACK integer with an N-bit prefix; `first` holds the pattern bits above the prefix."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((first | value,))
    out = bytearray((first | limit,))
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_string(text: str) -> bytes:
    raw = text.encode()
    return hpack_int(len(raw), 7, 0) + raw


def header_block(authority: str, token: str) -> bytes:
    """The request headers of a Connect call, as HPACK literals (static-table names where there are)."""
    return b"".join(
        (
            b"\x83",  # :method POST (static index 3)
            b"\x86",  # :scheme http (static index 6)
            hpack_int(4, 4, 0) + hpack_string(PATH),  # :path, literal without indexing, name index 4
            hpack_int(1, 4, 0) + hpack_string(authority),  # :authority (1)
            hpack_int(31, 4, 0) + hpack_string("application/grpc"),  # content-type (31)
            b"\x00" + hpack_string("te") + hpack_string("trailers"),
            hpack_int(23, 4, 0) + hpack_string(f"Bearer {token}"),  # authorization (23)
        )
    )


def grpc_message(message: agent_pb.ConnectRequest) -> bytes:
    """A length-prefixed gRPC message (not compressed)."""
    body = message.SerializeToString()
    return b"\x00" + struct.pack(">I", len(body)) + body


def opening(authority: str, token: str, hello: agent_pb.ConnectRequest) -> bytes:
    """Everything an agent writes as it connects: preface, settings, window, headers, its hello."""
    settings = struct.pack(">HI", 0x2, 0) + struct.pack(">HI", 0x4, MAX_WINDOW)  # no push; big window
    return b"".join(
        (
            PREFACE,
            frame(SETTINGS, 0, 0, settings),
            frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", MAX_WINDOW - 65_535)),
            frame(HEADERS, END_HEADERS, 1, header_block(authority, token)),
            frame(DATA, 0, 1, grpc_message(hello)),
        )
    )


def data_frame(message: bytes) -> bytes:
    """A DATA frame on the agent's stream carrying one length-prefixed message."""
    return frame(DATA, 0, 1, message)


class StreamEnded(Exception):
    """The Connect stream ended before a welcome, with what the server said about it."""


def _trailer_reason(block: bytes) -> str:
    status = _STATUS.search(block)
    if status is None:
        return "the stream ended without a welcome"
    reason = f"grpc-status {int(status.group(1))}"
    message = _MESSAGE.search(block)
    if message is not None:
        length = message.group(1)[0]
        if not length & 0x80 and length < 0x7F:
            text = block[message.end() : message.end() + length].decode(errors="replace")
            reason += f": {text[:80]}"
    return reason


class Connection(asyncio.Protocol):
    """One agent's connection; `welcome` resolves to the first ConnectResponse (or fails), `ended`
    when the connection is gone."""

    def __init__(self, first_write: bytes) -> None:
        loop = asyncio.get_running_loop()
        self.first_write = first_write
        self.welcome: asyncio.Future[agent_pb.ConnectResponse] = loop.create_future()
        self.ended: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._messages = bytearray()  # stream 1's DATA, still to be split into messages
        self._headers = bytearray()  # a header block being continued
        self.received = 0  # ConnectResponse messages read
        self.heartbeat = b""  # the DATA frame `beat` sends

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.first_write)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def beat(self, message: bytes, interval: float, first: float) -> None:
        """Write `message` (a DATA frame) after `first` seconds, then every `interval` seconds, until
        the connection ends (timer callbacks: no task per agent). `heartbeat` may be replaced."""
        loop = asyncio.get_running_loop()
        due = loop.time() + first
        self.heartbeat = message

        def send() -> None:
            nonlocal due
            if self.ended.done() or self.transport is None or self.transport.is_closing():
                return
            self.transport.write(self.heartbeat)
            due += interval
            loop.call_at(due, send)

        loop.call_at(due, send)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        offset = 0
        while len(buffer) - offset >= 9:
            length = int.from_bytes(buffer[offset : offset + 3])
            if len(buffer) - offset < 9 + length:
                break
            kind, flags = buffer[offset + 3], buffer[offset + 4]
            stream = int.from_bytes(buffer[offset + 5 : offset + 9]) & 0x7FFFFFFF
            payload = bytes(buffer[offset + 9 : offset + 9 + length])
            offset += 9 + length
            self._frame(kind, flags, stream, payload)
        del buffer[:offset]

    def _frame(self, kind: int, flags: int, stream: int, payload: bytes) -> None:
        if kind == DATA and stream == 1:
            if flags & PADDED:
                payload = payload[1 : len(payload) - payload[0]]
            self._messages += payload
            self._split()
            if flags & END_STREAM:
                self._end("the stream ended without a welcome")
        elif kind in (HEADERS, CONTINUATION) and stream == 1:
            if kind == HEADERS:
                if flags & PADDED:
                    payload = payload[1 : len(payload) - payload[0]]
                if flags & PRIORITY:
                    payload = payload[5:]
                self._headers = bytearray(payload)
                self._headers_end_stream = bool(flags & END_STREAM)
            else:
                self._headers += payload
            if flags & END_HEADERS and self._headers_end_stream:
                self._end(_trailer_reason(bytes(self._headers)))
        elif kind == SETTINGS and not flags & ACK:
            self.write(frame(SETTINGS, ACK, 0))
        elif kind == PING and not flags & ACK:
            self.write(frame(PING, ACK, 0, payload))
        elif kind == RST_STREAM and stream == 1:
            self._end(f"RST_STREAM {int.from_bytes(payload[:4])}")
        elif kind == GOAWAY:
            self._fail("GOAWAY")

    _headers_end_stream = False

    def _split(self) -> None:
        messages = self._messages
        while len(messages) >= 5 and len(messages) >= 5 + int.from_bytes(messages[1:5]):
            size = int.from_bytes(messages[1:5])
            reply = agent_pb.ConnectResponse.FromString(bytes(messages[5 : 5 + size]))
            del messages[: 5 + size]
            self.received += 1
            if not self.welcome.done():
                self.welcome.set_result(reply)

    def _fail(self, reason: str) -> None:
        if not self.welcome.done():
            self.welcome.set_exception(StreamEnded(reason))

    def _end(self, reason: str) -> None:
        """The stream is over: fail the welcome if it had not come, and hang up."""
        self._fail(reason)
        self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"connection lost ({type(exc).__name__})" if exc else "connection closed")
        if not self.ended.done():
            self.ended.set_result(None)
