"""What `fleetdeck run --wait` concludes per host: the command, the test run it triggered, the verdict."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fleetdeck import exits
from fleetdeck.operations import operation_name
from fleetdeck.render import state_word, test_run_summary, to_dict
from fleetdeck.v1 import types_pb2 as pb

PASSED, FAILED, REFUSED = "passed", "failed", "refused"


@dataclass
class HostVerdict:
    """One host's part of a RunOperation, once everything it set off has ended."""

    host: str
    refused_reason: str = ""
    command: pb.Command | None = None
    test_command: pb.Command | None = None
    test_run: pb.TestRun | None = None
    no_test_run: str = ""  # the control plane's reason why no test run followed

    @property
    def run_of_tests(self) -> pb.Command | None:
        """The command that ran the tests: the follow-up of a switch, or a TEST command itself."""
        if self.test_command is not None:
            return self.test_command
        if self.command is not None and self.command.operation == pb.OPERATION_TEST:
            return self.command
        return None

    @property
    def outcome(self) -> str:
        """ "passed", "failed" or "refused"."""
        if self.refused_reason:
            return REFUSED
        if self.command is None or self.command.state != pb.COMMAND_STATE_SUCCEEDED:
            return FAILED
        tests = self.run_of_tests
        if tests is not None and tests.state != pb.COMMAND_STATE_SUCCEEDED:
            return FAILED
        if self.test_run is not None and self.test_run.state != pb.TEST_STATE_PASSED:
            return FAILED
        return PASSED

    def sentence(self) -> str:
        """ "gpc0: switch succeeded; tests failed on gpc0 (system-2-link): 2/3 passed; failing: GPU"."""
        if self.refused_reason:
            return f"{self.host}: refused: {self.refused_reason}"
        if self.command is None:
            return f"{self.host}: no command"
        text = f"{self.host}: {_ended(self.command)}"
        tests = self.run_of_tests
        if self.test_run is not None:
            text += "; " + test_run_summary(self.test_run)
        elif tests is not None:
            text += f"; tests ended without results: {_ended(tests)}"
        elif self.command.operation == pb.OPERATION_SWITCH and self.outcome == PASSED:
            text += f"; no test run followed: {self.no_test_run or 'the control plane started none'}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON for scripts: the messages in the proto JSON mapping, null where there is none."""
        return {
            "host": self.host,
            "outcome": self.outcome,
            "refused_reason": self.refused_reason,
            "command": to_dict(self.command) if self.command is not None else None,
            "test_command": to_dict(self.test_command) if self.test_command is not None else None,
            "test_run": to_dict(self.test_run) if self.test_run is not None else None,
        }


def _ended(command: pb.Command) -> str:
    text = f"{operation_name(command.operation)} {state_word(command.state)}"
    if command.state != pb.COMMAND_STATE_SUCCEEDED:
        text += f" (exit {command.exit_code})" if command.exit_code >= 0 else ""
        text += f": {command.message}" if command.message else ""
    return text


def exit_code(verdicts: Iterable[HostVerdict]) -> int:
    """1 if any host failed, else 3 if any refused, else 0."""
    outcomes = {v.outcome for v in verdicts}
    if FAILED in outcomes:
        return exits.FAILED
    if REFUSED in outcomes:
        return exits.REFUSED
    return exits.OK
