"""The command line itself, in process: help, usage errors, and the process subcommands' own flags."""

from __future__ import annotations

import pytest

from fleetdeck import exits
from fleetdeck.cli import main


def test_help_documents_the_environment_and_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == exits.OK
    text = capsys.readouterr().out
    for word in ("FLEETDECK_CONTROLPLANE", "FLEETDECK_TOKEN", "FLEETDECK_TOKEN_FILE", "--output"):
        assert word in text
    for code in ("0  success", "1  the operation", "2  usage", "3  refused", "4  cannot reach"):
        assert code in text
    for verb in ("hosts", "run", "logs", "cancel", "test-run", "desired", "settings", "api-token", "agent"):
        assert f"  {verb} " in text


@pytest.mark.parametrize(
    "argv",
    [
        ["nosuchverb"],
        ["run", "explode", "web1"],
        ["run", "switch"],
        ["hosts", "-o", "yaml"],
        ["settings", "set", "--test-timeout", "-3"],
        ["api-token", "create", "ci", "--role", "root"],
    ],
)
def test_usage_errors_exit_2_before_anything_is_called(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == exits.USAGE
    assert "Error:" in capsys.readouterr().err


def test_the_processes_keep_their_own_argparse_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["controlplane", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: fleetdeck controlplane") and "--db" in out
    with pytest.raises(SystemExit) as exited:
        main(["agent"])  # --config is required by the agent's own parser
    assert exited.value.code == 2
    assert "the following arguments are required: --config" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv", [["run", "--help"], ["desired", "set", "--help"], ["api-token", "list", "--help"]]
)
def test_every_verbs_help_names_the_connection_and_the_exit_codes(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == exits.OK
    text = " ".join(capsys.readouterr().out.split())
    assert "FLEETDECK_CONTROLPLANE" in text and "FLEETDECK_TOKEN_FILE" in text
    assert "3 refused, 4 control plane unreachable" in text
