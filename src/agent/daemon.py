"""The agent daemon: recover from the journal, then keep one stream to the control plane."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
from pathlib import Path

from google.protobuf import duration_pb2

from agent import facts
from agent.config import AgentConfig
from agent.executor import DEFAULT_TEST_TIMEOUT, Executor
from agent.failover import first_dial, next_dial
from agent.journal import Journal
from agent.metrics import MetricsReader
from agent.outbox import Entry, Outbox
from agent.stream import LinkOptions, Stream, now, run_stream
from agent.stream_end import StreamEnded, classify, replaced
from fleetdeck.tasks import cancel_and_wait, spawn_logged
from fleetdeck.v1 import agent_service_pb2, types_pb2

logger = logging.getLogger(__name__)

DEFAULT_HEARTBEAT_SECONDS = 5.0
_FACTS_TIMEOUT_SECONDS = 3.0


def _duration(seconds: float) -> duration_pb2.Duration:
    d = duration_pb2.Duration()
    d.FromNanoseconds(int(seconds * 1e9))
    return d


def declared_test_settings(config: AgentConfig) -> types_pb2.DeclaredTestSettings:
    """The [tests] table as the hello reports it."""
    declared = types_pb2.DeclaredTestSettings()
    if config.tests.enabled is not None:
        declared.enabled = config.tests.enabled
    if config.tests.auto_run_after_switch is not None:
        declared.auto_run_after_switch = config.tests.auto_run_after_switch
    if config.tests.timeout is not None:
        declared.timeout.CopyFrom(_duration(config.tests.timeout))
    return declared


def initial_settings(config: AgentConfig) -> agent_service_pb2.AgentSettings:
    """Settings before the first welcome: the config's [tests] table over the defaults."""
    tests = config.tests
    return agent_service_pb2.AgentSettings(
        heartbeat_interval=_duration(DEFAULT_HEARTBEAT_SECONDS),
        tests=types_pb2.TestSettings(
            enabled=True if tests.enabled is None else tests.enabled,
            auto_run_after_switch=True
            if tests.auto_run_after_switch is None
            else tests.auto_run_after_switch,
            timeout=_duration(tests.timeout or DEFAULT_TEST_TIMEOUT),
        ),
    )


def write_token(path: Path, token: str) -> None:
    """Replace the token file atomically, readable by its owner only."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Agent:
    """One host's agent; `run()` until `stop()`."""

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.journal = Journal.open(config.state_dir)
        self.settings = initial_settings(config)
        self.metrics = MetricsReader()
        self.outbox = Outbox(
            config.spool_bytes, on_numbered=self._on_numbered, on_acked=self._on_progress_acked
        )
        self.executor = Executor(
            config, self.journal, self.outbox, self._send_control, lambda: self.settings.tests
        )
        self._stream: Stream | None = None
        self._stopping = asyncio.Event()
        self._settings_changed = asyncio.Event()
        self._last_facts = types_pb2.HostFacts()
        self._unsaved_token: str | None = None

    def _on_numbered(self, entry: Entry) -> None:
        self.executor.on_numbered(entry)

    def _on_progress_acked(self, command_id: str, seq: int, lines: int) -> None:
        self.executor.on_progress_acked(command_id, seq, lines)

    def stop(self) -> None:
        """Ask the agent to shut down (signal handlers call this)."""
        self._stopping.set()

    # -- what the stream needs ----------------------------------------------------------------------

    async def _facts(self) -> types_pb2.HostFacts:
        try:
            async with asyncio.timeout(_FACTS_TIMEOUT_SECONDS):
                self._last_facts = await facts.host_facts(self.config)
        except TimeoutError:
            logger.warning(
                "reading host facts took over %.0f s; sending the last ones", _FACTS_TIMEOUT_SECONDS
            )
        return self._last_facts

    async def hello(self) -> agent_service_pb2.Hello:
        """The first message of a stream: facts, what runs, what waits for acknowledgement."""
        running = self.executor.running
        running_ids = [running.command_id] if running is not None else []
        return agent_service_pb2.Hello(
            host=self.config.host,
            facts=await self._facts(),
            running_command_ids=running_ids,
            # A running command is listed here too, so the welcome says how much of it is stored; so is
            # every journaled one, whose output a restarted agent may replay from its spool.
            unacknowledged_command_ids=list(
                dict.fromkeys(
                    [
                        *self.outbox.command_ids(),
                        *running_ids,
                        *(entry.command_id for entry in self.journal.entries()),
                    ]
                )
            ),
            declared_test_settings=declared_test_settings(self.config),
            test_status=self.executor.test_status(),
            labels=self.config.labels,
        )

    async def heartbeat(self) -> agent_service_pb2.Heartbeat:
        """A heartbeat as of now."""
        running = self.executor.running
        return agent_service_pb2.Heartbeat(
            facts=await self._facts(),
            running_command_id=running.command_id if running is not None else "",
            metrics=self.metrics.read(),
            test_status=self.executor.test_status(),
            sent_at=now(),
        )

    def heartbeat_interval(self) -> float:
        """Seconds between heartbeats, as the control plane set them."""
        seconds = self.settings.heartbeat_interval.ToNanoseconds() / 1e9
        return seconds if seconds > 0 else DEFAULT_HEARTBEAT_SECONDS

    async def heartbeat_due(self) -> None:
        """After the heartbeat interval, or at once when settings changed (the status may have too)."""
        try:
            async with asyncio.timeout(self.heartbeat_interval()):
                await self._settings_changed.wait()
        except TimeoutError:
            return
        self._settings_changed.clear()

    def _apply_settings(self, settings: agent_service_pb2.AgentSettings) -> None:
        if settings.HasField("heartbeat_interval"):
            self.settings.heartbeat_interval.CopyFrom(settings.heartbeat_interval)
        if settings.HasField("tests"):
            self.settings.tests.CopyFrom(settings.tests)
        self._settings_changed.set()
        logger.info(
            "settings: heartbeat every %.1f s, tests %s, test timeout %.0f s",
            self.heartbeat_interval(),
            "enabled" if self.settings.tests.enabled else "disabled",
            self.settings.tests.timeout.ToNanoseconds() / 1e9,
        )

    def on_welcome(self, welcome: agent_service_pb2.Welcome) -> None:
        """Store a host token given for an enrollment token; apply settings and acknowledgements."""
        if welcome.host_token:
            # The enrollment token is used up now: the host token must be on disk before anything else.
            try:
                write_token(self.config.token_file, welcome.host_token)
                self._unsaved_token = None
                logger.info("enrolled: stored this host's token in %s", self.config.token_file)
            except OSError as exc:
                self._unsaved_token = welcome.host_token
                logger.error(
                    "enrolled, but cannot write %s (%s): the host token is kept in memory only; "
                    "fix the file's permissions before the agent restarts",
                    self.config.token_file,
                    exc.strerror,
                )
        self._apply_settings(welcome.settings)
        self._settings_changed.clear()  # the stream's first heartbeat goes out right after the welcome
        acks = {ack.command_id: ack.seq for ack in welcome.acks}
        self.executor.on_welcome(acks)
        self.outbox.restart_stream(acks)
        for entry in self.journal.entries():
            if not self.outbox.knows(entry.command_id):
                self.executor.on_acked(entry.command_id)
        if welcome.interrupted_command_ids:
            logger.info(
                "control plane recorded as interrupted: %s", ", ".join(welcome.interrupted_command_ids)
            )

    def on_message(self, message: agent_service_pb2.ConnectResponse) -> None:
        """Route one message from the control plane."""
        kind = message.WhichOneof("message")
        if kind == "run_command":
            self.executor.start(message.run_command)
        elif kind == "cancel_command":
            self.executor.cancel(message.cancel_command.command_id)
        elif kind == "settings":
            self._apply_settings(message.settings)
        elif kind == "ack":
            if self.outbox.ack(message.ack.command_id, message.ack.seq):
                self.executor.on_acked(message.ack.command_id)
        else:
            logger.warning("ignored a message of unknown kind %s from the control plane", kind)

    def _send_control(self, message: agent_service_pb2.ConnectRequest) -> None:
        if self._stream is not None:
            self._stream.send(message)

    def _attach(self, stream: Stream | None) -> None:
        self._stream = stream

    # -- the connect loop -----------------------------------------------------------------------------

    async def _connect_loop(self) -> None:
        addresses = self.config.controlplanes
        dial = first_dial(self.config.backoff_initial_seconds)
        rng = random.Random()
        while True:
            target = addresses[dial.address]
            welcomed = False

            def on_welcomed(target: str = target) -> None:
                nonlocal welcomed
                welcomed = True
                logger.info("connected to %s as %s", target, self.config.host)

            ended: Exception = StreamEnded("the control plane closed the stream")
            try:
                token = self._unsaved_token or self.config.read_token()
                await run_stream(target, token, self, self._attach, on_welcomed, self._link_options())
            except Exception as error:
                ended = error
            was_replaced = replaced(ended)
            dial = next_dial(
                dial,
                addresses=len(addresses),
                welcomed=welcomed,
                was_replaced=was_replaced,
                initial=self.config.backoff_initial_seconds,
                maximum=self.config.backoff_max_seconds,
                rng=rng,
            )
            if was_replaced:
                logger.warning(
                    "another connection as host %s replaced this one; if two agents are configured "
                    "as %s, stop one (backing off %.0f s)",
                    self.config.host,
                    self.config.host,
                    dial.delay,
                )
            # Logged once, at the level its reason deserves; a bug costs a reconnect, not the link.
            end = classify(ended)
            following = addresses[dial.address]
            if following != target:
                logger.log(
                    end.level,
                    "control plane %s unreachable (%s); trying %s in %.1f s",
                    target,
                    end.reason,
                    following,
                    dial.delay,
                    exc_info=ended if end.bug else None,
                )
            else:
                logger.log(
                    end.level,
                    "stream to %s ended: %s; reconnecting in %.1f s",
                    target,
                    end.reason,
                    dial.delay,
                    exc_info=ended if end.bug else None,
                )
            await asyncio.sleep(dial.delay)

    def _link_options(self) -> LinkOptions:
        return LinkOptions(
            tls=self.config.tls,
            keepalive_seconds=self.config.keepalive_seconds,
            keepalive_timeout_seconds=self.config.keepalive_timeout_seconds,
        )

    async def run(self) -> None:
        """Recover, then stay connected until stop(); a switch/rollback running then outlives us."""
        await self.executor.recover()
        loop_task = spawn_logged(self._connect_loop(), name="connect", logger=logger)
        try:
            await self._stopping.wait()
        finally:
            logger.info("agent stopping")
            try:
                await cancel_and_wait(loop_task)
            finally:
                await self.executor.shutdown()


async def serve(config: AgentConfig) -> None:
    """Run an agent until SIGTERM or SIGINT."""
    agent = Agent(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, agent.stop)
    await agent.run()
