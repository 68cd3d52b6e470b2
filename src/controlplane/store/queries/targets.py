"""Host labels, desired states per selector and rollouts."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from fleetdeck.v1 import rollouts_pb2 as rollouts_pb
from fleetdeck.v1 import types_pb2 as pb

from ...timeutil import from_ts, to_ts
from ..codec import blob, parse
from ..records import HostLabels
from ..rows import COMMAND_COLUMNS
from ..rows import command as command_from_row
from ..targets import ACTIVE_ROLLOUT_STATES
from .connection import Sql


class TargetQueries:
    """The target aggregate of both engines' stores (methods documented on `TargetStore`)."""

    _sql: Sql

    if TYPE_CHECKING:  # given by CommandQueries in the store's bases; a stub here would shadow it

        async def insert_command(self, command: pb.Command) -> None: ...

    async def load_host_labels(self) -> dict[str, HostLabels]:
        rows = await self._sql.all("SELECT host, declared, overrides FROM host_labels")
        return {r[0]: HostLabels(json.loads(r[1]), json.loads(r[2])) for r in rows}

    async def save_host_labels(self, host: str, labels: HostLabels) -> None:
        await self.save_hosts_labels({host: labels})

    async def save_hosts_labels(self, labels: dict[str, HostLabels]) -> None:
        if not labels:
            return
        async with self._sql.transaction() as db:
            await db.executemany(
                "INSERT INTO host_labels(host, declared, overrides) VALUES (?, ?, ?) ON CONFLICT(host) "
                "DO UPDATE SET declared = excluded.declared, overrides = excluded.overrides",
                [
                    (host, json.dumps(h.declared, sort_keys=True), json.dumps(h.overrides, sort_keys=True))
                    for host, h in labels.items()
                ],
            )

    async def load_selector_desired(self) -> list[pb.DesiredState]:
        rows = await self._sql.all(
            "SELECT selector, commit_sha, lock_hash, agent_version, updated_at FROM selector_desired_states "
            "ORDER BY selector"
        )
        return [
            pb.DesiredState(
                selector=r[0], commit=r[1], lock_hash=r[2], agent_version=r[3], updated_at=to_ts(r[4])
            )
            for r in rows
        ]

    async def save_selector_desired(self, desired: pb.DesiredState) -> None:
        async with self._sql.transaction() as db:
            await db.execute(
                "INSERT INTO selector_desired_states VALUES (?, ?, ?, ?, ?) ON CONFLICT(selector) DO UPDATE "
                "SET commit_sha=excluded.commit_sha, lock_hash=excluded.lock_hash, "
                "agent_version=excluded.agent_version, updated_at=excluded.updated_at",
                desired.selector,
                desired.commit,
                desired.lock_hash,
                desired.agent_version,
                from_ts(desired.updated_at),
            )

    async def save_rollout(self, rollout: rollouts_pb.Rollout, expected_state: int | None = None) -> bool:
        async with self._sql.transaction() as db:
            if expected_state is not None:  # compare and set: one statement, one row
                return (
                    await db.execute(
                        "UPDATE rollouts SET state = ?, rollout = ? WHERE id = ? AND state = ?",
                        rollout.state,
                        blob(rollout),
                        rollout.id,
                        expected_state,
                    )
                    == 1
                )
            await db.execute(
                "INSERT INTO rollouts(id, created_at, state, rollout) VALUES (?, ?, ?, ?) ON CONFLICT(id) "
                "DO UPDATE SET state = excluded.state, rollout = excluded.rollout",
                rollout.id,
                from_ts(rollout.created_at),
                rollout.state,
                blob(rollout),
            )
            return True

    async def get_rollout(self, rollout_id: str) -> rollouts_pb.Rollout | None:
        r = await self._sql.one("SELECT rollout FROM rollouts WHERE id = ?", (rollout_id,))
        return None if r is None else parse(rollouts_pb.Rollout, r[0])

    async def list_rollouts(self, limit: int, active_only: bool = False) -> list[rollouts_pb.Rollout]:
        where, args = "", list[Any]()
        if active_only:
            among, args = self._sql.dialect.among(sorted(ACTIVE_ROLLOUT_STATES), "bigint")
            where = f"WHERE state {among} "
        rows = await self._sql.all(
            f"SELECT rollout FROM rollouts {where}ORDER BY created_at DESC, id DESC LIMIT ?", [*args, limit]
        )
        return [parse(rollouts_pb.Rollout, r[0]) for r in rows]

    async def queue_command(self, command: pb.Command) -> None:
        # The expiry first: a crash in between leaves a row that joins no command, never a queued
        # command without an expiry.
        async with self._sql.transaction() as db:
            await db.execute(
                "INSERT INTO command_queue(command_id, expires_at) VALUES (?, ?)",
                command.id,
                from_ts(command.queue_expires_at),
            )
        await self.insert_command(command)

    async def queued_commands(self) -> list[pb.Command]:
        rows = await self._sql.all(
            f"SELECT {COMMAND_COLUMNS}, q.expires_at FROM commands "
            "JOIN command_queue q ON q.command_id = commands.id WHERE commands.state = ? ORDER BY commands.ord",
            (pb.COMMAND_STATE_QUEUED,),
        )
        found = []
        for r in rows:
            command = command_from_row(r)
            command.queue_expires_at.CopyFrom(to_ts(r[-1]))
            found.append(command)
        return found
