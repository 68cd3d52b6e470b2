"""Host facts: the checkout's commit, the flake.lock hash, the deployed generation, version and OS."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
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


async def host_facts(config: AgentConfig) -> types_pb2.HostFacts:
    """The host's facts as of now."""
    try:
        commit = await git_head(config.repo_dir)
    except TimeoutError:
        logger.warning("git rev-parse HEAD in %s timed out", config.repo_dir)
        commit = ""
    # File reads run in a thread: a hung read (NFS, FUSE) must not freeze heartbeats, and the
    # caller's timeout can only interrupt an await.
    return types_pb2.HostFacts(
        agent_version=__version__,
        os=config.os_name,
        commit=commit,
        lock_hash=await asyncio.to_thread(lock_hash, config.repo_dir),
        generation=await asyncio.to_thread(generation, config.generation_path),
    )
