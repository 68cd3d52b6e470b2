"""`python -m build` makes an sdist and a wheel; the wheel alone, in a fresh venv outside the
checkout, gives a `fleetdeck` whose control plane serves the login page and every static file."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import httpx
import pytest
from nix_support import ROOT

WEBUI = ROOT / "src" / "webui"
# What a copy of the checkout leaves out: local environments and caches, never sources.
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "node_modules", "__pycache__", "*.egg-info", ".*_cache", "build", "dist", "*.db*"
)


def source_files() -> list[str]:
    """Every file of the packages under src/, as paths inside the wheel (webui/static/app.js ...)."""
    files = [
        p
        for p in (ROOT / "src").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and not any(d.endswith(".egg-info") for d in p.parts)
    ]
    return sorted(str(p.relative_to(ROOT / "src")) for p in files)


def run(argv: list[str], cwd: Path, timeout: float) -> None:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{argv[:4]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


async def serve_and_fetch(fleetdeck: Path, work: Path, static: list[str]) -> dict[str, tuple[int, bytes]]:
    """Start `fleetdeck controlplane` on free ports; GET /login and each static path; create an agent
    token with the CLI as docs/nixos.md shows; stop the control plane with SIGTERM."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "FLEETDECK_", "VIRTUAL_ENV"))}
    proc = await asyncio.create_subprocess_exec(
        str(fleetdeck),
        "controlplane",
        "--db",
        str(work / "fleet.db"),
        "--grpc",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        cwd=work,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    output: list[str] = []
    try:
        async with asyncio.timeout(30):
            # Logged once each server listens; the first admin API token is printed once.
            wanted = {
                "http": r"web UI on (http://\S+)",
                "grpc": r"serving gRPC on (\S+)",
                "admin": r"First admin API token \(shown once\): (\S+)",
            }
            found: dict[str, str] = {}
            while len(found) < len(wanted):
                line = (await proc.stdout.readline()).decode()
                assert line, "the control plane exited early:\n" + "".join(output)
                output.append(line)
                for key, pattern in wanted.items():
                    if match := re.search(pattern, line):
                        found[key] = match.group(1)
            async with httpx.AsyncClient(base_url=found["http"]) as client:
                results = {}
                for path in ["/login", *static]:
                    response = await client.get(path)
                    results[path] = (response.status_code, response.content)
            token = await asyncio.create_subprocess_exec(
                str(fleetdeck),
                "token",
                "--controlplane",
                found["grpc"],
                "create",
                "web1",
                env={**env, "FLEETDECK_TOKEN": found["admin"]},
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            printed, _ = await token.communicate()
            results["token create web1"] = (token.returncode or 0, printed)
        return results
    finally:
        if proc.returncode is None:
            proc.terminate()
        async with asyncio.timeout(15):
            await proc.communicate()


@pytest.mark.timeout(240)
def test_wheel_installed_alone_serves_the_web_ui(tmp_path: Path) -> None:
    # Build from a copy, so the checkout gets no build/ or egg-info; the wheel is built from the sdist.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES, symlinks=True)
    dist = tmp_path / "dist"
    run([sys.executable, "-m", "build", "--outdir", str(dist), str(source)], cwd=tmp_path, timeout=180)
    (wheel,) = dist.glob("fleetdeck-*-py3-none-any.whl")
    (sdist,) = dist.glob("fleetdeck-*.tar.gz")

    # Every file under src/ (code, generated code, templates, static files) is in both.
    expected = source_files()
    assert {
        "webui/static/style.css",
        "webui/templates/login.html",
        "fleetdeck/v1/fleet_service_pb2.py",
    } <= set(expected)
    with zipfile.ZipFile(wheel) as zf:
        in_wheel = set(zf.namelist())
    assert set(expected) <= in_wheel, sorted(set(expected) - in_wheel)
    with tarfile.open(sdist) as tf:
        in_sdist = {name.split("/", 1)[1] for name in tf.getnames() if "/" in name}
    missing = {f"src/{f}" for f in expected} - in_sdist
    assert not missing, sorted(missing)

    # A fresh venv outside the checkout, with nothing installed but the wheel and its dependencies.
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, timeout=60)
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], cwd=tmp_path, timeout=180)
    where = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import webui, fleetdeck; print(webui.__file__, fleetdeck.__file__)",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
        env={"PATH": os.environ["PATH"]},
    ).stdout.split()
    assert all(Path(p).is_relative_to(venv) for p in where), where

    work = tmp_path / "run"
    work.mkdir()
    static = ["/" + f.removeprefix("webui/") for f in expected if f.startswith("webui/static/")]
    assert "/static/app.js" in static
    results = asyncio.run(serve_and_fetch(venv / "bin" / "fleetdeck", work, static))

    status, login = results["/login"]
    assert status == 200
    referenced = set(re.findall(r'(?:href|src)="(/static/[^"]+)"', login.decode()))
    assert {"/static/style.css", "/static/favicon.svg"} <= referenced
    assert referenced <= set(static)
    status, printed = results["token create web1"]
    assert status == 0, printed
    agent_token, summary = printed.decode().splitlines()[:2]
    assert agent_token.startswith("fdat_")
    assert "for host web1" in summary
    for path in static:
        status, body = results[path]
        assert status == 200, path
        assert body == (WEBUI / path.removeprefix("/")).read_bytes(), path
