"""Frozen records that stages exchange: sources, feed entries, articles, stories, events,
alerts and run summaries."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

__all__ = [
    "VERDICTS",
    "Alert",
    "Article",
    "Event",
    "EventAlert",
    "EventArticle",
    "EventDetail",
    "EvalRow",
    "Feedback",
    "FeedbackInput",
    "FeedEntry",
    "FeedPoll",
    "FeedReport",
    "RunSummary",
    "SearchHit",
    "Signature",
    "Source",
    "Story",
    "StoryDecision",
    "TextSource",
    "Verdict",
    "url_key",
]

TextSource = Literal["page", "summary"]
SourceKind = Literal["feed", "sitemap"]


def url_key(canonical_url: str) -> str:
    """Return the stable item key: the first 32 hex digits of SHA-256 of the canonical URL."""
    return hashlib.sha256(canonical_url.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Source:
    """A configured outlet: an RSS/Atom/JSON feed, or a (news) sitemap polled like a feed."""

    name: str
    url: str
    language: str | None = None
    country: str | None = None
    state_affiliated: bool | None = None
    kind: SourceKind = "feed"


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One entry of a feed, normalised: canonical link, plain-text title, UTC date."""

    source: str
    url: str
    guid: str
    title: str
    summary: str
    published: datetime | None
    author: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class FeedPoll:
    """Outcome of polling one feed: its entries, the new validators and any parse problem."""

    source: str
    status: Literal["ok", "not_modified", "bozo", "empty", "error"]
    entries: tuple[FeedEntry, ...] = ()
    etag: str | None = None
    last_modified: str | None = None
    http_status: int | None = None
    bozo_reason: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Article:
    """A cleaned article ready to be tagged and stored."""

    url: str
    canonical_url: str
    source: str
    title: str
    text: str
    text_source: TextSource
    published: datetime | None
    language: str | None
    guid: str | None = None
    summary: str = ""
    author: str | None = None
    site: str | None = None
    content_hash: str = ""
    fetch_note: str | None = None
    origin: Literal["feed", "backfill"] = "feed"

    @property
    def key(self) -> str:
        """The item key (hash of the canonical URL)."""
        return url_key(self.canonical_url)


@dataclass(frozen=True, slots=True)
class Signature:
    """A stored item's near-duplicate signature (what the story index keeps of an item)."""

    item_id: int
    story_id: int
    seen_at: datetime
    title_norm: str
    minhash: bytes


@dataclass(frozen=True, slots=True)
class Story:
    """A near-duplicate cluster: wire copies of one text, as stored."""

    story_id: int
    title: str
    first_seen: datetime
    last_seen: datetime
    lead_item_id: int | None = None
    item_count: int = 1
    outlets: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    alerted_outlet_count: int = 0


@dataclass(frozen=True, slots=True)
class StoryDecision:
    """What the story stage decided for one stored item; the store persists it.

    ``joined`` is the stored story the item joins (None: the item opens a new story).
    """

    item_id: int
    title: str
    outlet: str
    now: datetime
    signature_at: datetime
    title_norm: str
    minhash: bytes
    joined: Story | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert outbox row with the headline and link of the item that raised it."""

    alert_id: int
    story_id: int
    item_id: int
    category: str
    rule: str
    channel: str
    status: str
    attempts: int
    created_at: datetime
    severity: str = "warning"
    score: float = 0.0
    sent_at: datetime | None = None
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    title: str = ""
    url: str = ""
    feed_name: str = ""
    event_id: int | None = None
    kind: str = "alert"  # "update": a material development of an alerted event (seq 1, 2, …)
    seq: int = 0
    material: tuple[str, ...] = ()


@dataclass(slots=True)
class FeedReport:
    """What one feed contributed to a cycle, for the terminal table and the run summary."""

    source: str
    status: str = "ok"
    entries: int = 0
    new_items: int = 0
    not_modified: bool = False
    pages_fetched: int = 0
    page_errors: int = 0
    error: str | None = None
    seconds: float = 0.0


@dataclass(slots=True)
class RunSummary:
    """Typed summary of one monitor, backfill or digest run."""

    kind: str
    started_at: datetime
    finished_at: datetime | None = None
    feeds: list[FeedReport] = field(default_factory=list)
    items_new: int = 0
    stories_new: int = 0
    alerts_queued: int = 0
    alerts_sent: int = 0
    alerts_failed: int = 0
    status: str = "ok"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def feeds_polled(self) -> int:
        """Number of feeds polled in the run (feeds waiting out a backoff are not polled)."""
        return sum(1 for f in self.feeds if f.status != "backoff")

    @property
    def not_modified(self) -> int:
        """Feeds that answered 304 Not Modified."""
        return sum(1 for f in self.feeds if f.not_modified)

    @property
    def feed_errors(self) -> int:
        """Feeds that failed."""
        return sum(1 for f in self.feeds if f.status == "error")

    @property
    def feeds_in_backoff(self) -> int:
        """Feeds skipped because they are waiting out a failure backoff."""
        return sum(1 for f in self.feeds if f.status == "backoff")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the summary."""
        return {
            "kind": self.kind,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "status": self.status,
            "feeds_polled": self.feeds_polled,
            "not_modified": self.not_modified,
            "feed_errors": self.feed_errors,
            "feeds_in_backoff": self.feeds_in_backoff,
            "items_new": self.items_new,
            "stories_new": self.stories_new,
            "alerts_queued": self.alerts_queued,
            "alerts_sent": self.alerts_sent,
            "alerts_failed": self.alerts_failed,
            "feeds": [
                {
                    "source": f.source,
                    "status": f.status,
                    "entries": f.entries,
                    "new_items": f.new_items,
                    "not_modified": f.not_modified,
                    "pages_fetched": f.pages_fetched,
                    "page_errors": f.page_errors,
                    "error": f.error,
                    "seconds": round(f.seconds, 3),
                }
                for f in self.feeds
            ],
            **self.extra,
        }


@dataclass(frozen=True, slots=True)
class Event:
    """One real-world happening as stored: the row of ``regionwatch events``.

    ``first_seen``/``last_seen`` are when its first and latest articles were stored;
    ``published_first`` the earliest publication time among them. ``alerted`` says per
    category whether its first alert was sent (on at least one channel). ``grew`` is how many
    articles joined after the event first alerted (0 when it never did).
    """

    event_id: int
    categories: tuple[str, ...]
    title: str
    actors: tuple[str, ...]
    first_seen: datetime
    last_seen: datetime
    published_first: datetime | None
    articles: int
    outlets: tuple[str, ...]
    languages: tuple[str, ...]
    alerted: dict[str, bool] = field(default_factory=dict)
    places: tuple[str, ...] = ()
    max_casualties: int | None = None
    phases: tuple[str, ...] = ()
    grew: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``regionwatch events --json``."""
        return {
            "event_id": self.event_id,
            "categories": list(self.categories),
            "title": self.title,
            "actors": list(self.actors),
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "published_first": self.published_first.isoformat() if self.published_first else None,
            "articles": self.articles,
            "outlets": list(self.outlets),
            "languages": list(self.languages),
            "alerted": dict(self.alerted),
            "places": list(self.places),
            "max_casualties": self.max_casualties,
            "phases": list(self.phases),
        }


@dataclass(frozen=True, slots=True)
class EventArticle:
    """One article of an event."""

    item_id: int
    title: str
    url: str
    outlet: str
    language: str | None
    published: datetime | None
    first_seen: datetime
    categories: tuple[str, ...] = ()
    story_id: int | None = None


@dataclass(frozen=True, slots=True)
class EventAlert:
    """One outbox row of an event: its first alert (``kind`` alert, seq 0) or an update."""

    alert_id: int
    category: str
    channel: str
    kind: str
    seq: int
    status: str
    item_id: int
    created_at: datetime | None
    sent_at: datetime | None = None
    material: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EventDetail:
    """An event with its articles, evidence sentences per category, alerts and history."""

    event: Event
    articles: tuple[EventArticle, ...]
    evidence: dict[str, tuple[str, ...]]
    alerts: tuple[EventAlert, ...]
    merged_from: tuple[int, ...] = ()
    updates: tuple[dict[str, Any], ...] = ()


# ---------------------------------------------------------------------------- analyst feedback
Verdict = Literal["wrong", "missing", "right"]
VERDICTS: tuple[Verdict, ...] = ("wrong", "missing", "right")


@dataclass(frozen=True, slots=True)
class FeedbackInput:
    """An analyst's verdict on one category of an event or an item, before it is stored.

    Exactly one of ``event_id`` and ``item_id`` is set; ``verdict`` says the category is wrongly
    given (``wrong``), wrongly absent (``missing``) or correct (``right``).
    """

    category: str
    verdict: Verdict
    event_id: int | None = None
    item_id: int | None = None
    note: str = ""
    origin: str = "api"


@dataclass(frozen=True, slots=True)
class Feedback:
    """One stored verdict (see :class:`FeedbackInput`)."""

    feedback_id: int
    category: str
    verdict: Verdict
    created_at: datetime
    event_id: int | None = None
    item_id: int | None = None
    note: str = ""
    origin: str = "api"


@dataclass(frozen=True, slots=True)
class EvalRow:
    """One line of an ``eval`` dataset: the item's text and the labels the desk says it has."""

    id: str
    text: str
    title: str
    lang: str | None
    labels: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The JSONL object (``id``, ``text``, ``title``, ``lang``, ``labels``)."""
        return {
            "id": self.id,
            "text": self.text,
            "title": self.title,
            "lang": self.lang,
            "labels": list(self.labels),
        }


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One stored item found by full-text search, with a plain-text snippet around the match."""

    item_id: int
    title: str
    url: str
    outlet: str
    language: str | None
    published: datetime | None
    categories: tuple[str, ...]
    snippet: str
    event_id: int | None = None
    story_id: int | None = None
