"""The host's test suite: every executable file in tests_dir, in name order, is one case."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import tempfile
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import duration_pb2, timestamp_pb2

from agent import junit
from agent.outbox import Line
from agent.process import StopReason, run_process
from fleetdeck.v1 import types_pb2

logger = logging.getLogger(__name__)

CASE_OUTPUT_CAP = 64 * 1024
RUN_BYTES_CAP = 3 * 1024 * 1024  # a TestRunReport must fit a 4 MiB gRPC message
NAME_MARKER = "fleetdeck-name:"
_PREFIX = re.compile(r"^\d+[-_. ]*")


@dataclass(frozen=True)
class TestCase:
    """One executable file of the suite and the name people see."""

    path: Path
    name: str

    @property
    def file(self) -> str:
        """The file name, relative to the tests directory."""
        return self.path.name


def name_from_file(file_name: str) -> str:
    """A case's name from its file: "40-gpu-acceleration.sh" becomes "Gpu acceleration".

    The leading number and its separator and the extension go, dashes and underscores become
    spaces, and the first letter is capitalised.
    """
    stem = file_name.rsplit(".", 1)[0] if "." in file_name.lstrip(".") else file_name
    words = " ".join(_PREFIX.sub("", stem).replace("-", " ").replace("_", " ").split())
    if not words:
        words = stem
    return words[:1].upper() + words[1:]


def case_name(path: Path) -> str:
    """The case's name: a `# fleetdeck-name: …` comment in its first lines, else from its file name."""
    try:
        with path.open("rb") as f:
            head = f.read(1024).decode("utf-8", errors="replace").splitlines()[:5]
    except OSError:
        head = []
    for line in head:
        text = line.strip().lstrip("#").strip()
        if text.startswith(NAME_MARKER) and text[len(NAME_MARKER) :].strip():
            return text[len(NAME_MARKER) :].strip()
    return name_from_file(path.name)


def discover(tests_dir: Path) -> list[TestCase]:
    """The cases in `tests_dir`: executable regular files (not hidden), sorted by file name."""
    try:
        names = sorted(os.listdir(tests_dir))
    except OSError:
        return []
    cases = []
    for name in names:
        path = tests_dir / name
        if name.startswith(".") or not path.is_file() or not os.access(path, os.X_OK):
            continue
        cases.append(TestCase(path=path, name=case_name(path)))
    return cases


def no_tests_message(tests_dir: Path) -> str:
    """The DISABLED status message for a host with no cases."""
    return f"No tests defined in {tests_dir}"


class _Tail:
    """A case's combined output, keeping the last CASE_OUTPUT_CAP bytes."""

    def __init__(self, cap: int = CASE_OUTPUT_CAP) -> None:
        self._cap = cap
        self._lines: deque[str] = deque()
        self._size = 0
        self.dropped = 0

    def add(self, text: str) -> None:
        self._lines.append(text)
        self._size += len(text) + 1
        while self._size > self._cap and len(self._lines) > 1:
            gone = self._lines.popleft()
            self._size -= len(gone) + 1
            self.dropped += len(gone) + 1

    def text(self) -> str:
        body = "\n".join(self._lines)
        if self.dropped:
            return f"[fleetdeck] {self.dropped} bytes of earlier output dropped\n{body}"
        return body


def fit_run(run: types_pb2.TestRun, cap: int = RUN_BYTES_CAP) -> None:
    """Shorten the longest case outputs (keeping their tails) until the run fits `cap` bytes."""
    while run.ByteSize() > cap:
        case = max(run.cases, key=lambda c: len(c.output), default=None)
        if case is None or len(case.output) < 256:
            return
        keep = len(case.output) // 2
        dropped = len(case.output) - keep
        case.output = f"[fleetdeck] {dropped} characters of earlier output dropped\n" + case.output[-keep:]


def _duration(seconds: float) -> duration_pb2.Duration:
    d = duration_pb2.Duration()
    d.FromNanoseconds(int(seconds * 1e9))
    return d


def _now() -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.GetCurrentTime()
    return ts


def _verdict(case: TestCase, result: types_pb2.TestCaseResult, seconds: float) -> str:
    if result.outcome == types_pb2.TEST_OUTCOME_PASSED:
        return f"✓ {case.name} ({seconds:.1f} s)"
    if result.outcome == types_pb2.TEST_OUTCOME_TIMED_OUT:
        return f"✗ {case.name} (timed out after {seconds:.1f} s)"
    if result.outcome == types_pb2.TEST_OUTCOME_ERROR:
        return f"✗ {case.name} ({result.message or 'could not run: ' + result.output})"
    return f"✗ {case.name} (exit {result.exit_code})"


ProgressHook = Callable[[types_pb2.TestStatus, types_pb2.TestCaseResult | None], None]


@dataclass
class SuiteRun:
    """One run of the suite; `status` is readable at any time (heartbeats carry it)."""

    command_id: str
    host: str
    tests_dir: Path
    cases: list[TestCase]
    timeout: float
    trigger: types_pb2.TestTrigger = types_pb2.TEST_TRIGGER_MANUAL
    generation: str = ""
    commit: str = ""
    grace: float = 5.0
    cwd: Path | None = None
    env: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        self.status = types_pb2.TestStatus(
            state=types_pb2.TEST_STATE_RUNNING,
            total=len(self.cases),
            last_run_id=self.command_id,
            last_run_at=_now(),
            generation=self.generation,
            defined_cases=len(self.cases),
        )

    async def run(
        self,
        on_line: Callable[[Line], None],
        stop: asyncio.Event,
        on_progress: ProgressHook | None = None,
    ) -> types_pb2.TestRun:
        """Run every case in order; the whole run ends at the timeout or when `stop` is set."""
        loop = asyncio.get_running_loop()
        started_at, t0 = _now(), time.monotonic()
        deadline = loop.time() + self.timeout
        results: list[types_pb2.TestCaseResult] = []
        reports = tempfile.TemporaryDirectory(prefix="fleetdeck-junit-")
        try:
            await self._run_cases(results, Path(reports.name), deadline, stop, on_line, on_progress)
        finally:
            reports.cleanup()
        self.status.current_case = ""
        return self._finish(results, started_at, t0, cancelled=stop.is_set())

    async def _run_cases(
        self,
        results: list[types_pb2.TestCaseResult],
        reports: Path,
        deadline: float,
        stop: asyncio.Event,
        on_line: Callable[[Line], None],
        on_progress: ProgressHook | None,
    ) -> None:
        loop = asyncio.get_running_loop()
        for index, case in enumerate(self.cases):
            if stop.is_set() or loop.time() >= deadline:
                results.append(
                    types_pb2.TestCaseResult(
                        name=case.name, outcome=types_pb2.TEST_OUTCOME_NOT_RUN, exit_code=-1, file=case.file
                    )
                )
                continue
            self.status.current_case = case.name
            result = await self._run_case(case, deadline, stop, on_line, reports / f"{index}.xml")
            results.append(result)
            self.status.completed += 1
            if result.outcome == types_pb2.TEST_OUTCOME_PASSED:
                self.status.passed += 1
            else:
                self.status.failed += 1
            if on_progress is not None:
                brief = types_pb2.TestCaseResult()
                brief.CopyFrom(result)
                brief.ClearField("output")
                on_progress(self.status, brief)

    def _finish(
        self,
        results: list[types_pb2.TestCaseResult],
        started_at: timestamp_pb2.Timestamp,
        t0: float,
        *,
        cancelled: bool,
    ) -> types_pb2.TestRun:
        """The run's record from its case results."""
        passed = sum(r.outcome == types_pb2.TEST_OUTCOME_PASSED for r in results)
        failed = sum(
            r.outcome
            in (types_pb2.TEST_OUTCOME_FAILED, types_pb2.TEST_OUTCOME_TIMED_OUT, types_pb2.TEST_OUTCOME_ERROR)
            for r in results
        )
        ok = passed == len(results)
        if cancelled:
            state = types_pb2.TEST_STATE_CANCELLED  # stopped on request: no verdict on the system
        else:
            state = types_pb2.TEST_STATE_PASSED if ok else types_pb2.TEST_STATE_FAILED
        run = types_pb2.TestRun(
            id=self.command_id,
            host=self.host,
            trigger=self.trigger,
            generation=self.generation,
            state=state,
            started_at=started_at,
            finished_at=_now(),
            exit_code=0 if ok else 1,
            passed=passed,
            failed=failed,
            total=len(results),
            duration=_duration(time.monotonic() - t0),
            cases=results,
            commit=self.commit,
        )
        fit_run(run)
        return run

    async def _run_case(
        self,
        case: TestCase,
        deadline: float,
        stop: asyncio.Event,
        on_line: Callable[[Line], None],
        report_path: Path,
    ) -> types_pb2.TestCaseResult:
        tail = _Tail()

        def line(item: Line) -> None:
            tail.add(item[1])
            on_line(item)

        on_line((types_pb2.OUTPUT_STREAM_SYSTEM, f"▶ {case.name}"))
        t0 = time.monotonic()
        proc = await run_process(
            [str(case.path)],
            on_line=line,
            stop=stop,
            grace=self.grace,
            deadline=deadline,
            cwd=self.cwd or self.tests_dir,
            env={**(os.environ if self.env is None else self.env), junit.ENV_VAR: str(report_path)},
        )
        seconds = time.monotonic() - t0
        result = types_pb2.TestCaseResult(
            name=case.name, duration=_duration(seconds), exit_code=proc.exit_code, file=case.file
        )
        if proc.error:
            result.outcome = types_pb2.TEST_OUTCOME_ERROR
            result.output = proc.error
        else:
            if proc.stopped is StopReason.TIMED_OUT:
                result.outcome = types_pb2.TEST_OUTCOME_TIMED_OUT
                tail.add(f"[fleetdeck] killed: the test run's {self.timeout:g} s timeout passed")
            elif proc.stopped is None and proc.exit_code == 0:
                result.outcome = types_pb2.TEST_OUTCOME_PASSED
            else:
                result.outcome = types_pb2.TEST_OUTCOME_FAILED
                if proc.stopped is StopReason.CANCELLED:
                    tail.add("[fleetdeck] stopped on request")
            _import_report(result, junit.read_report(report_path), tail)
            result.output = tail.text()
        on_line((types_pb2.OUTPUT_STREAM_SYSTEM, _verdict(case, result, seconds)))
        return result


def _import_report(result: types_pb2.TestCaseResult, report: junit.JunitReport | None, tail: _Tail) -> None:
    """Record a case's JUnit test cases; a bad report makes the case an error, failures a failure."""
    if report is None:
        return
    if report.error:
        result.outcome = types_pb2.TEST_OUTCOME_ERROR
        result.message = report.error
        tail.add(f"[fleetdeck] {report.error}")
        return
    result.sub_cases.extend(report.sub_cases)
    if report.dropped:
        tail.add(f"[fleetdeck] {report.dropped} more JUnit test cases were not recorded")
    if report.failed and result.outcome == types_pb2.TEST_OUTCOME_PASSED:
        result.outcome = types_pb2.TEST_OUTCOME_FAILED
        result.message = f"{report.failed} of {len(report.sub_cases)} JUnit test cases failed"
