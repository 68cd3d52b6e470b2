"""`fleetdeck agent --config agent.toml`: the subcommand's flags and entry point."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from agent.config import ConfigError, load_config
from agent.daemon import serve

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the agent's flags to its subcommand parser."""
    parser.add_argument("--config", required=True, type=Path, help="the agent's TOML config file")
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")


def run(args: argparse.Namespace) -> int:
    """Run the agent until SIGTERM/SIGINT; 2 when the config is invalid."""
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = load_config(args.config)
        config.read_token()
    except ConfigError as error:
        print(f"fleetdeck agent: invalid config {args.config}: {error}", file=sys.stderr)
        return 2
    logger.info("agent for host %s starting (control plane %s)", config.host, config.controlplane)
    asyncio.run(serve(config))
    return 0


def main() -> int:
    """`python -m agent.cli --config agent.toml`."""
    parser = argparse.ArgumentParser(prog="fleetdeck agent")
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
