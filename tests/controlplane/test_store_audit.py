"""The store's audit log on both engines: appended in order, listed newest first, filtered by host,
actor and time, paged."""

from __future__ import annotations

from stores import EngineStore

from controlplane.store import AuditQuery
from controlplane.timeutil import to_ts
from fleetdeck.v1 import audit_pb2 as audit_pb


def _event(actor: str, action: str, at: float, *hosts: str) -> audit_pb.AuditEvent:
    return audit_pb.AuditEvent(
        actor=actor, action=action, time=to_ts(at), hosts=hosts, detail=f"{action} by {actor}"
    )


async def _fill(store: EngineStore) -> list[audit_pb.AuditEvent]:
    return [
        await store.append_audit_event(_event("token ci", "SetDesiredState", 1000.0)),
        await store.append_audit_event(_event("token ci", "RunOperation", 1010.0, "gpc0", "web1")),
        await store.append_audit_event(_event("user alice", "CancelCommand", 1020.0, "gpc0")),
        await store.append_audit_event(_event("user alice", "LoginFailed", 1030.0)),
    ]


async def test_events_get_increasing_sequences_and_list_newest_first(store: EngineStore) -> None:
    stored = await _fill(store)
    assert [e.sequence for e in stored] == [1, 2, 3, 4]
    page = await store.list_audit_events(AuditQuery(), 10, None)
    assert page.items == list(reversed(stored)) and page.next_cursor is None
    assert page.items[2].hosts == ["gpc0", "web1"] and page.items[2].time == to_ts(1010.0)


async def test_events_are_filtered_by_host_actor_and_time(store: EngineStore) -> None:
    await _fill(store)

    async def actions(query: AuditQuery) -> list[str]:
        return [e.action for e in (await store.list_audit_events(query, 10, None)).items]

    assert await actions(AuditQuery(host="gpc0")) == ["CancelCommand", "RunOperation"]
    assert await actions(AuditQuery(host="web1")) == ["RunOperation"]
    assert await actions(AuditQuery(actor="token ci")) == ["RunOperation", "SetDesiredState"]
    assert await actions(AuditQuery(since=1010.0, until=1030.0)) == ["CancelCommand", "RunOperation"]
    assert await actions(AuditQuery(host="gpc0", actor="user alice", since=1000.0)) == ["CancelCommand"]
    assert await actions(AuditQuery(host="nosuch")) == []


async def test_events_page_on(store: EngineStore) -> None:
    await _fill(store)
    first = await store.list_audit_events(AuditQuery(), 3, None)
    assert [e.sequence for e in first.items] == [4, 3, 2] and first.next_cursor == 2
    rest = await store.list_audit_events(AuditQuery(), 3, first.next_cursor)
    assert [e.sequence for e in rest.items] == [1] and rest.next_cursor is None
