"""How the CLI shows things: coloured compartment cells, and JSON with every field present."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from fleetdeck.render import host_line, hosts_table, to_dict
from fleetdeck.v1 import types_pb2 as pb

# CompartmentStatus -> (the word in the cell, the ANSI background code of its colour)
CELLS = [
    (pb.COMPARTMENT_STATUS_OK, "ok", "42"),
    (pb.COMPARTMENT_STATUS_OUTDATED, "outdated", "43"),
    (pb.COMPARTMENT_STATUS_ERROR, "failed", "41"),
    (pb.COMPARTMENT_STATUS_WORKING, "working", "44"),
]


def _host(status: int) -> pb.Host:
    host = pb.Host(name="gpc0", online=True)
    for kind in range(1, 6):
        host.compartments.add(kind=kind, status=status)  # type: ignore[arg-type]
    return host


@pytest.mark.parametrize(("status", "word", "background"), CELLS)
def test_a_compartment_is_a_coloured_cell_with_the_legends_word(
    status: int, word: str, background: str
) -> None:
    buffer = io.StringIO()
    Console(file=buffer, force_terminal=True, color_system="standard", width=120).print(
        hosts_table([_host(status)])
    )
    text = buffer.getvalue()
    assert text.count(f" {word} ") == 5
    assert f"{background}m {word} " in text


def test_without_a_terminal_the_cells_keep_their_words_and_lose_their_colour() -> None:
    buffer = io.StringIO()
    Console(file=buffer, width=120).print(hosts_table([_host(pb.COMPARTMENT_STATUS_ERROR)]))
    assert "\x1b[" not in buffer.getvalue()
    assert buffer.getvalue().splitlines()[1].split()[:7] == ["gpc0", "online", *["failed"] * 5]


def test_json_has_every_field_with_proto_names() -> None:
    data = to_dict(pb.Host(name="web1"))
    assert data["name"] == "web1" and data["online"] is False
    assert data["running_command_id"] == "" and data["compartments"] == []
    assert "test_status" not in data  # an unset message field has presence: the mapping leaves it out


def test_a_watched_host_is_one_line() -> None:
    host = _host(pb.COMPARTMENT_STATUS_OK)
    host.compartments[4].status = pb.COMPARTMENT_STATUS_WORKING
    host.test_status.state = pb.TEST_STATE_RUNNING
    host.test_status.completed, host.test_status.total = 3, 8
    host.running_command_id, host.running_operation = "c1", pb.OPERATION_TEST
    assert host_line(host) == (
        "gpc0 online agent=ok git=ok lock=ok system=ok tests=working (3/8) running=test"
    )


def test_names_and_output_are_shown_as_they_are() -> None:
    from fleetdeck.render import console, test_cases_table

    run = pb.TestRun(host="gpc0")
    run.cases.add(name="[bold]odd[/bold] :smile:", outcome=pb.TEST_OUTCOME_PASSED)
    out = console()
    buffer = io.StringIO()
    out.file = buffer
    out.print(test_cases_table(run))
    out.print("exit [1] :smile:")
    assert "[bold]odd[/bold] :smile:" in buffer.getvalue()
    assert "exit [1] :smile:" in buffer.getvalue()
