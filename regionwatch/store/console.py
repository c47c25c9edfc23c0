"""Reads the analyst console makes beyond the event read API: item texts and evidence, event
counts per day for the timeline, outbox counts per status. Each is one indexed query."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Date, Text, cast, func, select

from regionwatch.store import Store
from regionwatch.store import schema as t
from regionwatch.store.items import tag_result_from_json

if TYPE_CHECKING:
    from regionwatch.tagging import TagResult

__all__ = ["ItemText", "alert_counts", "event_day_counts", "item_texts"]


@dataclass(frozen=True, slots=True)
class ItemText:
    """What a page shows of an item beyond its row in a list: summary and tagger result."""

    item_id: int
    summary: str
    tags: TagResult | None


def item_texts(store: Store, item_ids: Sequence[int]) -> dict[int, ItemText]:
    """Summary and stored tagger result (its evidence) of these items, by id."""
    ids = list(item_ids)
    out: dict[int, ItemText] = {}
    with store.connect() as conn:
        for i in range(0, len(ids), 500):
            q = select(t.items.c.id, t.items.c.summary, t.items.c.tags).where(
                t.items.c.id.in_(ids[i : i + 500])
            )
            for r in conn.execute(q):
                tags = tag_result_from_json(dict(r.tags)) if r.tags else None
                out[int(r.id)] = ItemText(int(r.id), r.summary or "", tags)
    return out


def event_day_counts(store: Store, since: datetime) -> dict[tuple[str, date], int]:
    """Live events per (category, UTC day of their earliest article) since ``since``."""
    e = t.events.c
    # SQLite keeps UTC times as ISO text: the day is its first ten characters
    day: Any = (
        func.substr(e.time_first, 1, 10)
        if store.dialect == "sqlite"
        else cast(func.timezone("UTC", e.time_first), Date)
    )
    cats = e.categories if store.dialect == "sqlite" else cast(e.categories, Text)
    q = (
        select(day, cats, func.count())
        .where(e.merged_into.is_(None), e.time_first >= since)
        .group_by(day, cats)
    )
    out: dict[tuple[str, date], int] = {}
    with store.connect() as conn:
        for d, text_, n in conn.execute(q):
            when = d if isinstance(d, date) else date.fromisoformat(str(d))
            for c in text_ if isinstance(text_, list) else json.loads(text_ or "[]"):
                out[(str(c), when)] = out.get((str(c), when), 0) + int(n)
    return out


def alert_counts(store: Store) -> dict[str, int]:
    """Outbox rows per status."""
    with store.connect() as conn:
        return {
            str(s): int(n)
            for s, n in conn.execute(
                select(t.alerts.c.status, func.count()).group_by(t.alerts.c.status)
            )
        }
