"""Backfill: archive discovery for a date range, then the live pipeline in resumable chunks.

``run_backfill`` discovers candidate URLs (sitemaps, the Wayback Machine, a URL list or WARC
files; see :mod:`regionwatch.archives`), groups them into chunks — one UTC day of one source,
at most ``[backfill] chunk_size`` URLs — and hands each chunk to
:func:`regionwatch.pipeline.ingest_urls` (fetch → extract → tag → cluster → store, never
alerting). Each finished chunk is checkpointed in the ``backfill_chunks`` table under a job key
(a hash of the parameters), so an interrupted backfill resumes where it stopped and a repeated
one does nothing; URLs already stored are skipped in any case.

The pieces are public so a Prefect flow can run one task per chunk:
:func:`discover`, :func:`plan_chunks`, :func:`run_chunk`, :func:`done_chunks`,
:func:`mark_chunk`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from regionwatch.archives import (
    Candidate,
    Discovery,
    WaybackClient,
    WaybackStopped,
    discover_source_sitemaps,
    iter_warc,
    read_url_list,
    wayback_candidates,
)
from regionwatch.errors import ConfigError, FetchError, PermanentFetchError
from regionwatch.models import Source, url_key
from regionwatch.pipeline import COUNT_FIELDS, IngestCounts

if TYPE_CHECKING:
    from regionwatch.http import HttpClient
    from regionwatch.pipeline import ChunkReport, Context

__all__ = [
    "BackfillProgress",
    "BackfillReport",
    "Mode",
    "SourceRow",
    "digest_summaries",
    "discover",
    "done_chunks",
    "job_key",
    "mark_chunk",
    "plan_chunks",
    "run_backfill",
    "run_backfill_sync",
    "run_chunk",
]

logger = logging.getLogger(__name__)

Mode = Literal["sitemaps", "wayback", "urls", "warc"]
MODES: tuple[str, ...] = ("sitemaps", "wayback", "urls", "warc")


# ---------------------------------------------------------------------------- records
@dataclass(kw_only=True)
class SourceRow(IngestCounts):
    """What one source contributed to a backfill."""

    source: str
    mode: str = ""
    chunks: int = 0
    chunks_resumed: int = 0
    sitemaps: int = 0
    wayback_requests: int = 0
    stopped: str | None = None
    errors: list[str] = field(default_factory=list)

    def add(self, rep: ChunkReport) -> None:
        """Accumulate one chunk's counts (``found`` is counted at discovery)."""
        self.add_counts(rep, COUNT_FIELDS[1:])


@dataclass(kw_only=True)
class BackfillReport(IngestCounts):
    """The outcome of one backfill run (counts are this run's; resumed chunks are not redone)."""

    job: str
    since: date
    until: date
    mode: str
    per_category: Counter[str] = field(default_factory=Counter)
    per_source: list[SourceRow] = field(default_factory=list)
    chunks_total: int = 0
    chunks_run: int = 0
    chunks_resumed: int = 0
    errors: list[str] = field(default_factory=list)
    stopped: str | None = None
    stored_keys: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        """``ok``; ``partial`` when something stopped or failed; ``failed`` when nothing worked."""
        if self.stopped or self.failed:
            return "partial" if (self.stored or self.skipped_known or self.fetched) else "failed"
        return "ok"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for the runs table, Prefect artifacts and ``--json``)."""
        return {
            "kind": "backfill",
            "job": self.job,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "mode": self.mode,
            "status": self.status,
            **self.counts(),
            "per_category": dict(sorted(self.per_category.items())),
            "chunks_total": self.chunks_total,
            "chunks_run": self.chunks_run,
            "chunks_resumed": self.chunks_resumed,
            "stopped": self.stopped,
            "errors": self.errors[:50],
            "per_source": [
                {k: v for k, v in vars(r).items() if k != "errors"} | {"errors": r.errors[:10]}
                for r in self.per_source
            ],
        }


@dataclass(frozen=True, slots=True)
class BackfillProgress:
    """A progress event: after discovery of a source, and after each chunk."""

    phase: Literal["discovered", "chunk", "done"]
    source: str | None
    chunk: str | None
    chunks_done: int
    chunks_total: int
    urls_done: int
    urls_total: int
    stored: int
    failed: int
    skipped_known: int


ProgressFn = Callable[[BackfillProgress], None]


# ---------------------------------------------------------------------------- job and chunks
def job_key(
    *,
    since: date,
    until: date,
    sources: Sequence[str],
    mode: str | None,
    urls_file: Path | None = None,
    warc_files: Sequence[Path] = (),
) -> str:
    """The checkpoint key of a backfill: a hash of its parameters (and of its input files)."""

    def file_id(p: Path) -> str:
        try:
            digest = hashlib.sha256(p.read_bytes()).hexdigest()[:16]
        except OSError:
            digest = "unreadable"
        return f"{p.resolve()}:{digest}"

    payload = {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "sources": sorted(sources),
        "mode": mode or "auto",
        "urls": file_id(urls_file) if urls_file else None,
        "warc": [file_id(p) for p in warc_files],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def _chunk_id(source: str, day: date | None, part: int, urls: Sequence[str]) -> str:
    name = source if len(source) <= 120 else source[:100] + "~" + url_key(source)[:12]
    digest = url_key("\n".join(urls))[:10]
    return f"{name}|{day.isoformat() if day else 'undated'}|{part}|{digest}"


def plan_chunks(
    candidates: Sequence[Candidate], source: str, chunk_size: int
) -> list[tuple[str, list[Candidate]]]:
    """Split one source's candidates into chunks: one UTC day each, at most ``chunk_size``.

    Deterministic for the same candidates (sorted by day, then URL), so a resumed run plans the
    same chunk ids; an id includes a hash of its URLs, so a day that gained URLs since (a
    sitemap updated) is run again rather than skipped. Undated candidates come last.
    """
    by_day: dict[date | None, list[Candidate]] = {}
    for c in candidates:
        by_day.setdefault(c.day, []).append(c)
    out: list[tuple[str, list[Candidate]]] = []
    for day in sorted(by_day, key=lambda d: (d is None, d or date.min)):
        items = sorted(by_day[day], key=lambda c: c.url)
        for part, i in enumerate(range(0, len(items), chunk_size)):
            chunk = items[i : i + chunk_size]
            out.append((_chunk_id(source, day, part, [c.url for c in chunk]), chunk))
    return out


def done_chunks(ctx: Context, job: str) -> dict[str, dict[str, Any]]:
    """Chunks of ``job`` already finished: chunk id → its recorded counts."""
    return ctx.store.done_chunks(job)


def mark_chunk(ctx: Context, job: str, chunk: str, rep: ChunkReport, *, status: str) -> None:
    """Record a chunk's outcome (``done`` chunks are skipped when the job runs again)."""
    counts: dict[str, Any] = rep.counts()
    counts["per_category"] = dict(rep.per_category)
    ctx.store.mark_chunk(job, chunk, status, counts)


# ---------------------------------------------------------------------------- discovery
def _source_for_url(url: str, sources: Sequence[Source]) -> Source:
    host = (urlsplit(url).hostname or "").lower().removeprefix("www.")
    for s in sources:
        if (urlsplit(s.url).hostname or "").lower().removeprefix("www.") == host:
            return s
    if len(sources) == 1:
        return sources[0]
    return Source(name=host or "unknown", url=f"{urlsplit(url).scheme}://{urlsplit(url).netloc}/")


def _group(
    cands: Sequence[Candidate], sources: Sequence[Source], method: str
) -> dict[str, Discovery]:
    out: dict[str, Discovery] = {}
    for c in cands:
        s = _source_for_url(c.url, sources)
        d = out.setdefault(s.name, Discovery(method=method))
        d.candidates.append(replace(c, source=s.name, language=c.language or s.language))
        d.listed += 1
    return out


async def discover(
    ctx: Context,
    client: HttpClient,
    *,
    since: date,
    until: date,
    sources: Sequence[Source],
    mode: Mode | None,
    urls_file: Path | None = None,
    warc_files: Sequence[Path] = (),
    wayback: WaybackClient | None = None,
    allow_wayback: bool = False,
) -> tuple[dict[str, Discovery], dict[str, Source]]:
    """Find candidates for the range, by source name; also returns the sources by name.

    ``mode`` None means sitemaps, falling back to the Wayback Machine for a source whose
    sitemaps gave nothing when ``allow_wayback`` is set (and a ``wayback`` client is given).

    Raises:
        ConfigError: a URL list or WARC mode without its file, or an unreadable file.
    """
    by_name = {s.name: s for s in sources}
    found: dict[str, Discovery] = {}
    if mode == "urls":
        if urls_file is None:
            raise ConfigError("--from urls needs --urls FILE", key="urls")
        try:
            cands = read_url_list(urls_file, since, until)
        except OSError as exc:
            raise ConfigError(f"cannot read URL list {urls_file}: {exc}", key="urls") from exc
        found = _group(cands, sources, "urls")
    elif mode == "warc":
        if not warc_files:
            raise ConfigError("--from warc needs --warc FILE", key="warc")
        cands = []
        for p in warc_files:
            try:
                cands.extend(iter_warc(p, since, until))
            except (OSError, PermanentFetchError) as exc:
                raise ConfigError(f"cannot read WARC file {p}: {exc}", key="warc") from exc
        found = _group(cands, sources, "warc")
    else:
        for s in sources:
            disc = Discovery()
            if mode in (None, "sitemaps"):
                disc = await discover_source_sitemaps(client, s, since=since, until=until)
            want_wayback = mode == "wayback" or (
                mode is None and allow_wayback and not disc.candidates
            )
            if want_wayback:
                if wayback is None:
                    disc.errors.append("Wayback Machine not available in this run")
                else:
                    wb = await wayback_candidates(wayback, s, since=since, until=until)
                    wb.errors[:0] = disc.errors
                    wb.sitemaps_fetched = disc.sitemaps_fetched
                    disc = wb
            found[s.name] = disc
    for name in found:
        if name not in by_name:
            by_name[name] = _source_for_url(found[name].candidates[0].url, [])
    return found, by_name


# ---------------------------------------------------------------------------- chunks
async def run_chunk(
    ctx: Context,
    client: HttpClient,
    candidates: Sequence[Candidate],
    *,
    source: Source,
    since: date,
    until: date,
    wayback: WaybackClient | None = None,
) -> tuple[ChunkReport, bool]:
    """Run one chunk through the pipeline; returns (report, complete).

    Archived copies (Wayback) are fetched here through ``wayback`` — rate-limited and counted
    against its budget — after known URLs are dropped, so no budget is spent on them.
    ``complete`` is False when some URLs could not be tried or failed (the chunk is redone on
    the next run; what was stored stays stored).
    """
    from regionwatch.feeds import canonical_url
    from regionwatch.pipeline import ChunkReport, ingest_urls, unknown

    complete = True
    extra = ChunkReport()
    todo = list(candidates)
    archived = [c for c in todo if c.archived_url and c.content is None]
    if archived:
        fresh, known = unknown(ctx, archived, lambda c: url_key(canonical_url(c.url)))
        direct = [c for c in todo if not (c.archived_url and c.content is None)]
        fetched: list[Candidate] = []
        if wayback is None:
            fetched = fresh  # let the pipeline fetch the raw copies itself
        else:
            for c in fresh:
                try:
                    body = await wayback.get(c.archived_url or c.url, source=source.name)
                except WaybackStopped as exc:
                    complete = False
                    extra.errors.append(f"{c.url}: {exc}"[:300])
                    break
                except FetchError as exc:
                    extra.failed += 1
                    extra.errors.append(f"{c.url}: {type(exc).__name__}: {exc}"[:300])
                    continue
                extra.fetched += 1
                fetched.append(replace(c, content=body))
        extra.skipped_known = known
        todo = direct + fetched
    rep = await ingest_urls(
        ctx, client, todo, source=source, origin="backfill", since=since, until=until
    )
    rep.found = len(candidates)
    rep.add_counts(extra, ("fetched", "failed", "skipped_known"))
    rep.errors[:0] = extra.errors
    if rep.failed:
        complete = False
    return rep, complete


# ---------------------------------------------------------------------------- the run
async def run_backfill(
    ctx: Context,
    *,
    since: date,
    until: date,
    sources: Sequence[Source] = (),
    mode: Mode | None = None,
    urls_file: Path | None = None,
    warc_files: Sequence[Path] = (),
    progress: ProgressFn | None = None,
    allow_wayback: bool = False,
) -> BackfillReport:
    """Backfill ``since..until`` (inclusive, UTC days) into the store; resumable, idempotent.

    Args:
        ctx: the pipeline context (settings, store, tagger, story index).
        since: first day.
        until: last day.
        sources: sources to backfill (default: all configured); URL-list and WARC entries are
            matched to them by host.
        mode: ``sitemaps``, ``wayback``, ``urls`` or ``warc``; None = sitemaps (inferred as
            ``urls``/``warc`` when only a file is given), then Wayback if ``allow_wayback``.
        urls_file: URL list for ``urls`` mode.
        warc_files: WARC files for ``warc`` mode.
        progress: called after discovery of each source and after each chunk.
        allow_wayback: let the default mode fall back to the Wayback Machine.

    Returns:
        The report of this run (chunks finished by an earlier run are skipped, not re-counted).

    Raises:
        ConfigError: bad range or missing input file.
        StoreError: the store is unreachable.
    """
    from regionwatch.http import HttpClient
    from regionwatch.pipeline import recorded_run

    if until < since:
        raise ConfigError(f"--until {until} is before --since {since}", key="until")
    if mode is None and urls_file is not None:
        mode = "urls"
    elif mode is None and warc_files:
        mode = "warc"
    if mode is not None and mode not in MODES:
        raise ConfigError(f"unknown backfill mode {mode!r}; use {', '.join(MODES)}", key="from")
    sources = list(sources) or list(ctx.sources)
    settings = ctx.settings
    job = job_key(
        since=since,
        until=until,
        sources=[s.name for s in sources],
        mode=mode,
        urls_file=urls_file,
        warc_files=warc_files,
    )
    report = BackfillReport(job=job, since=since, until=until, mode=mode or "sitemaps")
    logger.info(
        "backfill %s..%s job %s (%s, %d sources)", since, until, job, report.mode, len(sources)
    )
    with recorded_run(ctx.store, "backfill") as rec:
        rec.summary = report.to_dict()
        async with HttpClient(settings.http) as client:
            wb_client: HttpClient | None = None
            wayback: WaybackClient | None = None
            if mode == "wayback" or (mode is None and allow_wayback):
                wb_cfg = settings.http.model_copy(update={"retries": 0})
                wb_client = HttpClient(wb_cfg)
                wayback = WaybackClient(wb_client, settings.backfill)
            try:
                await _run(
                    ctx,
                    client,
                    report,
                    since=since,
                    until=until,
                    sources=sources,
                    mode=mode,
                    urls_file=urls_file,
                    warc_files=warc_files,
                    wayback=wayback,
                    allow_wayback=allow_wayback,
                    progress=progress,
                )
            finally:
                if wb_client is not None:
                    await wb_client.aclose()
                rec.summary = report.to_dict()
        rec.status = report.status
    logger.info(
        "backfill done: %d found, %d fetched, %d known, %d out of range, %d failed, %d stored",
        report.found,
        report.fetched,
        report.skipped_known,
        report.out_of_range,
        report.failed,
        report.stored,
    )
    return report


async def _run(
    ctx: Context,
    client: HttpClient,
    report: BackfillReport,
    *,
    since: date,
    until: date,
    sources: Sequence[Source],
    mode: Mode | None,
    urls_file: Path | None,
    warc_files: Sequence[Path],
    wayback: WaybackClient | None,
    allow_wayback: bool,
    progress: ProgressFn | None,
) -> None:
    found, by_name = await discover(
        ctx,
        client,
        since=since,
        until=until,
        sources=sources,
        mode=mode,
        urls_file=urls_file,
        warc_files=warc_files,
        wayback=wayback,
        allow_wayback=allow_wayback,
    )
    done = done_chunks(ctx, report.job)
    plans: list[tuple[Source, SourceRow, str, list[Candidate]]] = []
    rows: dict[str, SourceRow] = {}
    for name, disc in found.items():
        row = rows[name] = SourceRow(
            source=name,
            mode=disc.method or report.mode,
            found=len(disc.candidates),
            sitemaps=disc.sitemaps_fetched,
            wayback_requests=disc.requests if disc.method == "wayback" else 0,
            stopped=disc.stopped,
            errors=list(disc.errors),
        )
        report.found += row.found
        report.errors.extend(f"{name}: {e}" for e in disc.errors[:20])
        if disc.stopped:
            report.stopped = report.stopped or f"{name}: {disc.stopped}"
        for chunk_id, cands in plan_chunks(disc.candidates, name, ctx.settings.backfill.chunk_size):
            report.chunks_total += 1
            if chunk_id in done:
                row.chunks_resumed += 1
                report.chunks_resumed += 1
                continue
            plans.append((by_name[name], row, chunk_id, cands))
    report.per_source = list(rows.values())
    urls_total = sum(len(p[3]) for p in plans)
    urls_done = 0

    def emit(
        phase: Literal["discovered", "chunk", "done"], src: str | None, chunk: str | None
    ) -> None:
        if progress is not None:
            progress(
                BackfillProgress(
                    phase=phase,
                    source=src,
                    chunk=chunk,
                    chunks_done=report.chunks_run + report.chunks_resumed,
                    chunks_total=report.chunks_total,
                    urls_done=urls_done,
                    urls_total=urls_total,
                    stored=report.stored,
                    failed=report.failed,
                    skipped_known=report.skipped_known,
                )
            )

    emit("discovered", None, None)
    for source, row, chunk_id, cands in plans:
        if wayback is not None and wayback.stopped and any(c.archived_url for c in cands):
            row.stopped = row.stopped or wayback.stopped
            report.stopped = report.stopped or wayback.stopped
            continue
        rep, complete = await run_chunk(
            ctx, client, cands, source=source, since=since, until=until, wayback=wayback
        )
        mark_chunk(ctx, report.job, chunk_id, rep, status="done" if complete else "partial")
        row.add(rep)
        row.chunks += 1
        row.errors.extend(rep.errors[:10])
        report.add_counts(rep, COUNT_FIELDS[1:])
        report.per_category.update(rep.per_category)
        report.stored_keys.extend(rep.stored_keys)
        report.errors.extend(rep.errors[:10])
        report.chunks_run += 1
        urls_done += len(cands)
        logger.info(
            "backfill chunk %s: %d candidates, %d stored, %d failed",
            chunk_id,
            len(cands),
            rep.stored,
            rep.failed,
        )
        emit("chunk", source.name, chunk_id)
    if wayback is not None:
        for row in report.per_source:
            if row.stopped is None and wayback.stopped:
                row.stopped = wayback.stopped
        if wayback.stopped:
            report.stopped = report.stopped or wayback.stopped
    emit("done", None, None)


# ---------------------------------------------------------------------------- digest
def digest_summaries(
    ctx: Context, report: BackfillReport, *, max_items: int = 20
) -> list[tuple[str, str]]:
    """One (title, Markdown body) summary per alert category of what the backfill stored.

    A count, then the newest ``max_items`` headlines (escaped) with date, outlet and link.
    Categories with no stored item are left out.
    """
    if not report.stored_keys:
        return []
    rows = ctx.store.items_by_keys(
        report.stored_keys, "title", "url", "feed_name", "published_at", "categories"
    )
    from regionwatch.alerts.render import escape_markdown, safe_url

    def esc(text: str) -> str:
        return escape_markdown(" ".join(str(text).split()), html_target=True)

    out: list[tuple[str, str]] = []
    span = f"{report.since.isoformat()}..{report.until.isoformat()}"
    cats = sorted({c for r in rows for c in (r.get("categories") or [])})
    for cat in cats:
        items = [r for r in rows if cat in (r.get("categories") or [])]
        items.sort(key=lambda r: str(r.get("published_at") or ""), reverse=True)
        lines = [f"**{len(items)}** backfilled item(s) in **{cat}** for {span}:", ""]
        for r in items[:max_items]:
            day = str(r.get("published_at") or "")[:10] or "undated"
            url = safe_url(str(r.get("url") or "")).replace("(", "%28").replace(")", "%29")
            title = esc(r.get("title") or "(untitled)")
            lines.append(f"- {day} · {esc(r.get('feed_name') or '')} · [{title}]({url})")
        if len(items) > max_items:
            lines.append(f"- … and {len(items) - max_items} more")
        out.append((f"RegionWatch backfill {span}: {cat} ({len(items)})", "\n".join(lines)))
    return out


def run_backfill_sync(ctx: Context, **kwargs: Any) -> BackfillReport:
    """:func:`run_backfill` from synchronous code (its own event loop)."""
    return asyncio.run(run_backfill(ctx, **kwargs))
