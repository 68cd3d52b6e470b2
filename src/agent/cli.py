"""`fleetdeck agent --config agent.toml`: the subcommand's flags and entry point."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from agent.config import ConfigError, load_config
from agent.daemon import serve
from fleetdeck import logs

logger = logging.getLogger(__name__)


def check_state_dir(state_dir: Path) -> None:
    """The journal's directory must exist (or be creatable) and be writable."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"state_dir: cannot create {state_dir}: {exc.strerror}") from exc
    if not os.access(state_dir, os.W_OK):
        raise ConfigError(f"state_dir: {state_dir} is not writable")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the agent's flags to its subcommand parser."""
    parser.add_argument("--config", required=True, type=Path, help="the agent's TOML config file")
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")


def run(args: argparse.Namespace) -> int:
    """Run the agent until SIGTERM/SIGINT; 2 when the config is invalid."""
    logs.setup(getattr(logging, str(args.log_level).upper(), logging.INFO))
    try:
        config = load_config(args.config)
        config.read_token()
        check_state_dir(config.state_dir)
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
