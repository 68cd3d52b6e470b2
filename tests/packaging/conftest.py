"""Fixtures for the packaging tests: Nix evaluation in a throw-away state, systemd unit checks."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the helper module beside this file

from nix_support import Nix


@pytest.fixture
def nix(tmp_path: Path) -> Nix:
    """nix-instantiate with its state, cache and store pointed away from /nix (nothing is written)."""
    return Nix(tmp_path / "nix")
