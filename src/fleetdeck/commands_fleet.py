"""Verbs that show and configure the fleet: `hosts`, `host`, `desired`, `settings`, `host-settings`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from google.protobuf import duration_pb2, field_mask_pb2
from rich.console import Group
from rich.live import Live

from fleetdeck import exits
from fleetdeck.invocation import DEADLINE_SECONDS, Options, call, common_options
from fleetdeck.render import (
    console,
    desired_table,
    host_details,
    host_line,
    hosts_table,
    key_values,
    print_json,
    seconds,
    settings_table,
)
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import types_pb2 as pb

if TYPE_CHECKING:
    from fleetdeck.invocation import Stub

SECONDS = click.FloatRange(min=0, min_open=True)


def _duration(value: float) -> duration_pb2.Duration:
    d = duration_pb2.Duration()
    d.FromNanoseconds(int(value * 1e9))
    return d


async def _hosts(stub: Stub, opts: Options, watch: bool, selector: str = "") -> int:
    if not watch:
        request = fleet_pb.ListHostsRequest(selector=selector)
        response = await stub.ListHosts(request, timeout=DEADLINE_SECONDS)
        if opts.json:
            print_json(response)
        else:
            console().print(hosts_table(response.hosts))
        return exits.OK
    out = console()
    hosts: dict[str, pb.Host] = {}
    lines: dict[str, str] = {}  # the last line printed per host, when not on a terminal
    live: Live | None = None
    try:
        async for event in stub.WatchFleet(fleet_pb.WatchFleetRequest(selector=selector)):
            if opts.json:
                print_json(event, line=True)
                continue
            kind = event.WhichOneof("event")
            if kind == "snapshot":
                hosts = {h.name: h for h in event.snapshot.hosts}
                if out.is_terminal and live is None:
                    live = Live(hosts_table(hosts.values()), console=out, auto_refresh=False)
                    live.start()
                elif live is None:
                    out.print(hosts_table(hosts.values()))
            elif kind == "host":
                hosts[event.host.name] = event.host
                line = host_line(event.host)
                if live is None and lines.get(event.host.name) != line:
                    lines[event.host.name] = line
                    out.print(line, markup=False)
            if live is not None:
                live.update(hosts_table(sorted(hosts.values(), key=lambda h: h.name)), refresh=True)
    finally:
        if live is not None:
            live.stop()
    raise exits.CliError("the control plane ended the watch", exits.UNREACHABLE)


@click.command("hosts")
@click.option(
    "--watch",
    "-w",
    is_flag=True,
    help="update live as the fleet changes (Ctrl-C ends); JSON: one WatchFleetResponse per line",
)
@click.option(
    "--selector", "-l", default="", metavar="SEL", help="only hosts with these labels: role=web,site!=fra"
)
@common_options()
def hosts(watch: bool, selector: str) -> int:
    """Every host with its five compartments: Agent, Git, Lock, System, Tests."""
    return call(lambda stub, opts: _hosts(stub, opts, watch, selector))


async def _host(stub: Stub, opts: Options, name: str) -> int:
    response = await stub.GetHost(fleet_pb.GetHostRequest(name=name), timeout=DEADLINE_SECONDS)
    if opts.json:
        print_json(response)
    else:
        console().print(Group(*host_details(response.host)))
    return exits.OK


@click.command("host")
@click.argument("name")
@common_options()
def host(name: str) -> int:
    """One host: its facts, its compartments and what each one says."""
    return call(lambda stub, opts: _host(stub, opts, name))


@click.group("desired")
@common_options()
def desired() -> None:
    """The desired state: the commit and flake.lock hash every host should run."""


async def _desired_get(stub: Stub, opts: Options) -> int:
    response = await stub.GetDesiredState(fleet_pb.GetDesiredStateRequest(), timeout=DEADLINE_SECONDS)
    if opts.json:
        print_json(response)
    else:
        out = console()
        out.print(desired_table(response.desired_state))
        for d in response.selector_states:  # most specific first
            out.print(f"for {d.selector}: commit {d.commit}, flake.lock {d.lock_hash[:12]}")
    return exits.OK


@desired.command("get")
@common_options()
def desired_get() -> int:
    """Show the desired state."""
    return call(_desired_get)


async def _desired_set(stub: Stub, opts: Options, request: fleet_pb.SetDesiredStateRequest) -> int:
    response = await stub.SetDesiredState(request, timeout=DEADLINE_SECONDS)
    if opts.json:
        print_json(response)
    else:
        console().print(desired_table(response.desired_state))
    return exits.OK


@desired.command("set")
@click.option("--commit", required=True, metavar="SHA", help="the commit (40 hex digits)")
@click.option("--lock-hash", default="", metavar="H", help="SHA-256 of flake.lock at that commit")
@click.option(
    "--agent-version", default="", help="the agent version to expect (default: the control plane's)"
)
@click.option("--selector", "-l", default="", metavar="SEL", help="only for the hosts with these labels")
@common_options()
def desired_set(commit: str, lock_hash: str, agent_version: str, selector: str) -> int:
    """Tell the fleet which commit (and flake.lock hash) it should run; CI calls this."""
    request = fleet_pb.SetDesiredStateRequest(
        commit=commit, lock_hash=lock_hash, agent_version=agent_version, selector=selector
    )
    return call(lambda stub, opts: _desired_set(stub, opts, request))


@click.group("settings")
@common_options()
def settings() -> None:
    """The fleet-wide settings."""


async def _settings_get(stub: Stub, opts: Options) -> int:
    response = await stub.GetSettings(fleet_pb.GetSettingsRequest(), timeout=DEADLINE_SECONDS)
    if opts.json:
        print_json(response)
    else:
        console().print(settings_table(response.settings))
    return exits.OK


@settings.command("get")
@common_options()
def settings_get() -> int:
    """Show the fleet-wide settings."""
    return call(_settings_get)


async def _settings_set(stub: Stub, opts: Options, request: fleet_pb.UpdateSettingsRequest) -> int:
    response = await stub.UpdateSettings(request, timeout=DEADLINE_SECONDS)
    if opts.json:
        print_json(response)
    else:
        console().print(settings_table(response.settings))
    return exits.OK


@settings.command("set")
@click.option("--test-timeout", type=SECONDS, help="default deadline of a whole test run, seconds")
@click.option("--heartbeat-interval", type=SECONDS, help="how often agents send heartbeats, seconds")
@click.option("--test-history-limit", type=click.IntRange(min=1), help="test runs kept per host")
@click.option("--operation-timeout", type=SECONDS, help="default timeout of pull/switch/rollback, seconds")
@common_options()
def settings_set(
    test_timeout: float | None,
    heartbeat_interval: float | None,
    test_history_limit: int | None,
    operation_timeout: float | None,
) -> int:
    """Change fleet-wide settings; only the ones given change."""
    values = pb.Settings()
    paths = []
    for name, value in (
        ("test_timeout", test_timeout),
        ("heartbeat_interval", heartbeat_interval),
        ("operation_timeout", operation_timeout),
    ):
        if value is not None:
            getattr(values, name).CopyFrom(_duration(value))
            paths.append(name)
    if test_history_limit is not None:
        values.test_history_limit = test_history_limit
        paths.append("test_history_limit")
    if not paths:
        raise click.UsageError("nothing to change: give at least one of the options (see --help)")
    request = fleet_pb.UpdateSettingsRequest(
        settings=values, update_mask=field_mask_pb2.FieldMask(paths=paths)
    )
    return call(lambda stub, opts: _settings_set(stub, opts, request))


def _on_off(value: bool | None) -> str:
    return "default" if value is None else "on" if value else "off"


async def _host_settings(
    stub: Stub, opts: Options, name: str, request: fleet_pb.UpdateHostSettingsRequest | None
) -> int:
    if request is None:
        found = (await stub.GetHost(fleet_pb.GetHostRequest(name=name), timeout=DEADLINE_SECONDS)).host
    else:
        found = (await stub.UpdateHostSettings(request, timeout=DEADLINE_SECONDS)).host
    if opts.json:
        print_json(
            fleet_pb.GetHostResponse(host=found)
            if request is None
            else fleet_pb.UpdateHostSettingsResponse(host=found)
        )
        return exits.OK
    in_force, override, declared = (
        found.test_settings,
        found.test_settings_override,
        found.declared_test_settings,
    )

    def row(field: str, shown: str, over: str, decl: str) -> tuple[str, str]:
        return field, f"{shown}   (override: {over}; declared by the agent: {decl})"

    console().print(
        key_values(
            [
                ("host", found.name),
                row(
                    "tests",
                    "on" if in_force.enabled else "off",
                    _on_off(override.enabled if override.HasField("enabled") else None),
                    _on_off(declared.enabled if declared.HasField("enabled") else None),
                ),
                row(
                    "auto_run_after_switch",
                    "on" if in_force.auto_run_after_switch else "off",
                    _on_off(
                        override.auto_run_after_switch if override.HasField("auto_run_after_switch") else None
                    ),
                    _on_off(
                        declared.auto_run_after_switch if declared.HasField("auto_run_after_switch") else None
                    ),
                ),
                row(
                    "timeout",
                    seconds(in_force.timeout),
                    seconds(override.timeout) if override.HasField("timeout") else "default",
                    seconds(declared.timeout) if declared.HasField("timeout") else "default",
                ),
            ]
        )
    )
    return exits.OK


ON_OFF = click.Choice(["on", "off", "default"])


@click.command("host-settings")
@click.argument("name")
@click.option("--tests", type=ON_OFF, help="allow tests on the host; default drops the override")
@click.option("--auto-run", type=ON_OFF, help="run tests after every successful switch")
@click.option("--timeout", metavar="SECONDS|default", help="deadline of a whole test run")
@common_options()
def host_settings(name: str, tests: str | None, auto_run: str | None, timeout: str | None) -> int:
    """Show a host's test settings, or override them (`default` returns to the declared/global value)."""
    override = pb.TestSettingsOverride()
    paths = []
    for field, value in (("enabled", tests), ("auto_run_after_switch", auto_run)):
        if value is not None:
            if value != "default":
                setattr(override, field, value == "on")
            paths.append(field)
    if timeout is not None:
        if timeout != "default":
            try:
                number = float(timeout)
            except ValueError:
                raise click.BadParameter("a number of seconds or 'default'", param_hint="--timeout") from None
            if number <= 0:
                raise click.BadParameter("must be more than 0 seconds", param_hint="--timeout")
            override.timeout.CopyFrom(_duration(number))
        paths.append("timeout")
    request = None
    if paths:
        request = fleet_pb.UpdateHostSettingsRequest(
            host=name, test_settings_override=override, update_mask=field_mask_pb2.FieldMask(paths=paths)
        )
    return call(lambda stub, opts: _host_settings(stub, opts, name, request))
