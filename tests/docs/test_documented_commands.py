"""Every shell block in README.md and docs/*.md runs, as written, against a real fleet.

The documents' convention: a shell example reads addresses and credentials from environment
variables the reader sets (`FLEETDECK_CONTROLPLANE`, `FLEETDECK_WEB`, `FLEETDECK_TOKEN`,
`FLEETDECK_PASSWORD`, on operating.md the listen addresses (and clients reach the control plane by
the name its certificate carries, localhost), on postgresql.md libpq's `PGHOST`,
`PGPORT` and `PGUSER`), so the test runs the very same text with those variables pointing at what it
started on free ports (for postgresql.md, a PostgreSQL server of its own). Nothing in a block is
rewritten.

Each document's blocks run in order in one bash session (`set -euo pipefail`), like a reader's
terminal: variables and files made by one block are there for the next. A block fenced as
`sh long-running` (a server, a stream) is started in the background and awaited until its output
says it is ready; it is stopped when the document ends. A block the test cannot run is listed in
NOT_RUN with the test that covers it, keyed by its exact text: a new or edited block fails here until
it runs or is listed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest
from postgres import require_postgres, running_cluster

from agent.config import load_config
from controlplane.app import ControlPlane, ControlPlaneConfig
from fleetdeck.client import aio_channel, channel
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
BIN = Path(sys.executable).parent
TIMEOUT = 30.0

SHELL = {"sh", "bash", "shell"}
NOT_COMMANDS = {"toml", "text", "json", "proto", "nix", "yaml"}

NOT_RUN = {
    (
        "README.md",
        "scripts/demo    # set up, then run the control plane + web UI + three demo agents\n"
        "scripts/test    # set up, then run every check and test (what CI runs)\n",
    ): "scripts/demo: tests/agent/test_agent_demo.py drives the fleet it runs; "
    "scripts/test is the whole suite (CI runs it, and this test runs inside it)",
    ("README.md", "scripts/demo --dir demo-state\n"): "the fixture `demo` below runs this fleet "
    "(`fleetdeck demo --dir demo-state`) on free ports; tests/agent/test_agent_demo.py covers the demo",
    (
        "docs/nixos.md",
        "python3 -m build                      # dist/fleetdeck-<version>.tar.gz and a wheel\n"
        "python3 -m venv /opt/fleetdeck\n"
        "/opt/fleetdeck/bin/pip install dist/fleetdeck-*.whl\n",
    ): "installs into /opt; tests/packaging/test_wheel.py builds the wheel and installs it alone into a fresh venv",
    ("docs/nixos.md", "nix flake check\n"): "needs real nixpkgs (and KVM for the VM test); "
    "tests/packaging evaluates the flake, the modules and the VM test against stand-ins",
    ("docs/operating.md", "fleetdeck agent --config /etc/fleetdeck/agent.toml\n"): "needs a host's "
    "/etc; tests/agent/test_agent_demo.py runs `fleetdeck agent --config` for three hosts, and "
    "test_documented_agent_config_loads below loads the config shown",
}

# What a long-running block prints once it serves, by how the block starts.
READY = {
    "fleetdeck controlplane": "control plane serving gRPC on",
    "fleetdeck webui": "Uvicorn running on",
    "curl": "event: snapshot",
}

# Where a document's session starts, relative to the test's directory (the demo's documents run
# where a reader of the README stands; api.md's SetDesiredState runs in the fleet repo, like CI).
WORKDIR = {
    "docs/api.md": "demo-state/fleet-repo",
    "docs/operating.md": "operator",
    "docs/postgresql.md": "operator",
}


@dataclass(frozen=True)
class Block:
    """One fenced code block of a document."""

    document: str
    line: int
    language: str
    options: tuple[str, ...]
    text: str

    @property
    def where(self) -> str:
        return f"{self.document}:{self.line}"


# A fence may be indented (inside a list item); its lines are then indented as much.
FENCE = re.compile(r"^( *)```([^\n`]*)\n(.*?)^\1```[ \t]*$", re.MULTILINE | re.DOTALL)


def blocks_of(document: str) -> list[Block]:
    """The fenced code blocks of `document`, in order."""
    text = (ROOT / document).read_text()
    found = []
    for match in FENCE.finditer(text):
        indent, info, body = match[1], match[2], match[3]
        language, *options = info.split() or [""]
        body = "".join(line.removeprefix(indent) for line in body.splitlines(keepends=True))
        line = text.count("\n", 0, match.start()) + 2
        found.append(Block(document, line, language, tuple(options), body))
    return found


def shell_blocks(document: str) -> list[Block]:
    """The shell blocks of `document` that this test runs."""
    return [b for b in blocks_of(document) if b.language in SHELL and (b.document, b.text) not in NOT_RUN]


def test_every_block_is_labelled_and_every_listed_exception_still_exists() -> None:
    unlabelled = [b.where for d in DOCUMENTS for b in blocks_of(d) if b.language not in SHELL | NOT_COMMANDS]
    assert unlabelled == [], f"give these blocks a language ({sorted(SHELL | NOT_COMMANDS)}): {unlabelled}"
    every = {(b.document, b.text) for d in DOCUMENTS for b in blocks_of(d)}
    stale = [key[0] for key in NOT_RUN if key not in every]
    assert stale == [], f"NOT_RUN lists blocks these documents no longer have: {stale}"


def test_documented_agent_config_loads(tmp_path: Path) -> None:
    configs = [b for d in DOCUMENTS for b in blocks_of(d) if b.language == "toml"]
    assert configs, "the agent's config file is documented somewhere"
    (tmp_path / "ca.crt").touch()  # the CA a documented config names next to itself (read when connecting)
    for block in configs:
        path = tmp_path / "agent.toml"
        path.write_text(block.text)
        config = load_config(path)
        assert config.host == "gpc0", block.where


# --- a bash session that runs a document's blocks ---------------------------------------------------


class Lines:
    """The lines a pipe produces, read by a thread into a queue; None marks the end."""

    def __init__(self, opener: Callable[[], IO[str]]) -> None:
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(opener,), daemon=True)
        self._thread.start()

    def _read(self, opener: Callable[[], IO[str]]) -> None:
        with opener() as stream:
            for line in stream:
                self.queue.put(line.rstrip("\n"))
        self.queue.put(None)

    def until(self, needle: str, what: str) -> str:
        """Read until a line containing `needle` and return it; fail with what was seen on EOF or timeout."""
        while True:
            try:
                line = self.queue.get(timeout=TIMEOUT)
            except queue.Empty:
                pytest.fail(f"{what}: nothing for {TIMEOUT} s\n" + "\n".join(self.seen[-40:]))
            if line is None:
                pytest.fail(f"{what}: ended\n" + "\n".join(self.seen[-40:]))
            self.seen.append(line)
            if needle in line:
                return line

    def join(self) -> bool:
        """Wait for the end of the stream; False if it did not end in time."""
        self._thread.join(TIMEOUT)
        return not self._thread.is_alive()


class Session:
    """One bash process fed block after block, like a reader's terminal."""

    def __init__(self, workdir: Path, env: dict[str, str], scripts: Path) -> None:
        self.dir = scripts
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env=env,
            text=True,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        stdout = self.proc.stdout
        self.out = Lines(lambda: stdout)
        self.background: list[tuple[int, Lines, Block]] = []
        # -m: every background job gets a process group of its own, so stopping it stops its children.
        self._send("set -euo pipefail -m")

    def _send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def _script(self, block: Block) -> Path:
        script = self.dir / f"{len(list(self.dir.iterdir()))}.sh"
        script.write_text(block.text)
        return script

    def run(self, block: Block) -> None:
        """Run the block to its end; a failing command ends the session and fails the test."""
        script = self._script(block)
        done = f"@@done {script.name}"
        self._send(f"source {script} </dev/null\necho '{done}'")
        self.out.until(done, f"{block.where} failed (set -e ended the session)")

    def start(self, block: Block) -> None:
        """Start a long-running block in the background and wait until it says it is ready."""
        ready = next((said for start, said in READY.items() if block.text.startswith(start)), None)
        assert ready is not None, f"{block.where}: add how this long-running block says it is ready to READY"
        script = self._script(block)
        fifo = script.with_suffix(".out")
        os.mkfifo(fifo)
        started = f"@@started {script.name}"
        self._send(f'source {script} </dev/null >{fifo} 2>&1 &\necho "{started} $!"')
        output = Lines(lambda: fifo.open())
        pid = int(self.out.until(started, f"{block.where} did not start").split()[-1])
        self.background.append((pid, output, block))
        output.until(ready, f"{block.where} never said {ready!r}")

    def close(self) -> None:
        """Stop the background blocks, then the shell; every one of them must end."""
        for pid, output, block in self.background:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
            assert output.join(), f"{block.where} did not stop on SIGTERM"
        if self.proc.poll() is None:
            with contextlib.suppress(BrokenPipeError):  # a failed block ended the shell already
                self._send("exit 0")
        self.proc.wait(TIMEOUT)


# --- what the documents run against -----------------------------------------------------------------


def free_address() -> str:
    """127.0.0.1:<a port nobody listens on right now>."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def clean_env(**values: str) -> dict[str, str]:
    """This process's environment without any FLEETDECK_* variable, the venv first on PATH, plus `values`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETDECK_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    return {**env, **values}


def wait_until_online(target: str, token: str, hosts: set[str]) -> None:
    """Follow WatchFleet until every one of `hosts` is online (the demo's agents connect after its banner)."""
    online: dict[str, bool] = {}
    with channel(target, token) as chan:
        watch = fleet_grpc.FleetServiceStub(chan).WatchFleet(fleet_pb.WatchFleetRequest(), timeout=TIMEOUT)
        for event in watch:
            changed = event.snapshot.hosts if event.HasField("snapshot") else [event.host]
            online.update((h.name, h.online) for h in changed if h.name)
            if all(online.get(h) for h in hosts):
                watch.cancel()
                return


@dataclass(frozen=True)
class Demo:
    """The demo fleet a reader of the README runs: its directory and the variables the docs read."""

    root: Path
    env: dict[str, str]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """`fleetdeck demo --dir demo-state` on free ports: a control plane, its web UI, three real agents."""
    root = tmp_path_factory.mktemp("reader")
    (root / ".venv").symlink_to(BIN.parent)  # the reader stands in a checkout set up by scripts/setup
    state = root / "demo-state"
    argv = [str(BIN / "fleetdeck"), "demo", "--dir", "demo-state", "--grpc", "127.0.0.1:0"]
    proc = subprocess.Popen(
        [*argv, "--http", "127.0.0.1:0"],
        cwd=root,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    stdout = proc.stdout
    banner = Lines(lambda: stdout)
    try:
        banner.until("Press Ctrl-C", "the demo")
        ready = json.loads((state / "controlplane.ready.json").read_text())
        token = (state / "admin-token").read_text().strip()
        wait_until_online(ready["grpc"], token, {"gpc0", "web1", "mac1"})
        env = clean_env(
            FLEETDECK_CONTROLPLANE=ready["grpc"],
            FLEETDECK_WEB=ready["http"],
            FLEETDECK_TOKEN=token,
            FLEETDECK_PASSWORD=(state / "admin-password").read_text().strip(),
        )
        yield Demo(root, env)
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(TIMEOUT) == 0, "\n".join(banner.seen[-40:])
        assert banner.join()


def run_document(document: str, workdir: Path, env: dict[str, str], scripts: Path) -> None:
    """Run the shell blocks of `document` in one session in `workdir` (each from a file in `scripts`)."""
    blocks = shell_blocks(document)
    session = Session(workdir, env, scripts)
    try:
        for block in blocks:
            if "long-running" in block.options:
                session.start(block)
            else:
                session.run(block)
    finally:
        session.close()


DEMO_DOCUMENTS = [d for d in DOCUMENTS if d not in ("docs/operating.md", "docs/postgresql.md")]


@pytest.mark.parametrize("document", DEMO_DOCUMENTS)
def test_the_shell_blocks_run_against_the_demo_fleet(document: str, demo: Demo, tmp_path: Path) -> None:
    run_document(document, demo.root / WORKDIR.get(document, ""), demo.env, tmp_path)


def test_the_operators_shell_blocks_run_against_their_own_control_plane(tmp_path: Path) -> None:
    grpc, http = free_address(), free_address()
    # Clients reach it by a name, as the document's certificate has it: localhost (which is 127.0.0.1).
    env = clean_env(
        FLEETDECK_GRPC=grpc,
        FLEETDECK_HTTP=http,
        FLEETDECK_CONTROLPLANE=grpc.replace("127.0.0.1", "localhost"),
        FLEETDECK_WEB=http.replace("127.0.0.1", "localhost"),
        FLEETDECK_WEBUI_HTTP=free_address(),
        FLEETDECK_METRICS=free_address(),
    )
    workdir = tmp_path / WORKDIR["docs/operating.md"]
    workdir.mkdir()
    run_document("docs/operating.md", workdir, env, tmp_path)


async def _sqlite_fleet(workdir: Path) -> None:
    """What postgresql.md moves: a fleet that ran on SQLite (fleet.db, its admin.token, host gpc0)."""
    token = "fdapi_" + "d" * 40
    (workdir / "admin.token").write_text(token + "\n")
    config = ControlPlaneConfig(
        database=workdir / "fleet.db",
        grpc_address="127.0.0.1:0",
        admin_token=token,
        admin_password="correct horse battery",
    )
    async with ControlPlane(config) as plane, aio_channel(plane.grpc_target, token) as chan:
        await fleet_grpc.FleetServiceStub(chan).CreateAgentToken(
            fleet_pb.CreateAgentTokenRequest(host="gpc0")
        )


def test_the_postgresql_shell_blocks_run_against_a_database_server_of_their_own(tmp_path: Path) -> None:
    require_postgres()
    workdir = tmp_path / WORKDIR["docs/postgresql.md"]
    workdir.mkdir()
    asyncio.run(_sqlite_fleet(workdir))
    grpc, second = free_address(), free_address()
    # A cluster of its own, with PostgreSQL's durable defaults (the document shows them).
    with running_cluster(durable=True) as cluster:
        cluster.psql("DROP DATABASE fleetdeck")  # the reader's server has none yet: the document makes it
        env = clean_env(
            PGHOST=cluster.host,
            PGPORT=str(cluster.port),
            PGUSER=cluster.user,
            FLEETDECK_GRPC=grpc,
            FLEETDECK_CONTROLPLANE=grpc,
            FLEETDECK_GRPC_2=second,
            FLEETDECK_CONTROLPLANE_2=second,
        )
        run_document("docs/postgresql.md", workdir, env, tmp_path)
        # The fleet moved from SQLite (its agent token for gpc0), and the restored backup holds it too.
        for database in ("fleetdeck", "fleetdeck_restored"):
            assert cluster.psql("SELECT host FROM agent_tokens", database) == "gpc0", database
