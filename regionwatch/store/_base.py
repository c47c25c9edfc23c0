"""Helpers every store module shares: the clock, UTC normalisation, dialect-aware inserts."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from regionwatch.errors import StoreError

__all__ = ["Door", "TxBase", "as_utc", "insert_ignore", "row_dict", "sqlite_path", "utcnow"]


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """Normalise a datetime read back from the database to aware UTC (SQLite drops tzinfo)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def insert_ignore(conn: Connection, table: Any) -> Any:
    """An INSERT that does nothing on a key conflict, in the connection's dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def row_dict(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A result row as a dict, its datetimes aware UTC."""
    d = dict(row)
    for k, v in d.items():
        if isinstance(v, datetime):
            d[k] = as_utc(v)
    return d


def sqlite_path(url: str) -> str | None:
    """The file of a SQLite URL (None for other databases and in-memory SQLite)."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[1] if "///" in url else ""
    return None if path in ("", ":memory:") else path


class Door:
    """The engine and its two ways in: a transaction (:meth:`begin`) and a read (:meth:`connect`).

    The store's modules add their operations to this as mixins; :class:`regionwatch.store.Store`
    puts them together.
    """

    engine: Engine

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection inside one transaction (committed on success)."""
        with _store_errors("store operation failed"), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A plain connection for reads."""
        with _store_errors("store read failed"), self.engine.connect() as conn:
            yield conn


@contextmanager
def _store_errors(what: str) -> Iterator[None]:
    """Database errors surface as :class:`~regionwatch.errors.StoreError` (``what: cause``)."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise StoreError(f"{what}: {exc}") from exc


class TxBase:
    """One open transaction of the store; the store's modules add their writes as mixins."""

    def __init__(self, conn: Connection) -> None:
        """Wrap the connection of an open transaction."""
        self.conn = conn

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.conn.dialect.name
