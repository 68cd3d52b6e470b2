"""Run the installed `fleetdeck` command as a subprocess (without blocking the test's event loop)."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

FLEETDECK = Path(sys.executable).with_name("fleetdeck")


@dataclass
class Done:
    """A finished `fleetdeck` run."""

    code: int
    out: str
    err: str


def cli_env(target: str | None, token: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a CLI run: no inherited FLEETDECK_* variables, wide output, no colour."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETDECK_")}
    env.update(COLUMNS="200", NO_COLOR="1")
    env.pop("FORCE_COLOR", None)
    if target is not None:
        env["FLEETDECK_CONTROLPLANE"] = target
    if token is not None:
        env["FLEETDECK_TOKEN"] = token
    env.update(extra)
    return env


async def fleetdeck(
    *args: str, target: str | None = None, token: str | None = None, within: float = 30, **extra: str
) -> Done:
    """Run `fleetdeck ARGS` against `target` and wait (at most `within` seconds) for it to end."""
    proc = await asyncio.create_subprocess_exec(
        str(FLEETDECK),
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cli_env(target, token, **extra),
    )
    communicating = asyncio.ensure_future(proc.communicate())
    try:
        async with asyncio.timeout(within):
            out, err = await asyncio.shield(communicating)
    except TimeoutError:
        proc.kill()
        out, err = await communicating
        raise AssertionError(
            f"fleetdeck {' '.join(args)} did not end within {within} s; it printed:\n"
            f"{out.decode()}\n--- stderr:\n{err.decode()}"
        ) from None
    assert proc.returncode is not None
    return Done(proc.returncode, out.decode(), err.decode())
