"""The schema of both engines as one ordered list of migrations: adding a column is one edit here.

Each migration is written once, in the SQL that SQLite ran when it was added; `statements` gives the
PostgreSQL form by translating the column types (see `_POSTGRES_TYPES`), and a migration whose
PostgreSQL form needs more than that carries it in `postgres`. SQLite counts the migrations applied
in `PRAGMA user_version`, PostgreSQL in the `schema_migrations` table.

Append only: a database on disk holds every migration up to its version, so an existing migration is
never edited (tests/controlplane/data/fleet_schema4.sql is a database written by the first store, and
SQLite keeps each CREATE statement's text, which must stay as it was).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Dialect = Literal["sqlite", "postgres"]


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema version: its SQL as SQLite runs it, and PostgreSQL's where a translation is not enough."""

    sql: str
    postgres: str | None = None


# SQLite type names -> PostgreSQL's: the same values, and text that sorts and compares bytewise in
# both engines (SQLite's BINARY collation is PostgreSQL's "C").
_POSTGRES_TYPES = [
    (re.compile(r"\)\s*WITHOUT ROWID"), ")"),
    (re.compile(r"\bBLOB\b"), "BYTEA"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"\bINTEGER\b"), "BIGINT"),
    (re.compile(r"\bTEXT\b"), 'TEXT COLLATE "C"'),
]


def statements(migration: Migration, dialect: Dialect) -> list[str]:
    """The statements of one migration in an engine's dialect, in order."""
    sql = migration.sql
    if dialect == "postgres":
        if migration.postgres is not None:
            sql = migration.postgres
        else:
            for pattern, replacement in _POSTGRES_TYPES:
                sql = pattern.sub(replacement, sql)
    # SQLite keeps each CREATE statement's text as run, so its statements are passed on untouched.
    return [statement for statement in sql.split(";") if statement.strip()]


MIGRATIONS: list[Migration] = [
    # 1: the whole schema
    Migration(
        """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE hosts (
        name TEXT PRIMARY KEY,
        registered_at REAL NOT NULL,
        last_seen REAL,
        facts BLOB, metrics BLOB, test_status BLOB, declared_tests BLOB,
        last_switch BLOB, last_pull BLOB, last_rollback BLOB,
        current_deployment_id TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE host_settings (
        host TEXT PRIMARY KEY REFERENCES hosts(name),
        test_settings_override BLOB NOT NULL
    );
    CREATE TABLE settings (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        test_timeout_ms INTEGER NOT NULL,
        heartbeat_interval_ms INTEGER NOT NULL,
        test_history_limit INTEGER NOT NULL,
        operation_timeout_ms INTEGER NOT NULL
    );
    INSERT INTO settings VALUES (1, 60000, 5000, 200, 1800000);
    CREATE TABLE desired_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        commit_sha TEXT NOT NULL, lock_hash TEXT NOT NULL, agent_version TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE agent_tokens (
        token_id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        sha256 TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        last_used_at REAL,
        revoked_at REAL
    );
    CREATE INDEX idx_agent_tokens_host ON agent_tokens(host);
    CREATE TABLE commands (
        id TEXT PRIMARY KEY,
        ord INTEGER NOT NULL UNIQUE,
        host TEXT NOT NULL,
        operation INTEGER NOT NULL,
        state INTEGER NOT NULL,
        exit_code INTEGER NOT NULL DEFAULT -1,
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        trigger INTEGER NOT NULL DEFAULT 0,
        message TEXT NOT NULL DEFAULT '',
        timeout_ms INTEGER NOT NULL,
        triggered_by TEXT NOT NULL DEFAULT '',
        output_lines INTEGER NOT NULL DEFAULT 0,
        output_bytes INTEGER NOT NULL DEFAULT 0,
        truncated_bytes INTEGER NOT NULL DEFAULT 0,
        max_seq INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX idx_commands_host ON commands(host, ord DESC);
    CREATE INDEX idx_commands_state ON commands(state);
    CREATE TABLE command_output (
        command_id TEXT NOT NULL REFERENCES commands(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        first_line INTEGER NOT NULL,
        line_count INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        chunk BLOB NOT NULL,
        PRIMARY KEY (command_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE test_runs (
        id TEXT PRIMARY KEY,
        ord INTEGER NOT NULL,
        host TEXT NOT NULL,
        state INTEGER NOT NULL,
        passed INTEGER NOT NULL,
        failed INTEGER NOT NULL,
        started_at REAL,
        finished_at REAL,
        run BLOB NOT NULL
    );
    CREATE INDEX idx_test_runs_host ON test_runs(host, ord DESC);
    CREATE TABLE test_cases (
        run_id TEXT NOT NULL REFERENCES test_runs(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        name TEXT NOT NULL,
        outcome INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL,
        exit_code INTEGER NOT NULL,
        file TEXT NOT NULL,
        output TEXT NOT NULL,
        PRIMARY KEY (run_id, idx)
    ) WITHOUT ROWID;
    """
    ),
    # 2: API tokens with roles
    Migration(
        """
    CREATE TABLE api_tokens (
        token_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role INTEGER NOT NULL,
        sha256 TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        revoked_at REAL
    );
    """
    ),
    # 3: enrollment tokens and rotation overlap for agent tokens
    Migration(
        """
    ALTER TABLE agent_tokens ADD COLUMN expires_at REAL;
    ALTER TABLE agent_tokens ADD COLUMN enrollment INTEGER NOT NULL DEFAULT 0;
    """
    ),
    # 4: web users, their sessions, and failed logins (the login limit survives restarts)
    Migration(
        """
    CREATE TABLE users (
        username TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        role INTEGER NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE web_sessions (
        token_sha256 TEXT PRIMARY KEY,
        username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE TABLE login_failures (client TEXT NOT NULL, username TEXT NOT NULL, failed_at REAL NOT NULL);
    CREATE INDEX idx_login_failures ON login_failures(client, username, failed_at);
    """
    ),
    # 5: per-case history: each case result's classification, JUnit sub-cases and message (its
    # generation, commit, trigger and time are its run's), and a summary per (host, case) that
    # outlives retention
    Migration(
        """
    ALTER TABLE test_cases ADD COLUMN classification INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE test_cases ADD COLUMN message TEXT NOT NULL DEFAULT '';
    ALTER TABLE test_cases ADD COLUMN sub_cases BLOB;
    CREATE TABLE case_summaries (
        host TEXT NOT NULL,
        name TEXT NOT NULL,
        failing INTEGER NOT NULL,
        summary BLOB NOT NULL,
        PRIMARY KEY (host, name)
    );
    CREATE INDEX idx_case_summaries_failing ON case_summaries(failing, name);
    """
    ),
    # 6: webhook subscriptions and the durable outbox of their notifications (one row per event and
    # subscription: the event id deduplicates; state 0 pending, 1 delivered, 2 given up)
    Migration(
        """
    CREATE TABLE webhooks (
        id TEXT PRIMARY KEY,
        secret TEXT NOT NULL,
        events_mask INTEGER NOT NULL,
        created_at REAL NOT NULL,
        webhook BLOB NOT NULL,
        last_delivery BLOB
    );
    CREATE TABLE notification_outbox (
        event_id TEXT NOT NULL,
        webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
        event INTEGER NOT NULL,
        host TEXT NOT NULL,
        payload BLOB NOT NULL,
        created_at REAL NOT NULL,
        attempts INTEGER NOT NULL,
        next_attempt_at REAL NOT NULL,
        state INTEGER NOT NULL,
        PRIMARY KEY (event_id, webhook_id)
    );
    CREATE INDEX idx_notification_outbox_due ON notification_outbox(state, next_attempt_at);
    """
    ),
    # 7: commands: who requested them, why no test run followed; a switch finds its test run by index
    # (commands from before are marked "not recorded", so no watcher waits for a run that never comes)
    Migration(
        """
    ALTER TABLE commands ADD COLUMN no_test_reason INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE commands ADD COLUMN requested_by TEXT NOT NULL DEFAULT '';
    CREATE INDEX idx_commands_triggered_by ON commands(triggered_by) WHERE triggered_by <> '';
    UPDATE commands SET no_test_reason = 6
        WHERE NOT EXISTS (SELECT 1 FROM commands t WHERE t.triggered_by = commands.id);
    """
    ),
    # 8: the audit log (append-only): one row per event, its hosts in a table of their own for the filter
    Migration(
        """
    CREATE TABLE audit_events (
        seq INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        actor TEXT NOT NULL,
        event BLOB NOT NULL
    );
    CREATE INDEX idx_audit_events_at ON audit_events(at);
    CREATE INDEX idx_audit_events_actor ON audit_events(actor, seq);
    CREATE TABLE audit_hosts (
        host TEXT NOT NULL,
        seq INTEGER NOT NULL REFERENCES audit_events(seq),
        PRIMARY KEY (host, seq)
    ) WITHOUT ROWID;
    """
    ),
    # 9: host labels (declared in agent.toml, overridden through the API), desired state per
    # selector, and rollouts (each one message, rewritten as it advances)
    Migration(
        """
    CREATE TABLE host_labels (
        host TEXT PRIMARY KEY,
        declared TEXT NOT NULL,
        overrides TEXT NOT NULL
    );
    CREATE TABLE selector_desired_states (
        selector TEXT PRIMARY KEY,
        commit_sha TEXT NOT NULL, lock_hash TEXT NOT NULL, agent_version TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE rollouts (
        id TEXT PRIMARY KEY,
        created_at REAL NOT NULL,
        state INTEGER NOT NULL,
        rollout BLOB NOT NULL
    );
    CREATE INDEX idx_rollouts_created ON rollouts(created_at DESC, id DESC);
    CREATE TABLE command_queue (
        command_id TEXT PRIMARY KEY,
        expires_at REAL NOT NULL
    );
    """
    ),
    # 10: several replicas on one PostgreSQL database (SQLite is one process: nothing to share there).
    # Who holds each host's agent stream (the epoch grows with every claim: newest wins), the log of
    # fleet events in one global order (continuing the versions one process handed out; never 0,
    # which a watcher sends to mean "from the start"), messages for an agent held elsewhere, and the
    # order of commands drawn from one sequence rather than counted by each process.
    Migration(
        "",
        postgres="""
    CREATE TABLE replicas (
        id TEXT COLLATE "C" PRIMARY KEY,
        started_at DOUBLE PRECISION NOT NULL,
        seen_at DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE host_owners (
        host TEXT COLLATE "C" PRIMARY KEY,
        replica TEXT COLLATE "C" NOT NULL,
        epoch BIGINT NOT NULL
    );
    CREATE INDEX idx_host_owners_replica ON host_owners(replica);
    CREATE TABLE fleet_log (
        version BIGINT PRIMARY KEY,
        replica TEXT COLLATE "C" NOT NULL,
        host TEXT COLLATE "C" NOT NULL,
        epoch BIGINT NOT NULL,
        event BYTEA NOT NULL
    );
    CREATE INDEX idx_fleet_log_host ON fleet_log(host, version) WHERE host <> '';
    INSERT INTO meta(key, value)
        SELECT 'log_version', COALESCE((SELECT value FROM meta WHERE key = 'version_reserved'), '1');
    CREATE TABLE agent_mail (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        host TEXT COLLATE "C" NOT NULL,
        kind TEXT COLLATE "C" NOT NULL,
        body BYTEA NOT NULL
    );
    CREATE INDEX idx_agent_mail_host ON agent_mail(host);
    CREATE SEQUENCE command_ord;
    SELECT setval('command_ord', COALESCE((SELECT MAX(ord) FROM commands), 0) + 1, false);
    """,
    ),
]


def tables() -> list[str]:
    """Every table of the fleet's data, in the order the migrations create them (a table comes after
    those it references); PostgreSQL's replication tables are the replicas' state, not the fleet's."""
    names: list[str] = []
    for migration in MIGRATIONS:
        names.extend(re.findall(r"CREATE TABLE (\w+)", migration.sql))
    return names
