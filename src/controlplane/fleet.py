"""The live view of the fleet: every host in memory, its compartments, and the events its changes make.

Heartbeats land here and only here: memory is updated at once, SQLite later in one batch a second,
and a fleet event goes out only when something a person can see changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import types_pb2 as pb
from fleetdeck.version import __version__

from . import compartments, policy, test_status
from .errors import NotFound
from .events import Hub
from .sessions import AgentSession, Sessions
from .store import VERSION_BLOCK, Store
from .timeutil import now_ts

log = logging.getLogger(__name__)

SEEN_COALESCE_SECONDS = 5.0  # one "last seen" event for the whole fleet at most this often
MISSED_HEARTBEATS_OFFLINE = 3


@dataclass
class HostState:
    """One host in memory: its stored facts plus what only the live process knows."""

    host: pb.Host
    override: pb.TestSettingsOverride = field(default_factory=pb.TestSettingsOverride)
    session: AgentSession | None = None
    last_heard: float = 0.0  # monotonic
    stale: bool = False  # connected, but heartbeats stopped arriving
    seen_at: float = 0.0  # wall clock of the last message; copied into host.last_seen when shown or saved
    published: bytes = b""  # fingerprint of what watchers last saw
    seen_reported: float = 0.0  # the seen_at that watchers last got
    dirty: bool = False  # has facts not yet written to SQLite
    seen_dirty: bool = False  # only last-seen time and metrics are not yet written
    waiting_on_store: bool = False  # its stream is held back by storage, not silent

    @property
    def online(self) -> bool:
        return self.session is not None and not self.session.closed and not self.stale


class Fleet:
    """Hosts, settings and desired state in memory; the one place that publishes host changes."""

    def __init__(self, store: Store, hub: Hub, sessions: Sessions) -> None:
        self.store = store
        self.hub = hub
        self.sessions = sessions
        self.hosts: dict[str, HostState] = {}
        self.settings = pb.Settings()
        self.desired: pb.DesiredState | None = None
        self._reserved_version = 0
        self._seen_published = 0.0
        self._flusher: asyncio.Task[None] | None = None
        self.flush_hooks: list[Callable[[], Awaitable[None]]] = []  # more write-behind, once a second

    async def load(self) -> None:
        """Rebuild the live view from the database alone."""
        self.settings = await self.store.load_settings()
        self.desired = await self.store.load_desired()
        for host, override in await self.store.load_hosts():
            state = HostState(host=host, override=override)
            self.hosts[host.name] = state
            self._refresh_settings(state)
            state.published = self._fingerprint(self.view_of(state))

    # --- reading -------------------------------------------------------------------------------

    def state(self, name: str) -> HostState:
        """A host's state; NotFound when the control plane never heard of it."""
        state = self.hosts.get(name)
        if state is None:
            raise NotFound(f"host {name} is not known to the control plane; has its agent ever connected?")
        return state

    def view(self, name: str) -> pb.Host:
        """A host as the API shows it, with online state and its five compartments."""
        return self.view_of(self.state(name))

    @staticmethod
    def _sync_last_seen(state: HostState) -> None:
        if state.seen_at:
            state.host.last_seen.FromNanoseconds(int(state.seen_at * 1e9))

    def view_of(self, state: HostState) -> pb.Host:
        """A host's state as the API shows it."""
        self._sync_last_seen(state)
        host = pb.Host()
        host.CopyFrom(state.host)
        host.online = state.online
        host.compartments.extend(
            compartments.compute_compartments(host, self.desired, self.expected_agent_version)
        )
        return host

    def snapshot(self) -> fleet_pb.FleetSnapshot:
        """Every host, by name."""
        return fleet_pb.FleetSnapshot(hosts=[self.view_of(self.hosts[n]) for n in sorted(self.hosts)])

    @property
    def expected_agent_version(self) -> str:
        """The agent version hosts should run."""
        if self.desired is not None and self.desired.agent_version:
            return self.desired.agent_version
        return __version__

    # --- changing ------------------------------------------------------------------------------

    def ensure(self, name: str) -> HostState:
        """The host's state, created on first contact."""
        state = self.hosts.get(name)
        if state is None:
            state = HostState(host=pb.Host(name=name, registered_at=now_ts()))
            self.hosts[name] = state
            self._refresh_settings(state)
            state.dirty = True
        return state

    def _refresh_settings(self, state: HostState) -> None:
        was_enabled = policy.tests_enabled(state.host)
        state.host.test_settings.CopyFrom(
            policy.effective_test_settings(
                state.host.declared_test_settings, state.override, self.settings.test_timeout
            )
        )
        state.host.test_settings_override.CopyFrom(state.override)
        enabled = state.host.test_settings.enabled
        if enabled != was_enabled:
            self.tests(state, test_status.SettingsChanged(was_enabled=was_enabled, enabled=enabled))

    @staticmethod
    def tests(state: HostState, event: test_status.Event) -> None:
        """Feed the host's Tests status one event (the caller publishes the change)."""
        state.host.test_status.CopyFrom(test_status.next_status(state.host.test_status, event))

    def report_tests(self, state: HostState, reported: pb.TestStatus) -> None:
        """The agent's own TestStatus, from a hello or heartbeat."""
        running = state.host.running_operation == pb.OPERATION_TEST and bool(state.host.running_command_id)
        self.tests(state, test_status.AgentReported(reported, test_running=running))

    @staticmethod
    def _fingerprint(view: pb.Host) -> bytes:
        """What watchers can see of a host, minus last-seen time and metrics (which change always)."""
        plain = pb.Host()
        plain.CopyFrom(view)
        plain.ClearField("last_seen")
        plain.ClearField("metrics")
        return plain.SerializeToString(deterministic=True)

    def changed(self, state: HostState, *, durable: bool = False) -> None:
        """Publish the host if anything visible changed; mark it for the write-behind flush."""
        if not durable:
            state.dirty = True
        self._refresh_settings(state)
        view = self.view_of(state)  # computed once: compared, then published as is
        fingerprint = self._fingerprint(view)
        if fingerprint != state.published:
            state.published = fingerprint
            state.seen_reported = state.seen_at  # the host event carries last_seen
            self.hub.publish(fleet_pb.WatchFleetResponse(host=view))

    def heard_from(self, state: HostState) -> None:
        """Note that the host's agent just spoke (monotonic clock for liveness, wall clock for display)."""
        state.last_heard = time.monotonic()
        state.seen_at = time.time()
        state.seen_dirty = True
        if state.stale:
            state.stale = False
            log.info("host %s is sending heartbeats again", state.host.name)
            self.changed(state)

    @staticmethod
    def attach(state: HostState, session: AgentSession) -> None:
        """Route the host's commands to a new session (before it is welcomed and published)."""
        state.session = session

    def connect(self, state: HostState, session: AgentSession) -> None:
        """Publish a freshly welcomed session as the host's link."""
        state.session = session
        state.stale = False
        self.heard_from(state)
        self.changed(state)

    def disconnect(self, session: AgentSession) -> None:
        """Detach a session whose stream ended, if it is still the host's current one."""
        state = self.hosts.get(session.host)
        if state is not None and state.session is session:
            state.session = None
            log.info("host %s disconnected", session.host)
            self.changed(state)

    def set_settings(self, settings: pb.Settings) -> None:
        """Adopt new fleet-wide settings and republish every host they change."""
        self.settings = settings
        for state in self.hosts.values():
            self.changed(state, durable=True)

    def set_desired(self, desired: pb.DesiredState) -> None:
        """Adopt a new desired state and republish every host it changes."""
        self.desired = desired
        for state in self.hosts.values():
            self.changed(state, durable=True)

    # --- background: write-behind, liveness, coalesced last-seen -------------------------------

    async def start(self) -> None:
        """Reserve fleet versions and start the once-a-second housekeeping; safe to call twice."""
        if self._flusher is None:
            self._reserved_version = self.hub.version + VERSION_BLOCK
            self._flusher = asyncio.create_task(self._housekeeping(), name="fleet-housekeeping")

    async def stop(self) -> None:
        """Stop housekeeping and write everything still in memory; safe to call twice."""
        if self._flusher is not None:
            task, self._flusher = self._flusher, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush()

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                self.check_liveness(time.monotonic())
                self.publish_seen(time.monotonic())
                await self.flush()
            except Exception:
                log.exception("fleet housekeeping failed; retrying in a second")

    async def flush(self) -> None:
        """Write every host changed since the last flush in one transaction."""
        dirty = [s for s in self.hosts.values() if s.dirty]
        seen = [s for s in self.hosts.values() if s.seen_dirty and not s.dirty]
        for state in (*dirty, *seen):
            state.dirty = state.seen_dirty = False
            self._sync_last_seen(state)
        try:
            await self.store.save_hosts([s.host for s in dirty])
            # Most hosts only heartbeated: a narrow update, not a rewrite of every fact.
            await self.store.save_last_seen([s.host for s in seen])
        except BaseException:
            for state in dirty:
                state.dirty = True
            for state in seen:
                state.seen_dirty = True
            raise
        for hook in self.flush_hooks:
            await hook()
        if self.hub.version + VERSION_BLOCK // 2 > self._reserved_version:
            self._reserved_version = self.hub.version + VERSION_BLOCK
            await self.store.extend_version_reservation(self._reserved_version)

    def check_liveness(self, now: float) -> None:
        """Mark connected hosts whose heartbeats stopped as offline."""
        limit = MISSED_HEARTBEATS_OFFLINE * max(
            self.settings.heartbeat_interval.ToTimedelta().total_seconds(), 0.1
        )
        for state in self.hosts.values():
            if state.waiting_on_store:
                continue  # heartbeats are queued behind output that storage has not taken yet
            if state.session is not None and not state.stale and now - state.last_heard > limit:
                state.stale = True
                log.info("host %s missed %d heartbeats; offline", state.host.name, MISSED_HEARTBEATS_OFFLINE)
                self.changed(state)

    def publish_seen(self, now: float) -> None:
        """One event with every host heard from since the last one, at most every few seconds."""
        if now - self._seen_published < SEEN_COALESCE_SECONDS:
            return
        self._seen_published = now
        seen = []
        for state in self.hosts.values():
            if state.seen_at > state.seen_reported:
                state.seen_reported = state.seen_at
                self._sync_last_seen(state)
                seen.append(fleet_pb.HostSeen(host=state.host.name, last_seen=state.host.last_seen))
        if seen:
            self.hub.publish(fleet_pb.WatchFleetResponse(hosts_seen=fleet_pb.HostsSeen(hosts=seen)))
