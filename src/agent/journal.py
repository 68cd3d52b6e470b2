"""The journal: a small JSON file in state_dir recording running commands and unacknowledged results."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from fleetdeck.v1 import agent_service_pb2, types_pb2

logger = logging.getLogger(__name__)

JOURNAL_VERSION = 1
DONE_KEPT = 1_000  # finished and acknowledged commands remembered, so a replayed id never runs twice


@dataclass
class JournalEntry:
    """One command the agent started and whose finish the control plane has not acknowledged."""

    command_id: str
    operation: int
    started_at: float
    deadline: float | None = None
    pid: int = 0
    exit_file: str = ""
    spill_prefix: str = ""  # the shim's spool (agent/spool.py); the name predates the spool
    line_floor: int = 0
    acked_seq: int = 0
    acked_lines: int = 0
    trigger: int = 0
    generation: str = ""
    commit: str = ""
    finished: dict[str, Any] | None = None
    test_run: dict[str, Any] | None = None
    finished_seq: int = 0
    test_run_seq: int = 0

    def finished_message(self) -> agent_service_pb2.CommandFinished | None:
        """The recorded CommandFinished, if the command ended."""
        if self.finished is None:
            return None
        return json_format.ParseDict(self.finished, agent_service_pb2.CommandFinished())

    def test_run_message(self) -> types_pb2.TestRun | None:
        """The recorded TestRun, if a test run ended."""
        if self.test_run is None:
            return None
        return json_format.ParseDict(self.test_run, types_pb2.TestRun())


@dataclass
class JournalData:
    """Everything the journal holds."""

    commands: dict[str, JournalEntry] = field(default_factory=dict)
    last_test: dict[str, Any] | None = None
    # Finished and acknowledged: command id -> its CommandFinished (as JSON), oldest first.
    done: dict[str, dict[str, Any]] = field(default_factory=dict)


class Journal:
    """Loads once, keeps the data in memory and rewrites the file atomically on every change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data = JournalData()

    @classmethod
    def open(cls, state_dir: Path) -> Journal:
        """The journal in `state_dir` (created if missing); an unreadable file is set aside."""
        state_dir.mkdir(parents=True, exist_ok=True)
        journal = cls(state_dir / "journal.json")
        try:
            raw = json.loads(journal.path.read_text())
            journal.data = JournalData(
                commands={k: JournalEntry(**v) for k, v in raw.get("commands", {}).items()},
                last_test=raw.get("last_test"),
                done=dict(raw.get("done", {})),
            )
        except FileNotFoundError:
            pass
        except (OSError, ValueError, TypeError) as exc:
            broken = journal.path.with_suffix(".broken")
            logger.error("journal %s unreadable (%s); moved to %s", journal.path, exc, broken)
            os.replace(journal.path, broken)
        journal._apply_hints()
        return journal

    @property
    def _hints_path(self) -> Path:
        return self.path.with_name("journal.hints.json")

    def _apply_hints(self) -> None:
        """Adopt the newer acknowledgement hints, if their file survived (it is never fsynced)."""
        try:
            hints = json.loads(self._hints_path.read_text())
            for command_id, (seq, lines) in hints.items():
                entry = self.data.commands.get(command_id)
                if entry is not None and seq > entry.acked_seq:
                    entry.acked_seq, entry.acked_lines = int(seq), int(lines)
        except (OSError, ValueError, TypeError):
            pass  # only hints: without them numbering resumes from the last synced journal

    def save(self, sync: bool = True) -> None:
        """Write the journal atomically: temporary file, fsync, rename, fsync of the directory.

        With `sync` False only the acknowledgement hints are written, to a file of their own and
        without fsync: a power loss may lose that file, never the journal itself.
        """
        if not sync:
            hints = {k: (v.acked_seq, v.acked_lines) for k, v in self.data.commands.items() if v.acked_seq}
            tmp = self._hints_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(hints))
            os.replace(tmp, self._hints_path)
            return
        payload = {
            "version": JOURNAL_VERSION,
            "commands": {k: asdict(v) for k, v in self.data.commands.items()},
            "last_test": self.data.last_test,
            "done": self.data.done,
        }
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w") as f:
            json.dump(payload, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a power loss
        finally:
            os.close(directory)

    def entry(self, command_id: str) -> JournalEntry | None:
        """The entry of one command, if recorded."""
        return self.data.commands.get(command_id)

    def entries(self) -> list[JournalEntry]:
        """Every recorded command, oldest first."""
        return sorted(self.data.commands.values(), key=lambda e: e.started_at)

    def record(self, entry: JournalEntry) -> None:
        """Add or replace a command's entry."""
        self.data.commands[entry.command_id] = entry
        self.save()

    def record_result(
        self,
        command_id: str,
        finished: agent_service_pb2.CommandFinished,
        test_run: types_pb2.TestRun | None,
    ) -> None:
        """Record a command's outcome (and its test run) until the control plane acknowledges it."""
        entry = self.data.commands[command_id]
        entry.finished = json_format.MessageToDict(finished)
        entry.test_run = json_format.MessageToDict(test_run) if test_run is not None else None
        self.save()

    def forget(self, command_id: str) -> None:
        """Drop a command whose finish is durable at the control plane, remembering its outcome."""
        entry = self.data.commands.pop(command_id, None)
        if entry is not None:
            if entry.finished is not None:
                self.data.done[command_id] = entry.finished
                while len(self.data.done) > DONE_KEPT:
                    del self.data.done[next(iter(self.data.done))]
            self.save()

    def done(self, command_id: str) -> agent_service_pb2.CommandFinished | None:
        """The outcome of a command that finished and was acknowledged, if it is remembered."""
        finished = self.data.done.get(command_id)
        if finished is None:
            return None
        return json_format.ParseDict(finished, agent_service_pb2.CommandFinished())

    def last_test(self) -> types_pb2.TestStatus | None:
        """The status left by the last finished test run."""
        if self.data.last_test is None:
            return None
        return json_format.ParseDict(self.data.last_test, types_pb2.TestStatus())

    def set_last_test(self, status: types_pb2.TestStatus) -> None:
        """Remember the status of the test run that just finished."""
        self.data.last_test = json_format.MessageToDict(status)
        self.save()
