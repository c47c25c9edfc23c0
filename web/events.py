"""Events as the console shows them: filters, the list, one event's page, search grouped by event.

The events themselves come from the store's event read API (``Store.list_events`` and
``Store.get_event``); this module only filters, groups and shapes them for the templates and the
JSON routes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar

from regionwatch.errors import ConfigError
from regionwatch.models import Event, EventDetail, SearchHit
from regionwatch.store import Store, utcnow
from regionwatch.store import events as store_events
from regionwatch.store.console import event_day_counts, item_texts
from regionwatch.store.search import SearchFilters, search_items
from web.reads import Highlighted, days_back, highlight

__all__ = [
    "ActorBook",
    "ArticleView",
    "Fresh",
    "EventPage",
    "EventFilters",
    "SearchGroup",
    "Timeline",
    "event_json",
    "get_event",
    "hit_json",
    "list_events",
    "search_grouped",
    "timeline",
]

MAX_LIMIT = 500
T = TypeVar("T")
DEFAULT_LIMIT = 100


# ---------------------------------------------------------------------------- watched parties
@dataclass(frozen=True, slots=True)
class ActorInfo:
    """A watched party as the watchlist describes it."""

    slug: str
    name: str
    kind: str
    country: str | None


@dataclass(frozen=True)
class ActorBook:
    """Names, kinds and countries of the watchlist's actors, by slug."""

    actors: Mapping[str, ActorInfo] = field(default_factory=dict)

    @classmethod
    def load(cls, seeds_dir: Path) -> ActorBook:
        """Read the watchlist (an empty book when it cannot be read: pages still work)."""
        from regionwatch.lexicon import load_lexicon

        try:
            lex = load_lexicon(seeds_dir)
        except ConfigError:
            return cls()
        return cls(
            {a.slug: ActorInfo(a.slug, a.name, str(a.kind), a.country) for a in lex.actors.values()}
        )

    def info(self, slug: str) -> ActorInfo:
        """What the watchlist says of ``slug`` (a bare entry when it says nothing)."""
        return self.actors.get(slug) or ActorInfo(slug, slug.replace("_", " ").title(), "", None)

    def slugs_in(self, country: str) -> set[str]:
        """The parties of one country."""
        return {a.slug for a in self.actors.values() if a.country == country}

    def countries(self, slugs: Iterable[str]) -> set[str]:
        """The countries of these parties."""
        return {c for c in (self.info(s).country for s in slugs) if c}


# ---------------------------------------------------------------------------- filters
def _day(value: str, name: str) -> datetime:
    try:
        d = date.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValueError(f"{name}: expected YYYY-MM-DD, got {value!r}") from exc
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class EventFilters:
    """The filters of the events page, the search page and their JSON twins."""

    category: str | None = None
    actor: str | None = None
    country: str | None = None
    language: str | None = None
    since: datetime | None = None
    until: datetime | None = None  # exclusive: the day after the ``until`` date given
    limit: int = DEFAULT_LIMIT

    @classmethod
    def from_query(cls, params: Mapping[str, str], categories: Iterable[str]) -> EventFilters:
        """Parse query parameters; ValueError names the bad one."""

        def get(name: str) -> str | None:
            v = (params.get(name) or "").strip()
            return v or None

        category = get("category")
        if category is not None and category not in tuple(categories):
            raise ValueError(f"category: one of {', '.join(categories)}")
        limit = DEFAULT_LIMIT
        if get("limit"):
            try:
                limit = int(get("limit") or "")
            except ValueError as exc:
                raise ValueError("limit: a whole number") from exc
            if not 1 <= limit <= MAX_LIMIT:
                raise ValueError(f"limit: between 1 and {MAX_LIMIT}")
        since = _day(get("since") or "", "since") if get("since") else None
        until = _day(get("until") or "", "until") + timedelta(days=1) if get("until") else None
        country = get("country")
        return cls(
            category=category,
            actor=(get("actor") or "").lower() or None,
            country=country.upper() if country else None,
            language=(get("language") or "").lower() or None,
            since=since,
            until=until,
            limit=limit,
        )

    @property
    def active(self) -> bool:
        """Whether any filter is set."""
        return any((self.category, self.actor, self.country, self.language, self.since, self.until))

    def query(self, **extra: str) -> dict[str, str]:
        """The filters as query parameters (for links that keep them)."""
        out = {
            "category": self.category or "",
            "actor": self.actor or "",
            "country": self.country or "",
            "language": self.language or "",
            "since": self.since.date().isoformat() if self.since else "",
            "until": (self.until - timedelta(days=1)).date().isoformat() if self.until else "",
        }
        out.update(extra)
        return {k: v for k, v in out.items() if v}

    def matches(self, e: Event, book: ActorBook) -> bool:
        """Whether one event passes the filters."""
        if self.category and self.category not in e.categories:
            return False
        if self.actor and self.actor not in e.actors:
            return False
        if self.country and self.country not in book.countries(e.actors):
            return False
        if self.language and self.language not in e.languages:
            return False
        when = e.published_first or e.first_seen
        if self.since and e.last_seen < self.since:
            return False
        return not (self.until and when >= self.until)


# ---------------------------------------------------------------------------- views
@dataclass(frozen=True, slots=True)
class ArticleView:
    """One article of an event."""

    item_id: int
    url: str
    title: str
    outlet: str
    language: str | None
    published: datetime | None
    first_seen: datetime | None
    categories: tuple[str, ...]
    evidence: tuple[Highlighted, ...] = ()


@dataclass(frozen=True, slots=True)
class AlertView:
    """An alert sent (or waiting) for an event."""

    alert_id: int
    category: str
    channel: str
    status: str
    kind: str
    created_at: datetime | None
    sent_at: datetime | None
    title: str


@dataclass(frozen=True)
class EventPage:
    """Everything the event page shows."""

    event: Event
    summary: str
    articles: list[ArticleView]
    actors: list[tuple[ActorInfo, int]]
    alerts: list[AlertView]
    updates: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        """``/api/events/{id}``: the event's fields plus its articles and evidence."""
        out = event_json(self.event)
        out["summary"] = self.summary
        out["articles"] = [
            {
                "item_id": a.item_id,
                "url": a.url,
                "title": a.title,
                "outlet": a.outlet,
                "language": a.language,
                "published": a.published.isoformat() if a.published else None,
                "categories": list(a.categories),
                "evidence": [
                    {"category": h.category, "sentence": h.sentence, "matched": h.matched}
                    for h in a.evidence
                ],
            }
            for a in self.articles
        ]
        out["evidence"] = [
            {
                "item_id": a.item_id,
                "category": h.category,
                "sentence": h.sentence,
                "matched": h.matched,
            }
            for a in self.articles
            for h in a.evidence
        ]
        out["actor_details"] = [
            {"slug": i.slug, "name": i.name, "kind": i.kind, "country": i.country, "articles": n}
            for i, n in self.actors
        ]
        out["alerts"] = [
            {
                "category": a.category,
                "channel": a.channel,
                "status": a.status,
                "kind": a.kind,
                "created_at": a.created_at.isoformat() if a.created_at else None,
                "sent_at": a.sent_at.isoformat() if a.sent_at else None,
            }
            for a in self.alerts
        ]
        out["updates"] = self.updates
        return out


def _iso(v: datetime | None) -> str | None:
    return v.isoformat() if v else None


def event_json(e: Event) -> dict[str, Any]:
    """The fields of ``regionwatch events --json`` for one event."""
    return e.to_dict()


def hit_json(h: SearchHit) -> dict[str, Any]:
    """One search result as JSON."""
    return {
        "item_id": h.item_id,
        "event_id": h.event_id,
        "title": h.title,
        "url": h.url,
        "outlet": h.outlet,
        "language": h.language,
        "published": _iso(h.published),
        "categories": list(h.categories),
        "snippet": h.snippet,
    }


# ---------------------------------------------------------------------------- reads
def list_events(store: Store, f: EventFilters, book: ActorBook) -> list[Event]:
    """Events passing the filters, the most recently active first (at most ``f.limit``).

    Every filter is applied by the store's query (a country is the parties of that country),
    so the limit holds on a store of any size.
    """
    parties: list[str] = []
    if f.actor:
        parties = [f.actor]
    if f.country:
        in_country = book.slugs_in(f.country)
        parties = [p for p in parties if p in in_country] if f.actor else sorted(in_country)
        if not parties:
            return []
    events = store_events.list_events(
        store,
        category=f.category,
        since=f.since,
        until=f.until,
        actors=parties,
        language=f.language,
        limit=f.limit,
    )
    return [e for e in events if f.matches(e, book)]


def get_event(store: Store, event_id: int, book: ActorBook) -> EventPage | None:
    """One event with its articles, evidence, parties, alerts and updates (None: unknown)."""
    detail = store_events.get_event(store, event_id)
    if detail is None:
        return None
    return event_page(detail, item_texts(store, [a.item_id for a in detail.articles]), book)


def event_page(detail: EventDetail, texts: Mapping[int, Any], book: ActorBook) -> EventPage:
    """Shape one event for its page: per article the evidence of its categories, matched
    words marked; the parties with their kind and how many articles name them."""
    articles = []
    named: dict[str, int] = {}
    for a in detail.articles:
        tx = texts.get(a.item_id)
        tags = tx.tags if tx is not None else None
        for actor in tags.actors if tags is not None else []:
            if isinstance(actor, dict) and actor.get("slug"):
                named[str(actor["slug"])] = named.get(str(actor["slug"]), 0) + 1
        articles.append(
            ArticleView(
                item_id=a.item_id,
                url=a.url,
                title=a.title,
                outlet=a.outlet,
                language=a.language,
                published=a.published,
                first_seen=a.first_seen,
                categories=a.categories,
                evidence=tuple(highlight(tags, a.categories)),
            )
        )
    e = detail.event
    order = list(e.actors) + sorted(set(named) - set(e.actors), key=lambda s: -named[s])
    lead = next((a for a in articles if a.title == e.title), articles[0] if articles else None)
    lead_text = texts.get(lead.item_id) if lead is not None else None
    alerts = [
        AlertView(
            alert_id=x.alert_id,
            category=x.category,
            channel=x.channel,
            status=x.status,
            kind=x.kind,
            created_at=x.created_at,
            sent_at=x.sent_at,
            title="",
        )
        for x in detail.alerts
    ]
    return EventPage(
        event=e,
        summary=lead_text.summary if lead_text is not None else "",
        articles=articles,
        actors=[(book.info(s), named.get(s, 0)) for s in order],
        alerts=alerts,
        updates=[dict(u) for u in detail.updates],
    )


@dataclass(frozen=True)
class SearchGroup:
    """Search results of one event (``event`` None: items in no event)."""

    event: Event | None
    hits: list[SearchHit]


def search_grouped(store: Store, q: str, f: EventFilters, book: ActorBook) -> list[SearchGroup]:
    """Items matching ``q`` and the filters, grouped by their event (events newest first)."""
    hits = search_items(
        store,
        q,
        SearchFilters(f.category, f.actor, f.language, f.since, f.until),
        limit=f.limit,
    )
    groups: dict[int | None, list[SearchHit]] = {}
    for h in hits:
        groups.setdefault(h.event_id, []).append(h)
    ids = [i for i in groups if i is not None]
    known = {e.event_id: e for e in store_events.list_events(store, ids=ids)} if ids else {}
    out = [SearchGroup(known.get(i) if i is not None else None, hs) for i, hs in groups.items()]
    # events newest first, then the items in no event
    out.sort(key=lambda g: (g.event is None, -(g.event.last_seen.timestamp() if g.event else 0)))
    return out


# ---------------------------------------------------------------------------- timeline
class Fresh(Generic[T]):
    """A value recomputed when older than ``seconds`` (one per process, thread-safe enough:
    two requests racing both compute it, one result wins)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._value: T | None = None
        self._at = -1e18

    def get(self, compute: Callable[[], T]) -> T:
        now = time.monotonic()
        if self._value is None or now - self._at > self.seconds:
            self._value, self._at = compute(), now
        return self._value


@dataclass(frozen=True)
class Bar:
    """One rectangle of the chart."""

    x: float
    y: float
    width: float
    height: float
    category: str
    day: str
    count: int


@dataclass(frozen=True)
class Timeline:
    """Events per category per day, laid out as an SVG bar chart (stacked per day)."""

    width: int
    height: int
    bars: list[Bar]
    days: list[str]
    max_count: int
    totals: dict[str, int]
    ticks: list[tuple[float, str]]


def timeline(store: Store, categories: Iterable[str], *, days: int = 30) -> Timeline:
    """The chart of the last ``days`` days (by the events' earliest article)."""
    cats = list(categories)
    start = days_back(days)[0]
    counts = {
        (c, d.isoformat()): n for (c, d), n in event_day_counts(store, start).items() if c in cats
    }
    return layout(counts, cats, days=days)


def layout(
    counts: Mapping[tuple[str, str], int],
    categories: list[str],
    *,
    days: int = 30,
    now: datetime | None = None,
) -> Timeline:
    """Place the bars: one column per day, one stacked segment per category."""
    width, height, left, bottom, top = 720, 180, 28, 22, 8
    day_list = [d.date().isoformat() for d in days_back(days, now or utcnow())]
    per_day = {d: sum(counts.get((c, d), 0) for c in categories) for d in day_list}
    peak = max([1, *per_day.values()])
    col = (width - left) / len(day_list)
    scale = (height - bottom - top) / peak
    bars = []
    for i, d in enumerate(day_list):
        y = float(height - bottom)
        for c in categories:
            n = counts.get((c, d), 0)
            if not n:
                continue
            h = n * scale
            y -= h
            bars.append(Bar(left + i * col + 1, y, max(col - 2, 1), h, c, d, n))
    ticks = [(left + i * col + col / 2, day_list[i][5:]) for i in range(0, len(day_list), 7)]
    totals = {c: sum(n for (cc, _d), n in counts.items() if cc == c) for c in categories}
    return Timeline(width, height, bars, day_list, peak, totals, ticks)
