"""Frozen records that stages exchange: sources, feed entries, articles, stories, events,
alerts and run summaries."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

__all__ = [
    "Alert",
    "Article",
    "Event",
    "FeedEntry",
    "FeedPoll",
    "FeedReport",
    "RunSummary",
    "Signature",
    "Source",
    "Story",
    "StoryDecision",
    "TextSource",
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
class Event:
    """A real-world happening that groups stories across outlets and languages.

    The fields are those of one row of ``regionwatch events --json``; ``alerted`` maps each
    category of the event to whether an alert for it was queued or sent.
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
