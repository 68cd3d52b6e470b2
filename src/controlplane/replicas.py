"""This control plane as one replica among others on one PostgreSQL database.

Each replica holds the agent streams that connected to it and is the only one that publishes and
writes those hosts; what the fleet sees is the same on every replica because every event goes
through the database:

- Events: `Hub.publish` hands each event to this replica's outbox; a batch at a time is appended to
  the fleet log, which numbers the events of every replica in one global order, and each replica
  reads the log back and delivers it to its watchers in that order (adopting the hosts other
  replicas hold on the way). A host event carries the epoch of the claim it was published under, and
  one older than an epoch already in the log is dropped by every replica alike: a replica that has
  not yet heard that its host moved on cannot rewind it.
- Claims: an agent's hello claims its host with a higher epoch than any before (newest wins); the
  replica that held it before closes its stream when told. A stream that ends releases its claim.
- Mail: a command, a stop or a settings change for a host held elsewhere is stored as mail for its
  host and handed to the agent by the replica holding it.
- Leading: one replica at a time (PostgreSQL's advisory lock, let go of when its connection ends)
  runs the fleet's background duties: rollouts, the command queue, webhooks, "agent lost", giving
  up on silent replicas and pruning the log.

PostgreSQL's LISTEN/NOTIFY wakes replicas for each of these; a notification only says where to look,
so one missed while the listening connection was down is made up for by looking again on reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Callable

from fleetdeck.tasks import cancel_and_wait, spawn_logged
from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import types_pb2 as pb

from .commands import FINISHED_STATES
from .errors import Aborted
from .fleet import Fleet
from .output import OutputFollowers
from .placement import MAIL_AGENT, MAIL_LABELS, MAIL_OVERRIDE
from .store.replication import (
    CONFIG_CHANNEL,
    LOG_CHANNEL,
    MAIL_CHANNEL,
    OUTPUT_CHANNEL,
    OWNER_CHANNEL,
    REVOKED_CHANNEL,
    Listener,
    LogEntry,
    Owner,
    Published,
    ReplicationStore,
    parse_owner_payload,
)

log = logging.getLogger(__name__)

BEAT_SECONDS = 2.0  # how often a replica says it is alive
SEEN_SECONDS = 5.0  # how often the last-seen times of hosts held elsewhere are read
SILENT_SECONDS = 10.0  # a replica silent this long is given up for dead (its hosts released)
LOG_KEEP = 200_000  # log entries kept for watchers resuming and replicas catching up
OUTBOX_LIMIT = 200_000  # events waiting for the database, at most (then hosts are republished)
APPEND_BATCH = 2_000
RETRY_SECONDS = 0.5
POLL_SECONDS = 5.0  # look at the log even without a notification, at least this often


def replica_id() -> str:
    """A name for this replica that is unique and says where it runs."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Replicas:
    """This replica's share of the fleet: its claims, its outbox and its view of everyone's log."""

    def __init__(self, store: ReplicationStore, fleet: Fleet, followers: OutputFollowers) -> None:
        self.id = replica_id()
        self.store = store
        self.fleet = fleet
        self.followers = followers
        self.claims: dict[str, Owner] = {}  # hosts whose streams this replica holds
        self._owners: dict[str, Owner] = {}  # every host's holder, as last told
        self._epochs: dict[str, int] = {}  # the newest epoch of each host in the log so far
        self.applied = 0  # the last log version delivered to this replica's watchers
        self._outbox: list[Published] = []
        self._outbox_ready = asyncio.Event()
        self._log_ready = asyncio.Event()
        self._mail_for: set[str] = set()
        self._mail_ready = asyncio.Event()
        self._config_ready = asyncio.Event()
        self._output: set[str] = set()
        self._output_ready = asyncio.Event()
        self._listener: Listener | None = None
        self._listener_lost = asyncio.Event()
        self._republish = False  # the outbox overflowed: publish every held host again
        self._seen_due = 0.0
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()
        self.on_leading: list[Callable[[], None]] = []  # told when this replica starts leading
        self.on_rollout: Callable[[fleet_pb.WatchFleetResponse], None] | None = None
        self.on_api_token_revoked: Callable[[str], None] | None = None

    # --- the placement Fleet asks ---------------------------------------------------------------

    @property
    def leading(self) -> bool:
        return self._listener is not None and self._listener.leading

    async def claim(self, host: str) -> None:
        # Mail for the stream before this one is stale: its commands are reconciled by this hello.
        owner, stale = await self.store.claim(host, self.id)
        self.claims[host] = owner
        self._owners[host] = owner
        if stale:
            log.info("dropped %d messages for %s's earlier stream; its hello accounts for them", stale, host)

    def released(self, host: str) -> None:
        owner = self.claims.pop(host, None)
        if owner is not None:
            spawn_logged(
                self.store.release(host, owner), name=f"release-{host}", logger=log, keep=self._background
            )

    async def post(self, host: str, kind: str, body: bytes) -> None:
        await self.store.post(host, kind, body)

    async def config_changed(self, what: str) -> None:
        await self.store.config_changed(what)

    async def revoked(self, what: str) -> None:
        await self.store.revoked(what)

    async def held_elsewhere(self, hosts: list[str]) -> set[str]:
        return await self.store.held_elsewhere(self.id, hosts) if hosts else set()

    # --- lifecycle -----------------------------------------------------------------------------

    async def load(self) -> None:
        """Before the fleet is served: who holds which host, and each host's newest event."""
        silent = set(await self.store.silent_replicas(SILENT_SECONDS))
        self._owners = await self.store.owners()
        self._epochs = {host: owner.epoch for host, owner in self._owners.items()}
        held = {h: o.replica for h, o in self._owners.items() if o.replica and o.replica not in silent}
        # A host another replica holds is as its newest event says (its row is written a second
        # later); any other host was written last when its stream ended: its row is the newest.
        for entry in await self.store.latest_host_events():
            if entry.host in held:
                self.fleet.held_elsewhere(
                    fleet_pb.WatchFleetResponse.FromString(entry.event).host, entry.replica
                )
        for host, replica in held.items():
            state = self.fleet.hosts.get(host)
            if state is not None:
                state.held_by = replica
        self.applied = await self.store.log_version()
        self.fleet.hub.skip_to(self.applied)
        self.fleet.hub.sink = self._publish
        self.fleet.placement = self
        self.followers.on_stored = self._output_stored

    async def start(self) -> None:
        """Say this replica is alive, listen, and start following the log; safe to call twice."""
        if self._tasks:
            return
        await self.store.register(self.id)
        await self._listen()
        self._tasks = [
            asyncio.create_task(self._append_forever(), name="replica-append"),
            asyncio.create_task(self._follow_forever(), name="replica-follow"),
            asyncio.create_task(self._mail_forever(), name="replica-mail"),
            asyncio.create_task(self._config_forever(), name="replica-config"),
            asyncio.create_task(self._output_forever(), name="replica-output"),
            asyncio.create_task(self._housekeeping(), name="replica-housekeeping"),
        ]
        await self._lead()
        log.info("control-plane replica %s started (log version %d)", self.id, self.applied)

    async def stop(self) -> None:
        """Append what is still in the outbox, let go of every host, stop; safe to call twice."""
        tasks, self._tasks = self._tasks, []
        await cancel_and_wait(*tasks, *self._background)
        if tasks:
            with contextlib.suppress(Exception):
                while self._outbox:
                    await self._append_some()
            with contextlib.suppress(Exception):
                await self.store.retire(self.id)
        if self._listener is not None:
            listener, self._listener = self._listener, None
            await listener.close()

    # --- listening -----------------------------------------------------------------------------

    async def _listen(self) -> None:
        self._listener_lost.clear()
        self._listener = await self.store.listen(self._notice, self._listener_lost.set)
        # Anything missed while not listening: look at everything once.
        self._owners = await self.store.owners()
        for host, owner in self._owners.items():
            self._owner_changed(host, owner)
        self._log_ready.set()
        self._mail_for |= set(self.claims)
        self._mail_ready.set()
        self._config_ready.set()

    def _notice(self, channel: str, payload: str) -> None:
        if channel == LOG_CHANNEL:
            self._log_ready.set()
        elif channel == OWNER_CHANNEL:
            host, owner = parse_owner_payload(payload)
            self._owners[host] = owner
            self._owner_changed(host, owner)
        elif channel == MAIL_CHANNEL:
            if payload in self.claims:
                self._mail_for.add(payload)
                self._mail_ready.set()
        elif channel == OUTPUT_CHANNEL:
            replica, _, stored = payload.partition(" ")
            if replica != self.id:
                for command_id in stored.split(","):
                    self.followers.stored_elsewhere(command_id)
        elif channel == CONFIG_CHANNEL:
            self._config_ready.set()
        elif channel == REVOKED_CHANNEL:
            kind, *names = payload.split(" ")
            if kind == "agent" and len(names) == 2:
                self.fleet.token_revoked(names[0], names[1])
            elif kind == "api" and len(names) == 1 and self.on_api_token_revoked is not None:
                self.on_api_token_revoked(names[0])

    def _owner_changed(self, host: str, owner: Owner) -> None:
        """A host was claimed or released (by any replica, this one included)."""
        state = self.fleet.hosts.get(host)
        mine = self.claims.get(host)
        if owner.replica == self.id or state is None:
            return
        if mine is not None and owner.epoch > mine.epoch:
            # Its agent connected to another replica since (newest wins): this stream ends.
            del self.claims[host]
            state.held_by = owner.replica
            state.held_online = True  # claimed by a hello: connected there
            if state.stream is not None:
                state.stream.close(
                    Aborted(f"host {host} connected to another control-plane replica; this stream is closed")
                )
            return
        if mine is None:
            state.held_by = owner.replica
            state.held_online = bool(owner.replica)

    # --- publishing: the outbox and the log ------------------------------------------------------

    def _publish(self, event: fleet_pb.WatchFleetResponse) -> None:
        """The hub's sink: queue the event for the log."""
        host = event.host.name if event.HasField("host") else ""
        owner = self._owners.get(host) if host else None
        self._outbox.append(Published(event.SerializeToString(), host, owner.epoch if owner else 0))
        if len(self._outbox) > OUTBOX_LIMIT:
            del self._outbox[: len(self._outbox) - OUTBOX_LIMIT]
            self._republish = True
        self._outbox_ready.set()

    async def _append_some(self) -> None:
        batch = self._outbox[:APPEND_BATCH]
        await self.store.append(self.id, batch)
        del self._outbox[: len(batch)]

    async def _append_forever(self) -> None:
        while True:
            await self._outbox_ready.wait()
            self._outbox_ready.clear()
            while self._outbox:
                try:
                    await self._append_some()
                except Exception as error:
                    if not self.fleet.storage_trouble(error):
                        log.exception("appending to the fleet log failed; retrying")
                    await asyncio.sleep(RETRY_SECONDS * (1 + random.random()))
            if self._republish:
                self._republish = False
                log.warning("fleet events were dropped while the database was away; republishing hosts")
                for state in self.fleet.hosts.values():
                    if not state.held_by:
                        state.published = b""
                        self.fleet.changed(state, durable=True)

    async def _follow_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_SECONDS):
                    await self._log_ready.wait()
            self._log_ready.clear()
            try:
                while entries := await self.store.read_log(self.applied):
                    self._apply(entries)
            except Exception as error:
                if not self.fleet.storage_trouble(error):
                    log.exception("reading the fleet log failed; retrying")
                await asyncio.sleep(RETRY_SECONDS)
                self._log_ready.set()

    def _apply(self, entries: list[LogEntry]) -> None:
        """Deliver log entries in their order, adopting what other replicas published."""
        if entries[0].version > self.applied + 1:
            log.warning(
                "fleet log entries %d-%d are gone; watchers start over",
                self.applied + 1,
                entries[0].version - 1,
            )
            self.fleet.hub.skip_to(entries[0].version - 1)
        for entry in entries:
            self.applied = entry.version
            if entry.host:
                if entry.epoch < self._epochs.get(entry.host, 0):
                    continue  # published by a replica that had not heard its host moved on
                self._epochs[entry.host] = entry.epoch
            event = fleet_pb.WatchFleetResponse.FromString(entry.event)
            if entry.replica != self.id:
                self._adopt(event, entry.replica)
            self.fleet.hub.deliver(event, entry.version)

    def _adopt(self, event: fleet_pb.WatchFleetResponse, replica: str) -> None:
        kind = event.WhichOneof("event")
        if kind == "host":
            self.fleet.held_elsewhere(event.host, replica)
            state = self.fleet.hosts[event.host.name]
            owner = self._owners.get(event.host.name)
            if owner is not None and owner.replica != self.id:
                state.held_by = owner.replica
        elif kind == "command":
            command = event.command
            if command.state in FINISHED_STATES:
                self.followers.finish(command)
        elif kind == "rollout" and self.on_rollout is not None:
            self.on_rollout(event)

    # --- mail, configuration and output wake-ups -------------------------------------------------------

    async def _mail_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_SECONDS):  # also without a notification, now and then
                    await self._mail_ready.wait()
            if not self._mail_ready.is_set():
                self._mail_for |= set(self.claims)
            self._mail_ready.clear()
            hosts, self._mail_for = sorted(self._mail_for), set()
            try:
                for mail in await self.store.take_mail(hosts):
                    self._deliver_mail(mail.host, mail.kind, mail.body)
            except Exception as error:
                if not self.fleet.storage_trouble(error):
                    log.exception("reading mail for agents failed; retrying")
                self._mail_for |= set(hosts)
                await asyncio.sleep(RETRY_SECONDS)
                self._mail_ready.set()

    def _deliver_mail(self, host: str, kind: str, body: bytes) -> None:
        state = self.fleet.hosts.get(host)
        if state is None or host not in self.claims:
            log.info("mail for %s (%s) arrived after its agent left this replica; dropped", host, kind)
            return
        if kind == MAIL_AGENT:
            self.fleet.mailed_command(state, agent_pb.ConnectResponse.FromString(body))
        elif kind == MAIL_OVERRIDE:
            self.fleet.override_stored(state, pb.TestSettingsOverride.FromString(body))
        elif kind == MAIL_LABELS:
            self.fleet.label_overrides_stored(state, dict(json.loads(body)))
        else:
            log.warning("mail of an unknown kind %r for %s; dropped", kind, host)

    async def _config_forever(self) -> None:
        while True:
            await self._config_ready.wait()
            self._config_ready.clear()
            try:
                await self.fleet.reload_config()
            except Exception as error:
                if not self.fleet.storage_trouble(error):
                    log.exception("reloading the fleet's settings failed; retrying")
                await asyncio.sleep(RETRY_SECONDS)
                self._config_ready.set()

    def _output_stored(self, command_id: str) -> None:
        self._output.add(command_id)
        self._output_ready.set()

    async def _output_forever(self) -> None:
        while True:
            await self._output_ready.wait()
            self._output_ready.clear()
            ids, self._output = sorted(self._output), set()
            try:
                await self.store.output_stored(self.id, ids)
            except Exception as error:  # a follower elsewhere catches up when the command ends
                if not self.fleet.storage_trouble(error):
                    log.exception("announcing stored output failed")

    # --- housekeeping: alive, listening, leading ------------------------------------------------------

    async def _housekeeping(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(BEAT_SECONDS):
                    await self._listener_lost.wait()
            try:
                await self._keep_listening()
                await self.store.beat(self.id)
                await self._lead()
                if time.monotonic() >= self._seen_due:
                    self._seen_due = time.monotonic() + SEEN_SECONDS
                    await self.read_seen_elsewhere()
            except Exception as error:
                if not self.fleet.storage_trouble(error):
                    log.exception("replica housekeeping failed; retrying")
                await asyncio.sleep(RETRY_SECONDS * (1 + random.random()))  # not a busy loop meanwhile

    async def read_seen_elsewhere(self) -> None:
        """Last-seen times and metrics of hosts held elsewhere (they change with every heartbeat,
        so they are no events: their holder writes them behind, and this replica reads them)."""
        for name, seen, metrics in await self.store.seen_elsewhere(self.id):
            state = self.fleet.hosts.get(name)
            if state is None or not state.held_by:
                continue
            if seen is not None:
                state.seen_at = seen
            if metrics is not None:
                state.host.metrics.ParseFromString(metrics)

    async def _keep_listening(self) -> None:
        if self._listener is not None and not self._listener.alive:
            self._listener_lost.set()  # ended without saying so (the server went away while idle)
        if not self._listener_lost.is_set():
            return
        was_leading = self.leading
        if self._listener is not None:
            listener, self._listener = self._listener, None
            await listener.close()
        if was_leading:
            log.warning("lost the connection that made replica %s the leader", self.id)
        await self._listen()
        log.info("replica %s listens to the database again", self.id)

    async def _lead(self) -> None:
        listener = self._listener
        if listener is None:
            return
        was_leading = listener.leading
        if not await listener.try_lead():
            return
        if not was_leading:
            log.info("replica %s leads: it runs rollouts, the queue, webhooks and replica checks", self.id)
            for wake in self.on_leading:
                wake()
        for gone in await self.store.silent_replicas(SILENT_SECONDS):
            if gone == self.id:
                continue
            hosts = await self.store.retire(gone)
            log.warning(
                "replica %s has been silent for %.0f s; released its %d hosts",
                gone,
                SILENT_SECONDS,
                len(hosts),
            )
            for host in hosts:
                state = self.fleet.hosts.get(host)
                if state is not None and state.held_by == gone:
                    state.held_by = ""
                    state.held_online = False
                    state.gone_at = time.monotonic()
                    self.fleet.changed(state, durable=True)  # offline, as everyone will now see
        await self.store.prune_log(LOG_KEEP)
