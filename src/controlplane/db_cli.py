"""`fleetdeck db`: tasks on the control plane's database; `copy` moves a SQLite database into
PostgreSQL (`fleetdeck db copy --from fleet.db --to postgresql://…`)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from .store import redacted, resolve_location
from .store.copy import copy_locations
from .store.tables import CopyError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Subcommands of `fleetdeck db`."""
    sub = parser.add_subparsers(dest="db_command", required=True)
    copy = sub.add_parser(
        "copy",
        help="copy every table of a SQLite database into a new, empty PostgreSQL database",
        description="Copy every table of a SQLite database into a new, empty PostgreSQL database, "
        "in one transaction (stop the control plane first). The target's schema is created.",
    )
    copy.add_argument("--from", dest="source", required=True, help="the SQLite file (fleet.db)")
    copy.add_argument(
        "--to",
        dest="target",
        help="postgresql://USER@HOST:PORT/DB (default: --to-file, FLEETDECK_DB_FILE, FLEETDECK_DB)",
    )
    copy.add_argument(
        "--to-file",
        type=Path,
        help="read the target URI from the first line of this file (keeps a password out of process lists)",
    )


def run(args: argparse.Namespace) -> int:
    """Run a `fleetdeck db` subcommand; 0 when done, 1 with a sentence on stderr when refused."""
    try:
        target = resolve_location(args.target, args.to_file, default="")
        counts = asyncio.run(copy_locations(args.source, target))
    except (CopyError, ValueError, OSError) as e:
        print(f"fleetdeck db copy: {e}", file=sys.stderr)
        return 1
    for table, rows in counts.items():
        print(f"{table}: {rows} rows")
    print(f"copied {sum(counts.values())} rows in {len(counts)} tables to {redacted(target)}")
    return 0
