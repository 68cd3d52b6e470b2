"""The replication tables of PostgreSQL: claims with epochs, the fleet log's one order, mail, and the
notifications that wake replicas. Two stores on one database stand for two replicas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from controlplane.store import PostgresStore
from controlplane.store.replication import (
    LOG_CHANNEL,
    OWNER_CHANNEL,
    Owner,
    Published,
    ReplicationStore,
    parse_owner_payload,
    payloads,
)
from tests.support.postgres import Cluster
from tests.support.stores import opened_store


@pytest.fixture
async def two(postgres_cluster: Cluster) -> AsyncIterator[tuple[ReplicationStore, ReplicationStore]]:
    database = postgres_cluster.new_database()
    async with opened_store(database) as first, opened_store(database) as second:
        assert isinstance(first, PostgresStore) and isinstance(second, PostgresStore)
        assert first.replication is not None and second.replication is not None
        yield first.replication, second.replication


async def test_every_claim_has_a_higher_epoch_and_only_the_current_claim_releases(two) -> None:
    a, b = two
    first, _ = await a.claim("web1", "replica-a")
    await a.post("web1", "agent", b"for the stream on replica-a")
    second, dropped = await b.claim("web1", "replica-b")  # the agent connected to the other replica
    assert (first, second, dropped) == (Owner("replica-a", 1), Owner("replica-b", 2), 1)
    assert await b.take_mail(["web1"]) == []  # that stream's mail went with it
    assert not await a.release("web1", first)  # the older claim lets go of nothing
    assert await a.held_elsewhere("replica-a", ["web1", "db1"]) == {"web1"}
    assert await b.release("web1", second)
    assert (await a.owners())["web1"] == Owner("", 2)  # released: no holder, the epoch stays
    assert await a.held_elsewhere("replica-a", ["web1"]) == set()
    assert (await b.claim("web1", "replica-a"))[0].epoch == 3


async def test_a_silent_replica_is_retired_once_and_its_hosts_released(two) -> None:
    a, b = two
    await a.register("replica-a")
    await a.claim("web1", "replica-a")
    await a.claim("db1", "replica-a")
    await b.claim("cache1", "replica-b")
    assert await b.silent_replicas(0.0) == ["replica-a"]
    assert await b.silent_replicas(60.0) == []
    assert await b.retire("replica-a") == ["db1", "web1"]
    assert await a.retire("replica-a") == []  # the second replica to notice gets nothing
    assert {h: o.replica for h, o in (await a.owners()).items()} == {
        "web1": "",
        "db1": "",
        "cache1": "replica-b",
    }


async def test_the_log_numbers_every_replicas_events_in_one_order_without_gaps(two) -> None:
    a, b = two
    start = await a.log_version()

    async def append(store: ReplicationStore, replica: str) -> None:
        for i in range(20):
            await store.append(replica, [Published(f"{replica}-{i}-{j}".encode()) for j in range(3)])

    await asyncio.gather(append(a, "replica-a"), append(b, "replica-b"))
    entries = await a.read_log(start)
    assert [e.version for e in entries] == list(range(start + 1, start + 121))
    for replica in ("replica-a", "replica-b"):  # each replica's events keep their own order
        mine = [e.event.decode() for e in entries if e.replica == replica]
        assert mine == [f"{replica}-{i}-{j}" for i in range(20) for j in range(3)]
    assert await b.read_log(start + 100, limit=5) == entries[100:105]
    assert await a.prune_log(keep=10) == 110  # older watchers get a snapshot instead
    assert [e.version for e in await a.read_log(0)] == list(range(start + 111, start + 121))


async def test_each_hosts_newest_event_is_found(two) -> None:
    a, _ = two
    await a.append("r", [Published(b"1", "web1", 1), Published(b"2", "db1", 1), Published(b"3", "web1", 2)])
    await a.append("r", [Published(b"fleet-wide")])
    assert [(e.host, e.event) for e in await a.latest_host_events()] == [("db1", b"2"), ("web1", b"3")]


async def test_mail_is_taken_once_in_order(two) -> None:
    a, b = two
    await a.post("web1", "agent", b"first")
    await a.post("db1", "agent", b"other")
    await a.post("web1", "labels", b"second")
    taken = await b.take_mail(["web1"])
    assert [(m.kind, m.body) for m in taken] == [("agent", b"first"), ("labels", b"second")]
    assert await a.take_mail(["web1"]) == []
    assert [m.body for m in await a.take_mail(["db1", "web1"])] == [b"other"]


async def test_changes_wake_the_listeners_after_they_are_committed(two) -> None:
    a, b = two
    heard: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    lost = asyncio.Event()
    listener = await b.listen(lambda channel, payload: heard.put_nowait((channel, payload)), lost.set)
    try:
        owner, _ = await a.claim("web1", "replica-a")
        version = await a.append("replica-a", [Published(b"x", "web1", owner.epoch)])
        async with asyncio.timeout(5):
            channel, payload = await heard.get()
            assert channel == OWNER_CHANNEL and parse_owner_payload(payload) == ("web1", owner)
            assert await heard.get() == (LOG_CHANNEL, str(version))
        assert await listener.try_lead()
    finally:
        await listener.close()


def test_payloads_fit_a_notification() -> None:
    ids = [f"{i:032x}" for i in range(1_000)]
    parts = payloads(ids, room=20)
    assert all(len(p) <= 7_900 - 20 for p in parts)
    assert ",".join(parts).split(",") == ids
