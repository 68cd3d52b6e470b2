"""The store's agent tokens, API tokens, web users, sessions, failed logins and secrets."""

from __future__ import annotations

import time

from stores import EngineStore, opened_store

from controlplane.store import TokenRecord, UserRecord
from fleetdeck.v1 import types_pb2 as pb

FUTURE = time.time() + 3600


async def test_an_agent_token_is_found_by_its_hash_and_marked_used(store: EngineStore) -> None:
    await store.add_token("t1", "gpc0", "a" * 64)
    assert await store.find_token("a" * 64) == TokenRecord(token_id="t1", host="gpc0", revoked=False)
    assert await store.find_token("b" * 64) is None
    await store.touch_tokens({"t1": 1_700_000_000.0})
    found = await store.find_token("a" * 64)
    assert found is not None and found.used
    (listed,) = await store.list_tokens("gpc0")
    assert listed.last_used_at.seconds == 1_700_000_000


async def test_an_enrollment_token_is_used_up_once(store: EngineStore) -> None:
    await store.add_token("e1", "gpc0", "e" * 64, enrollment=True, expires_at=FUTURE)
    found = await store.find_token("e" * 64)
    assert found == TokenRecord(token_id="e1", host="gpc0", revoked=False, expires_at=FUTURE, enrollment=True)
    assert await store.consume_token("e1")
    assert not await store.consume_token("e1")
    found = await store.find_token("e" * 64)
    assert found is not None and found.revoked


async def test_rotation_expires_the_hosts_other_valid_host_tokens(store: EngineStore) -> None:
    await store.add_token("old", "gpc0", "1" * 64)
    await store.add_token("revoked", "gpc0", "2" * 64)
    await store.revoke_token("revoked")
    await store.add_token("enroll", "gpc0", "3" * 64, enrollment=True, expires_at=FUTURE + 60)
    await store.add_token("other-host", "mac1", "4" * 64)
    await store.add_token("new", "gpc0", "5" * 64)
    assert await store.expire_older_tokens("gpc0", "new", FUTURE) == 1
    expiries = {t.token_id: t.expires_at.seconds for t in await store.list_tokens()}
    assert expiries == {
        "old": int(FUTURE),
        "revoked": 0,
        "enroll": int(FUTURE + 60),
        "other-host": 0,
        "new": 0,
    }


async def test_agent_tokens_list_newest_first_and_revoke_once(store: EngineStore) -> None:
    await store.add_token("t1", "gpc0", "1" * 64)
    await store.add_token("t2", "mac1", "2" * 64)
    assert [t.token_id for t in await store.list_tokens()] == ["t2", "t1"]
    assert [t.token_id for t in await store.list_tokens("gpc0")] == ["t1"]
    assert await store.revoke_token("t1")
    (revoked,) = await store.list_tokens("gpc0")
    first_revocation = revoked.revoked_at
    assert await store.revoke_token("t1")  # revoking again keeps the first time
    assert (await store.list_tokens("gpc0"))[0].revoked_at == first_revocation
    assert not await store.revoke_token("nope")


async def test_api_tokens_are_found_until_revoked(store: EngineStore) -> None:
    assert await store.count_api_tokens() == 0
    added = await store.add_api_token("k1", "ci", pb.ROLE_OPERATOR, "c" * 64)
    assert (added.token_id, added.name, added.role) == ("k1", "ci", pb.ROLE_OPERATOR)
    assert await store.find_api_token("c" * 64) == added
    assert await store.list_api_tokens() == [added]
    assert await store.revoke_api_token("k1")
    assert not await store.revoke_api_token("nope")
    assert await store.find_api_token("c" * 64) is None
    (listed,) = await store.list_api_tokens()
    assert listed.HasField("revoked_at")
    assert await store.count_api_tokens() == 1  # revoked tokens still count as created


async def test_a_new_password_ends_the_users_sessions(store: EngineStore) -> None:
    assert await store.count_users() == 0
    await store.put_user("admin", "hash1", pb.ROLE_ADMIN)
    assert await store.get_user("admin") == UserRecord(password_hash="hash1", role=pb.ROLE_ADMIN)
    assert await store.get_user("nobody") is None
    await store.add_web_session("s" * 64, "admin", FUTURE)
    session = await store.get_web_session("s" * 64)
    assert session is not None
    assert (session.username, session.role, session.expires_at) == ("admin", pb.ROLE_ADMIN, FUTURE)
    await store.put_user("admin", "hash2", pb.ROLE_VIEWER)
    assert await store.get_web_session("s" * 64) is None
    assert await store.get_user("admin") == UserRecord(password_hash="hash2", role=pb.ROLE_VIEWER)
    assert await store.count_users() == 1


async def test_an_expired_session_is_not_found_and_goes_with_the_next_logout(store: EngineStore) -> None:
    await store.put_user("admin", "hash", pb.ROLE_ADMIN)
    await store.add_web_session("x" * 64, "admin", time.time() - 1)
    await store.add_web_session("y" * 64, "admin", FUTURE)
    await store.add_web_session("z" * 64, "admin", FUTURE)
    assert await store.get_web_session("x" * 64) is None
    await store.delete_web_session("y" * 64)
    assert await store.get_web_session("y" * 64) is None
    assert await store.get_web_session("z" * 64) is not None


async def test_failed_logins_are_counted_per_client_and_user(store: EngineStore) -> None:
    start = time.time()
    await store.record_login_failure("10.0.0.1", "admin", 0.0)
    await store.record_login_failure("10.0.0.1", "admin", 0.0)
    await store.record_login_failure("10.0.0.2", "admin", 0.0)
    assert len(await store.login_failures("10.0.0.1", "admin", start - 1)) == 2
    assert await store.login_failures("10.0.0.1", "admin", time.time() + 1) == []
    await store.clear_login_failures("10.0.0.1", "admin")
    assert await store.login_failures("10.0.0.1", "admin", 0.0) == []
    assert len(await store.login_failures("10.0.0.2", "admin", 0.0)) == 1
    # Recording a failure forgets the ones older than the window.
    await store.record_login_failure("10.0.0.3", "admin", time.time() + 1)
    assert await store.login_failures("10.0.0.2", "admin", 0.0) == []


async def test_a_secret_is_made_once_and_kept(database: str) -> None:
    async with opened_store(database) as store:
        key = await store.secret("webui-cookie-key")
        assert len(key) == 32
        assert await store.secret("webui-cookie-key") == key
        assert await store.secret("other") != key
    async with opened_store(database) as store:
        assert await store.secret("webui-cookie-key") == key


async def test_last_used_times_and_first_uses_are_written_in_one_call(store: EngineStore) -> None:
    await store.add_token("old", "gpc0", "1" * 64)
    await store.add_token("new", "gpc0", "2" * 64)
    await store.add_token("mac-old", "mac1", "3" * 64)
    await store.add_token("mac-new", "mac1", "4" * 64)
    used_at = time.time()
    while time.time() <= used_at:  # the next token is created after the first use, on any clock
        pass
    await store.add_token("later", "gpc0", "5" * 64)
    await store.touch_tokens(
        {"new": used_at, "mac-new": used_at},
        [("gpc0", "new", used_at, FUTURE), ("mac1", "mac-new", used_at, FUTURE + 60)],
    )
    tokens = {t.token_id: t for t in await store.list_tokens()}
    assert {i: t.expires_at.seconds for i, t in tokens.items()} == {
        "old": int(FUTURE),
        "new": 0,
        "mac-old": int(FUTURE + 60),
        "mac-new": 0,
        "later": 0,  # created after the first use: not rotated out by it
    }
    assert {i for i, t in tokens.items() if t.HasField("last_used_at")} == {"new", "mac-new"}
