"""A welcome storm: the first hellos of many fresh host tokens are written behind, in O(1) transactions,
and the rotation overlap they start is still measured from each first use."""

from __future__ import annotations

import asyncio
import time

from fleetdeck.v1 import fleet_service_pb2 as fleet_pb

STORM = 40


async def _writes_of_hellos(cp, connect, fleet, hosts: list[str], writes: list[float]) -> tuple[int, int]:
    """Write transactions (counted at the store) of `hosts` saying hello at once with fresh tokens:
    (during the hellos, in the flush after them)."""
    created = [await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host=h)) for h in hosts]
    agents = [await connect(h, token=c.token) for h, c in zip(hosts, created, strict=True)]
    before = len(writes)
    async with asyncio.timeout(60):
        welcomes = await asyncio.gather(*(a.hello() for a in agents))
    assert [w.host for w in welcomes] == hosts
    during = len(writes) - before
    await cp.fleet.flush()  # the once-a-second write-behind, driven by the test
    return during, len(writes) - before - during


async def test_concurrent_first_hellos_cost_as_many_transactions_as_one(cp, connect, fleet) -> None:
    await cp.fleet.stop()  # no housekeeping of its own: the flushes below are the only ones
    writes: list[float] = []
    cp.store.observe_writes(writes.append)
    one = await _writes_of_hellos(cp, connect, fleet, ["solo"], writes)
    storm = await _writes_of_hellos(cp, connect, fleet, [f"storm-{i}" for i in range(STORM)], writes)
    assert storm == one
    assert storm[0] == 0  # a hello of a fresh host token writes nothing itself
    tokens = (await fleet.ListAgentTokens(fleet_pb.ListAgentTokensRequest())).tokens
    assert len(tokens) == STORM + 1 and all(t.HasField("last_used_at") for t in tokens)


async def test_first_use_written_behind_starts_the_overlap_at_the_first_use(cp, connect, fleet) -> None:
    await cp.fleet.stop()
    old = await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0"))
    new = await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0"))
    agent = await connect("gpc0", token=new.token)
    sent = time.time()
    await agent.hello()
    welcomed = time.time()
    again = await connect("gpc0", token=new.token)
    await again.hello()  # a second hello before the flush is no first use
    later = await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0"))
    await cp.fleet.flush()
    tokens = {t.token_id: t for t in (await fleet.ListAgentTokens(fleet_pb.ListAgentTokensRequest())).tokens}
    first_use = tokens[old.token_id].expires_at.ToNanoseconds() / 1e9 - cp.tokens.rotation_overlap_seconds
    assert sent <= first_use + 0.001 and first_use <= welcomed + 0.001  # not the later flush's time
    # Created after the first use: not rotated out by it.
    assert not tokens[new.token_id].HasField("expires_at")
    assert not tokens[later.token_id].HasField("expires_at")


async def test_first_uses_stay_queued_when_the_write_fails(cp, connect, fleet) -> None:
    await cp.fleet.stop()
    old = await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0"))
    new = await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="gpc0"))
    await (await connect("gpc0", token=new.token)).hello()
    touch_tokens = cp.store.touch_tokens

    async def failing(*args: object) -> None:
        raise OSError("disk full")

    cp.store.touch_tokens = failing  # type: ignore[method-assign]
    try:
        try:
            await cp.tokens.flush_last_used()
        except OSError:
            pass
        else:
            raise AssertionError("the failing write was not attempted")
    finally:
        cp.store.touch_tokens = touch_tokens  # type: ignore[method-assign]
    await cp.tokens.flush_last_used()
    tokens = {t.token_id: t for t in (await fleet.ListAgentTokens(fleet_pb.ListAgentTokensRequest())).tokens}
    assert tokens[old.token_id].HasField("expires_at")
    assert tokens[new.token_id].HasField("last_used_at")
