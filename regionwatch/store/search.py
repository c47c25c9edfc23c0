"""Full-text search over stored items: SQLite FTS5 (``items_fts``) or the PostgreSQL tsvector index.

The query is the words a person types, never search syntax: it is split into words and each
word matches as a prefix (``Лачин`` finds ``Лачине``), all words required. Nothing of the typed
text reaches the SQL except as bound parameters. The latest stored matches come first (by item
id: a common word must not make the store score every item).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text

from regionwatch.models import SearchHit
from regionwatch.store import Store, as_utc
from regionwatch.store import schema as t

__all__ = ["SearchFilters", "query_words", "search_items", "snippet"]

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_WORDS = 8
SNIPPET = 90


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Filters shared by the console's lists: category, watched party, language, date range."""

    category: str | None = None
    #: any of these watched parties (slugs); empty: no filter
    actors: tuple[str, ...] = ()
    language: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def query_words(q: str) -> list[str]:
    """The words of a typed query (at most :data:`MAX_WORDS`), lower-cased."""
    return [w.lower() for w in _WORD.findall(q)][:MAX_WORDS]


def snippet(text_: str, words: list[str], width: int = SNIPPET) -> str:
    """A plain-text excerpt of ``text_`` around the first word found (the start otherwise)."""
    low = text_.lower()
    pos = min((p for p in (low.find(w) for w in words) if p >= 0), default=0)
    start = max(0, pos - width // 2)
    end = min(len(text_), start + width * 2)
    out = " ".join(text_[start:end].split())
    return ("… " if start else "") + out + (" …" if end < len(text_) else "")


def _matching_ids(store: Store, words: list[str], limit: int) -> list[int]:
    with store.connect() as conn:
        if store.dialect == "sqlite":
            match = " ".join('"' + w.replace('"', '""') + '"*' for w in words)
            rows = conn.execute(
                text(
                    "SELECT rowid FROM items_fts WHERE items_fts MATCH :m "
                    "ORDER BY rowid DESC LIMIT :n"
                ),
                {"m": match, "n": limit},
            )
        else:
            # the expression of the ix_items_fts index, so PostgreSQL uses it
            tsq = " & ".join(w + ":*" for w in words)
            rows = conn.execute(
                text(
                    "SELECT id FROM items WHERE to_tsvector('simple', coalesce(title,'') || ' ' "
                    "|| coalesce(text,'')) @@ to_tsquery('simple', :q) "
                    "ORDER BY id DESC LIMIT :n"
                ),
                {"q": tsq, "n": limit},
            )
        return [int(r[0]) for r in rows]


def search_items(
    store: Store, q: str, filters: SearchFilters | None = None, *, limit: int = 100
) -> list[SearchHit]:
    """Items matching every word of ``q`` and the filters, newest first (at most ``limit``)."""
    words = query_words(q)
    if not words:
        return []
    ids = _matching_ids(store, words, limit * 10)
    if not ids:
        return []
    f = filters or SearchFilters()
    cols: list[Any] = [
        t.items.c.id,
        t.items.c.title,
        t.items.c.url,
        t.items.c.feed_name,
        t.items.c.language,
        t.items.c.published_at,
        t.items.c.first_seen_at,
        t.items.c.categories,
        t.items.c.text,
        t.items.c.summary,
        t.items.c.story_id,
        t.items.c.event_id,
    ]
    when = func.coalesce(t.items.c.published_at, t.items.c.first_seen_at)
    sel = select(*cols).where(t.items.c.id.in_(ids)).order_by(when.desc(), t.items.c.id.desc())
    if f.language:
        sel = sel.where(t.items.c.language == f.language)
    if f.since:
        sel = sel.where(when >= f.since)
    if f.until:
        sel = sel.where(when < f.until)
    if f.actors:
        sel = sel.where(
            t.items.c.id.in_(
                select(t.item_tags.c.item_id).where(
                    t.item_tags.c.kind == "actor", t.item_tags.c.slug.in_(list(f.actors))
                )
            )
        )
    with store.connect() as conn:
        rows = list(conn.execute(sel).mappings())
    hits = []
    for r in rows:
        cats = tuple(r["categories"] or [])
        if f.category and f.category not in cats:
            continue
        hits.append(
            SearchHit(
                item_id=int(r["id"]),
                title=r["title"] or "",
                url=r["url"],
                outlet=r["feed_name"],
                language=r["language"],
                published=as_utc(r["published_at"]),
                categories=cats,
                snippet=snippet(r["text"] or r["summary"] or r["title"] or "", words),
                event_id=r.get("event_id"),
                story_id=r["story_id"],
            )
        )
        if len(hits) >= limit:
            break
    return hits
