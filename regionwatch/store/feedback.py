"""Analyst feedback: verdicts on an event's or an item's categories, kept apart from alerts.

A verdict never changes an item, an event or an alert already sent: it is its own row. It feeds
two things: the dataset ``regionwatch feedback export`` writes (the items with the labels the
desk says they have, in the ``eval`` format) and the precision ``regionwatch status`` shows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, inspect, select, text

from regionwatch.errors import ConfigError
from regionwatch.models import VERDICTS, EvalRow, Feedback, FeedbackInput, Verdict
from regionwatch.store import Store, as_utc, utcnow
from regionwatch.store import schema as t

__all__ = [
    "FeedbackError",
    "CategoryPrecision",
    "add_feedback",
    "export_feedback",
    "feedback_precision",
    "labels_after",
    "list_feedback",
]

NOTE_MAX = 2000


class FeedbackError(ConfigError):
    """A verdict that cannot be stored: unknown category or verdict, no such event or item."""


@dataclass(frozen=True, slots=True)
class CategoryPrecision:
    """What the verdicts on one category imply: ``right / (right + wrong)``."""

    category: str
    right: int
    wrong: int
    missing: int

    @property
    def precision(self) -> float | None:
        """None when nobody judged a given label of this category."""
        judged = self.right + self.wrong
        return self.right / judged if judged else None


def _validate(fb: FeedbackInput, categories: Iterable[str]) -> None:
    if (fb.event_id is None) == (fb.item_id is None):
        raise FeedbackError("give exactly one of event_id and item_id")
    allowed = tuple(categories)
    if fb.category not in allowed:
        raise FeedbackError(f"unknown category {fb.category!r}; one of {', '.join(allowed)}")
    if fb.verdict not in VERDICTS:
        raise FeedbackError(f"unknown verdict {fb.verdict!r}; one of {', '.join(VERDICTS)}")
    if len(fb.note) > NOTE_MAX:
        raise FeedbackError(f"note longer than {NOTE_MAX} characters")


def _has_events(conn: Connection) -> bool:
    return "events" in inspect(conn).get_table_names()


def _exists(conn: Connection, fb: FeedbackInput) -> bool:
    if fb.item_id is not None:
        q = select(t.items.c.id).where(t.items.c.id == fb.item_id)
        return conn.execute(q).first() is not None
    if not _has_events(conn):
        return False
    row = conn.execute(text("SELECT id FROM events WHERE id = :e"), {"e": fb.event_id}).first()
    return row is not None


def add_feedback(store: Store, fb: FeedbackInput, categories: Iterable[str]) -> Feedback:
    """Store one verdict; raises :class:`FeedbackError` (nothing stored) when it is invalid."""
    _validate(fb, categories)
    now = utcnow()
    with store.begin() as conn:
        if not _exists(conn, fb):
            what = f"event {fb.event_id}" if fb.event_id is not None else f"item {fb.item_id}"
            raise FeedbackError(f"no such {what}")
        new_id = conn.execute(
            t.feedback.insert()
            .values(
                event_id=fb.event_id,
                item_id=fb.item_id,
                category=fb.category,
                verdict=fb.verdict,
                note=fb.note.strip(),
                origin=fb.origin,
                created_at=now,
            )
            .returning(t.feedback.c.id)
        ).scalar_one()
    return Feedback(
        feedback_id=int(new_id),
        category=fb.category,
        verdict=fb.verdict,
        created_at=now,
        event_id=fb.event_id,
        item_id=fb.item_id,
        note=fb.note.strip(),
        origin=fb.origin,
    )


def _record(r: Any) -> Feedback:
    return Feedback(
        feedback_id=int(r["id"]),
        category=str(r["category"]),
        verdict=cast(Verdict, r["verdict"]),
        created_at=as_utc(r["created_at"]) or utcnow(),
        event_id=r["event_id"],
        item_id=r["item_id"],
        note=r["note"] or "",
        origin=r["origin"] or "api",
    )


def list_feedback(
    store: Store,
    *,
    event_id: int | None = None,
    item_ids: Iterable[int] | None = None,
    since: datetime | None = None,
) -> list[Feedback]:
    """Verdicts, newest first: on one event and/or on some items, or all (since a time)."""
    q = select(t.feedback).order_by(t.feedback.c.created_at.desc(), t.feedback.c.id.desc())
    ids = list(item_ids or [])
    if event_id is not None and ids:
        q = q.where((t.feedback.c.event_id == event_id) | t.feedback.c.item_id.in_(ids))
    elif event_id is not None:
        q = q.where(t.feedback.c.event_id == event_id)
    elif ids:
        q = q.where(t.feedback.c.item_id.in_(ids))
    if since is not None:
        q = q.where(t.feedback.c.created_at >= since)
    with store.connect() as conn:
        return [_record(r) for r in conn.execute(q).mappings()]


def feedback_precision(
    store: Store, since: datetime, categories: Iterable[str]
) -> list[CategoryPrecision]:
    """Per category, the verdicts given since ``since`` (latest verdict per target counts)."""
    latest: dict[tuple[str, int | None, int | None], Verdict] = {}
    for fb in reversed(list_feedback(store, since=since)):
        latest[(fb.category, fb.event_id, fb.item_id)] = fb.verdict
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(VERDICTS, 0))
    for (category, _e, _i), verdict in latest.items():
        counts[category][verdict] += 1
    return [
        CategoryPrecision(c, counts[c]["right"], counts[c]["wrong"], counts[c]["missing"])
        for c in categories
    ]


def labels_after(given: Iterable[str], verdicts: Iterable[tuple[str, Verdict]]) -> tuple[str, ...]:
    """The labels an item has once the desk's verdicts (oldest first) are applied to ``given``."""
    labels = set(given)
    for category, verdict in verdicts:
        if verdict == "wrong":
            labels.discard(category)
        else:
            labels.add(category)
    return tuple(sorted(labels))


def _lead_items(conn: Connection, event_ids: set[int]) -> dict[int, int]:
    if not event_ids or not _has_events(conn):
        return {}
    rows = conn.execute(
        text("SELECT id, lead_item_id FROM events WHERE lead_item_id IS NOT NULL")
    ).all()
    return {int(e): int(i) for e, i in rows if int(e) in event_ids}


def export_feedback(store: Store, categories: Iterable[str]) -> list[EvalRow]:
    """Every item the desk judged, with the labels its verdicts give it, in ``eval`` format.

    A verdict on an item applies to that item; a verdict on an event applies to the event's
    lead article (the one its headline comes from). The labels start from the categories the
    tagger gave the item, so an item only marked ``right`` keeps them.
    """
    allowed = set(categories)
    with store.connect() as conn:
        rows = list(
            conn.execute(
                select(t.feedback).order_by(t.feedback.c.created_at, t.feedback.c.id)
            ).mappings()
        )
        leads = _lead_items(conn, {int(r["event_id"]) for r in rows if r["event_id"] is not None})
        verdicts: dict[int, list[tuple[str, Verdict]]] = defaultdict(list)
        for r in rows:
            item_id = r["item_id"] if r["item_id"] is not None else leads.get(r["event_id"])
            if item_id is not None and r["category"] in allowed:
                verdicts[int(item_id)].append((r["category"], cast(Verdict, r["verdict"])))
        items = {
            int(r["id"]): r
            for r in conn.execute(
                select(
                    t.items.c.id,
                    t.items.c.url_hash,
                    t.items.c.title,
                    t.items.c.text,
                    t.items.c.summary,
                    t.items.c.language,
                    t.items.c.categories,
                ).where(t.items.c.id.in_(list(verdicts)))
            ).mappings()
        }
    out = []
    for item_id, given in sorted(verdicts.items()):
        it = items.get(item_id)
        if it is None:
            continue
        out.append(
            EvalRow(
                id=f"rw-{it['url_hash']}",
                text=it["text"] or it["summary"] or "",
                title=it["title"] or "",
                lang=it["language"],
                labels=labels_after([c for c in (it["categories"] or []) if c in allowed], given),
            )
        )
    return out
