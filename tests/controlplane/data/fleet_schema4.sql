-- A fleet database (schema version 4) written by the store as it was on main at 6e69caa (store.py,
-- before it became a package), dumped with sqlite3's iterdump. tests/controlplane/test_store_schema.py
-- loads it and checks that today's store reads every row back: an existing database opens unchanged.
BEGIN TRANSACTION;
CREATE TABLE agent_tokens (
        token_id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        sha256 TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        last_used_at REAL,
        revoked_at REAL
    , expires_at REAL, enrollment INTEGER NOT NULL DEFAULT 0);
INSERT INTO "agent_tokens" VALUES('t1','gpc0','aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',1.79604265774467086787e+09,1700000200.0,NULL,NULL,0);
INSERT INTO "agent_tokens" VALUES('t2','mac1','bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',1.79604265774527239798e+09,NULL,NULL,4102444800.0,1);
CREATE TABLE api_tokens (
        token_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role INTEGER NOT NULL,
        sha256 TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        revoked_at REAL
    );
INSERT INTO "api_tokens" VALUES('k1','ci',2,'cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc',1.79604265774597573277e+09,NULL);
CREATE TABLE command_output (
        command_id TEXT NOT NULL REFERENCES commands(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        first_line INTEGER NOT NULL,
        line_count INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        chunk BLOB NOT NULL,
        PRIMARY KEY (command_id, seq)
    ) WITHOUT ROWID;
INSERT INTO "command_output" VALUES('c1',1,0,1,9,X'10011A0A1A086275696C64696E67');
INSERT INTO "command_output" VALUES('c1',2,1,2,16,X'10021A0E08011A0A61637469766174696E671A0808021A04646F6E65');
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
INSERT INTO "commands" VALUES('c1',1,'gpc0',2,3,0,1700000090.0,1700000091.0,1700000100.0,0,'',600000,'',3,25,0,3);
INSERT INTO "commands" VALUES('c2',2,'gpc0',3,3,-1,1700000101.0,NULL,NULL,2,'',90000,'c1',0,0,0,5);
INSERT INTO "commands" VALUES('c3',3,'mac1',1,2,-1,1700000170.0,NULL,NULL,0,'',600000,'',0,0,0,0);
CREATE TABLE desired_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        commit_sha TEXT NOT NULL, lock_hash TEXT NOT NULL, agent_version TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
INSERT INTO "desired_state" VALUES(1,'abc123','lock1','1.2.3',1700000000.5);
CREATE TABLE host_settings (
        host TEXT PRIMARY KEY REFERENCES hosts(name),
        test_settings_override BLOB NOT NULL
    );
INSERT INTO "host_settings" VALUES('gpc0',X'1A02082D');
CREATE TABLE hosts (
        name TEXT PRIMARY KEY,
        registered_at REAL NOT NULL,
        last_seen REAL,
        facts BLOB, metrics BLOB, test_status BLOB, declared_tests BLOB,
        last_switch BLOB, last_pull BLOB, last_rollback BLOB,
        current_deployment_id TEXT NOT NULL DEFAULT ''
    );
INSERT INTO "hosts" VALUES('gpc0',1700000000.0,1700000200.0,X'0A05312E322E33120B4E69784F532032342E31311A0661626331323322056C6F636B312A023432',X'090000000000002940',X'0804100220023A026332420608A0E3CFAA064A023432',X'1A02081E',X'0A0263311003220608E4E2CFAA062A0661626331323332056C6F636B313A023432',NULL,NULL,'d1');
INSERT INTO "hosts" VALUES('mac1',1700000050.0,NULL,X'',X'',X'',X'',NULL,NULL,NULL,'');
CREATE TABLE login_failures (client TEXT NOT NULL, username TEXT NOT NULL, failed_at REAL NOT NULL);
INSERT INTO "login_failures" VALUES('10.0.0.9','admin',1.79604265774779462815e+09);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO "meta" VALUES('version_reserved','100042');
INSERT INTO "meta" VALUES('secret:webui-cookie-key','7f7b66dfe352fab26351d489ef99e6b8173e60a7c5f2cdb241b61aabf4cad35b');
CREATE TABLE settings (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        test_timeout_ms INTEGER NOT NULL,
        heartbeat_interval_ms INTEGER NOT NULL,
        test_history_limit INTEGER NOT NULL,
        operation_timeout_ms INTEGER NOT NULL
    );
INSERT INTO "settings" VALUES(1,90000,2000,50,600000);
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
INSERT INTO "test_cases" VALUES('c2',0,'Network',1,1500,0,'10-network.sh','ping ok
');
INSERT INTO "test_cases" VALUES('c2',1,'Disk',1,250,0,'20-disk.sh','');
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
INSERT INTO "test_runs" VALUES('c2',2,'gpc0',4,2,0,1700000102.0,1700000160.0,X'0A0263321204677063301802220234322804320608E6E2CFAA063A0608A0E3CFAA064802580272066162633132337A0263318201026431');
CREATE TABLE users (
        username TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        role INTEGER NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
INSERT INTO "users" VALUES('admin','$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA',3,1.79604265774665093416e+09,1.79604265774665093416e+09);
CREATE TABLE web_sessions (
        token_sha256 TEXT PRIMARY KEY,
        username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL
    );
INSERT INTO "web_sessions" VALUES('dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd','admin',1.79604265774736833569e+09,4102444800.0);
CREATE INDEX idx_agent_tokens_host ON agent_tokens(host);
CREATE INDEX idx_commands_host ON commands(host, ord DESC);
CREATE INDEX idx_commands_state ON commands(state);
CREATE INDEX idx_test_runs_host ON test_runs(host, ord DESC);
CREATE INDEX idx_login_failures ON login_failures(client, username, failed_at);
COMMIT;
