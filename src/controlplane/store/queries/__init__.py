"""The aggregates' SQL, written once for both engines.

Each module holds one aggregate's queries as a mixin of the engines' stores, written against `Sql`
and `Connection` (`connection`): `?` placeholders, rows by position, and an `SqlDialect` for what
differs in SQL text. Each engine adapts its driver to that interface in its own `connection` module
(aiosqlite in `sqlite`, asyncpg in `postgres`), including the bulk statements each does fastest.
"""

from .audit import AuditQueries
from .case_history import CaseHistoryQueries
from .commands import CommandQueries
from .credentials import CredentialQueries
from .hosts import HostQueries
from .notifications import NotificationQueries
from .targets import TargetQueries
from .test_runs import TestRunQueries


class Queries(
    HostQueries,
    TargetQueries,
    CommandQueries,
    TestRunQueries,
    CaseHistoryQueries,
    NotificationQueries,
    CredentialQueries,
    AuditQueries,
):
    """Every aggregate of the `Store`: an engine's store adds its connections (`_sql`) and lifecycle."""


__all__ = ["Queries"]
