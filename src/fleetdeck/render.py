"""How the CLI shows messages: the proto JSON mapping for scripts, rich tables for people.

Longer than most modules: one short renderer per kind of message the CLI shows, kept together so
they look alike.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from typing import Any

from google.protobuf import duration_pb2, timestamp_pb2
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from rich.console import Console
from rich.table import Table
from rich.text import Text

from fleetdeck.history import classification_name, failing_since, pass_rate
from fleetdeck.operations import operation_name
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import history_pb2 as history_pb
from fleetdeck.v1 import notifications_pb2 as notifications_pb
from fleetdeck.v1 import types_pb2 as pb

# CompartmentStatus -> (word, cell style); the words are the legend's.
STATUS_CELLS = {
    pb.COMPARTMENT_STATUS_OK: ("ok", "bold black on green"),
    pb.COMPARTMENT_STATUS_OUTDATED: ("outdated", "bold black on yellow"),
    pb.COMPARTMENT_STATUS_ERROR: ("failed", "bold white on red"),
    pb.COMPARTMENT_STATUS_WORKING: ("working", "bold white on blue"),
    pb.COMPARTMENT_STATUS_UNKNOWN: ("unknown", "black on grey70"),
    pb.COMPARTMENT_STATUS_DISABLED: ("disabled", "black on grey70"),
}
COMPARTMENTS = ("agent", "git", "lock", "system", "tests")


def to_dict(message: Message) -> dict[str, Any]:
    """The proto JSON mapping with every field present and proto field names: stable for jq."""
    return MessageToDict(message, always_print_fields_with_no_presence=True, preserving_proto_field_name=True)


def print_json(value: Message | dict[str, Any], *, line: bool = False) -> None:
    """Print a message (or a dict of them) as JSON; `line` for one compact object per line."""
    data = to_dict(value) if isinstance(value, Message) else value
    text = json.dumps(data, separators=(",", ":")) if line else json.dumps(data, indent=2)
    print(text, flush=True)


def console(stderr: bool = False) -> Console:
    """A console on stdout (or stderr); wide and colourless when not a terminal (NO_COLOR/FORCE_COLOR
    are honoured)."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else int(os.environ.get("COLUMNS", "200"))
    # No markup or emoji codes: host names, case names and output are shown exactly as they are.
    return Console(file=stream, width=width, highlight=False, soft_wrap=False, markup=False, emoji=False)


def enum_word(enum: Any, value: int, prefix: str) -> str:
    """An enum value as a lower-case word: COMMAND_STATE_TIMED_OUT -> "timed out"."""
    try:
        name: str = enum.Name(value)
    except ValueError:
        return str(value)
    return name.removeprefix(prefix).lower().replace("_", " ")


def state_word(state: int) -> str:
    """A command state as a word: "succeeded", "timed out"."""
    return enum_word(pb.CommandState, state, "COMMAND_STATE_")


def outcome_word(outcome: int) -> str:
    """A test case outcome as a word: "passed", "not run"."""
    return enum_word(pb.TestOutcome, outcome, "TEST_OUTCOME_")


def when(ts: timestamp_pb2.Timestamp) -> str:
    """A timestamp as UTC, seconds precision; "-" when unset."""
    if ts.seconds == 0 and ts.nanos == 0:
        return "-"
    return ts.ToDatetime().strftime("%Y-%m-%d %H:%M:%S")


def seconds(d: duration_pb2.Duration) -> str:
    """A duration as seconds: "1.25s"."""
    return f"{d.seconds + d.nanos / 1e9:.2f}s"


def cell(compartment: pb.Compartment) -> Text:
    """A compartment as a coloured cell."""
    word, style = STATUS_CELLS.get(compartment.status, ("?", ""))
    return Text(f" {word} ", style=style)


def hosts_table(hosts: Iterable[pb.Host]) -> Table:
    """The fleet: one row per host, the five compartments as coloured cells."""
    table = Table(box=None, pad_edge=False)
    for column in ("HOST", "ONLINE", *(c.upper() for c in COMPARTMENTS), "TESTS RUN", "RUNNING"):
        table.add_column(column, no_wrap=True)
    for host in hosts:
        boxes = [cell(c) for c in host.compartments[: len(COMPARTMENTS)]]
        boxes += [Text("-")] * (len(COMPARTMENTS) - len(boxes))
        status = host.test_status
        tests = f"{status.passed}/{status.total}" if status.total else "-"
        running = (
            f"{operation_name(host.running_operation)} {host.running_command_id}"
            if host.running_command_id
            else ""
        )
        table.add_row(host.name, "online" if host.online else "offline", *boxes, tests, running)
    return table


def host_line(host: pb.Host) -> str:
    """One line for a host that changed (the --watch view when not on a terminal)."""
    words = " ".join(
        f"{name}={STATUS_CELLS.get(c.status, ('?', ''))[0]}"
        for name, c in zip(COMPARTMENTS, host.compartments, strict=False)
    )
    status = host.test_status
    if status.state == pb.TEST_STATE_RUNNING and status.total:
        words += f" ({status.completed}/{status.total})"
    running = f" running={operation_name(host.running_operation)}" if host.running_command_id else ""
    return f"{host.name} {'online' if host.online else 'offline'} {words}{running}"


def _last(op: pb.LastOperation) -> str:
    if not op.command_id:
        return "-"
    return f"{state_word(op.state)} (exit {op.exit_code}) at {when(op.finished_at)}, command {op.command_id}"


def host_details(host: pb.Host) -> list[Table]:
    """One host: its facts and its five compartments with their sentences."""
    facts = Table(box=None, show_header=False, pad_edge=False)
    facts.add_column(style="bold", no_wrap=True)
    facts.add_column()
    settings = host.test_settings
    rows = [
        ("host", host.name),
        ("online", "yes" if host.online else "no"),
        ("last seen", when(host.last_seen)),
        ("agent", host.facts.agent_version or "-"),
        ("os", host.facts.os or "-"),
        ("commit", host.facts.commit or "-"),
        ("lock hash", host.facts.lock_hash or "-"),
        ("generation", host.facts.generation or "-"),
        (
            "running",
            f"{operation_name(host.running_operation)} {host.running_command_id}"
            if host.running_command_id
            else "-",
        ),
        ("last switch", _last(host.last_switch)),
        ("last pull", _last(host.last_pull)),
        ("last rollback", _last(host.last_rollback)),
        (
            "tests",
            f"{'enabled' if settings.enabled else 'disabled'}, "
            f"auto-run after switch {'on' if settings.auto_run_after_switch else 'off'}, "
            f"timeout {seconds(settings.timeout)}",
        ),
        ("last test run", host.test_status.last_run_id or "-"),
    ]
    for key, value in rows:
        facts.add_row(key, value)
    boxes = Table(box=None, pad_edge=False)
    for column in ("COMPARTMENT", "STATUS", "MESSAGE"):
        boxes.add_column(column)
    for name, compartment in zip(COMPARTMENTS, host.compartments, strict=False):
        boxes.add_row(name, cell(compartment), compartment.message)
    return [facts, boxes]


def commands_table(commands: Iterable[pb.Command]) -> Table:
    """Commands, one row each."""
    table = Table(box=None, pad_edge=False)
    for column in ("COMMAND", "HOST", "OPERATION", "STATE", "EXIT", "CREATED", "FINISHED", "MESSAGE"):
        table.add_column(column, no_wrap=column != "MESSAGE")
    for c in commands:
        table.add_row(
            c.id,
            c.host,
            operation_name(c.operation),
            state_word(c.state),
            str(c.exit_code),
            when(c.created_at),
            when(c.finished_at),
            c.message,
        )
    return table


def test_runs_table(runs: Iterable[pb.TestRun]) -> Table:
    """Test runs, newest first, one row each."""
    table = Table(box=None, pad_edge=False)
    for column in (
        "RUN",
        "STATE",
        "PASSED",
        "TRIGGER",
        "GENERATION",
        "COMMIT",
        "STARTED",
        "DURATION",
        "CASES",
    ):
        table.add_column(column, no_wrap=True)
    for run in runs:
        table.add_row(
            run.id,
            enum_word(pb.TestState, run.state, "TEST_STATE_"),
            f"{run.passed}/{run.total}",
            enum_word(pb.TestTrigger, run.trigger, "TEST_TRIGGER_"),
            run.generation or "-",
            run.commit[:12] or "-",
            when(run.started_at),
            seconds(run.duration),
            classification_counts(run) or "-",
        )
    return table


# CaseClassification -> badge style; the words are classification_name's.
BADGE_STYLES = {
    pb.CASE_CLASSIFICATION_PASSED: "green",
    pb.CASE_CLASSIFICATION_FLAKY: "bold black on yellow",
    pb.CASE_CLASSIFICATION_REGRESSION: "bold white on red",
    pb.CASE_CLASSIFICATION_BROKEN: "bold red",
    pb.CASE_CLASSIFICATION_FAILING: "red",
}


def classification_counts(run: pb.TestRun) -> str:
    """ "1 regression, 2 flaky": the run's failing cases by classification."""
    counts: dict[str, int] = {}
    for case in run.cases:
        name = classification_name(case.classification)
        if name and case.classification != pb.CASE_CLASSIFICATION_PASSED:
            counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{n} {name}" for name, n in counts.items())


def test_cases_table(run: pb.TestRun) -> Table:
    """A run's cases: outcome, classification, duration and exit code; JUnit sub-cases beneath."""
    table = Table(box=None, pad_edge=False)
    for column in ("CASE", "OUTCOME", "CLASS", "DURATION", "EXIT", "FILE"):
        table.add_column(column, no_wrap=True)
    styles = {pb.TEST_OUTCOME_PASSED: "green", pb.TEST_OUTCOME_NOT_RUN: "grey50"}
    for case in run.cases:
        table.add_row(
            case.name,
            Text(outcome_word(case.outcome), style=styles.get(case.outcome, "bold red")),
            Text(
                classification_name(case.classification) or "-",
                style=BADGE_STYLES.get(case.classification, ""),
            ),
            seconds(case.duration),
            str(case.exit_code),
            case.file,
        )
        for sub in case.sub_cases:
            table.add_row(
                f"  ↳ {sub.classname + '.' if sub.classname else ''}{sub.name}",
                Text(outcome_word(sub.outcome), style=styles.get(sub.outcome, "bold red")),
                "",
                seconds(sub.duration),
                "",
                sub.message,
            )
    return table


def case_story(summary: history_pb.CaseSummary) -> str:
    """ "Gpu on gpc0: failing since system-41, 3 runs; last passed on system-40; 2/5 passed (40%)"."""
    parts = [failing_since(summary) or "passing"]
    if summary.last_pass_generation:
        parts.append(f"last passed on {summary.last_pass_generation} at {when(summary.last_pass_at)}")
    else:
        parts.append("never passed")
    if rate := pass_rate(summary):
        parts.append(rate + " of the retained runs")
    return f"{summary.name} on {summary.host}: " + "; ".join(parts)


def case_results_table(results: Iterable[history_pb.CaseResult]) -> Table:
    """One case's results, newest first."""
    table = Table(box=None, pad_edge=False)
    for column in ("RUN", "OUTCOME", "CLASS", "GENERATION", "COMMIT", "TRIGGER", "FINISHED", "DURATION"):
        table.add_column(column, no_wrap=True)
    for r in results:
        table.add_row(
            r.run_id,
            outcome_word(r.outcome),
            Text(classification_name(r.classification) or "-", style=BADGE_STYLES.get(r.classification, "")),
            r.generation or "-",
            r.commit[:12] or "-",
            enum_word(pb.TestTrigger, r.trigger, "TEST_TRIGGER_"),
            when(r.finished_at),
            seconds(r.duration),
        )
    return table


def failing_cases_table(cases: Iterable[history_pb.FailingCase]) -> Table:
    """The fleet's failing cases: how many hosts, which, since when, on which commits."""
    table = Table(box=None, pad_edge=False)
    for column in ("CASE", "HOSTS", "SAME COMMIT", "WHERE"):
        table.add_column(column, no_wrap=True)
    for case in cases:
        where = ", ".join(
            f"{h.host} ({classification_name(h.last_classification)}, since {h.failing_since_generation})"
            for h in case.hosts
        )
        table.add_row(case.name, str(len(case.hosts)), "yes" if case.same_commit else "no", where)
    return table


def webhooks_table(webhooks: Iterable[notifications_pb.Webhook]) -> Table:
    """Webhook subscriptions (without secrets) and how their last delivery went."""
    table = Table(box=None, pad_edge=False)
    for column in ("ID", "URL", "FORMAT", "EVENTS", "PENDING", "LAST DELIVERY"):
        table.add_column(column, no_wrap=True)
    for w in webhooks:
        events = ", ".join(
            enum_word(notifications_pb.NotificationEvent, e, "NOTIFICATION_EVENT_") for e in w.events
        )
        last = w.last_delivery
        if not last.event_id:
            status = "-"
        elif last.delivered:
            status = f"delivered {last.event_id} at {when(last.attempted_at)}"
        else:
            status = f"failed {last.event_id} ({last.error}), attempt {last.attempts}"
        table.add_row(
            w.id,
            w.url,
            enum_word(notifications_pb.WebhookFormat, w.format, "WEBHOOK_FORMAT_"),
            events or "all",
            str(w.pending),
            status,
        )
    return table


def failing_cases(run: pb.TestRun) -> list[pb.TestCaseResult]:
    """The cases that failed, timed out or errored, in run order."""
    bad = (pb.TEST_OUTCOME_FAILED, pb.TEST_OUTCOME_TIMED_OUT, pb.TEST_OUTCOME_ERROR)
    return [case for case in run.cases if case.outcome in bad]


def test_run_summary(run: pb.TestRun) -> str:
    """ "tests failed on gpc0 (system-2-link): 2/3 passed; failing: GPU acceleration"."""
    verdict = enum_word(pb.TestState, run.state, "TEST_STATE_")
    text = f"tests {verdict} on {run.host} ({run.generation or 'unknown generation'}): {run.passed}/{run.total} passed"
    failing = failing_cases(run)
    if failing:
        text += "; failing: " + ", ".join(case.name for case in failing)
    return text


def key_values(rows: Iterable[tuple[str, str]]) -> Table:
    """A two-column table of names and values."""
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for key, value in rows:
        table.add_row(key, value)
    return table


def settings_table(settings: pb.Settings) -> Table:
    """The fleet-wide settings."""
    return key_values(
        [
            ("test_timeout", seconds(settings.test_timeout)),
            ("heartbeat_interval", seconds(settings.heartbeat_interval)),
            ("test_history_limit", str(settings.test_history_limit)),
            ("operation_timeout", seconds(settings.operation_timeout)),
        ]
    )


def desired_table(desired: pb.DesiredState) -> Table:
    """The desired state."""
    return key_values(
        [
            ("commit", desired.commit or "-"),
            ("lock_hash", desired.lock_hash or "-"),
            ("agent_version", desired.agent_version or "(the control plane's own)"),
            ("updated_at", when(desired.updated_at)),
        ]
    )


def agent_tokens_table(tokens: Iterable[fleet_pb.AgentToken]) -> Table:
    """Agent tokens without their secrets."""
    table = Table(box=None, pad_edge=False)
    for column in ("TOKEN ID", "HOST", "STATE", "KIND", "CREATED", "LAST USED", "EXPIRES"):
        table.add_column(column, no_wrap=True)
    for t in tokens:
        table.add_row(
            t.token_id,
            t.host,
            "revoked" if t.HasField("revoked_at") else "valid",
            "enrollment" if t.enrollment else "host",
            when(t.created_at),
            when(t.last_used_at),
            when(t.expires_at),
        )
    return table


def api_tokens_table(tokens: Iterable[fleet_pb.ApiToken]) -> Table:
    """API tokens without their secrets."""
    table = Table(box=None, pad_edge=False)
    for column in ("TOKEN ID", "NAME", "ROLE", "STATE", "CREATED"):
        table.add_column(column, no_wrap=True)
    for t in tokens:
        table.add_row(
            t.token_id,
            t.name,
            enum_word(pb.Role, t.role, "ROLE_"),
            "revoked" if t.HasField("revoked_at") else "valid",
            when(t.created_at),
        )
    return table
