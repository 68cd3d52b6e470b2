"""The `fleetdeck` command: the processes (controlplane, agent, webui, demo) and the API verbs."""

from __future__ import annotations

import argparse
import importlib
import sys

import click

from fleetdeck import (
    admin,
    commands_audit,
    commands_fleet,
    commands_history,
    commands_ops,
    commands_rollouts,
    commands_tests,
    commands_webhooks,
    exits,
    logs,
)
from fleetdeck.exits import CliError
from fleetdeck.invocation import ENVIRONMENT_HELP, common_options
from fleetdeck.version import __version__

VERB_EPILOG = (
    "Connection: --controlplane or FLEETDECK_CONTROLPLANE; credentials: FLEETDECK_TOKEN or "
    "FLEETDECK_TOKEN_FILE; TLS: --tls-ca or FLEETDECK_TLS_CA. Exit codes: 0 success, 1 failed, "
    "2 usage, 3 refused, 4 control plane unreachable (see fleetdeck --help)."
)

# The processes keep their own argparse flags: name -> (module with add_arguments/run, help).
PROCESSES = {
    "controlplane": ("controlplane.cli", "run the control plane (gRPC API, state, optional web UI)"),
    "agent": ("agent.cli", "run the agent on a host"),
    "webui": ("webui.cli", "run the web UI on its own, as a client of a control plane"),
    "demo": ("fleetdeck.demo", "run a local demo fleet: control plane, web UI and three agents"),
    "db": ("controlplane.db_cli", "database tasks: copy a SQLite database into PostgreSQL"),
}


@click.group(
    "fleetdeck",
    help="A control plane for NixOS and macOS fleets.\n\n" + ENVIRONMENT_HELP + "\n\n" + exits.HELP,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="fleetdeck", message="%(prog)s %(version)s")
@click.option(
    "--log-level",
    default="INFO",
    envvar="FLEETDECK_LOG_LEVEL",
    show_envvar=True,
    help="logging level of the processes (controlplane, agent, webui, demo) and of the CLI",
)
@common_options(root=True)
def root(log_level: str) -> None:
    logs.setup(log_level.upper(), stream=sys.stderr)


def _process(name: str, module_name: str, help_text: str) -> click.Command:
    @click.pass_context
    def run(ctx: click.Context, argv: tuple[str, ...]) -> int:
        module = importlib.import_module(module_name)
        parser = argparse.ArgumentParser(prog=f"fleetdeck {name}", description=help_text)
        module.add_arguments(parser)
        result: int = module.run(parser.parse_args(list(argv)))
        return result

    return click.Command(
        name,
        callback=run,
        params=[click.Argument(["argv"], nargs=-1, type=click.UNPROCESSED)],
        help=help_text + f" (flags: fleetdeck {name} --help)",
        short_help=help_text,
        add_help_option=False,
        context_settings={
            "ignore_unknown_options": True,
            "allow_extra_args": True,
            "allow_interspersed_args": False,
        },
    )


for _name, (_module, _help) in PROCESSES.items():
    root.add_command(_process(_name, _module, _help))
for _command in (
    commands_fleet.hosts,
    commands_fleet.host,
    commands_ops.run,
    commands_ops.logs,
    commands_ops.cancel,
    commands_ops.commands,
    commands_ops.command,
    commands_tests.test_runs,
    commands_tests.test_run,
    commands_fleet.desired,
    commands_fleet.settings,
    commands_fleet.host_settings,
    commands_rollouts.rollout,
    commands_rollouts.labels,
    admin.token,
    admin.api_token,
    commands_history.case_history,
    commands_history.failing_cases,
    commands_webhooks.webhook,
    commands_audit.audit,
):
    root.add_command(_command)


def _with_epilog(command: click.Command) -> None:
    command.epilog = VERB_EPILOG
    for sub in getattr(command, "commands", {}).values():
        _with_epilog(sub)


for _name, _command in root.commands.items():
    if _name not in PROCESSES:
        _with_epilog(_command)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; the exit code (see `fleetdeck --help`)."""
    args = sys.argv[1:] if argv is None else argv
    try:
        result = root.main(args=args, prog_name="fleetdeck", standalone_mode=False)
    except CliError as error:
        print(f"fleetdeck: {error}", file=sys.stderr, flush=True)
        return error.exit_code
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        print(file=sys.stderr)
        return exits.INTERRUPTED
    return result if isinstance(result, int) else exits.OK


if __name__ == "__main__":
    sys.exit(main())
