"""The live view of the fleet: every host in memory, its compartments, and the events its changes make.

The one owner of host state. Heartbeats land here and only here: memory is updated at once, SQLite
later in one batch a second, and a fleet event goes out only when something a person can see changed.
A heartbeat's time is not such a thing: it rides along with the host's next event (going offline is
one), so watchers are never sent the whole fleet's last-seen times.
Longer than most modules because every write to a host goes through it, by design.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

from google.protobuf.timestamp_pb2 import Timestamp

from fleetdeck import selectors
from fleetdeck.tasks import cancel_and_wait
from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import types_pb2 as pb
from fleetdeck.version import __version__

from . import compartments, desired, policy, test_status
from .agent_streams import AgentStream, AgentStreams
from .budgets import FACT_CHANGES_BURST, FACT_CHANGES_PER_SECOND, TokenBucket
from .errors import InvalidArgument, NotFound, Unauthenticated
from .hub import Hub
from .metrics import Counts
from .placement import MAIL_AGENT, MAIL_LABELS, MAIL_OVERRIDE, Alone, Placement
from .store import VERSION_BLOCK, HostLabels, Store
from .timeutil import now_ts

log = logging.getLogger(__name__)

MISSED_HEARTBEATS_OFFLINE = 3
HOUSEKEEPING_SECONDS = 1.0
PAUSED_SECONDS = 3.0  # a housekeeping tick this late: the control plane itself was not running


def paused_for(previous_tick: float, now: float) -> float | None:
    """How long the control plane itself did not run (SIGSTOP, a suspended VM), from its own ticks."""
    gap = now - previous_tick
    return gap if gap > PAUSED_SECONDS else None


_LAST_FIELD = {
    pb.OPERATION_SWITCH: "last_switch",
    pb.OPERATION_ROLLBACK: "last_rollback",
    pb.OPERATION_PULL: "last_pull",
}


@dataclass
class HostState:
    """One host in memory: its stored facts plus what only the live process knows.

    Written only by `Fleet`, through its named operations; everything else reads it.
    """

    host: pb.Host
    override: pb.TestSettingsOverride = field(default_factory=pb.TestSettingsOverride)
    stream: AgentStream | None = None
    last_heard: float = 0.0  # monotonic: liveness
    seen_at: float = 0.0  # wall clock of the last message; becomes host.last_seen when shown or saved
    stale: bool = False  # connected, but heartbeats stopped arriving
    published: bytes = b""  # fingerprint of what watchers last saw
    waiting_on_store: bool = False  # its stream is held back by storage, not silent
    statuses: tuple[tuple[int, int], ...] = ()  # (kind, status) of each compartment as last computed
    gone_at: float = 0.0  # monotonic: when its agent disconnected or fell silent; 0 while online
    fact_changes: TokenBucket = field(
        default_factory=lambda: TokenBucket(FACT_CHANGES_BURST, FACT_CHANGES_PER_SECOND)
    )
    # The agent's last Tests report, whether a test ran then, and the status it left: a heartbeat
    # that repeats it (most do) skips the state machine, which would answer the same.
    last_report: tuple[pb.TestStatus, bool, pb.TestStatus] | None = None
    held_by: str = ""  # another replica holds the agent's stream; its events say what the host is
    held_online: bool = False  # online, as that replica's last event of the host said

    @property
    def online(self) -> bool:
        if self.held_by:
            return self.held_online
        return self.stream is not None and not self.stream.closed and not self.stale


class Fleet:
    """Hosts, settings and desired state in memory: the one owner of host state.

    Servicers and the command manager tell it what happened (`hello`, `heartbeat`,
    `command_started`, `command_finished`, `settings_changed`, `disconnected`, ...); it updates the
    host, feeds the Tests state machine, publishes what watchers can see, writes behind what must
    be stored, and pushes settings down the host's stream.
    """

    def __init__(self, store: Store, hub: Hub, streams: AgentStreams) -> None:
        self.store = store
        self.hub = hub
        self.streams = streams
        self.hosts: dict[str, HostState] = {}
        self.settings = pb.Settings()
        self.desired: pb.DesiredState | None = None
        self.selector_desired: list[pb.DesiredState] = []  # desired states set for selectors
        self.rollout_targets: dict[str, pb.DesiredState] = {}  # hosts a rollout moves: its target
        self.rollout_members: dict[str, str] = {}  # host -> the active rollout it belongs to
        self._labels_unsaved: set[str] = set()  # hosts whose declared labels changed, written behind
        self._reserved_version = 0
        self._unsaved: set[str] = set()  # hosts with facts not yet written to SQLite
        self._seen_unsaved: set[str] = set()  # hosts whose last-seen time and metrics are not written
        self._flusher: asyncio.Task[None] | None = None
        self._awake_since = 0.0  # monotonic: silence counts only from here (after a pause of our own)
        self.flush_hooks: list[Callable[[], Awaitable[None]]] = []  # more write-behind, once a second
        self.counts = Counts()  # what happened, for the metrics; bumped where it happens
        self.placement: Placement = Alone()  # where hosts' streams are held (replicas: not all here)
        # Told of a failed flush; True when it was storage trouble (reported by StorageHealth, once).
        self.storage_trouble: Callable[[BaseException], bool] = lambda error: False

    async def load(self) -> None:
        """Rebuild the live view from the database alone."""
        self.settings = await self.store.load_settings()
        self.desired = await self.store.load_desired()
        self.selector_desired = await self.store.load_selector_desired()
        labels = await self.store.load_host_labels()
        for stored in await self.store.load_hosts():
            state = HostState(host=stored.host, override=stored.override)
            self.hosts[stored.host.name] = state
            found = labels.get(stored.host.name)
            if found is not None:
                self._set_labels(state, found.declared, found.overrides)
            self._refresh_settings(state)
            view = self.view_of(state)
            state.published = self._fingerprint(view)
            state.statuses = tuple((c.kind, c.status) for c in view.compartments)

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

    def desired_for(self, state: HostState) -> pb.DesiredState | None:
        """The most specific desired state that applies to the host (see `desired.most_specific`)."""
        name = state.host.name
        return desired.most_specific(
            state.host.labels, self.desired, self.selector_desired, self.rollout_targets.get(name)
        )

    def view_of(self, state: HostState) -> pb.Host:
        """A host's state as the API shows it."""
        self._sync_last_seen(state)
        host = pb.Host()
        host.CopyFrom(state.host)
        host.online = state.online
        wanted = self.desired_for(state)
        if wanted is not None:
            host.desired_state.CopyFrom(wanted)
        host.rollout_id = self.rollout_members.get(host.name, "")
        host.compartments.extend(compartments.compute_compartments(host, wanted, self.expected_agent_version))
        return host

    def select(self, selector: str) -> list[HostState]:
        """The hosts a selector matches, by name (InvalidArgument for a bad selector)."""
        parsed = parse_selector(selector)
        return [self.hosts[n] for n in sorted(self.hosts) if parsed.matches(self.hosts[n].host.labels)]

    def snapshot(self, selector: str = "") -> fleet_pb.FleetSnapshot:
        """Every host (that the selector matches), by name."""
        return fleet_pb.FleetSnapshot(hosts=[self.view_of(s) for s in self.select(selector)])

    def presence(self) -> fleet_pb.FleetSnapshot:
        """Every host's name and online state only: what in-process watchers resync from (a full
        snapshot computes every host's compartments: seconds at 10,000 hosts in a welcome storm)."""
        return fleet_pb.FleetSnapshot(hosts=[pb.Host(name=n, online=s.online) for n, s in self.hosts.items()])

    @property
    def expected_agent_version(self) -> str:
        """The agent version hosts should run."""
        if self.desired is not None and self.desired.agent_version:
            return self.desired.agent_version
        return __version__

    def agent_settings(self, state: HostState) -> agent_pb.AgentSettings:
        """The settings the host's agent works with."""
        return agent_pb.AgentSettings(
            heartbeat_interval=self.settings.heartbeat_interval, tests=state.host.test_settings
        )

    # --- the agent's stream --------------------------------------------------------------------

    def ensure(self, name: str) -> HostState:
        """The host's state, created on first contact."""
        state = self.hosts.get(name)
        if state is None:
            state = HostState(host=pb.Host(name=name, registered_at=now_ts()))
            self.hosts[name] = state
            self._refresh_settings(state)
            self._unsaved.add(name)
        return state

    def attach(self, state: HostState, stream: AgentStream) -> None:
        """Route the host's commands to a new stream (before it is welcomed and published). When the
        stream is closed, watchers are told at once, not only once its end has been handled: a
        snapshot taken in between shows what an event said."""
        state.stream = stream
        stream.on_closed = lambda: self._stream_closed(state, stream)

    def _stream_closed(self, state: HostState, stream: AgentStream) -> None:
        if state.stream is stream:
            self.changed(state)

    async def claim(self, state: HostState) -> None:
        """The host's agent connected here: its stream is held here, whoever held it before."""
        await self.placement.claim(state.host.name)
        state.held_by = ""
        state.published = b""  # published anew from here, whatever the replica before published

    def hello(self, state: HostState, hello: agent_pb.Hello) -> None:
        """What the agent says about its host when it connects (published by `connect`)."""
        state.host.facts.CopyFrom(hello.facts)
        state.host.declared_test_settings.CopyFrom(hello.declared_test_settings)
        if dict(hello.labels) != dict(state.host.declared_labels):
            self._set_labels(state, dict(hello.labels), dict(state.host.label_overrides))
            self._labels_unsaved.add(state.host.name)
        self._refresh_settings(state)
        self._report_tests(state, hello.test_status)

    def connect(self, state: HostState, stream: AgentStream) -> None:
        """Publish a freshly welcomed stream as the host's link."""
        state.stream = stream
        state.stale = False
        state.gone_at = 0.0
        self.heard_from(state)
        self.changed(state)

    def heard_from(self, state: HostState) -> None:
        """The host's agent just spoke (monotonic clock for liveness, wall clock for display)."""
        state.last_heard = time.monotonic()
        state.seen_at = time.time()
        self._seen_unsaved.add(state.host.name)
        if state.stale:
            state.stale = False
            state.gone_at = 0.0
            log.info("host %s is sending heartbeats again", state.host.name)
            self.changed(state)

    def heartbeat(self, state: HostState, heartbeat: agent_pb.Heartbeat) -> None:
        """A heartbeat: the hot path. One that changes nothing visible publishes nothing."""
        self.counts.heartbeats += 1
        self.heard_from(state)
        host = state.host
        host.metrics.CopyFrom(heartbeat.metrics)  # written behind with the last-seen time
        visible = host.facts != heartbeat.facts and self._may_change_facts(state)
        if visible:
            host.facts.CopyFrom(heartbeat.facts)
        if self._report_tests(state, heartbeat.test_status) or visible:
            self.changed(state)

    @staticmethod
    def _may_change_facts(state: HostState) -> bool:
        """False while the host changes its facts faster than its budget (logged once per episode)."""
        was_refusing = state.fact_changes.refusing
        if state.fact_changes.take(time.monotonic()):
            if was_refusing:
                log.info("host %s changes its facts slowly enough again; applying them", state.host.name)
            return True
        if not was_refusing:
            log.warning(
                "host %s changes its facts more often than %d in a row and one every %.0f s; "
                "ignoring changes until it slows down",
                state.host.name,
                FACT_CHANGES_BURST,
                1 / FACT_CHANGES_PER_SECOND,
            )
        return False

    @contextlib.contextmanager
    def storing(self, state: HostState) -> Iterator[None]:
        """While the host's stream waits for storage, its silence is not missed heartbeats."""
        state.waiting_on_store = True
        try:
            yield
        finally:
            state.waiting_on_store = False

    def disconnected(self, stream: AgentStream) -> None:
        """A stream's stream ended: detach it if it is still the host's current one."""
        state = self.hosts.get(stream.host)
        if self.streams.remove(stream) and state is not None and state.stream is stream:
            state.stream = None
            state.gone_at = time.monotonic()
            if state.held_by:  # its agent connected to another replica, which says so
                log.info("host %s moved to control-plane replica %s", stream.host, state.held_by)
                return
            log.info("host %s disconnected", stream.host)
            self.changed(state)
            self.placement.released(stream.host)

    async def deliver(self, state: HostState, message: agent_pb.ConnectResponse) -> bool:
        """Send a message to the host's agent, on its stream here or through the replica holding it;
        False when no stream is open anywhere."""
        stream = state.stream
        if stream is not None and not stream.closed:
            stream.send(message)
            return True
        if state.held_by:
            await self.placement.post(state.host.name, MAIL_AGENT, message.SerializeToString())
            return True
        return False

    def token_revoked(self, host: str, token_id: str) -> None:
        """An agent token was revoked: the stream it opened ends now."""
        stream = self.streams.get(host)
        if stream is not None and stream.token_id == token_id:
            stream.close(Unauthenticated("this agent's token was revoked"))

    # --- commands ------------------------------------------------------------------------------

    @staticmethod
    def reserve(state: HostState, command: pb.Command) -> None:
        """The command is the host's running one (set before the first await, so only one starts)."""
        state.host.running_command_id = command.id
        state.host.running_operation = command.operation

    @staticmethod
    def release(state: HostState, command_id: str) -> None:
        """The command no longer runs on the host (if it was the running one)."""
        if state.host.running_command_id == command_id:
            state.host.running_command_id = ""
            state.host.running_operation = pb.OPERATION_UNSPECIFIED

    def command_started(self, state: HostState, command: pb.Command) -> None:
        """The agent began running a command."""
        self.reserve(state, command)
        if command.operation == pb.OPERATION_TEST:
            self.tests(state, test_status.RunStarted())
        self.changed(state)

    def test_progress(self, state: HostState, progress: agent_pb.TestProgress) -> None:
        """Per-case progress of the running test suite (memory only; the run report is durable)."""
        if state.host.running_command_id == progress.command_id:
            self.tests(state, test_status.Progressed(progress.status))
            self.changed(state)

    def command_refused(self, state: HostState, command_id: str) -> None:
        """The agent would not run a command (or it could not be sent)."""
        self.release(state, command_id)
        self.changed(state)

    def command_finished(
        self, state: HostState, command: pb.Command, facts: pb.HostFacts, tests: test_status.Event | None
    ) -> None:
        """A command ended: its facts, the host's last operation, deployment and Tests.

        Not published yet: the caller stores the host with the command, then calls `changed`.
        """
        host = state.host
        if facts.ByteSize():  # an agent that could not read its facts sends none
            host.facts.CopyFrom(facts)
        self._record_last_operation(host, command, command.finished_at)
        succeeded = command.state == pb.COMMAND_STATE_SUCCEEDED
        if succeeded and command.operation in (pb.OPERATION_SWITCH, pb.OPERATION_ROLLBACK):
            host.current_deployment_id = command.id
            self.tests(state, test_status.Deployed())
        if tests is not None:
            self.tests(state, tests)
        self.release(state, command.id)

    def command_interrupted(
        self, state: HostState, command: pb.Command, tests: test_status.Event | None
    ) -> None:
        """A command's outcome is unknown; nothing runs any more."""
        self.release(state, command.id)
        self._record_last_operation(state.host, command, now_ts())
        if tests is not None:
            self.tests(state, tests)
        self.changed(state)

    @staticmethod
    def _record_last_operation(host: pb.Host, command: pb.Command, finished_at: Timestamp) -> None:
        """Keep the command as the host's last switch, rollback or pull, with the facts after it."""
        name = _LAST_FIELD.get(command.operation)
        if name is None:
            return
        getattr(host, name).CopyFrom(
            pb.LastOperation(
                command_id=command.id,
                state=command.state,
                exit_code=command.exit_code,
                finished_at=finished_at,
                commit=host.facts.commit,
                lock_hash=host.facts.lock_hash,
                generation=host.facts.generation,
            )
        )

    # --- Tests ---------------------------------------------------------------------------------

    @staticmethod
    def tests(state: HostState, event: test_status.Event) -> bool:
        """Feed the host's Tests status one event (published with the host's next change); True when
        the status changed."""
        new = test_status.next_status(state.host.test_status, event)
        if new == state.host.test_status:
            return False  # the common heartbeat: compared in C, nothing copied back
        state.host.test_status.CopyFrom(new)
        return True

    def _report_tests(self, state: HostState, reported: pb.TestStatus) -> bool:
        running = state.host.running_operation == pb.OPERATION_TEST and bool(state.host.running_command_id)
        last = state.last_report
        if (
            last is not None
            and last[1] == running
            and last[0] == reported
            and last[2] == state.host.test_status
        ):
            return False  # the report the state machine answered last time, on the status it left
        changed = self.tests(state, test_status.AgentReported(reported, test_running=running))
        state.last_report = (_copied(reported), running, _copied(state.host.test_status))
        return changed

    # --- settings and desired state ------------------------------------------------------------

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

    def _push_settings(self, state: HostState) -> None:
        if state.stream is not None:
            state.stream.send(agent_pb.ConnectResponse(settings=self.agent_settings(state)))

    async def settings_changed(self, state: HostState, override: pb.TestSettingsOverride) -> None:
        """A new test settings override for one host: stored, published, pushed to its agent."""
        await self.store.save_host_override(state.host.name, override)
        self.override_stored(state, override)
        if state.held_by:
            await self.placement.post(state.host.name, MAIL_OVERRIDE, override.SerializeToString())
        log.info("test settings of %s changed", state.host.name)

    def override_stored(self, state: HostState, override: pb.TestSettingsOverride) -> None:
        """A host's new (stored) test settings override: published and pushed to its agent."""
        state.override.CopyFrom(override)
        self.changed(state, durable=True)
        self._push_settings(state)

    async def fleet_settings_changed(self, settings: pb.Settings) -> None:
        """New fleet-wide settings: stored, every host they change republished, pushed to every agent."""
        await self.store.save_settings(settings)
        self._adopt_settings(settings)
        await self.placement.config_changed("settings")

    def _adopt_settings(self, settings: pb.Settings) -> None:
        self.settings = settings
        for state in self.hosts.values():
            self.changed(state, durable=True)
            self._push_settings(state)

    async def reload_config(self) -> None:
        """Another replica stored new fleet-wide settings or desired states: adopt them."""
        self.desired = await self.store.load_desired()
        self.selector_desired = await self.store.load_selector_desired()
        self._adopt_settings(await self.store.load_settings())

    async def set_desired(self, desired: pb.DesiredState) -> None:
        """Adopt a new (stored) desired state, fleet-wide or for its selector: every host it changes is
        republished, every other replica reloads it."""
        self._adopt_desired(desired)
        await self.placement.config_changed("desired")

    def _adopt_desired(self, desired: pb.DesiredState) -> None:
        if desired.selector:
            kept = [d for d in self.selector_desired if d.selector != desired.selector]
            self.selector_desired = [*kept, desired]
        else:
            self.desired = desired
        for state in self.hosts.values():
            self.changed(state, durable=True)

    # --- labels --------------------------------------------------------------------------------

    @staticmethod
    def _set_labels(state: HostState, declared: dict[str, str], overrides: dict[str, str]) -> None:
        host = state.host
        for name, labels in (
            ("declared_labels", declared),
            ("label_overrides", overrides),
            ("labels", selectors.effective_labels(declared, overrides)),
        ):
            host.ClearField(name)
            getattr(host, name).update(labels)

    async def labels_changed(self, state: HostState, overrides: dict[str, str]) -> None:
        """New label overrides for one host: stored, then published."""
        declared = dict(state.host.declared_labels)
        await self.store.save_host_labels(state.host.name, HostLabels(declared, overrides))
        self._labels_unsaved.discard(state.host.name)
        self.label_overrides_stored(state, overrides)
        if state.held_by:
            await self.placement.post(state.host.name, MAIL_LABELS, json.dumps(overrides).encode())
        log.info("labels of %s changed: %s", state.host.name, dict(state.host.labels))

    def label_overrides_stored(self, state: HostState, overrides: dict[str, str]) -> None:
        """A host's new (stored) label overrides: published."""
        self._set_labels(state, dict(state.host.declared_labels), overrides)
        self.changed(state, durable=True)

    # --- publishing ----------------------------------------------------------------------------

    @staticmethod
    def _fingerprint(view: pb.Host) -> bytes:
        """What watchers can see of a host, minus last-seen time and metrics (which change always)."""
        plain = pb.Host()
        plain.CopyFrom(view)
        plain.ClearField("last_seen")
        plain.ClearField("metrics")
        return plain.SerializeToString(deterministic=True)

    def changed(self, state: HostState, *, durable: bool = False) -> None:
        """Publish the host if anything visible changed; without `durable`, mark it for the flush.

        A host whose stream another replica holds is published and written by that replica only."""
        self._refresh_settings(state)
        if state.held_by:
            return
        if not durable:
            self._unsaved.add(state.host.name)
        view = self.view_of(state)  # computed once: compared, then published as is
        state.statuses = tuple((c.kind, c.status) for c in view.compartments)  # for the metrics
        fingerprint = self._fingerprint(view)
        if fingerprint != state.published:
            state.published = fingerprint
            self.hub.publish(fleet_pb.WatchFleetResponse(host=view))

    # --- background: write-behind and liveness ----------------------------------------------------

    async def start(self) -> None:
        """Reserve fleet versions and start the once-a-second housekeeping; safe to call twice."""
        if self._flusher is None:
            self._reserved_version = self.hub.version + VERSION_BLOCK
            self._flusher = asyncio.create_task(self._housekeeping(), name="fleet-housekeeping")

    async def stop(self) -> None:
        """Stop housekeeping and write everything still in memory; safe to call twice."""
        if self._flusher is not None:
            task, self._flusher = self._flusher, None
            await cancel_and_wait(task)
        await self.flush()

    async def _housekeeping(self) -> None:
        tick = time.monotonic()
        while True:
            await asyncio.sleep(HOUSEKEEPING_SECONDS)
            previous, tick = tick, time.monotonic()
            paused = paused_for(previous, tick)
            if paused is not None:
                self.resumed(tick, paused)
            try:
                self.check_liveness(tick)
                await self.flush()
            except Exception as error:
                if not self.storage_trouble(error):
                    log.exception("fleet housekeeping failed; retrying in a second")

    async def flush(self) -> None:
        """Write every host changed since the last flush in one transaction."""
        unsaved, self._unsaved = self._unsaved, set()
        seen_only, self._seen_unsaved = self._seen_unsaved - unsaved, set()
        dirty = [self.hosts[n] for n in unsaved if n in self.hosts]
        seen = [self.hosts[n] for n in seen_only if n in self.hosts]
        try:  # a host another replica claimed a moment ago is that replica's to write now
            moved = await self.placement.held_elsewhere([s.host.name for s in (*dirty, *seen)])
        except BaseException:
            self._unsaved |= unsaved
            self._seen_unsaved |= seen_only
            raise
        if moved:
            dirty = [s for s in dirty if s.host.name not in moved]
            seen = [s for s in seen if s.host.name not in moved]
        for state in (*dirty, *seen):
            self._sync_last_seen(state)
        try:
            await self.store.save_hosts([s.host for s in dirty])
            # Most hosts only heartbeated: a narrow update, not a rewrite of every fact.
            await self.store.save_last_seen([s.host for s in seen])
        except BaseException:
            self._unsaved |= unsaved
            self._seen_unsaved |= seen_only
            raise
        labelled, self._labels_unsaved = self._labels_unsaved, set()
        hosts = {n: self.hosts[n].host for n in sorted(labelled)}  # one transaction for all of them
        await self.store.save_hosts_labels(
            {n: HostLabels(dict(h.declared_labels), dict(h.label_overrides)) for n, h in hosts.items()}
        )
        for hook in self.flush_hooks:
            await hook()
        if self.hub.version + VERSION_BLOCK // 2 > self._reserved_version:
            self._reserved_version = self.hub.version + VERSION_BLOCK
            await self.store.extend_version_reservation(self._reserved_version)

    @property
    def reserved_version(self) -> int:
        """The end of the version block this process may hand out (rewritten as a storage probe)."""
        return self._reserved_version

    def resumed(self, now: float, paused: float) -> None:
        """The control plane itself did not run for `paused` seconds: agents' heartbeats of that time
        are still on their way, so silence is measured from now on, not from before the pause."""
        log.warning(
            "the control plane did not run for %.0f s (paused?); host silence counts from now", paused
        )
        self._awake_since = now

    @property
    def offline_after_seconds(self) -> float:
        """Silence that makes a connected host offline: a few missed heartbeats."""
        return MISSED_HEARTBEATS_OFFLINE * max(
            self.settings.heartbeat_interval.ToTimedelta().total_seconds(), 0.1
        )

    def lost(self, now: float) -> list[HostState]:
        """Hosts with a running command whose agent has been gone longer than the offline bound."""
        limit = self.offline_after_seconds
        return [
            s
            for s in self.hosts.values()
            if s.host.running_command_id
            and not s.online
            and not s.held_by
            and s.gone_at
            and now - s.gone_at > limit
        ]

    def check_liveness(self, now: float) -> None:
        """Mark connected hosts whose heartbeats stopped as offline."""
        limit = self.offline_after_seconds
        for state in self.hosts.values():
            if state.waiting_on_store:
                continue  # heartbeats are queued behind output that storage has not taken yet
            silent = now - max(state.last_heard, self._awake_since)
            if state.stream is not None and not state.stale and silent > limit:
                state.stale = True
                state.gone_at = now
                log.info("host %s missed %d heartbeats; offline", state.host.name, MISSED_HEARTBEATS_OFFLINE)
                self.changed(state)

    # --- hosts held by other replicas ----------------------------------------------------------------

    def held_elsewhere(self, view: pb.Host, holder: str) -> None:
        """A host as the replica holding (or last holding) its stream published it: adopted as is.

        Not written here, and not published again: the replica that published it did both."""
        state = self.hosts.get(view.name)
        if state is None:
            state = HostState(host=pb.Host(name=view.name))
            self.hosts[view.name] = state
        if state.stream is not None and not state.stream.closed:
            return  # held here (claimed after that replica published this): ours is newer
        state.held_online = view.online
        if not view.online and not state.gone_at:
            state.gone_at = time.monotonic()
        elif view.online:
            state.gone_at = 0.0
        host = pb.Host()
        host.CopyFrom(view)
        for computed in ("compartments", "desired_state", "rollout_id", "online"):
            host.ClearField(computed)
        state.host = host
        state.override.CopyFrom(view.test_settings_override)
        state.published = self._fingerprint(view)
        state.statuses = tuple((c.kind, c.status) for c in view.compartments)
        if view.HasField("last_seen"):
            state.seen_at = view.last_seen.ToNanoseconds() / 1e9

    def mailed_command(self, state: HostState, message: agent_pb.ConnectResponse) -> None:
        """A command (or a stop) another replica sent to this host's agent, whose stream is here."""
        if message.HasField("run_command") and not state.host.running_command_id:
            # (Busy after all: the agent refuses it, and the command it runs stays the running one.)
            run = message.run_command
            self.reserve(state, pb.Command(id=run.command_id, operation=run.operation))
            self.changed(state)
        if state.stream is not None:
            state.stream.send(message)


def _copied(status: pb.TestStatus) -> pb.TestStatus:
    copy = pb.TestStatus()
    copy.CopyFrom(status)
    return copy


def parse_selector(selector: str) -> selectors.Selector:
    """A parsed selector; InvalidArgument with the grammar's sentence when it is bad."""
    try:
        return selectors.parse(selector)
    except selectors.SelectorError as exc:
        raise InvalidArgument(str(exc)) from None


def checked_labels(labels: dict[str, str], *, allow_empty_values: bool = False) -> dict[str, str]:
    """Labels that follow the grammar; InvalidArgument saying which one does not."""
    try:
        return selectors.check_labels(labels, allow_empty_values=allow_empty_values)
    except selectors.SelectorError as exc:
        raise InvalidArgument(str(exc)) from None
