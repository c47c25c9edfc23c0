"""Versioned schema migrations: an existing database is upgraded in place, never rebuilt.

Each migration is a function of a connection, applied once in order; the applied version is
kept in ``schema_version``. Migrations after the first must be written so they also succeed on
a database created by a later ``metadata.create_all`` (check before altering).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import Connection, Engine, inspect, text

from regionwatch.store import schema

logger = logging.getLogger(__name__)


def _v1_initial(conn: Connection) -> None:
    schema.metadata.create_all(conn)


def _v2_items_fts(conn: Connection) -> None:
    """Full-text search over titles and texts (SQLite FTS5 / Postgres tsvector index)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(
            "CREATE VIRTUAL TABLE IF NOT EXISTS items_fts USING fts5("
            "title, text, content='items', content_rowid='id')"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER IF NOT EXISTS items_fts_ai AFTER INSERT ON items BEGIN "
            "INSERT INTO items_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER IF NOT EXISTS items_fts_ad AFTER DELETE ON items BEGIN "
            "INSERT INTO items_fts(items_fts, rowid, title, text) "
            "VALUES ('delete', old.id, old.title, old.text); END"
        )
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            "CREATE INDEX IF NOT EXISTS ix_items_fts ON items USING gin "
            "(to_tsvector('simple', coalesce(title,'') || ' ' || coalesce(text,'')))"
        )


def _v3_events(conn: Connection) -> None:
    from regionwatch.store.event_schema import upgrade_0003

    upgrade_0003(conn)


def _v4_feedback(conn: Connection) -> None:
    """The analyst console's ``feedback`` table (Alembic revision ``0004_feedback`` after merge)."""
    schema.feedback.create(conn, checkfirst=True)


MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "initial schema", _v1_initial),
    (2, "full-text search over items", _v2_items_fts),
    (3, "events; outbox keyed by (event, category, channel, seq)", _v3_events),
    (4, "analyst feedback", _v4_feedback),
]


def migrate(engine: Engine) -> int:
    """Apply every pending migration; returns the resulting schema version."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # several workers may start at once: one migrates, the others wait
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(727274)")
        if "schema_version" not in inspect(conn).get_table_names():
            conn.exec_driver_sql(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
            )
        current = conn.execute(text("SELECT max(version) FROM schema_version")).scalar() or 0
        for version, label, fn in MIGRATIONS:
            if version > current:
                logger.info("store: applying migration %d (%s)", version, label)
                fn(conn)
                conn.execute(
                    text("INSERT INTO schema_version (version) VALUES (:v)"), {"v": version}
                )
                current = version
    return int(current)
