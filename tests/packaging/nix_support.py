"""Helpers for the packaging tests: run nix-instantiate, render and verify systemd units."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EVAL_MODULE = Path(__file__).parent / "nix" / "eval-module.nix"
NIX_TIMEOUT = 30


class NixError(Exception):
    """nix-instantiate failed; the message is its stderr."""


class Nix:
    """nix-instantiate (Debian's nix-bin) for parsing and pure evaluation, with no store writes."""

    def __init__(self, home: Path) -> None:
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "XDG_CACHE_HOME": str(home / "cache"),
            "NIX_STATE_DIR": str(home / "state"),
            "NIX_LOG_DIR": str(home / "log"),
            "NIX_CONF_DIR": str(home / "conf"),
        }
        binary = shutil.which("nix-instantiate")
        assert binary is not None, "nix-instantiate is missing: run scripts/setup --test (Debian's nix-bin)"
        self.binary = binary

    def run(self, *args: str) -> str:
        """nix-instantiate ARGS with the dummy store; stdout, or NixError with stderr."""
        done = subprocess.run(
            [self.binary, "--store", "dummy://", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=NIX_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            raise NixError(done.stderr.strip())
        return done.stdout

    def parse(self, path: Path) -> str:
        """The parsed form of a .nix file (nix-instantiate --parse)."""
        return self.run("--parse", str(path))

    def eval_json(self, expr: str) -> Any:
        """The value of a Nix expression, evaluated strictly, as JSON."""
        return json.loads(self.run("--eval", "--strict", "--json", "--expr", expr))

    def eval_module(self, module: Path, host: dict[str, Any], pkgs: dict[str, Any]) -> dict[str, Any]:
        """{"config", "options"} of `module` evaluated for `host` with the stand-in lib and `pkgs`."""
        expr = (
            f"import {EVAL_MODULE} {{ module = {module}; "
            f"host = builtins.fromJSON {nix_string(json.dumps(host))}; "
            f"pkgs = builtins.fromJSON {nix_string(json.dumps(pkgs))}; }}"
        )
        result: dict[str, Any] = self.eval_json(expr)
        return result


def nix_string(text: str) -> str:
    """A Nix string literal holding `text` (JSON's escapes, with `${` escaped too)."""
    return json.dumps(text).replace("${", "\\${")


def fake_package(root: Path) -> Path:
    """A directory standing in for the fleetdeck package: bin/fleetdeck exists and is executable."""
    binary = root / "bin" / "fleetdeck"
    binary.parent.mkdir(parents=True, exist_ok=True)
    binary.write_text("#!/bin/sh\nexit 0\n")
    binary.chmod(0o755)
    return root


def _unit_value(value: Any) -> list[str]:
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, list):
        return [item for v in value for item in _unit_value(v)]
    return [str(value)]


def render_unit(service: dict[str, Any]) -> str:
    """A NixOS systemd.services entry as unit text, the way NixOS writes the common attributes."""
    unit = [f"Description={service['description']}"]
    for key, directive in (("wants", "Wants"), ("after", "After")):
        unit += [f"{directive}={v}" for v in service.get(key, [])]
    if "startLimitIntervalSec" in service:
        unit.append(f"StartLimitIntervalSec={service['startLimitIntervalSec']}")
    body = []
    if service.get("path"):
        path = ":".join(f"{p}/bin:{p}/sbin" for p in service["path"])
        body.append(f'Environment="PATH={path}"')
    for key, value in service["serviceConfig"].items():
        body += [f"{key}={v}" for v in _unit_value(value)]  # an empty list writes nothing, as in NixOS
    install = [f"WantedBy={v}" for v in service.get("wantedBy", [])]
    sections = [("Unit", unit), ("Service", body), ("Install", install)]
    return "".join(f"[{name}]\n" + "".join(line + "\n" for line in lines) + "\n" for name, lines in sections)


def systemd_verify(unit_dir: Path) -> str:
    """`systemd-analyze verify` on every unit in `unit_dir`; its output (empty when all is well)."""
    binary = shutil.which("systemd-analyze")
    assert binary is not None, "systemd-analyze is missing: run scripts/setup --test (Debian's systemd)"
    units = sorted(str(p) for p in unit_dir.glob("*.service"))
    done = subprocess.run(
        [binary, "verify", *units],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0"},
    )
    output = (done.stdout + done.stderr).strip()
    assert done.returncode == 0, output
    return output
