"""The `fleetdeck` command: one entry point with a subcommand per process or task."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from .version import __version__

# subcommand -> (module providing add_arguments/run, help)
SUBCOMMANDS = {
    "controlplane": ("controlplane.cli", "run the control plane (gRPC API, state, optional web UI)"),
    "agent": ("agent.cli", "run the agent on a host"),
    "webui": ("webui.cli", "run the web UI on its own, as a client of a control plane"),
    "demo": ("fleetdeck.demo", "run a local demo fleet: control plane, web UI and three agents"),
    "token": ("fleetdeck.admin", "create, list or revoke agent tokens"),
    "db": ("controlplane.db_cli", "database tasks: copy a SQLite database into PostgreSQL"),
}


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the subcommand."""
    parser = argparse.ArgumentParser(
        prog="fleetdeck", description="A control plane for NixOS and macOS fleets."
    )
    parser.add_argument("--version", action="version", version=f"fleetdeck {__version__}")
    parser.add_argument("--log-level", default=os.environ.get("FLEETDECK_LOG_LEVEL", "INFO"))
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {}
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        modules[name] = module
        module.add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    result: int = modules[args.command].run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
