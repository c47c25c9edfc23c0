"""Item rows: the articles stored, their tags, and the reads the pipeline and views make of them.

Tags arrive as the tagger's :class:`~regionwatch.tagging.TagResult` and are kept twice: as the
result's JSON on the item (what views and re-rendering read back, see :func:`tag_result_from_json`)
and as one ``item_tags`` row per actor, theme and category (what queries filter on).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, func, or_, select, update

from regionwatch.models import Article
from regionwatch.settings import CATEGORIES
from regionwatch.store import schema as t
from regionwatch.store._base import Door, TxBase, insert_ignore, row_dict, utcnow

if TYPE_CHECKING:
    from regionwatch.tagging import TagResult

__all__ = ["ItemReads", "ItemWrites", "decided_categories", "tag_result_from_json"]

_CHUNK = 500


def decided_categories(tags: TagResult | None) -> list[str]:
    """The categories the tagger decided *yes* for, sorted."""
    if tags is None:
        return []
    return sorted(c for c, r in tags.categories.items() if r.decision)


def tag_result_from_json(data: dict[str, Any] | None) -> TagResult | None:
    """The tagger's result rebuilt from the JSON stored on an item (None when there is none)."""
    if not data:
        return None
    from regionwatch.tagging import CategoryResult, TagResult

    # every category has a result, as the tagger gives it (decided no when not stored)
    cats: dict[str, CategoryResult] = {c: CategoryResult() for c in CATEGORIES}
    for name, d in (data.get("categories") or {}).items():
        if isinstance(d, dict):
            cats[name] = CategoryResult(
                score=float(d.get("score") or 0.0),
                decision=bool(d.get("decision")),
                evidence=[e for e in d.get("evidence") or [] if isinstance(e, dict)],
            )
    return TagResult(
        actors=[a for a in data.get("actors") or [] if isinstance(a, dict)],
        themes=list(data.get("themes") or []),
        categories=cats,
        other_entities=list(data.get("other_entities") or []),
        lexicon_hash=str(data.get("lexicon_hash") or ""),
    )


def _tag_rows(item_id: int, tags: TagResult) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for a in tags.actors:
        rows.append(
            dict(
                item_id=item_id,
                kind="actor",
                slug=str(a.get("slug"))[:100],
                score=1.0,
                mentions=int(a.get("mentions") or 1),
            )
        )
    for th in tags.themes:
        slug = th.get("slug") if isinstance(th, dict) else th
        mentions = int(th.get("mentions") or 1) if isinstance(th, dict) else 1
        rows.append(
            dict(item_id=item_id, kind="theme", slug=str(slug)[:100], score=1.0, mentions=mentions)
        )
    for cat, d in tags.categories.items():
        rows.append(
            dict(
                item_id=item_id,
                kind="category",
                slug=cat,
                score=float(d.score or 0.0),
                mentions=len(d.evidence or []),
            )
        )
    seen: set[tuple[str, str]] = set()
    unique = []
    for r in rows:
        k = (r["kind"], r["slug"])
        if k not in seen:
            seen.add(k)
            unique.append(r)
    return unique


class ItemWrites(TxBase):
    """Item writes inside one transaction."""

    def insert_item(
        self,
        article: Article,
        *,
        feed_id: int | None,
        tags: TagResult | None,
        baseline: bool,
        now: datetime | None = None,
    ) -> int | None:
        """Insert one item; None when its key already exists."""
        now = now or utcnow()
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
            lexicon_hash=tags.lexicon_hash if tags is not None else None,
            categories=decided_categories(tags),
            tags=tags.to_dict() if tags is not None else None,
            baseline=baseline,
        )
        # values as parameters of one prepared statement (compiled once, not built per item)
        stmt = insert_ignore(self.conn, t.items).returning(t.items.c.id)
        row = self.conn.execute(stmt, params).first()
        if row is None:
            return None
        item_id = int(row[0])
        if tags is not None:
            self.write_tags(item_id, tags, replace=False)  # a new item has no tag rows
        return item_id

    def write_tags(self, item_id: int, tags: TagResult, *, replace: bool = True) -> None:
        """Write (by default: replace) the tag rows of one item."""
        if replace:
            self.conn.execute(t.item_tags.delete().where(t.item_tags.c.item_id == item_id))
        rows = _tag_rows(item_id, tags)
        if rows:
            self.conn.execute(t.item_tags.insert(), rows)

    def retag_item(self, item_id: int, tags: TagResult) -> None:
        """Replace an item's tags, categories and lexicon hash (alerts are left alone)."""
        self.conn.execute(
            update(t.items)
            .where(t.items.c.id == item_id)
            .values(
                tags=tags.to_dict(),
                categories=decided_categories(tags),
                lexicon_hash=tags.lexicon_hash,
            )
        )
        self.write_tags(item_id, tags)


class ItemReads(Door):
    """Reads of the items table."""

    def _in_chunks(self, column: Any, values: Sequence[str], *cols: Any) -> list[Any]:
        out: list[Any] = []
        with self.connect() as conn:
            for i in range(0, len(values), _CHUNK):
                q = select(*cols).where(column.in_(values[i : i + _CHUNK]))
                out.extend(conn.execute(q).mappings())
        return out

    def known_keys(self, keys: Iterable[str]) -> set[str]:
        """Which of these item keys (canonical-URL hashes) are already stored."""
        col = t.items.c.url_hash
        return {r["url_hash"] for r in self._in_chunks(col, list(dict.fromkeys(keys)), col)}

    def known_content(self, hashes: Iterable[str]) -> set[str]:
        """Which of these content hashes are already stored."""
        col = t.items.c.content_hash
        hs = [h for h in dict.fromkeys(hashes) if h]
        return {r["content_hash"] for r in self._in_chunks(col, hs, col)}

    def items_by_keys(self, keys: Iterable[str], *cols: str) -> list[dict[str, Any]]:
        """The named columns of the items with these keys."""
        columns = [t.items.c[c] for c in cols]
        rows = self._in_chunks(t.items.c.url_hash, list(dict.fromkeys(keys)), *columns)
        return [row_dict(r) for r in rows]

    def items_by_urls(self, urls: Sequence[str]) -> list[dict[str, Any]]:
        """Items whose URL or canonical URL is one of ``urls`` (id, URLs, story, tags)."""
        i = t.items.c
        q = select(i.id, i.url, i.canonical_url, i.story_id, i.categories, i.tags).where(
            or_(i.url.in_(urls), i.canonical_url.in_(urls))
        )
        with self.connect() as conn:
            return [row_dict(r) for r in conn.execute(q).mappings()]

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
            rows = [row_dict(r) for r in conn.execute(q).mappings()]
        if category:
            rows = [r for r in rows if category in (r.get("categories") or [])]
        return rows

    def new_items(self, since: datetime) -> list[dict[str, Any]]:
        """Items first seen at or after ``since`` (for run artifacts and tables)."""
        i = t.items.c
        q = (
            select(i.id, i.title, i.url, i.feed_name, i.published_at, i.categories, i.tags)
            .add_columns(i.story_id)
            .where(i.first_seen_at >= since)
            .order_by(i.id)
        )
        with self.connect() as conn:
            rows = [dict(r) for r in conn.execute(q).mappings()]
        for r in rows:
            tags = r.pop("tags") or {}
            r["actors"] = [a.get("name") or a.get("slug") for a in tags.get("actors") or []][:6]
        return rows

    def items_since(self, since: datetime) -> list[dict[str, Any]]:
        """Items first seen at or after ``since``, oldest first (for the digest)."""
        i = t.items.c
        q = (
            select(i.id, i.title, i.url, i.feed_name, i.first_seen_at, i.published_at)
            .add_columns(i.categories, i.story_id, i.event_id, i.origin)
            .where(i.first_seen_at >= since)
            .order_by(i.first_seen_at)
        )
        with self.connect() as conn:
            return [row_dict(r) for r in conn.execute(q).mappings()]

    def _stale(self, lexicon_hash: str | None) -> ColumnElement[bool] | None:
        if lexicon_hash is None:
            return None
        c = t.items.c.lexicon_hash
        return c.is_(None) | (c != lexicon_hash)

    def count_to_retag(self, lexicon_hash: str | None) -> int:
        """Items tagged with another lexicon than ``lexicon_hash`` (None: all items)."""
        q = select(func.count()).select_from(t.items)
        cond = self._stale(lexicon_hash)
        with self.connect() as conn:
            return int(conn.execute(q.where(cond) if cond is not None else q).scalar_one())

    def items_to_retag(
        self, lexicon_hash: str | None, *, after_id: int, limit: int
    ) -> list[dict[str, Any]]:
        """The next ``limit`` items after ``after_id`` to re-tag (id, title, text, language,
        categories)."""
        i = t.items.c
        q = select(i.id, i.title, i.text, i.language, i.categories).where(i.id > after_id)
        cond = self._stale(lexicon_hash)
        if cond is not None:
            q = q.where(cond)
        with self.connect() as conn:
            return [dict(r) for r in conn.execute(q.order_by(i.id).limit(limit)).mappings()]
