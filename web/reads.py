"""What the console's pages show, composed from the store's read API into typed views.

Nothing here writes; nothing here builds SQL (the store does). Views are plain dataclasses the
templates and the JSON routes both read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from regionwatch.alerts.render import Evidence, evidence_from_tags
from regionwatch.store import Store, utcnow

if TYPE_CHECKING:
    from regionwatch.tagging import TagResult

__all__ = [
    "FeedHealth",
    "Highlighted",
    "Segment",
    "feed_health",
    "highlight",
]


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of an evidence sentence; ``hit`` when it is a matched word."""

    text: str
    hit: bool = False


@dataclass(frozen=True, slots=True)
class Highlighted:
    """An evidence sentence cut into segments around its matched words."""

    category: str
    segments: tuple[Segment, ...]
    rule: str | None = None

    @property
    def sentence(self) -> str:
        """The sentence as plain text."""
        return "".join(s.text for s in self.segments)

    @property
    def matched(self) -> list[str]:
        """The matched words."""
        return [s.text for s in self.segments if s.hit]


def _cut(category: str, ev: Evidence) -> Highlighted:
    segs: list[Segment] = []
    pos = 0
    for start, end in ev.spans:
        if start > pos:
            segs.append(Segment(ev.sentence[pos:start]))
        segs.append(Segment(ev.sentence[start:end], hit=True))
        pos = end
    if pos < len(ev.sentence):
        segs.append(Segment(ev.sentence[pos:]))
    return Highlighted(category, tuple(segs), ev.rule)


def highlight(tags: TagResult | None, categories: Sequence[str]) -> list[Highlighted]:
    """The evidence sentences of every given category of one item, matched words marked."""
    out: list[Highlighted] = []
    for c in categories:
        out.extend(_cut(c, ev) for ev in evidence_from_tags(tags, c))
    return out


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """One source as the feeds page shows it."""

    name: str
    kind: str
    language: str | None
    status: str
    last_success: datetime | None
    last_error_at: datetime | None
    last_error: str
    failures: int
    next_poll: datetime | None
    in_backoff: bool
    items_seen: int
    polls: int = 0
    not_modified: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ratio_304(self) -> float | None:
        """Share of recent polls answered 304 Not Modified (None before any poll)."""
        return self.not_modified / self.polls if self.polls else None


def feed_health(
    store: Store, configured: set[str] | None = None, runs: int = 50
) -> list[FeedHealth]:
    """Every feed row with its 304 ratio over the last ``runs`` cycles and its backoff state."""
    polls: Counter[str] = Counter()
    n304: Counter[str] = Counter()
    for run in store.recent_runs(runs):
        for f in (run.get("summary") or {}).get("feeds") or []:
            if not isinstance(f, dict) or f.get("status") == "backoff":
                continue
            polls[str(f.get("source"))] += 1
            n304[str(f.get("source"))] += 1 if f.get("not_modified") else 0
    now = utcnow()
    out = []
    for r in store.feeds():
        if configured is not None and r["name"] not in configured:
            continue
        nxt = r.get("next_poll_at")
        failures = int(r.get("consecutive_failures") or 0)
        out.append(
            FeedHealth(
                name=r["name"],
                kind=r.get("kind") or "feed",
                language=r.get("language"),
                status=r.get("last_status") or "never polled",
                last_success=r.get("last_success_at"),
                last_error_at=r.get("last_error_at"),
                last_error=(r.get("last_error") or r.get("bozo_reason") or "")[:300],
                failures=failures,
                next_poll=nxt,
                in_backoff=bool(failures and nxt and nxt > now),
                items_seen=int(r.get("items_seen") or 0),
                polls=polls[r["name"]],
                not_modified=n304[r["name"]],
            )
        )
    return out


def days_back(days: int, now: datetime | None = None) -> list[datetime]:
    """Midnights (UTC) of the last ``days`` days, oldest first, today last."""
    today = (now or utcnow()).replace(hour=0, minute=0, second=0, microsecond=0)
    return [today - timedelta(days=days - 1 - i) for i in range(days)]
