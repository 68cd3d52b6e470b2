"""Host facts: the checkout's commit, the flake.lock hash, the deployed generation (and the one a
rollback returns to), version and OS."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
from pathlib import Path

from agent.config import AgentConfig
from fleetdeck.v1 import types_pb2
from fleetdeck.version import __version__

logger = logging.getLogger(__name__)

_GIT_TIMEOUT_SECONDS = 5.0


async def git_head(repo_dir: Path) -> str:
    """HEAD of the checkout at `repo_dir` (40 hex digits), or "" when it cannot be read."""
    try:
        proc = await asyncio.create_subprocess_exec(
            "git",
            "-C",
            str(repo_dir),
            "rev-parse",
            "HEAD",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except OSError:
        return ""
    try:
        async with asyncio.timeout(_GIT_TIMEOUT_SECONDS):
            out, _ = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = out.decode(errors="replace").strip()
    return text if proc.returncode == 0 and len(text) == 40 else ""


def lock_hash(repo_dir: Path) -> str:
    """SHA-256 hex of `<repo_dir>/flake.lock`, or "" when there is none."""
    try:
        return hashlib.sha256((repo_dir / "flake.lock").read_bytes()).hexdigest()
    except OSError:
        return ""


def generation(path: Path) -> str:
    """The deployed generation: a symlink's target basename, a regular file's content, else ""."""
    try:
        if path.is_symlink():
            return os.path.basename(os.readlink(path))
        if path.is_file():
            return path.read_text().strip()
    except OSError:
        pass
    return ""


_GENERATION = re.compile(r"^(?P<profile>.+)-(?P<number>[0-9]+)-link$")


def previous_generation(path: Path, current: str) -> tuple[str, bool]:
    """The generation a rollback from `current` returns to, and whether `current` is known to be the
    first. A profile symlink's older generations are its siblings `<profile>-<n>-link` with a lower
    n; a regular file (the demo's stand-in) numbers its generations from 1 without gaps. ("", False)
    when it cannot tell."""
    found = _GENERATION.match(current)
    if found is None:
        return "", False
    profile, number = found["profile"], int(found["number"])
    if not path.is_symlink():
        return (f"{profile}-{number - 1}-link", False) if number > 1 else ("", True)
    try:
        names = os.listdir(path.parent)
    except OSError:
        return "", False
    older = [
        int(m["number"])
        for name in names
        if (m := _GENERATION.match(name)) and m["profile"] == profile and int(m["number"]) < number
    ]
    return (f"{profile}-{max(older)}-link", False) if older else ("", True)


def generation_facts(path: Path) -> tuple[str, str, bool]:
    """The deployed generation, the one a rollback returns to, and whether it is the first."""
    current = generation(path)
    try:
        previous, first = previous_generation(path, current)
    except OSError:
        previous, first = "", False
    return current, previous, first


async def host_facts(config: AgentConfig) -> types_pb2.HostFacts:
    """The host's facts as of now."""
    try:
        commit = await git_head(config.repo_dir)
    except TimeoutError:
        logger.warning("git rev-parse HEAD in %s timed out", config.repo_dir)
        commit = ""
    # File reads run in a thread: a hung read (NFS, FUSE) must not freeze heartbeats, and the
    # caller's timeout can only interrupt an await.
    current, previous, first = await asyncio.to_thread(generation_facts, config.generation_path)
    return types_pb2.HostFacts(
        agent_version=__version__,
        os=config.os_name,
        commit=commit,
        lock_hash=await asyncio.to_thread(lock_hash, config.repo_dir),
        generation=current,
        previous_generation=previous,
        at_first_generation=first,
    )
