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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from regionwatch.errors import BlockedURLError, FetchError, StoreError
from regionwatch.models import Article, FeedEntry, FeedPoll, FeedReport, RunSummary, Source, url_key
from regionwatch.settings import Settings
from regionwatch.store import Store, utcnow
from regionwatch.store import schema as t

if TYPE_CHECKING:
    from regionwatch.archives import Candidate
    from regionwatch.http import HttpClient
    from regionwatch.store.events import EventLedger
    from regionwatch.stories import StoryIndex
    from regionwatch.tagging import Tagger, TagResult

__all__ = [
    "ChunkReport",
    "Context",
    "alert_rows",
    "backoff_reports",
    "deliver",
    "due_sources",
    "ingest_urls",
    "new_items",
    "poll_plan",
    "poll_sources",
    "run_cycle",
    "save_articles",
]

logger = logging.getLogger(__name__)

#: Page texts shorter than this are never treated as exact duplicates of each other.
MIN_DEDUPE_CHARS = 400
#: PostgreSQL advisory lock that serialises save transactions across workers.
SAVE_LOCK_KEY = 727275


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
            with self.store.connect() as conn:
                idx.load(conn, utcnow())
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


@dataclass
class ChunkReport:
    """What one chunk of candidate URLs (backfill) produced."""

    found: int = 0
    fetched: int = 0
    skipped_known: int = 0
    out_of_range: int = 0
    failed: int = 0
    stored: int = 0
    per_category: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    stored_keys: list[str] = field(default_factory=list)

    def add(self, other: ChunkReport) -> None:
        """Accumulate another chunk's counts into this one."""
        for f in ("found", "fetched", "skipped_known", "out_of_range", "failed", "stored"):
            setattr(self, f, getattr(self, f) + getattr(other, f))
        self.per_category.update(other.per_category)
        self.errors.extend(other.errors[:20])


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
    entries = _dedupe_entries(poll.entries)
    known = ctx.store.known_keys(url_key(e.url) for e in entries)
    fresh = [e for e in entries if url_key(e.url) not in known]
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


def _dedupe_entries(entries: Sequence[FeedEntry]) -> list[FeedEntry]:
    seen: set[str] = set()
    out = []
    for e in entries:
        if e.url and e.url not in seen:
            seen.add(e.url)
            out.append(e)
    return out


async def _fetch_article(
    client: HttpClient, entry: FeedEntry, source: Source
) -> tuple[Article, int, int]:
    """Fetch and extract one entry's page; on failure keep the feed's summary (marked)."""
    from regionwatch.extract import article_from_entry, extract_article

    try:
        res = await client.fetch(entry.url, robots=True, source=source.name)
    except BlockedURLError as exc:
        logger.info("feed %s: page not fetched (%s)", source.name, _short(exc))
        return article_from_entry(entry, f"blocked: {_short(exc)}", source.language), 0, 1
    except FetchError as exc:
        logger.info("feed %s: page fetch failed (%s)", source.name, _short(exc))
        return article_from_entry(entry, f"fetch failed: {_short(exc)}", source.language), 0, 1
    # extraction is CPU work: keep the event loop free for the other fetches
    art = await asyncio.to_thread(
        extract_article,
        res.content,
        url=res.url,
        headers=res.headers,
        entry=entry,
        language_hint=source.language,
    )
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
) -> list[dict[str, Any]]:
    """Tag, cluster and store articles; write their alert outbox rows in the same transaction.

    Exact duplicates (same canonical URL or same content hash) are skipped. Returns the rows
    stored (id, key, title, categories …).

    Raises:
        StoreError: the transaction failed (nothing of the batch is kept).
    """
    if not articles:
        return []
    from regionwatch.alerts import enqueue_alerts

    now = now or utcnow()
    settings = ctx.settings
    # exact duplicates inside the batch and against the store
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
    tagged = [(a, ctx.tagger.tag(a.text, title=a.title, lang=a.language)) for a in batch]
    # categorised articles first, each group in time order: an uncategorised article may join
    # an event but never opens one (as EventIndex.assign_batch orders a cycle)
    tagged.sort(key=lambda at: (not at[1].labels, at[0].published or now, at[0].key))
    cutoff = now - timedelta(hours=settings.alerts.first_poll_hours) if first_poll else None
    stored: list[dict[str, Any]] = []
    with ctx.write_lock:
        index = ctx.story_index()
        ledger = ctx.event_ledger()
        try:
            with ctx.store.begin() as conn:
                if conn.dialect.name == "postgresql":
                    # workers on other machines save batches one at a time, so a syndicated
                    # copy stored by one is seen by the other before it clusters its own
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SAVE_LOCK_KEY})")
                    index.refresh(conn, now)
                # events another worker opened or grew since our last save join our index
                ledger.sync(conn, now)
                for art, result in tagged:
                    tags = result.to_dict()
                    baseline = bool(
                        cutoff is not None and (art.published is None or art.published < cutoff)
                    )
                    item_id = Store.insert_item(
                        conn, art, feed_id=feed_id, tags=tags, baseline=baseline, now=now
                    )
                    if item_id is None:
                        continue
                    story_id, _is_new = index.assign(
                        conn,
                        item_id=item_id,
                        title=art.title,
                        text=art.text,
                        outlet=art.source,
                        now=now,
                        # a backfilled item sits in the index at its publication date
                        at=art.published if art.origin == "backfill" else None,
                    )
                    event_id, material = _assign_event(
                        ctx, conn, art, result, item_id=item_id, story_id=story_id, now=now
                    )
                    item = {
                        "id": item_id,
                        "title": art.title,
                        "url": art.url,
                        "feed_name": art.source,
                        "published_at": art.published,
                        "first_seen_at": now,
                        "origin": art.origin,
                    }
                    if art.origin != "backfill" and event_id is not None:
                        enqueue_alerts(
                            conn,
                            settings=settings,
                            item=item,
                            story_id=story_id,
                            event_id=event_id,
                            tags=tags,
                            baseline_cutoff=cutoff,
                            now=now,
                            material=material,
                        )
                    stored.append(
                        {
                            **item,
                            "key": art.key,
                            "categories": result.labels,
                            "story_id": story_id,
                            "event_id": event_id,
                        }
                    )
        except StoreError:
            ctx._stories = None  # the in-memory index may hold rolled-back rows: reload next time
            ledger.forget()
            raise
    return stored


def _assign_event(
    ctx: Context,
    conn: Any,
    art: Article,
    result: TagResult,
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
        art, result, ctx.tagger.lexicon, first_seen=now, item_id=item_id, story_id=story_id
    )
    decision = ledger.index.assign(sig) if sig is not None else None
    if decision is None:
        if not result.labels:
            return None, ()
        # categorised but naming no watched party: an event of its own, outside the index
        solo = solo_event(
            key=art.key,
            title=art.title,
            time=art.published or now,
            outlet=art.source,
            language=art.language,
            cats=result.labels,
        )
        decision = EventDecision(event=solo, is_new=True, new_categories=frozenset(result.labels))
    event_id = ledger.record(conn, decision, item_id=item_id, published=art.published, now=now)
    return event_id, decision.material


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
    from regionwatch.extract import extract_article
    from regionwatch.feeds import canonical_url

    rep = ChunkReport(found=len(candidates))
    by_key: dict[str, Candidate] = {}
    for c in candidates:
        by_key.setdefault(url_key(canonical_url(c.url)), c)
    known = ctx.store.known_keys(by_key)
    rep.skipped_known = len(known) + (len(candidates) - len(by_key))
    todo = [c for k, c in by_key.items() if k not in known]

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
        content, headers, final_url = c.content, None, c.url
        if content is None:
            try:
                res = await client.fetch(
                    c.archived_url or c.url, robots=c.archived_url is None, source=source.name
                )
            except FetchError as exc:
                rep.failed += 1
                rep.errors.append(f"{c.url}: {_short(exc)}")
                return None
            content, headers = res.content, res.headers
            if c.archived_url is None:
                final_url = res.url
            rep.fetched += 1
        art = await asyncio.to_thread(
            extract_article,
            content,
            url=final_url,
            headers=headers,
            entry=entry,
            language_hint=c.language or source.language,
        )
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
    rep.stored_keys = [s["key"] for s in stored]
    for s in stored:
        rep.per_category.update(s["categories"])
    return rep


# ---------------------------------------------------------------------------- alerts
def deliver(ctx: Context) -> Any:
    """Send the due alert outbox rows; returns the delivery report."""
    from regionwatch.alerts import deliver_pending

    return deliver_pending(ctx.store, ctx.settings)


def alerts_due(ctx: Context) -> bool:
    """Whether the outbox holds a row that :func:`deliver` would send now.

    Most cycles queue no alert; a flow uses this to skip a delivery round (and, in Prefect, the
    task run's bookkeeping) that could only find an empty outbox. A row that becomes due a
    moment later goes out next cycle, as it would had the round run.
    """
    from regionwatch.alerts.outbox import any_due

    return any_due(ctx.store)


# ---------------------------------------------------------------------------- reporting
def new_items(ctx: Context, since: datetime) -> list[dict[str, Any]]:
    """Items first seen at or after ``since`` (for run artifacts and tables)."""
    q = (
        select(
            t.items.c.id,
            t.items.c.title,
            t.items.c.url,
            t.items.c.feed_name,
            t.items.c.published_at,
            t.items.c.categories,
            t.items.c.tags,
            t.items.c.story_id,
        )
        .where(t.items.c.first_seen_at >= since)
        .order_by(t.items.c.id)
    )
    with ctx.store.connect() as conn:
        rows = [dict(r) for r in conn.execute(q).mappings()]
    for r in rows:
        tags = r.pop("tags") or {}
        r["actors"] = [a.get("name") or a.get("slug") for a in tags.get("actors") or []][:6]
    return rows


def alert_rows(ctx: Context, since: datetime) -> list[dict[str, Any]]:
    """Outbox rows created or sent since ``since``."""
    a, i = t.alerts, t.items
    q = (
        select(
            a.c.id,
            a.c.category,
            a.c.channel,
            a.c.status,
            a.c.attempts,
            a.c.last_error,
            a.c.created_at,
            a.c.sent_at,
            i.c.title,
            i.c.url,
        )
        .join(i, i.c.id == a.c.item_id)
        .where((a.c.created_at >= since) | (a.c.sent_at >= since))
        .order_by(a.c.id)
    )
    with ctx.store.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def run_cycle(settings: Settings, *, ctx: Context | None = None) -> RunSummary:
    """One monitor cycle without Prefect: poll every due source, store, deliver alerts."""
    own = ctx is None
    ctx = ctx or Context.open(settings)
    summary = RunSummary(kind="monitor", started_at=utcnow())
    run_id = ctx.store.start_run("monitor")
    try:
        due, waiting = poll_plan(ctx)
        summary.feeds = asyncio.run(poll_sources(ctx, due)) + waiting
        summary.items_new = sum(f.new_items for f in summary.feeds)
        report = deliver(ctx)
        summary.alerts_sent = getattr(report, "sent", 0)
        summary.alerts_failed = getattr(report, "failed", 0)
        polled = [f for f in summary.feeds if f.status != "backoff"]
        summary.status = "failed" if polled and all(f.status == "error" for f in polled) else "ok"
    except StoreError:
        summary.status = "failed"
        raise
    finally:
        summary.finished_at = utcnow()
        try:
            ctx.store.finish_run(run_id, summary.status, summary.to_dict())
        finally:
            if own:
                ctx.close()
    return summary
