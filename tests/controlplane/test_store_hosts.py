"""The store's hosts, settings and desired state, on every engine."""

from __future__ import annotations

from stores import EngineStore, opened_store

from controlplane.timeutil import to_ts
from fleetdeck.v1 import types_pb2 as pb


def _host(name: str = "gpc0") -> pb.Host:
    host = pb.Host(
        name=name,
        registered_at=to_ts(1_700_000_000),
        last_seen=to_ts(1_700_000_100),
        facts=pb.HostFacts(agent_version="1.0", os="nixos", commit="abc", lock_hash="l1", generation="7"),
        metrics=pb.Metrics(cpu_percent=12.5),
        test_status=pb.TestStatus(state=pb.TEST_STATE_PASSED, passed=3, total=3, last_run_id="r1"),
        last_switch=pb.LastOperation(command_id="c1", state=pb.COMMAND_STATE_SUCCEEDED),
        current_deployment_id="c1",
    )
    host.declared_test_settings.timeout.FromSeconds(30)
    return host


async def test_hosts_read_back_by_name_with_their_override(store: EngineStore) -> None:
    await store.save_hosts([_host("mac1"), _host("gpc0")])
    override = pb.TestSettingsOverride()
    override.timeout.FromSeconds(45)
    await store.save_host_override("gpc0", override)
    loaded = await store.load_hosts()
    assert [s.host for s in loaded] == [_host("gpc0"), _host("mac1")]
    assert [s.override for s in loaded] == [override, pb.TestSettingsOverride()]


async def test_an_unset_last_operation_stays_unset(store: EngineStore) -> None:
    host = _host()
    host.ClearField("last_switch")
    await store.save_hosts([host])
    (loaded,) = await store.load_hosts()
    assert not loaded.host.HasField("last_switch")
    assert not loaded.host.HasField("last_pull")
    assert not loaded.host.HasField("last_rollback")


async def test_saving_again_keeps_the_registration_time(store: EngineStore) -> None:
    await store.save_hosts([_host()])
    later = _host()
    later.registered_at.CopyFrom(to_ts(1_800_000_000))
    later.facts.commit = "def"
    await store.save_hosts([later])
    (loaded,) = await store.load_hosts()
    assert loaded.host.registered_at == to_ts(1_700_000_000)
    assert loaded.host.facts.commit == "def"


async def test_last_seen_writes_only_last_seen_and_metrics(store: EngineStore) -> None:
    await store.save_hosts([_host()])
    seen = _host()
    seen.last_seen.CopyFrom(to_ts(1_700_000_500))
    seen.metrics.cpu_percent = 99.0
    seen.facts.commit = "not written by the last-seen flush"
    await store.save_last_seen([seen])
    (loaded,) = await store.load_hosts()
    assert loaded.host.last_seen == to_ts(1_700_000_500)
    assert loaded.host.metrics.cpu_percent == 99.0
    assert loaded.host.facts.commit == "abc"


async def test_a_host_saved_twice_in_one_batch_keeps_its_first_registration_and_last_facts(
    store: EngineStore,
) -> None:
    first, second = _host("gpc0"), _host("gpc0")
    second.registered_at.CopyFrom(to_ts(1_800_000_000))
    second.facts.commit = "def"
    await store.save_hosts([first, second])
    (loaded,) = await store.load_hosts()
    assert loaded.host.registered_at == to_ts(1_700_000_000)
    assert loaded.host.facts.commit == "def"


async def test_one_last_seen_flush_writes_every_host_and_the_last_word_on_each(store: EngineStore) -> None:
    await store.save_hosts([_host("gpc0"), _host("mac1")])
    flush = []
    for name, when in (
        ("gpc0", 1_700_000_500),
        ("mac1", 1_700_000_600),
        ("gpc0", 1_700_000_700),
        ("gone", 1),
    ):
        host = pb.Host(name=name, last_seen=to_ts(when))
        host.metrics.cpu_percent = when % 97
        flush.append(host)
    await store.save_last_seen(flush)
    loaded = {s.host.name: s.host for s in await store.load_hosts()}
    assert sorted(loaded) == ["gpc0", "mac1"]  # a host that is not stored is not made by a flush
    assert loaded["gpc0"].last_seen == to_ts(1_700_000_700)
    assert loaded["mac1"].last_seen == to_ts(1_700_000_600)
    assert loaded["gpc0"].metrics.cpu_percent == 1_700_000_700 % 97 != 1_700_000_500 % 97


async def test_an_override_for_an_unknown_host_registers_it(store: EngineStore) -> None:
    override = pb.TestSettingsOverride()
    override.timeout.FromSeconds(10)
    await store.save_host_override("new", override)
    (loaded,) = await store.load_hosts()
    assert loaded.host.name == "new"
    assert loaded.override == override


async def test_settings_start_at_the_defaults_and_read_back(store: EngineStore) -> None:
    defaults = await store.load_settings()
    assert defaults.test_timeout.seconds == 60
    assert defaults.heartbeat_interval.seconds == 5
    assert defaults.test_history_limit == 200
    assert defaults.operation_timeout.seconds == 1800
    changed = pb.Settings(test_history_limit=20)
    changed.test_timeout.FromSeconds(90)
    changed.heartbeat_interval.FromMilliseconds(2500)
    changed.operation_timeout.FromSeconds(600)
    await store.save_settings(changed)
    assert await store.load_settings() == changed


async def test_the_desired_state_is_none_until_set(store: EngineStore) -> None:
    assert await store.load_desired() is None
    desired = pb.DesiredState(
        commit="abc", lock_hash="l1", agent_version="1.0", updated_at=to_ts(1_700_000_000)
    )
    await store.save_desired(desired)
    desired.commit = "def"
    await store.save_desired(desired)
    assert await store.load_desired() == desired


async def test_everything_survives_a_reopen(database: str) -> None:
    async with opened_store(database) as store:
        await store.save_hosts([_host()])
        await store.save_settings(pb.Settings(test_history_limit=7))
    async with opened_store(database) as store:
        assert [s.host for s in await store.load_hosts()] == [_host()]
        assert (await store.load_settings()).test_history_limit == 7
