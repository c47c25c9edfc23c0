"""The RegionWatch store: one SQLAlchemy code path for SQLite (default, WAL) and PostgreSQL.

The store is the one door to the database: stages decide on typed records, the store persists
them. It is touched at the two ends of the pipeline: *what is new?* (known URL keys and content
hashes, feed poll state) and *save it* (items, tags, stories and alert outbox rows in one
:meth:`Store.transaction`). Every write is idempotent: items are keyed by the hash of their
canonical URL, alerts by (event, category, channel, seq).

One module per table group, put together here: :mod:`~regionwatch.store.feeds`,
:mod:`~regionwatch.store.items`, :mod:`~regionwatch.store.stories`,
:mod:`~regionwatch.store.events`, :mod:`~regionwatch.store.outbox`,
:mod:`~regionwatch.store.runs`; the schema in
:mod:`~regionwatch.store.schema`, its versions in :mod:`~regionwatch.store.migrations`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from regionwatch.errors import StoreError
from regionwatch.store._base import (
    as_utc,
    insert_ignore,
    row_dict,
    sqlite_path,
    utcnow,
)
from regionwatch.store.events import EventWrites
from regionwatch.store.feeds import FeedRows
from regionwatch.store.items import ItemReads, ItemWrites
from regionwatch.store.migrations import current_revision, migrate
from regionwatch.store.outbox import AlertWrites, OutboxRows
from regionwatch.store.runs import RunRows
from regionwatch.store.stories import StoryReads, StoryWrites

__all__ = ["SAVE_LOCK_KEY", "Store", "StoreTx", "as_utc", "insert_ignore", "row_dict", "utcnow"]

logger = logging.getLogger(__name__)

#: PostgreSQL advisory lock that serialises save transactions across workers.
SAVE_LOCK_KEY = 727275


class StoreTx(ItemWrites, StoryWrites, EventWrites, AlertWrites):
    """One open transaction: the writes of a save (items, tags, stories, events, outbox rows)."""

    def lock_saves(self) -> bool:
        """Serialise save transactions across workers (PostgreSQL advisory lock, held to the
        end of the transaction); returns whether a lock was taken (SQLite's writer lock
        already serialises them, from ``BEGIN IMMEDIATE``)."""
        if self.dialect != "postgresql":
            return False
        self.conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SAVE_LOCK_KEY})")
        return True


class Store(FeedRows, ItemReads, StoryReads, OutboxRows, RunRows):
    """Access to the database named by a SQLAlchemy URL."""

    def __init__(self, url: str, *, echo: bool = False, migrate_now: bool = True) -> None:
        """Open (and by default create or upgrade) the store at ``url``.

        Raises:
            StoreError: the database cannot be reached or upgraded.
        """
        self.url = url
        path = sqlite_path(url)
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 60, "check_same_thread": False}
        else:
            kwargs["pool_pre_ping"] = True
            kwargs["pool_size"] = 5
        try:
            self.engine: Engine = create_engine(url, **kwargs)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise StoreError(f"cannot open store {url.split('@')[-1]}: {exc}") from exc
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin_immediate)
        if migrate_now:
            self.migrate()

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def migrate(self) -> str:
        """Create or upgrade the schema in place; returns its (Alembic) revision."""
        try:
            return migrate(self.engine)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot reach or upgrade the store: {exc}") from exc

    def revision(self) -> str | None:
        """The schema revision the database is at (None: not under Alembic yet)."""
        with self.connect() as conn:
            return current_revision(conn)

    @contextmanager
    def transaction(self) -> Iterator[StoreTx]:
        """One transaction (committed on success) and the writes made in it."""
        with self.begin() as conn:
            yield StoreTx(conn)

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()

    def size_bytes(self) -> int | None:
        """Size of the database on disk, when it can be known."""
        path = sqlite_path(self.url)
        if path:
            total = 0
            for suffix in ("", "-wal", "-shm"):
                try:
                    total += os.path.getsize(path + suffix)
                except OSError:
                    pass
            return total
        if self.dialect == "postgresql":
            with self.connect() as conn:
                return int(
                    conn.execute(text("select pg_database_size(current_database())")).scalar_one()
                )
        return None

    def table_names(self) -> list[str]:
        """Names of the tables present (for diagnostics)."""
        return sorted(inspect(self.engine).get_table_names())


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # take over transaction control so BEGIN IMMEDIATE can be issued (pysqlite quirk)
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=60000")
    cur.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    # writers queue on the lock at BEGIN instead of failing on upgrade from a read lock
    conn.exec_driver_sql("BEGIN IMMEDIATE")
