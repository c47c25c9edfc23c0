"""Events in the store: persist what :class:`~regionwatch.events.EventIndex` decides, reload it
after a restart, and read events back for the CLI and the console.

:class:`EventLedger` keeps one process's event index in step with the database. The pipeline
calls :meth:`EventLedger.sync` inside its save transaction, after taking the save lock (on
PostgreSQL an advisory lock; on SQLite the write lock of ``BEGIN IMMEDIATE``): when another
worker changed events since this one last looked (the store-wide revision ``events.rev`` is
higher than the last one it knows), the index is rebuilt from the stored events of the window.
So two workers never open two events for one happening. :meth:`EventLedger.record` writes one
decision (the event row, the item's ``event_id``, merges) in the same transaction as the item.

The read API (:func:`list_events`, :func:`get_event`) returns typed records
(:class:`~regionwatch.models.Event`, :class:`~regionwatch.models.EventDetail`); the web
console reads events through it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Text, case, cast, func, or_, select, update

from regionwatch.events import EventDecision, EventIndex, EventState
from regionwatch.models import Event, EventAlert, EventArticle, EventDetail
from regionwatch.settings import EventsConfig
from regionwatch.store import schema as t
from regionwatch.store._base import Door, TxBase, as_utc

if TYPE_CHECKING:
    from regionwatch.store import StoreTx

__all__ = [
    "EventLedger",
    "EventWrites",
    "alerted_channels",
    "events_by_id",
    "get_event",
    "list_events",
    "solo_event",
]

logger = logging.getLogger(__name__)


def _state_of(row: Any) -> EventState:
    """The :class:`EventState` of a stored row (its saved state, else its columns)."""
    saved = row["state"]
    if isinstance(saved, dict):
        try:
            st = EventState.from_dict({**saved, "event_id": row["id"]})
        except ValueError:
            logger.warning("events: event %s has an unreadable state; rebuilt", row["id"])
        else:
            return st
    first = as_utc(row["time_first"])
    last = as_utc(row["time_last"])
    assert first is not None and last is not None
    return EventState(
        event_id=int(row["id"]),
        first_time=first,
        last_time=last,
        lead_key="",
        lead_title=str(row["title"] or ""),
        categories=set(row["categories"] or ()),
        parties=set(row["actors"] or ()),
        places=set(row["places"] or ()),
        weights={a: 1.0 for a in row["actors"] or ()},
        casualties=row["max_casualties"],
        phases=set(row["phases"] or ()),
        languages=set(row["languages"] or ()),
        outlets=set(row["outlets"] or ()),
        articles=int(row["item_count"] or 0),
    )


def solo_event(
    *, key: str, title: str, time: datetime, outlet: str, language: str | None, cats: Iterable[str]
) -> EventState:
    """An event of one article that grouping leaves out (it names no watched party) but that
    raises an alert: every alert belongs to an event. It never joins the index."""
    return EventState(
        event_id=None,
        first_time=time,
        last_time=time,
        lead_key=key,
        lead_title=title,
        categories=set(cats),
        languages={language} if language else set(),
        outlets={outlet} if outlet else set(),
        articles=1,
    )


class EventWrites(TxBase):
    """Event reads and writes inside the save transaction."""

    def event_states(self, since: datetime) -> list[EventState]:
        """Live (not merged) events whose last article lies at or after ``since``."""
        q = (
            select(t.events)
            .where(t.events.c.merged_into.is_(None), t.events.c.time_last >= since)
            .order_by(t.events.c.time_first, t.events.c.id)
        )
        return [_state_of(r) for r in self.conn.execute(q).mappings()]

    def events_rev(self) -> int:
        """The store-wide revision of the last change to events (0 for none)."""
        q = select(func.coalesce(func.max(t.events.c.rev), 0))
        return int(self.conn.execute(q).scalar_one())

    def save_event(
        self, ev: EventState, *, published: datetime | None, now: datetime, rev: int
    ) -> int:
        """Insert (new) or update the row of ``ev`` from its state; sets and returns its id."""
        e = t.events.c
        values: dict[str, Any] = {
            "time_first": ev.first_time,
            "time_last": ev.last_time,
            "categories": sorted(ev.categories),
            "actors": ev.actors,
            "places": sorted(ev.places),
            "title": ev.lead_title,
            "item_count": ev.articles,
            "outlets": sorted(ev.outlets),
            "languages": sorted(ev.languages),
            "max_casualties": ev.casualties,
            "phases": sorted(ev.phases),
            "state": ev.to_dict(),
            "last_seen_at": now,
            "changed_at": now,
            "rev": rev,
        }
        if ev.lead_key:
            values["lead_item_id"] = (
                select(t.items.c.id).where(t.items.c.url_hash == ev.lead_key).scalar_subquery()
            )
        if ev.event_id is None:
            values.update(
                first_seen_at=now, published_first=published, updates=[], alerted_item_count=0
            )
            q = t.events.insert().values(**values).returning(e.id)
            ev.event_id = int(self.conn.execute(q).scalar_one())
            return ev.event_id
        if published is not None:
            values["published_first"] = case(
                (or_(e.published_first.is_(None), e.published_first > published), published),
                else_=e.published_first,
            )
        self.conn.execute(update(t.events).where(e.id == ev.event_id).values(**values))
        return ev.event_id

    def note_event_update(
        self, event_id: int, material: Sequence[str], item_id: int, now: datetime
    ) -> None:
        """Record a material development of the event (its history, shown by the console)."""
        q = select(t.events.c.updates).where(t.events.c.id == event_id)
        notes = list(self.conn.execute(q).scalar() or [])
        notes.append({"at": now.isoformat(), "item_id": item_id, "material": list(material)})
        self.conn.execute(update(t.events).where(t.events.c.id == event_id).values(updates=notes))

    def merge_events(self, from_id: int, into_id: int, now: datetime, rev: int) -> None:
        """Record that ``from_id`` is the same happening as ``into_id``: its items and its alert
        rows (where ``into_id`` has none of that key) move over; the merge is kept."""
        a = t.alerts.c
        self.conn.execute(
            update(t.items).where(t.items.c.event_id == from_id).values(event_id=into_id)
        )
        taken = {
            (r.category, r.channel, r.seq)
            for r in self.conn.execute(
                select(a.category, a.channel, a.seq).where(a.event_id == into_id)
            )
        }
        for r in self.conn.execute(
            select(a.id, a.category, a.channel, a.seq).where(a.event_id == from_id)
        ).all():
            if (r.category, r.channel, r.seq) not in taken:
                self.conn.execute(update(t.alerts).where(a.id == r.id).values(event_id=into_id))
        self.conn.execute(
            update(t.events)
            .where(t.events.c.id == from_id)
            .values(merged_into=into_id, changed_at=now, rev=rev)
        )
        self.conn.execute(
            t.event_merges.insert().values(
                from_event_id=from_id, into_event_id=into_id, merged_at=now
            )
        )
        logger.info("events: event %d merged into %d", from_id, into_id)

    def set_item_event(self, item_id: int, event_id: int) -> None:
        """Point an item at its event."""
        self.conn.execute(update(t.items).where(t.items.c.id == item_id).values(event_id=event_id))

    def alerted_categories(self, event_id: int, *, sent: bool = False) -> dict[str, set[str]]:
        """Per channel, the categories (event, ·, channel) has a first alert for (with
        ``sent``: only first alerts already delivered)."""
        a = t.alerts.c
        q = select(a.channel, a.category).where(a.event_id == event_id, a.seq == 0)
        if sent:
            q = q.where(a.status == "sent")
        out: dict[str, set[str]] = {}
        for r in self.conn.execute(q):
            out.setdefault(str(r.channel), set()).add(str(r.category))
        return out

    def update_rows(self, event_id: int) -> dict[str, list[str]]:
        """Per channel, the statuses of the event's update rows (oldest first)."""
        a = t.alerts.c
        q = select(a.channel, a.status).where(a.event_id == event_id, a.seq > 0)
        out: dict[str, list[str]] = {}
        for r in self.conn.execute(q.order_by(a.seq)):
            out.setdefault(str(r.channel), []).append(str(r.status))
        return out

    def mark_event_alerted(self, event_id: int) -> None:
        """Remember the event's size when it first alerted (later growth goes to the digest)."""
        e = t.events.c
        self.conn.execute(
            update(t.events)
            .where(e.id == event_id, e.alerted_item_count == 0)
            .values(alerted_item_count=e.item_count)
        )


class EventLedger:
    """One process's event index, kept in step with the events in the store."""

    def __init__(self, cfg: EventsConfig) -> None:
        """An empty ledger; the first :meth:`sync` loads the stored events."""
        self.cfg = cfg
        self.index = EventIndex(cfg)
        self._rev: int | None = None
        self._batch_rev: int | None = None

    def sync(self, tx: StoreTx, now: datetime, *, earliest: datetime | None = None) -> bool:
        """Inside the save transaction (after the save lock): reload the index when another
        worker changed events since this one last looked. Returns True when it reloaded.

        ``earliest`` is the oldest article time of the batch (a backfill's publication dates):
        the events of the window before it are loaded too, so a resumed backfill continues the
        events it opened before.
        """
        rev = tx.events_rev()
        self._batch_rev = None
        if self._rev is not None and rev == self._rev:
            return False
        start = min(now, earliest) if earliest is not None else now
        index = EventIndex(self.cfg)
        index.load(tx.event_states(start - timedelta(days=self.cfg.window_days)))
        index.evict(start)
        if self._rev is not None:
            logger.info("events: index reloaded (store revision %d, ours %d)", rev, self._rev)
        self.index, self._rev = index, rev
        return True

    def forget(self) -> None:
        """Drop the index (the transaction it was synced in rolled back): reload next time."""
        self._rev = None
        self.index = EventIndex(self.cfg)

    def record(
        self,
        tx: StoreTx,
        decision: EventDecision,
        *,
        item_id: int,
        published: datetime | None,
        now: datetime,
    ) -> int:
        """Persist one decision inside the save transaction; returns the event's id.

        Writes the event row (inserted when new, else updated from the index's state), points
        the item at it, notes a material development, and records the events merged into it.
        """
        if self._batch_rev is None:
            self._batch_rev = tx.events_rev() + 1
        rev = self._batch_rev
        event_id = tx.save_event(decision.event, published=published, now=now, rev=rev)
        if decision.material:
            tx.note_event_update(event_id, decision.material, item_id, now)
        for other in decision.merged_from:
            if other.event_id is not None and other.event_id != event_id:
                tx.merge_events(other.event_id, event_id, now, rev)
        tx.set_item_event(item_id, event_id)
        self._rev = rev
        return event_id


# ---------------------------------------------------------------------- reading
def _alerted(conn: Connection, ids: Sequence[int]) -> dict[int, dict[str, bool]]:
    a = t.alerts.c
    out: dict[int, dict[str, bool]] = {}
    for i in range(0, len(ids), 500):
        for r in conn.execute(
            select(a.event_id, a.category, a.status).where(
                a.event_id.in_(ids[i : i + 500]), a.seq == 0
            )
        ):
            cats = out.setdefault(int(r.event_id), {})
            cats[r.category] = cats.get(r.category, False) or r.status == "sent"
    return out


def _event(row: Any, alerted: dict[str, bool]) -> Event:
    cats = tuple(row["categories"] or ())
    first = as_utc(row["first_seen_at"])
    last = as_utc(row["last_seen_at"])
    assert first is not None and last is not None
    return Event(
        event_id=int(row["id"]),
        categories=cats,
        title=str(row["title"] or ""),
        actors=tuple(row["actors"] or ()),
        first_seen=first,
        last_seen=last,
        published_first=as_utc(row["published_first"]),
        articles=int(row["item_count"] or 0),
        outlets=tuple(row["outlets"] or ()),
        languages=tuple(row["languages"] or ()),
        alerted={c: alerted.get(c, False) for c in cats},
        places=tuple(row["places"] or ()),
        max_casualties=row["max_casualties"],
        phases=tuple(row["phases"] or ()),
        grew=int(row["item_count"] or 0) - int(row["alerted_item_count"] or 0)
        if row["alerted_item_count"]
        else 0,
    )


def _json_has(col: Any, value: str) -> Any:
    """SQL: the JSON list in ``col`` holds the string ``value`` (as text: SQLite and PostgreSQL)."""
    return cast(col, Text).contains(json.dumps(value), autoescape=True)


def list_events(
    store: Door,
    *,
    category: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
    actors: Sequence[str] = (),
    language: str | None = None,
    until: datetime | None = None,
    ids: Sequence[int] = (),
) -> list[Event]:
    """Live events, the most recently active first.

    Args:
        store: the store.
        category: only events of this category.
        since: only events whose last article was first seen at or after this time.
        limit: at most this many.
        actors: only events naming one of these parties (slugs).
        language: only events with an article in this language.
        until: only events whose earliest article (published, else first seen) is before this.
        ids: only these events.
    """
    e = t.events.c
    q = select(t.events).where(e.merged_into.is_(None)).order_by(e.last_seen_at.desc(), e.id.desc())
    if since is not None:
        q = q.where(e.last_seen_at >= since)
    if until is not None:
        q = q.where(e.time_first < until)
    if category:
        q = q.where(_json_has(e.categories, category))
    if actors:
        q = q.where(or_(*(_json_has(e.actors, a) for a in actors)))
    if language:
        q = q.where(_json_has(e.languages, language))
    if ids:
        q = q.where(e.id.in_(list(ids)))
    if limit is not None:
        q = q.limit(limit)
    with store.connect() as conn:
        rows = [r for r in conn.execute(q).mappings()]
        if category:
            rows = [r for r in rows if category in (r["categories"] or [])]
        alerted = _alerted(conn, [int(r["id"]) for r in rows])
    return [_event(r, alerted.get(int(r["id"]), {})) for r in rows]


def events_by_id(store: Door, ids: Sequence[int]) -> dict[int, Event]:
    """The events of these ids (an id merged into another gives that one), by asked id."""
    e = t.events.c
    ids = sorted(set(ids))
    out: dict[int, Event] = {}
    with store.connect() as conn:
        rows: dict[int, Any] = {}
        todo = ids
        while todo:
            batch = [r for r in conn.execute(select(t.events).where(e.id.in_(todo))).mappings()]
            rows.update({int(r["id"]): r for r in batch})
            todo = sorted(
                {int(r["merged_into"]) for r in batch if r["merged_into"] is not None} - set(rows)
            )
        alerted = _alerted(conn, list(rows))
    for i in ids:
        row, seen = rows.get(i), set()
        while row is not None and row["merged_into"] is not None and row["id"] not in seen:
            seen.add(row["id"])
            row = rows.get(int(row["merged_into"]))
        if row is not None:
            out[i] = _event(row, alerted.get(int(row["id"]), {}))
    return out


def alerted_channels(store: Door, ids: Sequence[int]) -> dict[int, set[str]]:
    """Per event, the channels that hold one of its first alerts."""
    a = t.alerts.c
    out: dict[int, set[str]] = {}
    with store.connect() as conn:
        for i in range(0, len(ids), 500):
            q = select(a.event_id, a.channel).where(a.event_id.in_(ids[i : i + 500]), a.seq == 0)
            for r in conn.execute(q):
                out.setdefault(int(r.event_id), set()).add(str(r.channel))
    return out


def get_event(store: Door, event_id: int) -> EventDetail | None:
    """One event with its articles (oldest first), evidence sentences and alert rows.

    An event merged into another is looked up as that one.
    """
    e = t.events.c
    with store.connect() as conn:
        row = conn.execute(select(t.events).where(e.id == event_id)).mappings().first()
        seen: set[int] = set()
        while row is not None and row["merged_into"] is not None and row["id"] not in seen:
            seen.add(int(row["id"]))
            row = (
                conn.execute(select(t.events).where(e.id == row["merged_into"])).mappings().first()
            )
        if row is None:
            return None
        eid = int(row["id"])
        i = t.items.c
        items = conn.execute(
            select(
                i.id,
                i.title,
                i.url,
                i.feed_name,
                i.language,
                i.published_at,
                i.first_seen_at,
                i.categories,
                i.story_id,
                i.tags,
            )
            .where(i.event_id == eid)
            .order_by(func.coalesce(i.published_at, i.first_seen_at), i.id)
        ).mappings()
        articles: list[EventArticle] = []
        evidence: dict[str, list[str]] = {}
        for r in items:
            first_seen = as_utc(r["first_seen_at"])
            assert first_seen is not None
            articles.append(
                EventArticle(
                    item_id=int(r["id"]),
                    title=str(r["title"] or ""),
                    url=str(r["url"]),
                    outlet=str(r["feed_name"]),
                    language=r["language"],
                    published=as_utc(r["published_at"]),
                    first_seen=first_seen,
                    categories=tuple(r["categories"] or ()),
                    story_id=r["story_id"],
                )
            )
            for cat, d in ((r["tags"] or {}).get("categories") or {}).items():
                if not isinstance(d, dict) or not d.get("decision"):
                    continue
                for ev in d.get("evidence") or []:
                    s = " ".join(str(ev.get("sentence") or "").split())
                    have = evidence.setdefault(cat, [])
                    if s and s not in have and len(have) < 5:
                        have.append(s)
        a = t.alerts.c
        alerts = [
            EventAlert(
                alert_id=int(r.id),
                category=str(r.category),
                channel=str(r.channel),
                kind=str(r.kind),
                seq=int(r.seq),
                status=str(r.status),
                item_id=int(r.item_id),
                created_at=as_utc(r.created_at),
                sent_at=as_utc(r.sent_at),
                material=tuple(r.material or ()),
            )
            for r in conn.execute(
                select(t.alerts).where(a.event_id == eid).order_by(a.created_at, a.id)
            )
        ]
        merged = tuple(
            int(r[0])
            for r in conn.execute(
                select(t.event_merges.c.from_event_id).where(t.event_merges.c.into_event_id == eid)
            )
        )
        alerted = _alerted(conn, [eid]).get(eid, {})
    return EventDetail(
        event=_event(row, alerted),
        articles=tuple(articles),
        evidence={k: tuple(v) for k, v in evidence.items()},
        alerts=tuple(alerts),
        merged_from=merged,
        updates=tuple(row["updates"] or ()),
    )
