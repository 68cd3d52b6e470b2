"""The store's database on every engine: schema and migrations (shared by the engines), an existing
database opening unchanged, the one writer and its transactions, the fleet version reservation, a
copy from SQLite to PostgreSQL, and SQL staying inside the store."""

from __future__ import annotations

import ast
import asyncio
import sqlite3
import sys
from pathlib import Path

import asyncpg
import pytest
from postgres import DATABASE, Cluster
from stores import EngineStore, command, opened_store

import controlplane
from controlplane.store import VERSION_BLOCK, PostgresStore, SqliteStore, make_store
from controlplane.store.copy import copy_database
from controlplane.store.schema import MIGRATIONS, Migration, statements, tables
from controlplane.store.tables import TargetNotEmpty
from controlplane.timeutil import to_ts
from fleetdeck import cli as fleetdeck_cli
from fleetdeck.v1 import types_pb2 as pb

MAIN_DATABASE = Path(__file__).parent / "data" / "fleet_schema4.sql"


def _load(path: Path, script: str, user_version: int) -> None:
    with sqlite3.connect(path) as db:
        db.executescript(script)
        db.execute(f"PRAGMA user_version = {user_version}")
    db.close()


def _schema(path: Path) -> list[tuple[str, str, str]]:
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
        return [(kind, name, " ".join(sql.split())) for kind, name, sql in rows]
    finally:
        db.close()


async def test_a_new_database_gets_the_schema_the_first_store_wrote(tmp_path: Path) -> None:
    async with opened_store(tmp_path / "new.db") as store:
        assert await store.schema_version() == len(MIGRATIONS)
    _load(tmp_path / "main.db", MAIN_DATABASE.read_text(), 4)
    async with opened_store(tmp_path / "main.db") as store:  # the migrations since schema 4
        assert await store.schema_version() == len(MIGRATIONS)
    assert _schema(tmp_path / "new.db") == _schema(tmp_path / "main.db")


async def test_a_database_written_before_the_store_was_a_package_opens_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "fleet.db"
    _load(path, MAIN_DATABASE.read_text(), 4)
    async with opened_store(path) as store:
        await _assert_the_old_fleet(store)


async def _assert_the_old_fleet(store: EngineStore) -> None:
    """Every row of the database the first store wrote reads back, and the store goes on from there."""
    assert await store.schema_version() == len(MIGRATIONS)
    assert await store.reserve_versions(0) == 100_042  # the reservation the old store made

    settings = await store.load_settings()
    assert (settings.test_timeout.seconds, settings.test_history_limit) == (90, 50)
    desired = await store.load_desired()
    assert desired is not None and (desired.commit, desired.agent_version) == ("abc123", "1.2.3")
    gpc0, mac1 = await store.load_hosts()
    assert (gpc0.host.name, mac1.host.name) == ("gpc0", "mac1")
    assert gpc0.host.facts.generation == "42" and gpc0.host.metrics.cpu_percent == 12.5
    assert gpc0.host.test_status.state == pb.TEST_STATE_PASSED
    assert gpc0.host.last_switch.command_id == "c1" and not gpc0.host.HasField("last_pull")
    assert gpc0.host.last_seen == to_ts(1_700_000_200)
    assert gpc0.override.timeout.seconds == 45

    switch = await store.get_command("c1")
    assert switch is not None
    assert (switch.state, switch.exit_code, switch.output_lines) == (pb.COMMAND_STATE_SUCCEEDED, 0, 3)
    assert [line.text for line in await store.read_output("c1", 0)] == ["building", "activating", "done"]
    assert [c.id for c in await store.unfinished_commands()] == ["c3"]
    assert [c.id for c in (await store.list_commands("", 10, None)).items] == ["c3", "c2", "c1"]
    assert await store.max_seqs(["c1", "c2"]) == {"c1": 3, "c2": 5}

    run = await store.get_test_run("c2")
    assert run is not None
    assert (run.state, run.passed, run.triggered_by_command_id) == (pb.TEST_STATE_PASSED, 2, "c1")
    assert [(c.name, c.duration.ToMilliseconds(), c.output) for c in run.cases] == [
        ("Network", 1500, "ping ok\n"),
        ("Disk", 250, ""),
    ]

    agent_token = await store.find_token("a" * 64)
    assert agent_token is not None and (agent_token.host, agent_token.used) == ("gpc0", True)
    enrollment = await store.find_token("b" * 64)
    assert enrollment is not None and enrollment.enrollment
    api_token = await store.find_api_token("c" * 64)
    assert api_token is not None and (api_token.name, api_token.role) == ("ci", pb.ROLE_OPERATOR)
    user = await store.get_user("admin")
    assert user is not None and user.role == pb.ROLE_ADMIN
    session = await store.get_web_session("d" * 64)
    assert session is not None and session.username == "admin"
    assert len(await store.login_failures("10.0.0.9", "admin", 0.0)) == 1
    assert (await store.secret("webui-cookie-key")).hex().startswith("7f7b66df")

    # And it goes on where it stopped: the next command lists after every old one.
    await store.insert_command(command("c4"))
    assert (await store.list_commands("", 1, None)).items[0].id == "c4"


async def test_a_database_at_schema_one_is_migrated_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "fleet.db"
    _load(path, MIGRATIONS[0].sql + "; INSERT INTO hosts(name, registered_at) VALUES ('gpc0', 1.0);", 1)
    async with opened_store(path) as store:
        assert await store.schema_version() == len(MIGRATIONS)
        assert [s.host.name for s in await store.load_hosts()] == ["gpc0"]
        await store.add_api_token("k1", "ci", pb.ROLE_VIEWER, "c" * 64)  # a table of migration 2
        await store.put_user("admin", "hash", pb.ROLE_ADMIN)  # of migration 4
    async with opened_store(tmp_path / "new.db"):
        pass
    assert _schema(path) == _schema(tmp_path / "new.db")


async def test_open_and_close_are_safe_twice_and_a_closed_store_says_so(
    engine: str, database: str, tmp_path: Path
) -> None:
    # A SQLite file's directory is made on open.
    store = make_store(tmp_path / "sub" / "fleet.db" if engine == "sqlite" else database)
    await store.open()
    await store.open()
    await store.save_settings(pb.Settings(test_history_limit=3))
    await store.close()
    await store.close()
    with pytest.raises(RuntimeError, match="store is not open"):
        await store.save_settings(pb.Settings())


async def test_versions_reserved_are_never_handed_out_again(database: str) -> None:
    async with opened_store(database) as store:
        start = await store.reserve_versions(10)
        assert start == 10
        await store.extend_version_reservation(start + 3 * VERSION_BLOCK)
    async with opened_store(database) as store:
        assert await store.reserve_versions(0) == 10 + 3 * VERSION_BLOCK
        assert await store.reserve_versions(10**9) == 10**9  # a client that saw more wins


async def test_reads_see_only_committed_writes(store: EngineStore) -> None:
    async with store._db.transaction() as writer:
        await writer.execute("INSERT INTO meta(key, value) VALUES ('k', 'v')")
        assert await store._db.one("SELECT value FROM meta WHERE key = 'k'") is None
    assert tuple(await store._db.one("SELECT value FROM meta WHERE key = 'k'")) == ("v",)


_DUPLICATE_KEY = {"sqlite": sqlite3.IntegrityError, "postgres": asyncpg.UniqueViolationError}


async def test_a_failed_transaction_leaves_nothing(store: EngineStore, engine: str) -> None:
    with pytest.raises(_DUPLICATE_KEY[engine]):
        async with store._db.transaction() as writer:
            await writer.execute("INSERT INTO meta(key, value) VALUES ('k', 'v')")
            await writer.execute("INSERT INTO meta(key, value) VALUES ('k', 'again')")
    assert await store._db.one("SELECT value FROM meta WHERE key = 'k'") is None


async def test_concurrent_writers_take_turns(store: EngineStore) -> None:
    await asyncio.gather(*(store.insert_command(command(f"c{i}")) for i in range(30)))
    page = await store.list_commands("", 100, None)
    assert sorted(c.id for c in page.items) == sorted(f"c{i}" for i in range(30))


async def test_a_writer_cancelled_at_any_point_leaves_no_transaction_open(store: EngineStore) -> None:
    for steps in range(12):
        write = asyncio.create_task(store.save_settings(pb.Settings(test_history_limit=steps + 1)))
        for _ in range(steps):  # let the write get `steps` turns of the loop before it is cancelled
            await asyncio.sleep(0)
        write.cancel()
        await asyncio.wait([write])
        assert write.cancelled() or write.exception() is None  # cancelled, or done before it was
        # The next writer gets the lock and a transaction of its own, and its write lands.
        await store.save_settings(pb.Settings(test_history_limit=100 + steps))
        assert (await store.load_settings()).test_history_limit == 100 + steps


async def test_a_postgresql_database_gets_every_migration_once(postgres_cluster: Cluster) -> None:
    dsn = postgres_cluster.new_database()
    # Replicas starting together: one migrates, the others find the schema done.
    stores = [PostgresStore(dsn) for _ in range(3)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        assert [await s.schema_version() for s in stores] == [len(MIGRATIONS)] * 3
        await stores[0].save_hosts([pb.Host(name="gpc0")])
        assert [h.host.name for h in await stores[2].load_hosts()] == ["gpc0"]
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    schema = dsn.rsplit("=", 1)[1]
    applied = postgres_cluster.psql(
        f"SELECT version FROM {schema}.schema_migrations ORDER BY version", DATABASE
    )
    assert applied.split() == [str(n) for n in range(1, len(MIGRATIONS) + 1)]


async def test_a_postgresql_store_connects_again_after_the_database_dropped_it(
    postgres_cluster: Cluster,
) -> None:
    async with opened_store(postgres_cluster.new_database()) as store:
        await store.save_settings(pb.Settings(test_history_limit=5))
        postgres_cluster.psql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{DATABASE}' AND pid <> pg_backend_pid()",
            DATABASE,
        )
        await store.save_settings(pb.Settings(test_history_limit=7))
        assert (await store.load_settings()).test_history_limit == 7


def test_postgresql_gets_the_sqlite_schema_in_its_own_types() -> None:
    (hosts, *_) = statements(MIGRATIONS[0], "postgres")[1:2]
    assert "registered_at DOUBLE PRECISION NOT NULL" in hosts
    assert "facts BYTEA" in hosts and 'name TEXT COLLATE "C" PRIMARY KEY' in hosts
    assert "WITHOUT ROWID" not in " ".join(statements(MIGRATIONS[0], "postgres"))
    assert statements(Migration("ALTER TABLE t ADD COLUMN n INTEGER"), "postgres") == [
        "ALTER TABLE t ADD COLUMN n BIGINT"
    ]
    assert statements(
        Migration("CREATE INDEX i ON t(a)", postgres="CREATE INDEX i ON t USING brin(a)"), "postgres"
    ) == ["CREATE INDEX i ON t USING brin(a)"]


async def test_both_engines_hold_every_table_with_the_same_columns(
    tmp_path: Path, postgres_cluster: Cluster
) -> None:
    async with (
        opened_store(tmp_path / "fleet.db") as sqlite_store,
        opened_store(postgres_cluster.new_database()) as postgres_store,
    ):
        for table in tables():
            columns = await sqlite_store.table_columns(table)
            assert columns and await postgres_store.table_columns(table) == columns, table


async def test_a_postgresql_database_copies_to_another_one_whole(
    tmp_path: Path, postgres_cluster: Cluster
) -> None:
    path = tmp_path / "fleet.db"
    _load(path, MAIN_DATABASE.read_text(), 4)
    first, second = postgres_cluster.new_database(), postgres_cluster.new_database()
    async with opened_store(path) as source, opened_store(first) as target:
        assert isinstance(source, SqliteStore) and isinstance(target, PostgresStore)
        await copy_database(source, target)
    async with opened_store(first) as source, opened_store(second) as target:
        assert isinstance(source, PostgresStore) and isinstance(target, PostgresStore)
        # The SQLite file's 21 rows, and the fleet log's counter the first copy started where the
        # file's versions ended (watchers never see a version again).
        assert sum((await copy_database(source, target)).values()) == 22
    async with opened_store(second) as store:
        await _assert_the_old_fleet(store)
        assert store.replication is not None
        assert await store.replication.log_version() > VERSION_BLOCK  # the file had handed out a block


async def test_a_sqlite_database_copies_to_postgresql_whole(
    tmp_path: Path, postgres_cluster: Cluster
) -> None:
    path = tmp_path / "fleet.db"
    _load(path, MAIN_DATABASE.read_text(), 4)
    dsn = postgres_cluster.new_database()
    async with opened_store(path) as source, opened_store(dsn) as target:
        assert isinstance(source, SqliteStore) and isinstance(target, PostgresStore)
        copied = await copy_database(source, target)
    assert copied["hosts"] == 2 and copied["commands"] == 3 and copied["test_cases"] == 2
    assert list(copied) == tables()
    async with opened_store(dsn) as store:
        await _assert_the_old_fleet(store)


async def test_a_copy_goes_only_into_an_empty_database(tmp_path: Path, postgres_cluster: Cluster) -> None:
    path = tmp_path / "fleet.db"
    _load(path, MAIN_DATABASE.read_text(), 4)
    dsn = postgres_cluster.new_database()
    async with opened_store(path) as source, opened_store(dsn) as target:
        assert isinstance(source, SqliteStore) and isinstance(target, PostgresStore)
        await target.insert_command(command("mine"))
        with pytest.raises(TargetNotEmpty, match="table commands"):
            await copy_database(source, target)
        assert [c.id for c in (await target.list_commands("", 10, None)).items] == ["mine"]


async def test_fleetdeck_db_copy_moves_a_sqlite_fleet_into_postgresql(
    tmp_path: Path, postgres_cluster: Cluster
) -> None:
    path = tmp_path / "fleet.db"
    _load(path, MAIN_DATABASE.read_text(), 4)
    dsn = postgres_cluster.new_database()
    url_file = tmp_path / "db-url"  # the URI (and its password) stays out of the process list
    url_file.write_text(dsn + "\n")
    copy = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "fleetdeck.cli",
        "db",
        "copy",
        "--from",
        str(path),
        "--to-file",
        str(url_file),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(30):
        out, err = await copy.communicate()
    assert copy.returncode == 0, err.decode()
    assert "hosts: 2 rows" in out.decode().splitlines()
    assert (
        out.decode().splitlines()[-1].startswith(f"copied 21 rows in {len(tables())} tables to postgresql://")
    )
    async with opened_store(dsn) as store:
        await _assert_the_old_fleet(store)


@pytest.mark.parametrize(
    ("source", "target", "says"),
    [
        ("missing.db", "postgresql://x@127.0.0.1:1/db", "no SQLite database at"),
        ("fleet.db", "other.db", "other.db is not a postgresql:// URI"),
        ("fleet.db", "", "no target is not a postgresql:// URI"),
    ],
)
def test_fleetdeck_db_copy_refuses_what_it_cannot_copy(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    source: str,
    target: str,
    says: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLEETDECK_DB", raising=False)
    monkeypatch.delenv("FLEETDECK_DB_FILE", raising=False)
    _load(tmp_path / "fleet.db", MAIN_DATABASE.read_text(), 4)
    assert fleetdeck_cli.main(["db", "copy", "--from", source, *(["--to", target] if target else [])]) == 1
    assert says in capsys.readouterr().err
    assert not (tmp_path / "missing.db").exists() and not (tmp_path / "other.db").exists()


def test_only_the_store_speaks_sql() -> None:
    """No module outside controlplane/store imports a database driver."""
    src = Path(controlplane.__file__).parent.parent
    store = src / "controlplane" / "store"
    offenders = []
    for path in src.rglob("*.py"):
        if store in path.parents or "fleetdeck/v1" in path.as_posix():
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(name.split(".")[0] in {"aiosqlite", "sqlite3", "asyncpg", "psycopg"} for name in names):
                offenders.append(path.relative_to(src).as_posix())
    assert offenders == []
