"""The control plane's persistence: the only package that speaks SQL.

`interface` says what the rest of the control plane may ask (`Store`, one protocol per aggregate);
`records` holds the named values it answers with besides proto messages; `sqlite` is the engine
(one writer, write-behind batches formed by the callers, one module per aggregate). Callers type
against `Store` and only the process that opens the database names the engine (`SqliteStore`).
"""

from .interface import (
    OUTPUT_CAP_BYTES,
    VERSION_BLOCK,
    CommandStore,
    CredentialStore,
    HostStore,
    Store,
    TestRunStore,
)
from .records import (
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
    "CommandStore",
    "CredentialStore",
    "HostStore",
    "OutputAppend",
    "Page",
    "SqliteStore",
    "Store",
    "StoredHost",
    "StoredOutput",
    "TestRunStore",
    "TokenRecord",
    "UserRecord",
    "WebSessionRecord",
]
