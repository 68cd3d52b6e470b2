"""The aggregates' SQL, written once for both engines.

Each module holds one aggregate's queries as a mixin of the engines' stores, written against `Sql`
and `Connection` (`connection`): `?` placeholders, rows by position, and an `SqlDialect` for what
differs in SQL text. Each engine adapts its driver to that interface in its own `connection` module
(aiosqlite in `sqlite`, asyncpg in `postgres`), including the bulk statements each does fastest.
"""
