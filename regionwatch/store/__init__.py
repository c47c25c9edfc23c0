"""The RegionWatch store: one SQLAlchemy code path for SQLite (default, WAL) and PostgreSQL.

The store is touched at the two ends of the pipeline: *what is new?* (known URL keys and
content hashes, feed poll state) and *save it* (items, tags, stories and alert outbox rows in
one transaction). Every write is idempotent: items are keyed by the hash of their canonical URL,
alerts by (story, category, channel).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    event,
    func,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from regionwatch.errors import StoreError
from regionwatch.models import Article, FeedPoll, Source
from regionwatch.store import schema as t
from regionwatch.store.migrations import migrate

__all__ = ["Store", "insert_ignore", "utcnow"]

logger = logging.getLogger(__name__)


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


def _sqlite_path(url: str) -> str | None:
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[1] if "///" in url else ""
    return None if path in ("", ":memory:") else path


class Store:
    """Access to the database named by a SQLAlchemy URL."""

    def __init__(self, url: str, *, echo: bool = False, migrate_now: bool = True) -> None:
        """Open (and by default create or upgrade) the store at ``url``.

        Raises:
            StoreError: the database cannot be reached or upgraded.
        """
        self.url = url
        path = _sqlite_path(url)
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

    def migrate(self) -> int:
        """Create or upgrade the schema in place; returns the schema version."""
        try:
            return migrate(self.engine)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot reach or upgrade the store: {exc}") from exc

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection inside one transaction (committed on success)."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"store operation failed: {exc}") from exc

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A plain connection for reads."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"store read failed: {exc}") from exc

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()

    # ------------------------------------------------------------------ feeds
    def sync_sources(self, sources: Sequence[Source]) -> dict[str, dict[str, Any]]:
        """Make sure every source has a feed row (url/metadata refreshed); return rows by name.

        One read of the feeds table, then writes only for new or changed sources, so opening a
        context over hundreds of unchanged feeds costs two statements.
        """
        now = utcnow()
        names = [s.name for s in sources]
        with self.begin() as conn:
            existing = {
                r["name"]: r
                for r in conn.execute(select(t.feeds).where(t.feeds.c.name.in_(names))).mappings()
            }
            new_rows = [
                dict(
                    name=s.name,
                    url=s.url,
                    kind=s.kind,
                    language=s.language,
                    country=s.country,
                    state_affiliated=s.state_affiliated,
                    created_at=now,
                    consecutive_failures=0,
                    items_seen=0,
                )
                for s in sources
                if s.name not in existing
            ]
            if new_rows:
                conn.execute(insert_ignore(conn, t.feeds), new_rows)
            dirty = bool(new_rows)
            for s in sources:
                row = existing.get(s.name)
                if row is None:
                    continue
                changes: dict[str, Any] = {}
                if row["url"] != s.url:
                    # a new address: forget validators and give it a fresh start
                    changes.update(
                        url=s.url,
                        etag=None,
                        last_modified=None,
                        consecutive_failures=0,
                        next_poll_at=None,
                    )
                for col in ("kind", "language", "country", "state_affiliated"):
                    if row[col] != getattr(s, col):
                        changes[col] = getattr(s, col)
                if changes:
                    dirty = True
                    conn.execute(update(t.feeds).where(t.feeds.c.id == row["id"]).values(**changes))
            if dirty:
                rows = (
                    conn.execute(select(t.feeds).where(t.feeds.c.name.in_(names))).mappings().all()
                )
            else:
                rows = list(existing.values())
        return {r["name"]: _row(r) for r in rows}

    def feed(self, name: str) -> dict[str, Any] | None:
        """The feed row named ``name``, or None."""
        with self.connect() as conn:
            row = conn.execute(select(t.feeds).where(t.feeds.c.name == name)).mappings().first()
        return _row(row) if row else None

    def feeds(self) -> list[dict[str, Any]]:
        """All feed rows, by name."""
        with self.connect() as conn:
            rows = conn.execute(select(t.feeds).order_by(t.feeds.c.name)).mappings().all()
        return [_row(r) for r in rows]

    def record_poll_success(self, feed_id: int, poll: FeedPoll, new_items: int) -> None:
        """Store the validators and health of a successful poll (200 or 304)."""
        now = utcnow()
        values: dict[str, Any] = {
            "last_polled_at": now,
            "last_success_at": now,
            "last_status": poll.status,
            "consecutive_failures": 0,
            "next_poll_at": None,
            "bozo_reason": poll.bozo_reason,
            "items_seen": t.feeds.c.items_seen + new_items,
        }
        if poll.status != "not_modified":
            values["etag"] = poll.etag
            values["last_modified"] = poll.last_modified
        values["baseline_at"] = func.coalesce(t.feeds.c.baseline_at, now)
        with self.begin() as conn:
            conn.execute(update(t.feeds).where(t.feeds.c.id == feed_id).values(**values))

    def record_poll_failure(self, feed_id: int, error: str, *, base_seconds: float = 60.0) -> None:
        """Store a failed poll; the feed is skipped for a growing backoff (capped at 6 hours)."""
        now = utcnow()
        with self.begin() as conn:
            row = conn.execute(
                select(t.feeds.c.consecutive_failures).where(t.feeds.c.id == feed_id)
            ).first()
            failures = (row[0] if row else 0) + 1
            delay = min(base_seconds * 2 ** (failures - 1), 6 * 3600) if failures > 1 else 0
            conn.execute(
                update(t.feeds)
                .where(t.feeds.c.id == feed_id)
                .values(
                    last_polled_at=now,
                    last_error_at=now,
                    last_status="error",
                    last_error=error[:2000],
                    consecutive_failures=failures,
                    next_poll_at=now + timedelta(seconds=delay) if delay else None,
                )
            )

    # ------------------------------------------------------------------ items
    def known_keys(self, keys: Iterable[str]) -> set[str]:
        """Which of these item keys (canonical-URL hashes) are already stored."""
        keys = list(dict.fromkeys(keys))
        found: set[str] = set()
        with self.connect() as conn:
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                found.update(
                    r[0]
                    for r in conn.execute(
                        select(t.items.c.url_hash).where(t.items.c.url_hash.in_(chunk))
                    )
                )
        return found

    def known_content(self, hashes: Iterable[str]) -> set[str]:
        """Which of these content hashes are already stored."""
        hs = [h for h in dict.fromkeys(hashes) if h]
        found: set[str] = set()
        with self.connect() as conn:
            for i in range(0, len(hs), 500):
                found.update(
                    r[0]
                    for r in conn.execute(
                        select(t.items.c.content_hash).where(
                            t.items.c.content_hash.in_(hs[i : i + 500])
                        )
                    )
                )
        return found

    @staticmethod
    def insert_item(
        conn: Connection,
        article: Article,
        *,
        feed_id: int | None,
        tags: dict[str, Any] | None,
        baseline: bool,
        now: datetime | None = None,
    ) -> int | None:
        """Insert one item inside the caller's transaction; None when its key already exists."""
        now = now or utcnow()
        cats = sorted(
            c for c, d in ((tags or {}).get("categories") or {}).items() if d.get("decision")
        )
        params = dict(
            url_hash=article.key,
            url=article.url,
            canonical_url=article.canonical_url,
            guid=article.guid,
            feed_id=feed_id,
            feed_name=article.source,
            title=article.title,
            summary=article.summary,
            text=article.text,
            text_source=article.text_source,
            fetch_note=article.fetch_note,
            language=article.language,
            author=article.author,
            site=article.site,
            published_at=article.published,
            first_seen_at=now,
            content_hash=article.content_hash or None,
            origin=article.origin,
            lexicon_hash=(tags or {}).get("lexicon_hash"),
            categories=cats,
            tags=tags,
            baseline=baseline,
        )
        # values as parameters of one prepared statement (compiled once, not built per item)
        stmt = insert_ignore(conn, t.items).returning(t.items.c.id)
        row = conn.execute(stmt, params).first()
        if row is None:
            return None
        item_id = int(row[0])
        if tags:
            Store.write_tags(conn, item_id, tags, replace=False)  # a new item has no tag rows
        return item_id

    @staticmethod
    def write_tags(
        conn: Connection, item_id: int, tags: dict[str, Any], *, replace: bool = True
    ) -> None:
        """Write (by default: replace) the tag rows of one item from a tagger result dict."""
        if replace:
            conn.execute(t.item_tags.delete().where(t.item_tags.c.item_id == item_id))
        rows: list[dict[str, Any]] = []
        for a in tags.get("actors") or []:
            rows.append(
                dict(
                    item_id=item_id,
                    kind="actor",
                    slug=str(a.get("slug"))[:100],
                    score=1.0,
                    mentions=int(a.get("mentions") or 1),
                )
            )
        for th in tags.get("themes") or []:
            slug = th.get("slug") if isinstance(th, dict) else th
            mentions = int(th.get("mentions") or 1) if isinstance(th, dict) else 1
            rows.append(
                dict(
                    item_id=item_id,
                    kind="theme",
                    slug=str(slug)[:100],
                    score=1.0,
                    mentions=mentions,
                )
            )
        for cat, d in (tags.get("categories") or {}).items():
            rows.append(
                dict(
                    item_id=item_id,
                    kind="category",
                    slug=cat,
                    score=float(d.get("score") or 0.0),
                    mentions=len(d.get("evidence") or []),
                )
            )
        seen: set[tuple[str, str]] = set()
        unique = []
        for r in rows:
            k = (r["kind"], r["slug"])
            if k not in seen:
                seen.add(k)
                unique.append(r)
        if unique:
            conn.execute(t.item_tags.insert(), unique)

    def list_items(
        self,
        *,
        feed: str | None = None,
        since: datetime | None = None,
        category: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Stored items, newest first (by publication, else first-seen time)."""
        q = select(t.items).order_by(
            func.coalesce(t.items.c.published_at, t.items.c.first_seen_at).desc(),
            t.items.c.id.desc(),
        )
        if feed:
            q = q.where(t.items.c.feed_name == feed)
        if since:
            q = q.where(func.coalesce(t.items.c.published_at, t.items.c.first_seen_at) >= since)
        if limit:
            q = q.limit(limit)
        with self.connect() as conn:
            rows = [_row(r) for r in conn.execute(q).mappings()]
        if category:
            rows = [r for r in rows if category in (r.get("categories") or [])]
        return rows

    # ------------------------------------------------------------------ runs
    def start_run(self, kind: str) -> int:
        """Record the start of a run; returns its id."""
        with self.begin() as conn:
            row = conn.execute(
                t.runs.insert()
                .values(kind=kind, started_at=utcnow(), status="running")
                .returning(t.runs.c.id)
            ).first()
        assert row is not None
        return int(row[0])

    def finish_run(self, run_id: int, status: str, summary: dict[str, Any]) -> None:
        """Record the end of a run with its summary."""
        with self.begin() as conn:
            conn.execute(
                update(t.runs)
                .where(t.runs.c.id == run_id)
                .values(finished_at=utcnow(), status=status, summary=summary)
            )

    def recent_runs(self, limit: int = 10) -> list[dict[str, Any]]:
        """The latest runs, newest first."""
        with self.connect() as conn:
            rows = (
                conn.execute(
                    select(t.runs)
                    .order_by(t.runs.c.started_at.desc(), t.runs.c.id.desc())
                    .limit(limit)
                )
                .mappings()
                .all()
            )
        return [_row(r) for r in rows]

    def counts(self) -> dict[str, int]:
        """Row counts of the main tables."""
        out: dict[str, int] = {}
        with self.connect() as conn:
            for name, table in (
                ("feeds", t.feeds),
                ("items", t.items),
                ("stories", t.stories),
                ("alerts", t.alerts),
                ("runs", t.runs),
            ):
                out[name] = int(conn.execute(select(func.count()).select_from(table)).scalar_one())
        return out

    def size_bytes(self) -> int | None:
        """Size of the database on disk, when it can be known."""
        path = _sqlite_path(self.url)
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


def _row(row: Any) -> dict[str, Any]:
    d = dict(row)
    for k, v in d.items():
        if isinstance(v, datetime):
            d[k] = as_utc(v)
    return d


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # take over transaction control so BEGIN IMMEDIATE can be issued (pysqlite quirk)
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=60000")
    cur.close()


def _sqlite_begin_immediate(conn: Connection) -> None:
    # writers queue on the lock at BEGIN instead of failing on upgrade from a read lock
    conn.exec_driver_sql("BEGIN IMMEDIATE")
