"""`fleetdeck controlplane`: run the control plane until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import signal
import sys
from pathlib import Path

from .app import ControlPlane
from .config import ConfigError, ControlPlaneConfig
from .listen import StartFailed
from .store import resolve_location

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `fleetdeck controlplane` (each also read from a FLEETDECK_* variable)."""
    env = os.environ.get
    parser.add_argument(
        "--db",
        help="the database: a SQLite file, or a postgresql://user@host/db URI "
        "(default: $FLEETDECK_DB, else fleetdeck.db)",
    )
    parser.add_argument(
        "--db-file",
        type=Path,
        help="a file whose first line is the database location, so a password stays out of the "
        "process list (default: $FLEETDECK_DB_FILE)",
    )
    parser.add_argument(
        "--grpc", default=env("FLEETDECK_GRPC", "127.0.0.1:50051"), help="gRPC listen address HOST:PORT"
    )
    parser.add_argument("--http", default=env("FLEETDECK_HTTP"), help="serve the web UI on HOST:PORT")
    parser.add_argument(
        "--metrics",
        default=env("FLEETDECK_METRICS"),
        help="serve Prometheus /metrics on HOST:PORT without credentials, for a scraper in a trusted "
        "network (the web UI's port serves it too, to a viewer API token)",
    )
    parser.add_argument("--ready-file", type=Path, help="write {grpc, http} addresses as JSON once serving")
    parser.add_argument("--tls-cert", type=Path, default=env("FLEETDECK_TLS_CERT"), help="PEM certificate")
    parser.add_argument("--tls-key", type=Path, default=env("FLEETDECK_TLS_KEY"), help="PEM private key")
    parser.add_argument(
        "--agent-ca",
        type=Path,
        default=env("FLEETDECK_AGENT_CA"),
        help="CA of agent client certificates (mTLS)",
    )
    parser.add_argument(
        "--agent-grpc",
        default=env("FLEETDECK_AGENT_GRPC"),
        help="mutual-TLS address for agents (with --agent-ca)",
    )
    parser.add_argument(
        "--public-url",
        default=env("FLEETDECK_PUBLIC_URL", ""),
        help="the page's address as people reach it, for the links in webhook notifications "
        "(default: the --http address)",
    )
    parser.add_argument(
        "--host-offline-grace",
        type=float,
        default=float(env("FLEETDECK_HOST_OFFLINE_GRACE", "300")),
        metavar="SECONDS",
        help="how long a host must stay offline before host_offline is notified (default: 300)",
    )
    parser.add_argument(
        "--admin-token-file",
        type=Path,
        default=env("FLEETDECK_ADMIN_TOKEN_FILE"),
        help="on an empty database, use the token in this file as the first admin API token "
        "(else one is generated and printed once); FLEETDECK_ADMIN_TOKEN works too",
    )


def run(args: argparse.Namespace) -> int:
    """Serve until a signal arrives; then shut down in order. A start that cannot work exits at once
    with one sentence: 2 for a configuration that cannot work, 1 for anything else (a port in use)."""
    try:
        config = _config(args)
        asyncio.run(_serve(config, args.ready_file))
    except StartFailed as error:
        print(f"fleetdeck controlplane: {error}", file=sys.stderr, flush=True)
        return 2 if isinstance(error, ConfigError) else 1
    return 0


def _config(args: argparse.Namespace) -> ControlPlaneConfig:
    admin_token = os.environ.get("FLEETDECK_ADMIN_TOKEN") or None  # set but empty: generate one
    admin_password = os.environ.get("FLEETDECK_ADMIN_PASSWORD") or None
    if args.admin_token_file is not None:
        try:
            admin_token = Path(args.admin_token_file).read_text().strip()
        except OSError as error:
            raise ConfigError(
                f"cannot read --admin-token-file {args.admin_token_file}: {error.strerror}"
            ) from None
    return ControlPlaneConfig(
        database=resolve_location(args.db, args.db_file),
        grpc_address=args.grpc,
        http_address=args.http,
        admin_token=admin_token,
        admin_password=admin_password,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        agent_ca=args.agent_ca,
        agent_grpc_address=args.agent_grpc,
        public_url=args.public_url,
        host_offline_grace_seconds=args.host_offline_grace,
        metrics_address=args.metrics,
    )


GC_THRESHOLDS = (10_000, 50, 100)


def tune_gc() -> None:
    """Once the control plane has started: what it loaded (modules, the live view) is frozen out of
    the collector's passes, young passes run every 10,000 allocations instead of 700, and middle
    ones every 50 young ones instead of 10. A welcome storm keeps thousands of new objects alive
    (streams, tasks, host states); with the defaults the collector spent ~20 % of the control
    plane's CPU in a 10,000-agent storm on full passes over a growing heap (py-spy, bench/README.md).

    Not more than 10,000: every gRPC call leaves a small reference cycle of grpc's own, and under a
    flood of junk calls a young pass every 50,000 allocations freed ~50,000 objects at a time, a
    25-65 ms pause of every stream followed by the backlog it left (bench/abuse.py)."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def _serve(config: ControlPlaneConfig, ready_file: Path | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with ControlPlane(config) as cp:
        tune_gc()
        if cp.bootstrap_admin_token is not None and config.admin_token is None:
            # Printed once to the terminal, never logged: only its hash is stored.
            print(f"First admin API token (shown once): {cp.bootstrap_admin_token}", flush=True)
        if cp.bootstrap_admin_password is not None:
            print(f"Web login (shown once): user admin, password {cp.bootstrap_admin_password}", flush=True)
        if ready_file is not None:
            ready = {
                "grpc": cp.grpc_target,
                "http": cp.http_url if config.http_address else "",
                "metrics": cp.metrics_url if config.metrics_address else "",
            }
            tmp = ready_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(ready))
            tmp.replace(ready_file)
        await stop.wait()
        log.info("signal received; shutting down")
