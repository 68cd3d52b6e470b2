"""The executor: runs the closed set of operations as local argv, one at a time, reported via the outbox.

Longer than most modules: it holds one command's whole life on the host (start, adoption after an
agent restart, stop, deadline, report), and splitting that one sequence would scatter it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf import timestamp_pb2

from agent import facts, shim, spool
from agent.config import AgentConfig
from agent.journal import Journal, JournalEntry
from agent.lines import LineBatcher
from agent.outbox import Entry, Line, Outbox
from agent.outcome import Outcome, command_finished, outcome_of_run, status_of
from agent.process import ProcessResult, StopReason, kill_group, pid_alive, run_process, wait_exit
from agent.testsuite import SuiteRun, discover, no_tests_message
from fleetdeck.operations import OPERATIONS, operation_name
from fleetdeck.tasks import cancel_and_wait, spawn_logged
from fleetdeck.v1 import agent_service_pb2, types_pb2

logger = logging.getLogger(__name__)

DEFAULT_TEST_TIMEOUT = 60.0
LINE_RESERVE = 4096
UNKNOWN_OUTCOME = "agent restarted while the command ran; outcome unknown"
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_COMMAND_ID = re.compile(r"^[0-9a-f]{32}$")
_OP_NAMES: dict[int, str] = {op: operation_name(op) for op in OPERATIONS}

SendControl = Callable[[agent_service_pb2.ConnectRequest], None]


def _timestamp(seconds: float | None = None) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    if seconds is None:
        ts.GetCurrentTime()
    else:
        ts.FromNanoseconds(int(seconds * 1e9))
    return ts


@dataclass
class Running:
    """The command running now."""

    command_id: str
    operation: int
    started: float
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    suite: SuiteRun | None = None
    task: asyncio.Task[None] | None = None
    # Where the output read so far ends in the command's spool (shimmed commands only).
    mark: spool.Mark | None = None


class Executor:
    """Runs at most one command at a time and reports it through the journal and the outbox."""

    def __init__(
        self,
        config: AgentConfig,
        journal: Journal,
        outbox: Outbox,
        send_control: SendControl,
        test_settings: Callable[[], types_pb2.TestSettings],
    ) -> None:
        self.config = config
        self.journal = journal
        self.outbox = outbox
        self._send = send_control
        self._test_settings = test_settings
        self.running: Running | None = None
        self._detach = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._commands_dir = config.state_dir / "commands"
        # The acknowledgements of this life's first welcome: what the control plane had stored of each
        # command of an earlier life, so a spool is replayed from exactly there.
        self._first_acks: dict[str, int] = {}
        self._welcomed = asyncio.Event()
        self._resends: set[asyncio.Task[None]] = set()  # journaled results waiting to follow their spool

    # -- starting and stopping -------------------------------------------------------------------

    def refusal(self, rc: agent_service_pb2.RunCommand) -> str:
        """Why this command must not start, or "" when it may."""
        if not _COMMAND_ID.match(rc.command_id):
            # The id names files in state_dir: anything but the control plane's hex ids is refused.
            return f"command id {rc.command_id[:40]!r} is not 32 lower-case hex digits"
        if self.running is not None:
            return f"command {self.running.command_id} is already running"
        if rc.operation not in _OP_NAMES:
            return f"unknown operation {rc.operation}; this agent runs only pull, switch, test and rollback"
        if rc.operation == types_pb2.OPERATION_PULL and not _COMMIT.match(rc.target_commit):
            return f"pull needs a target commit of 40 hex digits, got {rc.target_commit!r}"
        if rc.operation == types_pb2.OPERATION_TEST and not self._test_settings().enabled:
            return f"tests are disabled for host {self.config.host}"
        return ""

    def start(self, rc: agent_service_pb2.RunCommand) -> None:
        """Start the command, or answer CommandRefused."""
        if self.journal.entry(rc.command_id) is not None or self.outbox.knows(rc.command_id):
            logger.info("command %s already known; ignoring the repeated RunCommand", rc.command_id)
            return
        done = self.journal.done(rc.command_id)
        if done is not None:
            # Finished and acknowledged before: a replay (a confused or malicious control plane).
            # Never run it twice; answer with what it ended with.
            logger.warning(
                "command %s finished before; answering its outcome instead of running it", rc.command_id
            )
            self._send(agent_service_pb2.ConnectRequest(command_finished=done))
            return
        reason = self.refusal(rc)
        if reason:
            logger.info("refused command %r: %s", rc.command_id[:40], reason)
            self._send(
                agent_service_pb2.ConnectRequest(
                    command_refused=agent_service_pb2.CommandRefused(command_id=rc.command_id, reason=reason)
                )
            )
            return
        running = Running(rc.command_id, rc.operation, time.time())
        self._set_running(running)
        running.task = spawn_logged(
            self._command(rc, running), name=f"command-{rc.command_id}", logger=logger
        )

    def _set_running(self, running: Running | None) -> None:
        self.running = running
        if running is None:
            self._idle.set()
        else:
            self._idle.clear()

    def _release(self, running: Running) -> None:
        # A finished command's result may already have brought the next RunCommand; keep that one.
        if self.running is running:
            self._set_running(None)

    def cancel(self, command_id: str) -> None:
        """Stop the running command if it is `command_id`."""
        if self.running is not None and self.running.command_id == command_id:
            logger.info("stopping command %s on request", command_id)
            self.running.stop.set()
        else:
            logger.info("cancel for command %s, which is not running; ignored", command_id)

    async def wait_idle(self) -> None:
        """Wait until no command runs."""
        await self._idle.wait()

    async def shutdown(self) -> None:
        """Leave switch/rollback running (they must outlive the agent), kill the rest, await the task."""
        self._detach.set()
        await cancel_and_wait(*self._resends)
        running = self.running
        if running is not None:
            await cancel_and_wait(running.task)

    # -- the command's life ------------------------------------------------------------------------

    def _env(self, command_id: str, operation: int) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            FLEETDECK_HOST=self.config.host,
            FLEETDECK_COMMAND_ID=command_id,
            FLEETDECK_OPERATION=_OP_NAMES.get(operation, "unknown"),
            FLEETDECK_REPO_DIR=str(self.config.repo_dir),
            FLEETDECK_AGENT_PID=str(os.getpid()),
            FLEETDECK_GENERATION_PATH=str(self.config.generation_path),
        )
        return env

    async def _command(self, rc: agent_service_pb2.RunCommand, running: Running) -> None:
        command_id = rc.command_id
        generation = facts.generation(self.config.generation_path)
        timeout = rc.timeout.ToNanoseconds() / 1e9 if rc.HasField("timeout") else 0.0
        entry = JournalEntry(
            command_id=command_id,
            operation=rc.operation,
            started_at=running.started,
            deadline=running.started + timeout if timeout > 0 else None,
            trigger=rc.trigger,
            generation=generation,
            exit_file=str(self._commands_dir / f"{command_id}.exit"),
            spill_prefix=str(self._commands_dir / command_id),
            line_floor=LINE_RESERVE,
        )
        try:
            self._commands_dir.mkdir(parents=True, exist_ok=True)
            self.journal.record(entry)
        except OSError as exc:
            self._set_running(None)
            reason = f"cannot write the journal in {self.config.state_dir}: {exc.strerror or exc}"
            logger.error("refused command %s: %s", command_id, reason)
            refused = agent_service_pb2.CommandRefused(command_id=command_id, reason=reason)
            self._send(agent_service_pb2.ConnectRequest(command_refused=refused))
            return
        self.outbox.begin(command_id)
        logger.info("command %s (%s) started", command_id, _OP_NAMES[rc.operation])
        self._send(
            agent_service_pb2.ConnectRequest(
                command_started=agent_service_pb2.CommandStarted(
                    command_id=command_id, started_at=_timestamp(running.started), generation=generation
                )
            )
        )
        batcher = LineBatcher(lambda lines: self.outbox.add_output(command_id, lines, running.mark))
        try:
            try:
                outcome = await self._operation(rc, running, entry, batcher.add, timeout)
            except Exception as exc:
                logger.exception("command %s failed inside the agent", command_id)
                outcome = Outcome(exit_code=-1, error=f"agent error: {exc}")
            finally:
                batcher.flush()
            await asyncio.shield(self._finish(entry, outcome, time.time() - running.started))
        except Exception:
            logger.exception("reporting command %s failed; the journal still holds it", command_id)
        finally:
            self._release(running)

    async def _operation(
        self,
        rc: agent_service_pb2.RunCommand,
        running: Running,
        entry: JournalEntry,
        on_line: Callable[[Line], None],
        timeout_seconds: float,
    ) -> Outcome:
        loop = asyncio.get_running_loop()
        env = self._env(rc.command_id, rc.operation)
        if rc.operation == types_pb2.OPERATION_TEST:
            return await self._test(rc, running, entry, on_line, env, timeout_seconds)
        deadline = loop.time() + timeout_seconds if timeout_seconds > 0 else None
        grace = self.config.stop_grace_seconds
        if rc.operation == types_pb2.OPERATION_PULL:
            git = ("git", "-C", str(self.config.repo_dir))
            steps = [
                (*git, "fetch", "--quiet", "origin"),
                (*git, "reset", "--hard", rc.target_commit),
                (*git, "clean", "-fdx"),
            ]
            result = ProcessResult(exit_code=0)
            for argv in steps:
                on_line((types_pb2.OUTPUT_STREAM_SYSTEM, "$ " + " ".join(argv)))
                result = await run_process(
                    argv, on_line=on_line, stop=running.stop, grace=grace, deadline=deadline, env=env
                )
                if result.exit_code != 0 or result.stopped or result.error:
                    break
            return Outcome(result.exit_code, result.stopped, result.error)
        argv = self.config.switch if rc.operation == types_pb2.OPERATION_SWITCH else self.config.rollback
        on_line((types_pb2.OUTPUT_STREAM_SYSTEM, "$ " + " ".join(argv)))
        wrapped = shim.command(entry.exit_file, entry.spill_prefix, argv)
        running.mark = spool.Mark()

        def started(pid: int) -> None:
            entry.pid = pid
            self.journal.save()

        def piece(stream: types_pb2.OutputStream, n_bytes: int, newline: bool) -> None:
            # The pipe carries the same bytes as the spool, so what was read is a spool position.
            mark = running.mark
            assert mark is not None
            if stream == types_pb2.OUTPUT_STREAM_STDOUT:
                running.mark = spool.Mark(mark.stdout.after(n_bytes, newline), mark.stderr)
            else:
                running.mark = spool.Mark(mark.stdout, mark.stderr.after(n_bytes, newline))

        result = await run_process(
            wrapped,
            on_line=on_line,
            stop=running.stop,
            grace=grace,
            deadline=deadline,
            cwd=self.config.repo_dir,
            env=env,
            on_start=started,
            detach=self._detach,
            on_piece=piece,
        )
        exit_info = shim.read_exit_file(entry.exit_file)
        if exit_info is not None and not result.error:
            code = int(exit_info["exit_code"])  # type: ignore[call-overload]
            error = str(exit_info.get("error") or "")
            return Outcome(code if code >= 0 else -1, result.stopped, error)
        return Outcome(result.exit_code, result.stopped, result.error)

    async def _test(
        self,
        rc: agent_service_pb2.RunCommand,
        running: Running,
        entry: JournalEntry,
        on_line: Callable[[Line], None],
        env: dict[str, str],
        timeout_seconds: float,
    ) -> Outcome:
        settings = self._test_settings()
        timeout = timeout_seconds
        if timeout <= 0:
            timeout = settings.timeout.ToNanoseconds() / 1e9 if settings.HasField("timeout") else 0.0
        suite = SuiteRun(
            command_id=rc.command_id,
            host=self.config.host,
            tests_dir=self.config.tests_dir,
            cases=discover(self.config.tests_dir),
            timeout=timeout if timeout > 0 else DEFAULT_TEST_TIMEOUT,
            trigger=rc.trigger or types_pb2.TEST_TRIGGER_MANUAL,
            generation=entry.generation,
            commit=await facts.git_head(self.config.repo_dir),
            grace=self.config.stop_grace_seconds,
            cwd=self.config.repo_dir if self.config.repo_dir.is_dir() else None,
            env=env,
        )
        running.suite = suite
        if not suite.cases:
            on_line((types_pb2.OUTPUT_STREAM_SYSTEM, no_tests_message(self.config.tests_dir)))

        def progress(status: types_pb2.TestStatus, case: types_pb2.TestCaseResult | None) -> None:
            msg = agent_service_pb2.TestProgress(command_id=rc.command_id, status=status)
            if case is not None:
                msg.finished_case.CopyFrom(case)
            self._send(agent_service_pb2.ConnectRequest(test_progress=msg))

        run = await suite.run(on_line, running.stop, progress)
        on_line((types_pb2.OUTPUT_STREAM_SYSTEM, f"{run.passed}/{run.total} tests passed"))
        if not suite.cases:
            return Outcome(run.exit_code, None, "", run, no_tests_message(self.config.tests_dir))
        return outcome_of_run(run, cancelled=running.stop.is_set())

    async def _finish(self, entry: JournalEntry, outcome: Outcome, seconds: float) -> None:
        try:
            async with asyncio.timeout(10):
                after = await facts.host_facts(self.config)
        except TimeoutError:
            after = types_pb2.HostFacts()
        # No await from here on: the command is no longer running once its result can be sent.
        if self.running is not None and self.running.command_id == entry.command_id:
            self._set_running(None)
        self._report(entry, outcome, seconds, after)

    def _report(
        self, entry: JournalEntry, outcome: Outcome, seconds: float, after: types_pb2.HostFacts
    ) -> None:
        """Record the result in the journal first, then queue it (TestRun before CommandFinished)."""
        finished = command_finished(entry.command_id, outcome, seconds, after)
        if outcome.error and not outcome.test_run:
            self.outbox.add_output(
                entry.command_id, [(types_pb2.OUTPUT_STREAM_SYSTEM, f"[fleetdeck] {outcome.error}")]
            )
        self.journal.record_result(entry.command_id, finished, outcome.test_run)
        if outcome.test_run is not None:
            self.journal.set_last_test(status_of(outcome.test_run))
            self.outbox.add_result(entry.command_id, outcome.test_run)
        self.outbox.add_result(entry.command_id, finished)
        logger.info(
            "command %s finished: %s, exit %d",
            entry.command_id,
            types_pb2.CommandState.Name(finished.state),
            finished.exit_code,
        )

    # -- after a restart ---------------------------------------------------------------------------

    async def recover(self) -> None:
        """Requeue recorded results; adopt a switch that outlived the agent; report lost commands."""
        for entry in self.journal.entries():
            self.outbox.begin(
                entry.command_id,
                next_seq=None,
                next_line=entry.line_floor,
                known=(entry.acked_seq, entry.acked_lines),
            )
            recorded = entry.finished_message()
            if recorded is not None and entry.pid:
                # A shimmed command killed with its result journaled but not acknowledged: its spool
                # holds output the control plane may not have stored. That goes first, then the result.
                spawn_logged(
                    self._resend_result(entry, recorded),
                    name=f"resend-{entry.command_id}",
                    logger=logger,
                    keep=self._resends,
                )
                continue
            if recorded is not None:
                test_run = entry.test_run_message()
                if test_run is not None:
                    self.outbox.add_result(entry.command_id, test_run, seq=entry.test_run_seq)
                self.outbox.add_result(entry.command_id, recorded, seq=entry.finished_seq)
                logger.info("resending the recorded result of command %s", entry.command_id)
                continue
            if entry.pid:
                # A shimmed command (switch, rollback): running still, or its spool has output to send.
                self._adopt(entry)
                continue
            await self._report_recovered(entry, None)

    async def _resend_result(self, entry: JournalEntry, recorded: agent_service_pb2.CommandFinished) -> None:
        """Replay the spool past what the control plane stored, then queue the journaled result.

        The result is numbered anew, after the replayed output: its old sequence number may lie
        below lines the control plane never stored, and an acknowledgement of it would drop them.
        """
        await self._replay(entry, shim.read_exit_file(entry.exit_file))
        test_run = entry.test_run_message()
        if test_run is not None:
            self.outbox.add_result(entry.command_id, test_run)
        self.outbox.add_result(entry.command_id, recorded)
        logger.info("resending the recorded result of command %s after its spooled output", entry.command_id)

    def on_welcome(self, acks: dict[str, int]) -> None:
        """The first welcome of this life says how much of each earlier command is stored."""
        if not self._welcomed.is_set():
            self._first_acks = dict(acks)
            self._welcomed.set()

    def _adopt(self, entry: JournalEntry) -> None:
        running = Running(entry.command_id, entry.operation, entry.started_at)
        self._set_running(running)
        running.task = spawn_logged(
            self._follow(entry, running), name=f"adopted-{entry.command_id}", logger=logger
        )

    async def _follow(self, entry: JournalEntry, running: Running) -> None:
        stopped: StopReason | None = None
        alive = shim.read_exit_file(entry.exit_file) is None and pid_alive(entry.pid)
        try:
            if not alive:
                await self._report_recovered(entry, None, replay=True)
                return
            logger.info("command %s (pid %d) outlived the agent; following it", entry.command_id, entry.pid)
            note = "[fleetdeck] the agent restarted; following the command until it ends"
            self.outbox.add_output(entry.command_id, [(types_pb2.OUTPUT_STREAM_SYSTEM, note)])
            waiter = asyncio.ensure_future(wait_exit(entry.pid))
            stopper = asyncio.ensure_future(running.stop.wait())
            try:
                timeout = None if entry.deadline is None else max(0.0, entry.deadline - time.time())
                done, _ = await asyncio.wait(
                    {waiter, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                stopper.cancel()
            if waiter not in done:
                stopped = StopReason.CANCELLED if running.stop.is_set() else StopReason.TIMED_OUT
                kill_group(entry.pid, signal.SIGTERM)
                try:
                    async with asyncio.timeout(self.config.stop_grace_seconds):
                        await waiter
                except TimeoutError:
                    kill_group(entry.pid, signal.SIGKILL)
                    await wait_exit(entry.pid)
            waiter.cancel()
            kill_group(entry.pid, signal.SIGKILL)
            await self._report_recovered(entry, stopped, replay=True)
        finally:
            self._release(running)

    async def _replay(self, entry: JournalEntry, exit_info: dict[str, object] | None) -> None:
        """Queue the spooled output the control plane has not stored, markers where some is gone."""
        await self._welcomed.wait()
        stored = self._first_acks.get(entry.command_id, 0)
        mark = spool.mark_through(Path(entry.spill_prefix + ".marks"), stored)
        totals = shim.spool_totals(exit_info)
        streams = (("stdout", types_pb2.OUTPUT_STREAM_STDOUT), ("stderr", types_pb2.OUTPUT_STREAM_STDERR))
        for name, stream in streams:
            replay = spool.replay(entry.spill_prefix, name, mark.of(name), totals.get(name))
            lines: list[Line] = [(stream, text) for text in replay.lines]
            for at, missing in reversed(replay.gaps):
                lines.insert(at, (types_pb2.OUTPUT_STREAM_SYSTEM, spool.missing_marker(missing, name)))
            if replay.gaps:
                logger.warning(
                    "command %s: %d lines of %s lost from the spool",
                    entry.command_id,
                    sum(n for _, n in replay.gaps),
                    name,
                )
            mark = (
                spool.Mark(replay.end, mark.stderr)
                if name == "stdout"
                else spool.Mark(mark.stdout, replay.end)
            )
            if lines:
                self.outbox.add_output(entry.command_id, lines, mark)
        logger.info("command %s: replayed its spool from sequence number %d on", entry.command_id, stored)

    async def _report_recovered(
        self, entry: JournalEntry, stopped: StopReason | None, replay: bool = False
    ) -> None:
        exit_info = shim.read_exit_file(entry.exit_file)
        if replay:
            await self._replay(entry, exit_info)
        seconds = time.time() - entry.started_at
        if exit_info is None:
            outcome = Outcome(exit_code=-1, error=UNKNOWN_OUTCOME, stopped=stopped)
        else:
            code = int(exit_info["exit_code"])  # type: ignore[call-overload]
            outcome = Outcome(exit_code=code if code >= 0 else -1, stopped=stopped)
        await asyncio.shield(self._finish(entry, outcome, seconds))

    def on_numbered(self, entry: Entry) -> None:
        """Keep the journal's line reserve and result sequence numbers current (outbox hook)."""
        recorded = self.journal.entry(entry.command_id)
        if recorded is None:
            return
        if entry.mark is not None and recorded.spill_prefix:
            # Before the entry is sent: once the control plane stores this seq, a restarted agent
            # replays the spool from exactly here. No fsync (see agent/spool.py).
            try:
                spool.record_mark(Path(recorded.spill_prefix + ".marks"), entry.seq, entry.mark)
            except OSError as exc:
                logger.warning("cannot record the spool mark of command %s: %s", entry.command_id, exc)
        if entry.is_output:
            next_line = self.outbox.next_line(entry.command_id)
            if next_line < recorded.line_floor:
                return
            recorded.line_floor = next_line + LINE_RESERVE
        elif entry.is_finish:
            recorded.finished_seq = entry.seq
        else:
            recorded.test_run_seq = entry.seq
        self.journal.save()

    def on_progress_acked(self, command_id: str, seq: int, lines: int) -> None:
        """Remember how much of a command is stored, so a restarted agent numbers on without a gap."""
        recorded = self.journal.entry(command_id)
        if recorded is not None and recorded.finished is None:
            recorded.acked_seq, recorded.acked_lines = seq, lines
            if recorded.spill_prefix:
                spool.compact_marks(Path(recorded.spill_prefix + ".marks"), seq)
            # A hint, not a promise: without fsync it survives the agent, maybe not the machine.
            self.journal.save(sync=False)

    def on_acked(self, command_id: str) -> None:
        """The command's finish is durable: forget it and its files."""
        self.journal.forget(command_id)
        if not _COMMAND_ID.match(command_id):
            return  # never a path: only ids this agent could have run name files
        spool.remove(self._commands_dir, command_id)

    # -- test status ---------------------------------------------------------------------------------

    def test_status(self) -> types_pb2.TestStatus:
        """Where the host's tests stand now (heartbeats and the hello carry it)."""
        cases = discover(self.config.tests_dir)
        if self.running is not None and self.running.suite is not None:
            status = types_pb2.TestStatus()
            status.CopyFrom(self.running.suite.status)
            status.defined_cases = len(cases)
            return status
        if not self._test_settings().enabled:
            return types_pb2.TestStatus(
                state=types_pb2.TEST_STATE_DISABLED,
                message=f"Tests are disabled for host {self.config.host}",
                defined_cases=len(cases),
            )
        if not cases:
            return types_pb2.TestStatus(
                state=types_pb2.TEST_STATE_DISABLED, message=no_tests_message(self.config.tests_dir)
            )
        last = self.journal.last_test()
        if last is None:
            return types_pb2.TestStatus(
                state=types_pb2.TEST_STATE_NOT_RUN, message="Tests have not run yet", defined_cases=len(cases)
            )
        last.defined_cases = len(cases)
        return last
