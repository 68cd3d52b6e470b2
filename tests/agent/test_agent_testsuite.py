"""The test suite: case discovery, names, and per-case outcomes with real shell scripts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.outbox import Line
from agent.testsuite import SuiteRun, case_name, discover, fit_run, name_from_file
from fleetdeck.v1 import types_pb2

ScriptMaker = Callable[..., Path]


@pytest.mark.parametrize(
    ("file_name", "name"),
    [
        ("10-network.sh", "Network"),
        ("40-gpu-acceleration.sh", "Gpu acceleration"),
        ("20_ssh_service", "Ssh service"),
        ("3.home-dir.bash", "Home dir"),
        ("check-nix-store.sh", "Check nix store"),
        ("99-", "99-"),
        ("network", "Network"),
    ],
)
def test_name_comes_from_the_file_name(file_name: str, name: str) -> None:
    assert name_from_file(file_name) == name


def test_a_comment_overrides_the_name(script: ScriptMaker) -> None:
    path = script("t/40-gpu.sh", "# fleetdeck-name: GPU acceleration\nexit 0\n")
    assert case_name(path) == "GPU acceleration"


def test_only_executable_regular_files_are_cases(script: ScriptMaker, tmp_path: Path) -> None:
    script("t/20-b.sh", "exit 0")
    script("t/10-a.sh", "exit 0")
    script("t/15-readme.sh", "exit 0", executable=False)
    script("t/.30-hidden.sh", "exit 0")
    (tmp_path / "t" / "40-dir").mkdir()
    assert [c.file for c in discover(tmp_path / "t")] == ["10-a.sh", "20-b.sh"]


def test_a_missing_directory_has_no_cases(tmp_path: Path) -> None:
    assert discover(tmp_path / "nope") == []


async def _run(tests_dir: Path, run_timeout: float = 10.0) -> tuple[types_pb2.TestRun, list[Line], int]:
    lines: list[Line] = []
    progress: list[types_pb2.TestStatus] = []

    def on_progress(status: types_pb2.TestStatus, case: types_pb2.TestCaseResult | None) -> None:
        assert case is not None and not case.output
        copy = types_pb2.TestStatus()
        copy.CopyFrom(status)
        progress.append(copy)

    suite = SuiteRun("cmd-1", "gpc0", tests_dir, discover(tests_dir), timeout=run_timeout, grace=0.5)
    async with asyncio.timeout(20):
        run = await suite.run(lines.append, asyncio.Event(), on_progress)
    return run, lines, len(progress)


async def test_passing_failing_timed_out_and_unreached_cases(script: ScriptMaker, tmp_path: Path) -> None:
    script("t/10-network.sh", "echo reachable\nexit 0")
    script("t/20-gpu.sh", "echo 'Error: nvidia-smi not found' >&2\nexit 3")
    script("t/25-notes.txt", "exit 1", executable=False)
    script("t/30-slow.sh", "echo starting\nsleep 30\necho never")
    script("t/40-later.sh", "exit 0")
    run, lines, progress = await _run(tmp_path / "t", run_timeout=1.5)

    outcomes = [(c.name, types_pb2.TestOutcome.Name(c.outcome), c.exit_code) for c in run.cases]
    assert outcomes == [
        ("Network", "TEST_OUTCOME_PASSED", 0),
        ("Gpu", "TEST_OUTCOME_FAILED", 3),
        ("Slow", "TEST_OUTCOME_TIMED_OUT", -1),
        ("Later", "TEST_OUTCOME_NOT_RUN", -1),
    ]
    assert (run.passed, run.failed, run.total, run.exit_code) == (1, 2, 4, 1)
    assert run.state == types_pb2.TEST_STATE_FAILED
    assert run.cases[0].output == "reachable"
    assert run.cases[1].output == "Error: nvidia-smi not found"
    assert run.cases[2].output.startswith("starting\n[fleetdeck] killed")
    assert progress == 3
    texts = [text for _, text in lines]
    assert texts[:3] == ["▶ Network", "reachable", texts[2]]
    assert texts[2].startswith("✓ Network (")
    assert "✗ Gpu (exit 3)" in texts
    assert (types_pb2.OUTPUT_STREAM_STDERR, "Error: nvidia-smi not found") in lines


async def test_all_passing_is_a_passed_run(script: ScriptMaker, tmp_path: Path) -> None:
    script("t/10-a.sh", "exit 0")
    script("t/20-b.sh", "echo fine")
    run, _, _ = await _run(tmp_path / "t")
    assert (run.state, run.exit_code, run.passed, run.failed) == (types_pb2.TEST_STATE_PASSED, 0, 2, 0)
    assert run.duration.ToNanoseconds() > 0


async def test_a_case_that_cannot_start_is_an_error(tmp_path: Path) -> None:
    case = tmp_path / "t" / "10-binary"
    case.parent.mkdir()
    case.write_bytes(b"\x7fELF\x00garbage")
    case.chmod(0o755)
    run, _, _ = await _run(tmp_path / "t")
    assert run.cases[0].outcome == types_pb2.TEST_OUTCOME_ERROR
    assert "cannot run" in run.cases[0].output
    assert run.state == types_pb2.TEST_STATE_FAILED


async def test_case_output_keeps_the_tail(script: ScriptMaker, tmp_path: Path) -> None:
    script("t/10-noisy.sh", 'for i in $(seq 1 3000); do echo "line $i of noisy output padding padding"; done')
    run, _, _ = await _run(tmp_path / "t")
    output = run.cases[0].output
    assert len(output) < 70 * 1024
    assert output.startswith("[fleetdeck] ")
    assert output.endswith("line 3000 of noisy output padding padding")


def test_a_run_too_big_for_one_message_keeps_the_tails_of_its_outputs() -> None:
    cases = [types_pb2.TestCaseResult(name=f"c{i}", output=f"{i}:" + "x" * 60_000 + "END") for i in range(80)]
    run = types_pb2.TestRun(id="r", cases=cases)
    fit_run(run, cap=1_000_000)
    assert run.ByteSize() <= 1_000_000
    assert all(c.output.endswith("END") for c in run.cases)
    assert all(c.output.startswith("[fleetdeck] ") for c in run.cases)
