"""Story rows and item signatures: what the story stage (:mod:`regionwatch.stories`) decides,
persisted; and the signatures it reloads after a restart or picks up from other workers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from regionwatch.models import Signature, Story, StoryDecision
from regionwatch.store import schema as t
from regionwatch.store._base import Door, TxBase, as_utc, insert_ignore

__all__ = ["StoryReads", "StoryWrites", "story_from_row"]

_NEW_STORY = t.stories.insert().returning(t.stories.c.id)
_SET_STORY = (
    update(t.items).where(t.items.c.id == bindparam("iid")).values(story_id=bindparam("sid"))
)


def story_from_row(row: Any) -> Story:
    """A :class:`~regionwatch.models.Story` from a ``stories`` row (a mapping)."""
    first = as_utc(row["first_seen_at"])
    last = as_utc(row["last_seen_at"])
    assert first is not None and last is not None
    return Story(
        story_id=int(row["id"]),
        title=row["title"] or "",
        first_seen=first,
        last_seen=last,
        lead_item_id=row["lead_item_id"],
        item_count=int(row["item_count"] or 1),
        outlets=tuple(row["outlets"] or ()),
        categories=tuple(row["categories"] or ()),
        alerted_outlet_count=int(row["alerted_outlet_count"] or 0),
    )


def _signatures(conn: Connection, since: datetime) -> Iterator[Signature]:
    s = t.signatures.c
    q = (
        select(s.item_id, s.story_id, s.seen_at, s.title_norm, s.minhash)
        .where(s.seen_at >= since)
        .order_by(s.seen_at)
    )
    for row in conn.execute(q).yield_per(1000):
        yield Signature(
            item_id=int(row.item_id),
            story_id=int(row.story_id),
            seen_at=as_utc(row.seen_at) or since,
            title_norm=row.title_norm or "",
            minhash=row.minhash or b"",
        )


class StoryReads(Door):
    """Reads of stories and signatures outside a transaction."""

    def signatures_since(self, since: datetime) -> Iterator[Signature]:
        """Stored signatures seen at or after ``since``, oldest first (streamed)."""
        with self.connect() as conn:
            yield from _signatures(conn, since)

    def stories_since(self, since: datetime) -> dict[int, Story]:
        """Stories last seen at or after ``since``, by id."""
        with self.connect() as conn:
            rows = conn.execute(select(t.stories).where(t.stories.c.last_seen_at >= since))
            return {int(r["id"]): story_from_row(r) for r in rows.mappings()}


class StoryWrites(TxBase):
    """Story writes (and the reads the story stage makes) inside one transaction."""

    def signatures_since(self, since: datetime) -> Iterator[Signature]:
        """Signatures seen at or after ``since`` as this transaction sees them."""
        return _signatures(self.conn, since)

    def story_holding(self, item_id: int, story_id: int) -> Story | None:
        """The story, when ``item_id`` is stored in it (an index entry may be of a rolled-back
        transaction, whose ids may since have been reused)."""
        row = (
            self.conn.execute(
                select(t.stories)
                .select_from(
                    t.signatures.join(t.stories, t.stories.c.id == t.signatures.c.story_id)
                )
                .where(t.signatures.c.item_id == item_id, t.signatures.c.story_id == story_id)
            )
            .mappings()
            .first()
        )
        return story_from_row(row) if row is not None else None

    def save_story(self, d: StoryDecision) -> int:
        """Persist the story stage's decision for one item; returns its story id.

        Joins the item to ``d.joined`` (item count, outlets and last-seen time updated) or opens
        a new story led by the item; writes the item's signature and sets ``items.story_id``.
        """
        if d.joined is not None:
            outlets = list(d.joined.outlets)
            if d.outlet and d.outlet not in outlets:
                outlets.append(d.outlet)
            story_id = d.joined.story_id
            self.conn.execute(
                update(t.stories)
                .where(t.stories.c.id == story_id)
                .values(
                    item_count=t.stories.c.item_count + 1,
                    outlets=outlets,
                    last_seen_at=max(d.now, d.joined.last_seen),
                )
            )
        else:
            res = self.conn.execute(
                _NEW_STORY,
                dict(
                    first_seen_at=d.now,
                    last_seen_at=d.now,
                    lead_item_id=d.item_id,
                    title=(d.title or "")[:1000],
                    item_count=1,
                    outlets=[d.outlet] if d.outlet else [],
                    categories=[],
                    alerted_outlet_count=0,
                ),
            ).first()
            assert res is not None
            story_id = int(res[0])
        self.conn.execute(
            insert_ignore(self.conn, t.signatures),
            dict(
                item_id=d.item_id,
                story_id=story_id,
                seen_at=d.signature_at,
                title_norm=d.title_norm,
                minhash=d.minhash,
            ),
        )
        self.conn.execute(_SET_STORY, {"iid": d.item_id, "sid": story_id})
        return story_id

    def add_story_categories(self, story_id: int, cats: list[str]) -> None:
        """Add categories to a story's list (order kept, no repeats)."""
        current = self.conn.execute(
            select(t.stories.c.categories).where(t.stories.c.id == story_id)
        ).scalar()
        have = list(current or [])
        merged = have + [c for c in cats if c not in have]
        if merged != have:
            self.conn.execute(
                update(t.stories).where(t.stories.c.id == story_id).values(categories=merged)
            )

    def mark_story_alerted(self, story_id: int) -> None:
        """Remember how many outlets carried the story when it alerted."""
        outlets = self.conn.execute(
            select(t.stories.c.outlets).where(t.stories.c.id == story_id)
        ).scalar()
        self.conn.execute(
            update(t.stories)
            .where(t.stories.c.id == story_id)
            .values(alerted_outlet_count=len(outlets or []) or 1)
        )
