"""The pipeline as plain functions: poll → fetch page → extract → tag → cluster → store → alert.

Flows and the CLI compose these; nothing here imports Prefect. The store is touched at the two
ends: *what is new?* before fetching pages, and *save it* — items, tags, story assignment and
alert outbox rows of one feed in one transaction. Delivery happens after commit.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from regionwatch.errors import BlockedURLError, FetchError, StoreError
from regionwatch.models import (
    Alert,
    Article,
    Event,
    FeedEntry,
    FeedPoll,
    FeedReport,
    RunSummary,
    Source,
    url_key,
)
from regionwatch.settings import Settings
from regionwatch.store import Store, utcnow

if TYPE_CHECKING:
    from regionwatch.alerts.deliver import DeliveryReport
    from regionwatch.archives import Candidate
    from regionwatch.http import HttpClient
    from regionwatch.store import StoreTx
    from regionwatch.store.events import EventLedger
    from regionwatch.stories import StoryIndex
    from regionwatch.tagging import Tagger, TagResult

__all__ = [
    "COUNT_FIELDS",
    "ChunkReport",
    "Context",
    "IngestCounts",
    "RunRecord",
    "StoredItem",
    "alert_rows",
    "alerts_due",
    "backoff_reports",
    "deliver",
    "due_sources",
    "fetch_and_extract",
    "ingest_urls",
    "monitor_cycle",
    "new_items",
    "poll_plan",
    "poll_sources",
    "recorded_run",
    "run_cycle",
    "save_articles",
    "unknown",
]

T = TypeVar("T")

logger = logging.getLogger(__name__)

#: Page texts shorter than this are never treated as exact duplicates of each other.
MIN_DEDUPE_CHARS = 400


@dataclass
class Context:
    """What one process needs to run the pipeline: settings, store, tagger, story index."""

    settings: Settings
    store: Store
    sources: list[Source]
    _tagger: Tagger | None = None
    _stories: StoryIndex | None = None
    _events: EventLedger | None = None
    write_lock: threading.RLock = field(default_factory=threading.RLock)

    @classmethod
    def open(cls, settings: Settings) -> Context:
        """Open the store (creating/upgrading it) and register the configured sources.

        Raises:
            StoreError: the store is unreachable.
            ConfigError: the feed list is invalid.
        """
        store = Store(settings.storage.url, echo=settings.storage.echo)
        sources = settings.sources()
        store.sync_sources(sources)
        return cls(settings=settings, store=store, sources=sources)

    @property
    def tagger(self) -> Tagger:
        """The process-wide tagger (built once from the watchlist)."""
        if self._tagger is None:
            from regionwatch.tagging import get_tagger

            self._tagger = get_tagger(self.settings.seeds.dir)
        return self._tagger

    def story_index(self) -> StoryIndex:
        """The near-duplicate index, loaded from stored signatures on first use."""
        if self._stories is None:
            from regionwatch.stories import StoryIndex

            idx = StoryIndex(self.settings.stories)
            idx.load(self.store, utcnow())
            self._stories = idx
        return self._stories

    def event_ledger(self) -> EventLedger:
        """The event index with its link to the store (loaded at the first save)."""
        if self._events is None:
            from regionwatch.store.events import EventLedger

            self._events = EventLedger(self.settings.events)
        return self._events

    def source(self, name: str) -> Source | None:
        """The configured source called ``name``."""
        return next((s for s in self.sources if s.name == name), None)

    def close(self) -> None:
        """Release the store's connections."""
        self.store.close()


#: The counts of :class:`IngestCounts`, in table order.
COUNT_FIELDS = ("found", "fetched", "skipped_known", "out_of_range", "failed", "stored")


@dataclass(kw_only=True)
class IngestCounts:
    """What ingesting candidate URLs did to them (a chunk, a source or a whole backfill)."""

    found: int = 0
    fetched: int = 0
    skipped_known: int = 0
    out_of_range: int = 0
    failed: int = 0
    stored: int = 0

    def add_counts(self, other: IngestCounts, fields: Sequence[str] = COUNT_FIELDS) -> None:
        """Add ``other``'s counts (those named by ``fields``) to these."""
        for f in fields:
            setattr(self, f, getattr(self, f) + getattr(other, f))

    def counts(self) -> dict[str, int]:
        """The counts as a dict, in table order."""
        return {f: int(getattr(self, f)) for f in COUNT_FIELDS}


@dataclass(kw_only=True)
class ChunkReport(IngestCounts):
    """What one chunk of candidate URLs (backfill) produced."""

    per_category: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    stored_keys: list[str] = field(default_factory=list)

    def add(self, other: ChunkReport) -> None:
        """Accumulate another chunk's counts into this one."""
        self.add_counts(other)
        self.per_category.update(other.per_category)
        self.errors.extend(other.errors[:20])


@dataclass(frozen=True, slots=True)
class StoredItem:
    """An article the save stage stored: its ids, its tags and its story."""

    item_id: int
    key: str
    article: Article
    tags: TagResult
    story_id: int
    first_seen: datetime
    event_id: int | None = None

    @property
    def categories(self) -> list[str]:
        """The categories the tagger decided *yes* for."""
        return [c for c, r in self.tags.categories.items() if r.decision]


@dataclass(slots=True)
class RunRecord:
    """The ``runs`` row of a run in progress: set ``status`` and ``summary`` before it ends."""

    run_id: int
    status: str = "failed"
    summary: dict[str, Any] = field(default_factory=dict)


@contextmanager
def recorded_run(store: Store, kind: str) -> Iterator[RunRecord]:
    """Record a run in the ``runs`` table: started on entry, finished on exit (also when the
    run raises: the status stays ``failed`` unless the run set another)."""
    rec = RunRecord(run_id=store.start_run(kind))
    try:
        yield rec
    finally:
        store.finish_run(rec.run_id, rec.status, rec.summary)


def unknown(ctx: Context, items: Iterable[T], key: Callable[[T], str]) -> tuple[list[T], int]:
    """The known-URL filter: items whose key is not stored yet (the first of each key), and
    how many were dropped (already stored, or a repeat inside ``items``)."""
    by_key: dict[str, T] = {}
    n = 0
    for it in items:
        n += 1
        by_key.setdefault(key(it), it)
    known = ctx.store.known_keys(by_key)
    fresh = [it for k, it in by_key.items() if k not in known]
    return fresh, n - len(fresh)


async def fetch_and_extract(
    client: HttpClient,
    entry: FeedEntry,
    *,
    source: Source,
    url: str | None = None,
    fetch_url: str | None = None,
    robots: bool = True,
    content: bytes | None = None,
    language_hint: str | None = None,
) -> Article:
    """Fetch one entry's page (unless its ``content`` is given) and extract the article.

    Args:
        client: the open HTTP client.
        entry: the feed entry (or the backfill candidate as an entry).
        source: the outlet.
        url: the page's URL when not the entry's (canonical) one.
        fetch_url: what to fetch when not the page's URL (an archived copy).
        robots: obey robots.txt.
        content: the page, already fetched (an archive record).
        language_hint: the language to assume (default: the source's).

    Raises:
        FetchError: the page could not be fetched (``BlockedURLError`` for robots/guard).
    """
    from regionwatch.extract import extract_article

    headers, final_url = None, url or entry.url
    if content is None:
        res = await client.fetch(fetch_url or final_url, robots=robots, source=source.name)
        content, headers = res.content, res.headers
        if fetch_url is None:
            final_url = res.url
    # extraction is CPU work: keep the event loop free for the other fetches
    return await asyncio.to_thread(
        extract_article,
        content,
        url=final_url,
        headers=headers,
        entry=entry,
        language_hint=language_hint or source.language,
    )


# ---------------------------------------------------------------------------- sources
def poll_plan(ctx: Context) -> tuple[list[Source], list[FeedReport]]:
    """Split the configured sources into those due now and report rows for those in backoff."""
    now = utcnow()
    rows = {r["name"]: r for r in ctx.store.feeds()}
    due: list[Source] = []
    waiting: list[FeedReport] = []
    for s in ctx.sources:
        row = rows.get(s.name)
        nxt = row.get("next_poll_at") if row else None
        if row is None or nxt is None or nxt <= now:
            due.append(s)
            continue
        logger.info("feed %s: in backoff until %s", s.name, nxt.isoformat())
        waiting.append(
            FeedReport(
                source=s.name,
                status="backoff",
                error=f"until {nxt:%H:%M} UTC after {row['consecutive_failures']} failures"
                f" — {_strip_class(row.get('last_error') or '')[:120]}",
            )
        )
    return due, waiting


def due_sources(ctx: Context) -> list[Source]:
    """Configured sources that are not waiting out a failure backoff."""
    return poll_plan(ctx)[0]


def backoff_reports(ctx: Context) -> list[FeedReport]:
    """Report rows for configured sources skipped this cycle because they are in backoff."""
    return poll_plan(ctx)[1]


async def poll_sources(
    ctx: Context, sources: Sequence[Source], client: HttpClient | None = None
) -> list[FeedReport]:
    """Poll a batch of sources concurrently and store what is new.

    Per-feed failures are recorded in the feed's health and in its report; they never raise.

    Args:
        ctx: the pipeline context.
        sources: the feeds to poll.
        client: an open HTTP client to share with other batches of the cycle (its per-host
            limits and delays then hold across them); by default the batch opens its own.

    Raises:
        StoreError: the store is unreachable.
    """
    if client is not None:
        return list(await asyncio.gather(*(_poll_one(ctx, client, s) for s in sources)))
    from regionwatch.http import HttpClient

    async with HttpClient(ctx.settings.http) as own:
        return list(await asyncio.gather(*(_poll_one(ctx, own, s) for s in sources)))


async def _poll_one(ctx: Context, client: HttpClient, source: Source) -> FeedReport:
    started = time.monotonic()
    report = FeedReport(source=source.name)
    row = ctx.store.feed(source.name)
    if row is None:
        ctx.store.sync_sources([source])
        row = ctx.store.feed(source.name)
        assert row is not None
    try:
        poll = await _fetch_source(client, source, row)
    except FetchError as exc:
        report.status, report.error = "error", _short(exc)
        logger.warning("feed %s: %s", source.name, report.error)
        ctx.store.record_poll_failure(row["id"], report.error)
        report.seconds = time.monotonic() - started
        return report
    report.status = poll.status
    if poll.status == "not_modified":
        report.not_modified = True
        ctx.store.record_poll_success(row["id"], poll, 0)
        report.seconds = time.monotonic() - started
        return report
    report.entries = len(poll.entries)
    fresh, _known = unknown(ctx, (e for e in poll.entries if e.url), lambda e: url_key(e.url))
    articles: list[Article] = []
    if fresh:
        results = await asyncio.gather(*(_fetch_article(client, e, source) for e in fresh))
        for art, fetched, failed in results:
            articles.append(art)
            report.pages_fetched += fetched
            report.page_errors += failed
    first_poll = row.get("baseline_at") is None
    stored = save_articles(ctx, articles, feed_id=row["id"], first_poll=first_poll)
    report.new_items = len(stored)
    ctx.store.record_poll_success(row["id"], poll, len(stored))
    if poll.bozo_reason:
        report.error = f"bozo: {poll.bozo_reason}"[:300]
    report.seconds = time.monotonic() - started
    logger.info(
        "feed %s: %s, %d entries, %d new, %d stored",
        source.name,
        poll.status,
        report.entries,
        len(fresh),
        report.new_items,
    )
    return report


async def _fetch_source(client: HttpClient, source: Source, row: dict[str, Any]) -> FeedPoll:
    if source.kind == "sitemap":
        from regionwatch.archives import poll_sitemap_source

        return await poll_sitemap_source(
            client, source, etag=row.get("etag"), last_modified=row.get("last_modified")
        )
    from regionwatch.feeds import poll_feed

    return await poll_feed(
        client, source, etag=row.get("etag"), last_modified=row.get("last_modified")
    )


async def _fetch_article(
    client: HttpClient, entry: FeedEntry, source: Source
) -> tuple[Article, int, int]:
    """Fetch and extract one entry's page; on failure keep the feed's summary (marked)."""
    from regionwatch.extract import article_from_entry

    try:
        art = await fetch_and_extract(client, entry, source=source)
    except BlockedURLError as exc:
        logger.info("feed %s: page not fetched (%s)", source.name, _short(exc))
        return article_from_entry(entry, f"blocked: {_short(exc)}", source.language), 0, 1
    except FetchError as exc:
        logger.info("feed %s: page fetch failed (%s)", source.name, _short(exc))
        return article_from_entry(entry, f"fetch failed: {_short(exc)}", source.language), 0, 1
    return art, 1, 0


def _strip_class(error: str) -> str:
    return error.split(": ", 1)[1] if ": " in error[:40] else error


def _short(exc: BaseException, n: int = 300) -> str:
    return f"{type(exc).__name__}: {exc}"[:n]


# ---------------------------------------------------------------------------- save
def save_articles(
    ctx: Context,
    articles: Sequence[Article],
    *,
    feed_id: int | None,
    first_poll: bool = False,
    now: datetime | None = None,
) -> list[StoredItem]:
    """Tag, cluster and store articles; write their alert outbox rows in the same transaction.

    Exact duplicates (same canonical URL or same content hash) are skipped. Returns the items
    stored.

    Raises:
        StoreError: the transaction failed (nothing of the batch is kept).
    """
    if not articles:
        return []
    from regionwatch.alerts import enqueue_alerts

    now = now or utcnow()
    settings = ctx.settings
    batch = _new_content(ctx, articles)
    tagged = [(a, ctx.tagger.tag(a.text, title=a.title, lang=a.language)) for a in batch]
    # categorised articles first, each group in time order: an uncategorised article may join
    # an event but never opens one (as EventIndex.assign_batch orders a cycle)
    tagged.sort(key=lambda at: (not at[1].labels, at[0].published or now, at[0].key))
    cutoff = now - timedelta(hours=settings.alerts.first_poll_hours) if first_poll else None
    stored: list[StoredItem] = []
    with ctx.write_lock:
        index = ctx.story_index()
        ledger = ctx.event_ledger()
        try:
            with ctx.store.transaction() as tx:
                # workers on other machines save batches one at a time, so a syndicated copy
                # stored by one is seen by the other before it clusters its own
                if tx.lock_saves():
                    index.refresh(tx, now)
                # events another worker opened or grew since our last save join our index
                dates = [a.published for a, _t in tagged if a.published is not None]
                ledger.sync(tx, now, earliest=min(dates, default=None))
                for art, tags in tagged:
                    baseline = bool(
                        cutoff is not None and (art.published is None or art.published < cutoff)
                    )
                    item_id = tx.insert_item(
                        art, feed_id=feed_id, tags=tags, baseline=baseline, now=now
                    )
                    if item_id is None:
                        continue
                    story_id, _is_new = index.assign(
                        tx,
                        item_id=item_id,
                        title=art.title,
                        text=art.text,
                        outlet=art.source,
                        now=now,
                        # a backfilled item sits in the index at its publication date
                        at=art.published if art.origin == "backfill" else None,
                    )
                    event_id, material = _assign_event(
                        ctx, tx, art, tags, item_id=item_id, story_id=story_id, now=now
                    )
                    if art.origin != "backfill" and event_id is not None:
                        enqueue_alerts(
                            tx,
                            settings=settings,
                            item_id=item_id,
                            article=art,
                            first_seen=now,
                            story_id=story_id,
                            event_id=event_id,
                            tags=tags,
                            baseline_cutoff=cutoff,
                            now=now,
                            material=material,
                        )
                    stored.append(StoredItem(item_id, art.key, art, tags, story_id, now, event_id))
        except StoreError:
            ctx._stories = None  # the in-memory index may hold rolled-back rows: reload next time
            ledger.forget()
            raise
    return stored


def _assign_event(
    ctx: Context,
    tx: StoreTx,
    art: Article,
    tags: TagResult,
    *,
    item_id: int,
    story_id: int,
    now: datetime,
) -> tuple[int | None, tuple[str, ...]]:
    """Group one stored item into its event and persist the decision (same transaction).

    Returns the event id (None: the item names no watched party and raises nothing, so it
    belongs to no event) and the material developments it brings to its event.
    """
    from regionwatch.events import EventDecision, signal_from
    from regionwatch.store.events import solo_event

    ledger = ctx.event_ledger()
    sig = signal_from(
        art, tags, ctx.tagger.lexicon, first_seen=now, item_id=item_id, story_id=story_id
    )
    decision = ledger.index.assign(sig) if sig is not None else None
    if decision is None:
        if not tags.labels:
            return None, ()
        # categorised but naming no watched party: an event of its own, outside the index
        solo = solo_event(
            key=art.key,
            title=art.title,
            time=art.published or now,
            outlet=art.source,
            language=art.language,
            cats=tags.labels,
        )
        decision = EventDecision(event=solo, is_new=True, new_categories=frozenset(tags.labels))
    event_id = ledger.record(tx, decision, item_id=item_id, published=art.published, now=now)
    return event_id, decision.material


def _new_content(ctx: Context, articles: Sequence[Article]) -> list[Article]:
    """The articles left after exact duplicates (same key, or same page text as another in the
    batch or in the store) are dropped."""
    unique: dict[str, Article] = {}
    for a in articles:
        unique.setdefault(a.key, a)

    # only full page texts are compared by content: short summaries (or none) are often alike
    # across distinct items and must not make one of them vanish
    def content_key(a: Article) -> str:
        ok = a.text_source == "page" and len(a.text) >= MIN_DEDUPE_CHARS
        return a.content_hash if ok else ""

    known_content = ctx.store.known_content(content_key(a) for a in unique.values())
    batch: list[Article] = []
    seen_hashes: set[str] = set()
    for a in unique.values():
        h = content_key(a)
        if h and (h in known_content or h in seen_hashes):
            logger.info("%s: exact duplicate content, not stored: %s", a.source, a.url)
            continue
        if h:
            seen_hashes.add(h)
        batch.append(a)
    return batch


# ---------------------------------------------------------------------------- backfill
async def ingest_urls(
    ctx: Context,
    client: HttpClient,
    candidates: Sequence[Candidate],
    *,
    source: Source,
    origin: str = "backfill",
    since: date | None = None,
    until: date | None = None,
) -> ChunkReport:
    """Fetch, extract, tag, cluster and store candidate URLs (known URLs are skipped).

    Backfilled items never alert. With ``since``/``until``, articles whose own date falls
    outside the range are dropped after extraction.
    """
    from regionwatch.feeds import canonical_url

    rep = ChunkReport(found=len(candidates))
    todo, rep.skipped_known = unknown(ctx, candidates, lambda c: url_key(canonical_url(c.url)))

    async def one(c: Candidate) -> Article | None:
        entry = FeedEntry(
            source=source.name,
            url=canonical_url(c.url),
            guid=c.url,
            title=c.title or "",
            summary="",
            published=c.published,
            language=c.language,
        )
        try:
            art = await fetch_and_extract(
                client,
                entry,
                source=source,
                url=c.url,
                fetch_url=c.archived_url,
                robots=c.archived_url is None,
                content=c.content,
                language_hint=c.language,
            )
        except FetchError as exc:
            rep.failed += 1
            rep.errors.append(f"{c.url}: {_short(exc)}")
            return None
        if c.content is None:
            rep.fetched += 1
        if art.text_source == "summary" and not art.text:
            rep.failed += 1
            rep.errors.append(f"{c.url}: no text extracted")
            return None
        art = dataclasses.replace(art, origin="backfill" if origin == "backfill" else "feed")
        day = art.published.date() if art.published else None
        if day is not None and ((since and day < since) or (until and day > until)):
            rep.out_of_range += 1
            return None
        return art

    arts = [a for a in await asyncio.gather(*(one(c) for c in todo)) if a is not None]
    feed_row = ctx.store.feed(source.name)
    stored = save_articles(ctx, arts, feed_id=feed_row["id"] if feed_row else None)
    rep.stored = len(stored)
    rep.stored_keys = [s.key for s in stored]
    for s in stored:
        rep.per_category.update(s.categories)
    return rep


# ---------------------------------------------------------------------------- alerts
def deliver(ctx: Context) -> DeliveryReport:
    """Send the due alert outbox rows; returns the delivery report."""
    from regionwatch.alerts import deliver_pending

    return deliver_pending(ctx.store, ctx.settings)


def alerts_due(ctx: Context) -> bool:
    """Whether the outbox holds a row that :func:`deliver` would send now.

    Most cycles queue no alert; a flow uses this to skip a delivery round (and, in Prefect, the
    task run's bookkeeping) that could only find an empty outbox. A row that becomes due a
    moment later goes out next cycle, as it would had the round run.
    """
    return ctx.store.any_due()


# ---------------------------------------------------------------------------- reporting
def new_items(ctx: Context, since: datetime) -> list[dict[str, Any]]:
    """Items first seen at or after ``since`` (for run artifacts and tables)."""
    return ctx.store.new_items(since)


def alert_rows(ctx: Context, since: datetime) -> list[Alert]:
    """Outbox rows created or sent since ``since``."""
    return ctx.store.alerts_since(since)


# ---------------------------------------------------------------------------- the cycle
def monitor_cycle(
    ctx: Context,
    *,
    poll: Callable[[list[Source]], list[FeedReport]],
    deliver_due: Callable[[], DeliveryReport],
    on_items: Callable[[list[dict[str, Any]]], None] | None = None,
    on_alerts: Callable[[list[Alert], RunSummary], None] | None = None,
    on_events: Callable[[list[Event], RunSummary], None] | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> RunSummary:
    """One monitor cycle: poll the due sources, deliver the due alerts, count, record the run.

    The one implementation behind :func:`run_cycle` (in-process) and the Prefect ``monitor``
    flow, which differ only in how they poll and deliver (tasks) and in what they publish.

    Args:
        ctx: the pipeline context.
        poll: polls the due sources and stores what is new (one report per source).
        deliver_due: one delivery round; called only when the outbox has a due row.
        on_items: given the cycle's new items (and then ``stories_new`` is counted).
        on_alerts: given the outbox rows created or sent in the cycle and the summary, before
            the run is recorded (and then ``alerts_queued`` is counted).
        on_events: given the events that gained articles in the cycle (after delivery, so
            their ``alerted`` is current) and the summary (then ``events_new`` and
            ``events_grown`` are counted in its ``extra``).
        stopping: whether the process is stopping (delivery is then left to the next cycle).

    Returns:
        The run summary; ``status`` is ``failed`` when every polled feed failed, ``interrupted``
        when the process was stopping.

    Raises:
        StoreError: the store is unreachable.
    """
    summary = RunSummary(kind="monitor", started_at=utcnow())
    with recorded_run(ctx.store, "monitor") as rec:
        try:
            due, waiting = poll_plan(ctx)
            summary.feeds = poll(due) + waiting
            summary.items_new = sum(f.new_items for f in summary.feeds)
            if on_items is not None:
                items = ctx.store.new_items(summary.started_at)
                summary.stories_new = len(
                    {i["story_id"] for i in items if i.get("story_id") is not None}
                )
                on_items(items)
            if stopping():
                summary.status = "interrupted"
            elif ctx.store.any_due():  # most cycles queue none: no round for an empty outbox
                report = deliver_due()
                summary.alerts_sent = report.sent
                summary.alerts_failed = report.failed
                if report.dead:
                    summary.extra["alerts_dead"] = report.dead
            polled = [f for f in summary.feeds if f.status != "backoff"]
            if polled and all(f.status == "error" for f in polled):
                summary.status = "failed"
            summary.finished_at = utcnow()
            if on_events is not None:
                from regionwatch.store.events import list_events

                events = list_events(ctx.store, since=summary.started_at)
                new = sum(1 for e in events if e.first_seen >= summary.started_at)
                summary.extra.update(events_new=new, events_grown=len(events) - new)
                on_events(events, summary)
            if on_alerts is not None:
                alerts = ctx.store.alerts_since(summary.started_at)
                summary.alerts_queued = sum(1 for a in alerts if a.status != "sent")
                on_alerts(alerts, summary)
        except BaseException:
            summary.status = "failed"
            raise
        finally:
            summary.finished_at = summary.finished_at or utcnow()
            rec.status, rec.summary = summary.status, summary.to_dict()
    return summary


def run_cycle(settings: Settings, *, ctx: Context | None = None) -> RunSummary:
    """One monitor cycle without Prefect: poll every due source, store, deliver alerts."""
    own = ctx is None
    ctx = ctx or Context.open(settings)
    try:
        return monitor_cycle(
            ctx,
            poll=lambda due: asyncio.run(poll_sources(ctx, due)),
            deliver_due=lambda: deliver(ctx),
        )
    finally:
        if own:
            ctx.close()
