"""Fixtures for the agent's tests: shell scripts in tmp_path, agent configs, a real control plane."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest


def write_script(path: Path, body: str, executable: bool = True) -> Path:
    """Write a shell script (a bash shebang is added) and set or clear its executable bits."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/usr/bin/env bash\n" + body.lstrip("\n"))
    mode = path.stat().st_mode
    bits = stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
    path.chmod(mode | bits if executable else mode & ~bits)
    return path


@pytest.fixture
def script(tmp_path: Path) -> Callable[..., Path]:
    """Make a script under tmp_path: script("tests/10-ok.sh", "exit 0")."""

    def make(name: str, body: str, executable: bool = True) -> Path:
        return write_script(tmp_path / name, body, executable)

    return make


@pytest.fixture(autouse=True)
def _no_inherited_fleetdeck_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("FLEETDECK_"):
            monkeypatch.delenv(name)
