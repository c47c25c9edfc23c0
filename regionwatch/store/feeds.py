"""Feed rows: configured sources, their validators (ETag, Last-Modified) and health."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update

from regionwatch.models import FeedPoll, Source
from regionwatch.store import schema as t
from regionwatch.store._base import Door, insert_ignore, row_dict, utcnow

__all__ = ["FeedRows"]


class FeedRows(Door):
    """The ``feeds`` table: one row per configured source."""

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
        return {r["name"]: row_dict(r) for r in rows}

    def feed(self, name: str) -> dict[str, Any] | None:
        """The feed row named ``name``, or None."""
        with self.connect() as conn:
            row = conn.execute(select(t.feeds).where(t.feeds.c.name == name)).mappings().first()
        return row_dict(row) if row else None

    def feeds(self) -> list[dict[str, Any]]:
        """All feed rows, by name."""
        with self.connect() as conn:
            rows = conn.execute(select(t.feeds).order_by(t.feeds.c.name)).mappings().all()
        return [row_dict(r) for r in rows]

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
