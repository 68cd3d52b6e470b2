"""The control plane's persistence: the only package that speaks SQL.

`interface` says what the rest of the control plane may ask (`Store`, one protocol per aggregate);
`records` holds the named values it answers with besides proto messages; `queries` holds each
aggregate's SQL, written once; `sqlite` and `postgres` are the engines (one writer per process,
write-behind batches formed by the callers, each adapting its driver to `queries`), `schema` their
shared migrations. Callers type against `Store`; the process that opens
the database names only its location, and `make_store` picks the engine for it (`location`).
`copy` moves a whole database from one engine to another.
"""

from .interface import (
    OUTPUT_CAP_BYTES,
    VERSION_BLOCK,
    AuditStore,
    CommandStore,
    CredentialStore,
    HostStore,
    Store,
    TargetStore,
    TestRunStore,
)
from .location import is_postgres, make_store, redacted, resolve_location
from .postgres import PostgresStore
from .records import (
    AuditQuery,
    HostLabels,
    Notification,
    OutboxItem,
    OutputAppend,
    Page,
    StoredHost,
    StoredOutput,
    TokenRecord,
    UserRecord,
    WebSessionRecord,
)
from .sqlite import SqliteStore

__all__ = [
    "OUTPUT_CAP_BYTES",
    "VERSION_BLOCK",
    "AuditQuery",
    "AuditStore",
    "CommandStore",
    "CredentialStore",
    "HostLabels",
    "HostStore",
    "Notification",
    "OutboxItem",
    "OutputAppend",
    "Page",
    "PostgresStore",
    "SqliteStore",
    "Store",
    "StoredHost",
    "StoredOutput",
    "TargetStore",
    "TestRunStore",
    "TokenRecord",
    "UserRecord",
    "WebSessionRecord",
    "is_postgres",
    "make_store",
    "redacted",
    "resolve_location",
]
