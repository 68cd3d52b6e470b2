"""Listening addresses: parsed (HOST:PORT, [IPv6]:PORT), checked bindable, and a sentence when not."""

from __future__ import annotations

import socket


class StartFailed(Exception):
    """The control plane cannot start; the message is one sentence an operator can act on."""


def split_address(address: str) -> tuple[str, int] | None:
    """("127.0.0.1", 50051) for "127.0.0.1:50051", ("::", 0) for "[::]:0"; None when malformed."""
    host, colon, port = address.rpartition(":")
    if not colon or not port.isascii() or not port.isdigit() or int(port) > 65_535:
        return None
    if host.startswith("[") != host.endswith("]"):
        return None
    if host.startswith("["):
        host = host[1:-1]
        if not host or ":" not in host:
            return None
    elif ":" in host:
        return None  # an IPv6 address needs brackets, else its last part reads as the port
    return host, int(port)


def _parts(address: str) -> tuple[str, int]:
    parts = split_address(address)
    if parts is None:
        raise StartFailed(f"{address!r} is not an address to listen on; use HOST:PORT or [IPv6]:PORT")
    return parts


def why_unbindable(address: str) -> str | None:
    """Why nothing could listen on `address` now ("Address already in use"), or None if it could.

    A port that is free now may be taken a moment later; the caller still handles a failed bind."""
    host, port = _parts(address)
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        return f"cannot resolve {host!r} ({error.strerror})"
    family, kind, proto, _, sockaddr = infos[0]
    try:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers themselves do
            probe.bind(sockaddr)
    except OSError as error:
        return error.strerror or str(error)
    return None


def listening_socket(address: str, what: str) -> socket.socket:
    """A TCP socket bound to `address` and listening; StartFailed saying why when it cannot be."""
    host, port = _parts(address)
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, sockaddr = infos[0]
        sock = socket.socket(family, kind, proto)
    except OSError as error:
        raise StartFailed(f"cannot {what} on {address}: {error.strerror or error}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        sock.listen(128)
    except OSError as error:
        sock.close()
        raise StartFailed(f"cannot {what} on {address}: {error.strerror or error}") from None
    return sock


def client_host(address: str) -> str:
    """The host a client on this machine connects to for a listening `address` (wildcards → loopback)."""
    host, _ = _parts(address)
    if host in ("", "0.0.0.0", "::"):
        return "127.0.0.1"  # a wildcard listener on [::] takes IPv4 too
    return f"[{host}]" if ":" in host else host
