"""Every .nix file parses; the flake's outputs and package evaluate against a stand-in nixpkgs."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from nix_support import ROOT, Nix, NixError, nix_string

STAND_INS = Path(__file__).parent / "nix"
SKIP_DIRS = {".git", ".venv", "node_modules"}


def nix_files() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.nix") if not SKIP_DIRS & set(p.relative_to(ROOT).parts))


def test_the_project_has_its_nix_files() -> None:
    names = {str(p.relative_to(ROOT)) for p in nix_files()}
    assert {
        "flake.nix",
        "nix/package.nix",
        "nix/lib/toml.nix",
        "nix/modules/agent.nix",
        "nix/modules/agent-common.nix",
        "nix/modules/controlplane.nix",
        "nix/modules/darwin-agent.nix",
        "nix/tests/vm.nix",
    } <= names


@pytest.mark.parametrize("path", nix_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_nix_file_parses(nix: Nix, path: Path) -> None:
    assert nix.parse(path).strip()


def test_a_syntax_error_is_reported(nix: Nix, tmp_path: Path) -> None:
    broken = tmp_path / "broken.nix"
    broken.write_text("{ a = 1; ")
    with pytest.raises(NixError, match="syntax error"):
        nix.parse(broken)


def flake(nix: Nix, expr: str) -> Any:
    """`expr` evaluated with `f` bound to the flake's outputs (its nixpkgs input is the stand-in)."""
    return nix.eval_json(
        f"let f = import {STAND_INS / 'eval-flake.nix'}; lib = import {STAND_INS / 'stand-in-lib.nix'}; in {expr}"
    )


def test_flake_has_the_outputs_a_fleet_imports(nix: Nix) -> None:
    assert flake(nix, "builtins.attrNames f") == [
        "checks",
        "darwinModules",
        "nixosModules",
        "overlays",
        "packages",
    ]
    assert flake(nix, "builtins.attrNames f.nixosModules") == ["agent", "controlplane"]
    assert flake(nix, "builtins.attrNames f.darwinModules") == ["agent"]
    assert flake(nix, "builtins.attrNames f.overlays") == ["default"]
    systems = ["aarch64-darwin", "aarch64-linux", "x86_64-darwin", "x86_64-linux"]
    assert flake(nix, "builtins.mapAttrs (_: builtins.attrNames) f.packages") == {
        s: ["default", "fleetdeck"] for s in systems
    }
    assert flake(nix, "builtins.mapAttrs (_: builtins.attrNames) f.checks") == {
        "aarch64-linux": ["fleetdeck", "vm"],
        "x86_64-linux": ["fleetdeck", "vm"],
    }


@pytest.mark.parametrize(
    ("output", "file", "service"),
    [
        ("nixosModules.agent", "agent.nix", "fleetdeck-agent"),
        ("nixosModules.controlplane", "controlplane.nix", "fleetdeck-controlplane"),
        ("darwinModules.agent", "darwin-agent.nix", "fleetdeck-agent"),
    ],
)
def test_flake_modules_default_to_the_flakes_own_package(
    nix: Nix, output: str, file: str, service: str
) -> None:
    module = flake(
        nix,
        f'let m = f.{output} {{ inherit lib; pkgs.stdenv.hostPlatform.system = "aarch64-darwin"; }}; '
        f"in {{ imports = map baseNameOf m.imports; package = m.services.{service}.package.content.pname; "
        f"priority = m.services.{service}.package.priority; }}",
    )
    assert module == {"imports": [file], "package": "fleetdeck", "priority": 1000}


def test_package_is_built_from_pyprojects_dependencies(nix: Nix) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    package = flake(
        nix,
        "let p = f.packages.x86_64-linux.fleetdeck; in "
        "{ inherit (p) pname version dependencies pyproject disabledTestPaths nativeCheckInputs makeWrapperArgs; "
        "main = p.meta.mainProgram; }",
    )
    names = [re.match(r"[A-Za-z0-9._-]+", spec).group(0) for spec in project["dependencies"]]  # type: ignore[union-attr]
    assert package["dependencies"] == [f"python3Packages.{n}" for n in names]
    assert (package["pname"], package["version"], package["main"]) == (
        project["name"],
        project["version"],
        "fleetdeck",
    )
    assert package["pyproject"] is True
    assert all((ROOT / p).exists() for p in package["disabledTestPaths"])
    # checkPhase's Python packages are the dev extras' test tools (pytestCheckHook brings pytest).
    dev = {re.match(r"[A-Za-z0-9._-]+", spec).group(0) for spec in project["optional-dependencies"]["dev"]}  # type: ignore[union-attr]
    check = {
        i.removeprefix("python3Packages.") for i in package["nativeCheckInputs"] if i.startswith("python3")
    }
    assert check - {"pytestCheckHook"} <= dev
    assert {"git", "openssl", "grpcurl"} <= set(package["nativeCheckInputs"])
    assert package["makeWrapperArgs"] == ["--suffix", "PATH", ":", "git/bin"]


@pytest.mark.parametrize(
    "value",
    [
        {"plain": "fleet.example.org:50051", "n": 3, "f": 1.5, "yes": True, "no": False},
        {"quote": 'say "hi"', "backslash": "C:\\fleet", "newline": "a\nb\tc", "hash": "/etc/nixos#web1"},
        {"unicode": "Grüße ✓", "control": "\x01\x1f", "dollar": "${not_interpolated}"},
        {"list": ["nixos-rebuild", "switch", "--flake", "/etc/nixos#web1"], "empty_list": []},
        {"odd key": 1, "a.b": 2, "table": {"x": 1, "inner": {"y": ["z"]}}, "empty": {}},
    ],
)
def test_toml_generator_round_trips_through_pythons_toml_parser(nix: Nix, value: dict[str, Any]) -> None:
    text = nix.eval_json(
        f"import {ROOT / 'nix/lib/toml.nix'} (builtins.fromJSON {nix_string(json.dumps(value))})"
    )
    assert tomllib.loads(text) == {k: v for k, v in value.items() if v != {}}


def test_toml_generator_leaves_out_nulls_and_refuses_what_toml_cannot_hold(nix: Nix) -> None:
    toml = ROOT / "nix/lib/toml.nix"
    assert nix.eval_json(f"import {toml} {{ a = null; t = {{ b = null; }}; c = 1; }}") == "c = 1\n"
    with pytest.raises(NixError, match="toml: f: a lambda cannot be written"):
        nix.eval_json(f"import {toml} {{ f = x: x; }}")
