"""`fleetdeck webui`: serve the web UI on its own, as a client of a running control plane."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import uvicorn

from fleetdeck.client import token_from_env
from webui.app import create_app

log = logging.getLogger(__name__)


def _host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `webui` subcommand's flags."""
    parser.add_argument(
        "--controlplane",
        required=True,
        metavar="HOST:PORT",
        help="the control plane's gRPC address, e.g. 127.0.0.1:50051",
    )
    parser.add_argument(
        "--http",
        default="127.0.0.1:8080",
        type=_host_port,
        metavar="HOST:PORT",
        help="where to serve the web UI (default 127.0.0.1:8080)",
    )
    parser.add_argument(
        "--api-token-file",
        type=Path,
        metavar="PATH",
        help="file holding the API token the web UI sends to the control plane "
        "(default: $FLEETDECK_TOKEN or the file named by $FLEETDECK_TOKEN_FILE)",
    )
    parser.add_argument(
        "--controlplane-ca",
        type=Path,
        metavar="PATH",
        help="PEM certificate(s) to verify the control plane's TLS certificate; without it gRPC is plaintext",
    )
    parser.add_argument(
        "--cookie-key-file",
        type=Path,
        metavar="PATH",
        help="file holding the key (at least 32 bytes) that signs session cookies, so sessions survive "
        "a restart; without it each process signs with a random key of its own",
    )


def _read(path: Path | None, flag: str) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SystemExit(f"fleetdeck webui: cannot read {flag} {path}: {exc.strerror}") from exc


def _api_token(args: argparse.Namespace) -> str | None:
    """The API token from --api-token-file, else $FLEETDECK_TOKEN or $FLEETDECK_TOKEN_FILE, else None."""
    raw = _read(args.api_token_file, "--api-token-file")
    if raw is not None:
        token = raw.decode().strip()
        if not token:
            raise SystemExit(f"fleetdeck webui: {args.api_token_file} is empty")
        return token
    return token_from_env()


MIN_COOKIE_KEY_BYTES = 32


def _cookie_key(args: argparse.Namespace) -> bytes | None:
    """The cookie key from --cookie-key-file (surrounding whitespace dropped), else None."""
    raw = _read(args.cookie_key_file, "--cookie-key-file")
    if raw is None:
        return None
    key = raw.strip()
    if len(key) < MIN_COOKIE_KEY_BYTES:
        raise SystemExit(
            f"fleetdeck webui: {args.cookie_key_file} holds {len(key)} bytes; "
            f"a cookie key needs at least {MIN_COOKIE_KEY_BYTES}"
        )
    return key


def run(args: argparse.Namespace) -> int:
    """Serve the web UI until interrupted; returns the exit status."""
    host, port = args.http
    tls_ca = _read(args.controlplane_ca, "--controlplane-ca")
    app = create_app(
        args.controlplane, api_token=_api_token(args), tls_ca=tls_ca, cookie_key=_cookie_key(args)
    )
    # proxy_headers=False: X-Forwarded-For/-Proto (trusted by default from loopback) must not pick the
    # client the login limit counts, nor whether the cookie is Secure.
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="info",
        timeout_graceful_shutdown=3,
        lifespan="on",
        proxy_headers=False,
    )
    log.info("serving the web UI on http://%s:%d", host, port)
    uvicorn.Server(config).run()
    return 0
