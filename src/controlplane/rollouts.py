"""Rollouts: durable pipelines that move hosts batch by batch, driven by fleet events.

The decisions are `rollout_plan.advance`; this module gathers the facts it needs, stores the rollout
before acting on it (so a restart resumes where it was and never starts a finished step again), and
starts the step commands through `Commands.start`, the same path as a manual operation. It wakes on
every fleet event (command changed, host connected) and when a pause or a deadline ends.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid

from fleetdeck.tasks import cancel_and_wait
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import rollouts_pb2 as rpb
from fleetdeck.v1 import types_pb2 as pb

from . import rollout_plan as plan
from .commands import FINISHED_STATES, Commands, new_command_id
from .errors import Aborted, FailedPrecondition, InvalidArgument, NotFound
from .fleet import Fleet, parse_selector
from .timeutil import now_ts

log = logging.getLogger(__name__)

_SHA1 = re.compile(r"^[0-9a-f]{40}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_LOADED = 1000  # rollouts read at start-up to find the unfinished ones
_MAX_ROUNDS = 20  # decisions per wake-up for one rollout (each round settles at least one host)


def _state_name(state: int) -> str:
    return rpb.RolloutState.Name(state).removeprefix("ROLLOUT_STATE_").lower().replace("_", " ")


class Rollouts:
    """The unfinished rollouts in memory, their runner, and the operations the API offers on them."""

    def __init__(self, fleet: Fleet, commands: Commands) -> None:
        self.fleet = fleet
        self.store = fleet.store
        self.commands = commands
        self.live: dict[str, rpb.Rollout] = {}
        self._lock = asyncio.Lock()  # one decision at a time: the runner and the API take turns
        self._wake = asyncio.Event()
        self._online_since: dict[str, float] = {}
        self._tasks: list[asyncio.Task[None]] = []

    # --- lifecycle -----------------------------------------------------------------------------

    async def load(self) -> None:
        """Find the unfinished rollouts (after a restart: where they were)."""
        for rollout in await self.store.list_rollouts(_LOADED):
            if not rollout.HasField("finished_at"):
                self.live[rollout.id] = rollout
        self._pin()

    async def start(self) -> None:
        """Start following fleet events and advancing rollouts; safe to call twice."""
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._listen(), name="rollouts-listen"),
                asyncio.create_task(self._run(), name="rollouts-run"),
            ]

    async def stop(self) -> None:
        """Stop advancing; safe to call twice (the rollouts stay stored as they are)."""
        tasks, self._tasks = self._tasks, []
        await cancel_and_wait(*tasks)

    async def _listen(self) -> None:
        async for event in self.fleet.hub.watch(self.fleet.hub.version, self.fleet.presence):
            kind = event.WhichOneof("event")
            hosts = (
                list(event.snapshot.hosts) if kind == "snapshot" else [event.host] if kind == "host" else []
            )
            for host in hosts:
                if host.online:
                    self._online_since.setdefault(host.name, time.time())
                else:
                    self._online_since.pop(host.name, None)
            members = self.fleet.rollout_members  # only events of hosts in a rollout wake it
            concerned = (
                (kind == "snapshot" and bool(self.live))
                or (kind == "host" and event.host.name in members)
                or (kind == "command" and event.command.host in members)
            )
            if concerned:
                self._wake.set()

    async def _run(self) -> None:
        while True:
            now = time.time()
            wakes = [w for r in self.live.values() if (w := plan.next_wake(r, now)) is not None]
            timeout = max(min(wakes) - now, 0.01) if wakes else None
            try:
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            if not self.fleet.placement.leading:
                continue  # another replica advances the rollouts; this one follows them in the log
            try:
                await self.advance_all()
            except Exception:
                log.exception("advancing rollouts failed; trying again at the next event")

    # --- advancing -----------------------------------------------------------------------------

    async def advance_all(self) -> None:
        """Take every unfinished rollout as far as the facts allow."""
        for rollout_id in list(self.live):
            async with self._lock:
                await self._advance(rollout_id)

    async def _seen(self, rollout: rpb.Rollout) -> dict[str, plan.Seen]:
        seen = {}
        current = (
            rollout.batches[rollout.current_batch].hosts
            if rollout.current_batch < len(rollout.batches)
            else []
        )
        for host in plan.all_hosts(rollout):
            relevant = (
                host.state == rpb.ROLLOUT_HOST_STATE_RUNNING
                or host in current
                or host.state == rpb.ROLLOUT_HOST_STATE_FAILED
            )
            state = self.fleet.hosts.get(host.host)
            if not relevant or state is None:
                continue
            running_id = state.host.running_command_id
            running = await self.store.get_command(running_id) if running_id else None
            step = None
            run = None
            if host.state == rpb.ROLLOUT_HOST_STATE_RUNNING and host.command_id:
                step = await self.store.get_command(host.command_id)
                if step is not None and step.operation == pb.OPERATION_TEST and step.state in FINISHED_STATES:
                    run = await self.store.get_test_run(step.id, with_output=False)
            seen[host.host] = plan.Seen(
                online=state.online,
                online_since=self._online_since.get(host.host, time.time()),
                running_id=running_id,
                running=running,
                step=step,
                run=run,
            )
        return seen

    async def _advance(self, rollout_id: str) -> None:
        for _ in range(_MAX_ROUNDS):
            rollout = self.live.get(rollout_id)
            if rollout is None:
                return
            updated = rpb.Rollout()
            updated.CopyFrom(rollout)
            starts = plan.advance(updated, await self._seen(rollout), time.time(), new_command_id)
            if updated == rollout and not starts:
                return
            if updated != rollout:
                if updated.state == rpb.ROLLOUT_STATE_SUCCEEDED:
                    await self._adopt_target(updated)  # before it is stored as done (a crash repeats it)
                # Durable before any of its commands starts, and only over the state it was decided on.
                if not await self._save(updated, expected_state=rollout.state):
                    return  # paused, resumed or aborted elsewhere meanwhile: the next wake decides
            for start in starts:
                await self._start(updated, start)

    async def _start(self, rollout: rpb.Rollout, start: plan.Start) -> None:
        state = self.fleet.state(start.host)
        try:
            await self.commands.start(state, start.operation, command_id=start.command_id)
        except FailedPrecondition as refusal:
            if state.online and state.host.running_command_id:
                log.info("rollout %s waits for %s: %s", rollout.id, start.host, refusal)
                return  # busy: the step starts (with the same id) once the host is idle
            # Refused before it was stored: the host failed this step (the next round decides on).
            for host in plan.all_hosts(rollout):
                if host.host == start.host and host.command_id == start.command_id:
                    host.state = rpb.ROLLOUT_HOST_STATE_FAILED
                    host.message = f"{rpb.RolloutStep.Name(host.step).removeprefix('ROLLOUT_STEP_').lower()} refused: {refusal}"
            await self._save(rollout, expected_state=rollout.state)

    async def _adopt_target(self, rollout: rpb.Rollout) -> None:
        """A rollout that succeeded makes its target the desired state of its selector."""
        spec = rollout.spec
        desired = pb.DesiredState(
            commit=spec.commit, lock_hash=spec.lock_hash, selector=spec.selector, updated_at=now_ts()
        )
        if spec.selector:
            await self.store.save_selector_desired(desired)
        else:
            if self.fleet.desired is not None:
                desired.agent_version = self.fleet.desired.agent_version
            await self.store.save_desired(desired)
        await self.fleet.set_desired(desired)

    async def _save(self, rollout: rpb.Rollout, expected_state: int | None = None) -> bool:
        """Store the rollout (if still in `expected_state`), remember and publish it; False when
        another replica changed its state meanwhile: the stored one is taken up instead."""
        rollout.updated_at.CopyFrom(now_ts())
        if not await self.store.save_rollout(rollout, expected_state):
            stored = await self.store.get_rollout(rollout.id)
            log.info("rollout %s was changed elsewhere meanwhile; going on from the stored one", rollout.id)
            if stored is not None:
                self.adopt(stored)
            return False
        if rollout.HasField("finished_at"):
            self.live.pop(rollout.id, None)
            log.info("rollout %s ended: %s — %s", rollout.id, _state_name(rollout.state), rollout.message)
        else:
            self.live[rollout.id] = rollout
        self._pin()
        self.fleet.hub.publish(fleet_pb.WatchFleetResponse(rollout=rollout))
        return True

    def adopt(self, rollout: rpb.Rollout) -> None:
        """A rollout as another replica stored it (the leader's runner takes it from there)."""
        if rollout.HasField("finished_at"):
            self.live.pop(rollout.id, None)
        else:
            self.live[rollout.id] = rollout
        self._pin()
        self._wake.set()

    def wake(self) -> None:
        """Look at every rollout again (this replica just became the one that advances them)."""
        self._wake.set()

    def _pin(self) -> None:
        """Tell the fleet which hosts belong to a rollout, and the target of those it moves."""
        members: dict[str, str] = {}
        targets: dict[str, pb.DesiredState] = {}
        for rollout in self.live.values():
            target = pb.DesiredState(
                commit=rollout.spec.commit,
                lock_hash=rollout.spec.lock_hash,
                selector=rollout.spec.selector,
                rollout_id=rollout.id,
                updated_at=rollout.created_at,
            )
            for host in plan.all_hosts(rollout):
                members[host.host] = rollout.id
                if plan.touched(host):
                    targets[host.host] = target
        changed = set(members) ^ set(self.fleet.rollout_members) | set(targets) ^ set(
            self.fleet.rollout_targets
        )
        self.fleet.rollout_members = members
        self.fleet.rollout_targets = targets
        for name in changed:
            state = self.fleet.hosts.get(name)
            if state is not None:
                self.fleet.changed(state, durable=True)

    # --- the API -------------------------------------------------------------------------------

    async def create(self, spec: rpb.RolloutSpec) -> rpb.Rollout:
        """Check the spec, order its hosts in batches, store it and start it."""
        if not _SHA1.match(spec.commit):
            raise InvalidArgument("commit must be a full 40-digit lower-case hex git commit id")
        if not _SHA256.match(spec.lock_hash):
            raise InvalidArgument("lock_hash must be the 64-digit lower-case hex SHA-256 of flake.lock")
        if spec.batch_percent > 100:
            raise InvalidArgument("batch_percent must be between 1 and 100")
        for name in ("batch_pause", "offline_deadline"):
            if getattr(spec, name).ToNanoseconds() < 0:
                raise InvalidArgument(f"{name} must not be negative")
        spec.selector = str(parse_selector(spec.selector))
        selected = {s.host.name: dict(s.host.labels) for s in self.fleet.select(spec.selector)}
        if not selected:
            raise FailedPrecondition(f"selector {spec.selector!r} matches no host; nothing to roll out")
        async with self._lock:
            busy = sorted(set(selected) & set(self.fleet.rollout_members))
            if busy:
                other = self.fleet.rollout_members[busy[0]]
                raise FailedPrecondition(
                    f"host {busy[0]} is in rollout {other}, which has not finished; abort it or wait"
                )
            rollout = rpb.Rollout(
                id=uuid.uuid4().hex[:12],
                spec=spec,
                state=rpb.ROLLOUT_STATE_RUNNING,
                batches=plan.batches(selected, spec),
                created_at=now_ts(),
            )
            await self._save(rollout)
            log.info("rollout %s created: %d hosts to %s", rollout.id, len(selected), spec.commit[:12])
            if self.fleet.placement.leading:  # else the leading replica takes it from the log
                await self._advance(rollout.id)
            return self.live.get(rollout.id) or rollout

    async def get(self, rollout_id: str) -> rpb.Rollout:
        """A rollout; NotFound otherwise."""
        live = self.live.get(rollout_id)
        return live if live is not None else await self._stored(rollout_id)

    async def _stored(self, rollout_id: str) -> rpb.Rollout:
        """A rollout as stored (another replica's change included); NotFound otherwise."""
        found = await self.store.get_rollout(rollout_id)
        if found is None:
            raise NotFound(f"no rollout with id {rollout_id}")
        return found

    async def list(self, limit: int) -> list[rpb.Rollout]:
        """Rollouts, newest first."""
        return await self.store.list_rollouts(limit)

    async def _change(
        self, rollout_id: str, allowed: tuple[int, ...], verb: str, state: int, message: str
    ) -> rpb.Rollout:
        async with self._lock:
            # The leader's copy is the current one; another replica reads the stored one.
            rollout = (
                await self.get(rollout_id) if self.fleet.placement.leading else await self._stored(rollout_id)
            )
            if rollout.state not in allowed:
                raise FailedPrecondition(
                    f"rollout {rollout_id} is {_state_name(rollout.state)}; it cannot be {verb}"
                )
            updated = rpb.Rollout()
            updated.CopyFrom(rollout)
            updated.state = state  # type: ignore[assignment]
            updated.message = message
            if state == rpb.ROLLOUT_STATE_RUNNING and rollout.state == rpb.ROLLOUT_STATE_STOPPED:
                updated.accepted_failures = updated.failed_hosts  # "resume anyway"
            if not await self._save(updated, expected_state=rollout.state):
                raise Aborted(f"rollout {rollout_id} changed meanwhile; look at it again and retry")
            log.info("rollout %s %s", rollout_id, verb)
            if self.fleet.placement.leading:
                await self._advance(rollout_id)
            return self.live.get(rollout_id) or await self.get(rollout_id)

    async def pause(self, rollout_id: str) -> rpb.Rollout:
        """No further host starts; running steps finish."""
        return await self._change(
            rollout_id, (rpb.ROLLOUT_STATE_RUNNING,), "paused", rpb.ROLLOUT_STATE_PAUSED, "paused"
        )

    async def resume(self, rollout_id: str) -> rpb.Rollout:
        """Go on after a pause, or after a stop anyway."""
        return await self._change(
            rollout_id,
            (rpb.ROLLOUT_STATE_PAUSED, rpb.ROLLOUT_STATE_STOPPED),
            "resumed",
            rpb.ROLLOUT_STATE_RUNNING,
            "resumed",
        )

    async def approve(self, rollout_id: str) -> rpb.Rollout:
        """Go on after the canary."""
        return await self._change(
            rollout_id,
            (rpb.ROLLOUT_STATE_AWAITING_APPROVAL,),
            "approved",
            rpb.ROLLOUT_STATE_RUNNING,
            "approved after the canary",
        )

    async def abort(self, rollout_id: str, roll_back_failed_hosts: bool) -> rpb.Rollout:
        """No further step starts; running ones are followed to their end; failed hosts rolled back if asked."""
        active = (
            rpb.ROLLOUT_STATE_RUNNING,
            rpb.ROLLOUT_STATE_PAUSED,
            rpb.ROLLOUT_STATE_AWAITING_APPROVAL,
            rpb.ROLLOUT_STATE_STOPPED,
        )
        async with self._lock:
            rollout = await self.get(rollout_id)
            if rollout.state not in active:
                raise FailedPrecondition(
                    f"rollout {rollout_id} is {_state_name(rollout.state)}; nothing to abort"
                )
            rollout.roll_back_failed_hosts = roll_back_failed_hosts
        return await self._change(
            rollout_id,
            active,
            "aborted",
            rpb.ROLLOUT_STATE_ABORTED,
            "aborted" + ("; rolling back the failed hosts" if roll_back_failed_hosts else ""),
        )
