"""Archive discovery for backfill: sitemaps, the Wayback Machine CDX API, URL lists and WARC files.

Every format is parsed from bytes by a pure function (``parse_sitemap``, ``parse_robots_sitemaps``,
``parse_cdx_json``, ``parse_url_list``, ``iter_warc``); the async helpers fetch through our one
:class:`~regionwatch.http.HttpClient`, which owns robots.txt, per-host delay and concurrency,
size caps and retries. Discovery yields :class:`Candidate` records that the pipeline
(:func:`regionwatch.pipeline.ingest_urls`) fetches, extracts, tags, clusters and stores.

Formats, after their documentation:

- robots.txt ``Sitemap:`` lines (https://www.sitemaps.org/protocol.html#submit_robots);
- sitemaps and sitemap indexes, gzipped or not, plain-text sitemaps
  (https://www.sitemaps.org/protocol.html);
- Google News sitemaps: ``news:publication_date``, ``news:title``, ``news:language``
  (https://developers.google.com/search/docs/crawling-indexing/sitemaps/news-sitemap);
- the Wayback CDX server API, JSON output with ``showResumeKey`` paging
  (https://github.com/internetarchive/wayback/tree/master/wayback-cdx-server);
- WARC 1.0/1.1 response records, read with warcio.

Date filtering: an entry with a publication date is kept when that date's UTC day lies in
``since..until`` (inclusive); an entry with only a ``lastmod`` is kept when that day does; an
entry with no date is kept and the pipeline drops it after extraction if the article's own date
is outside the range. A child sitemap is skipped only when its ``lastmod`` is before ``since``
(a sitemap's ``lastmod`` is when it last changed, so a later value says nothing).
"""

from __future__ import annotations

import asyncio
import email.utils
import gzip
import heapq
import json
import logging
import re
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlencode, urljoin, urlsplit

from lxml import etree

from regionwatch.errors import FetchError, PermanentFetchError, TransientFetchError
from regionwatch.models import FeedEntry, FeedPoll, Source

if TYPE_CHECKING:
    from regionwatch.http import HttpClient
    from regionwatch.settings import BackfillConfig

__all__ = [
    "Candidate",
    "CdxRow",
    "Discovery",
    "MAX_SITEMAP_BYTES",
    "SitemapDoc",
    "SitemapEntry",
    "WaybackClient",
    "WaybackStopped",
    "child_wanted",
    "decompress",
    "discover_sitemaps",
    "in_range",
    "iter_warc",
    "looks_like_article",
    "page_date",
    "parse_cdx_json",
    "parse_cdx_timestamp",
    "parse_robots_sitemaps",
    "parse_sitemap",
    "parse_url_list",
    "parse_w3c_datetime",
    "poll_sitemap_source",
    "read_url_list",
    "select_entries",
    "site_root",
    "sitemap_candidates",
]

logger = logging.getLogger(__name__)

#: The sitemap protocol caps an uncompressed sitemap at 50 MB; we stop decompressing there.
MAX_SITEMAP_BYTES = 50 * 1024 * 1024
#: Where sites put sitemaps when robots.txt names none.
FALLBACK_SITEMAP_PATHS = ("/sitemap.xml", "/sitemap_index.xml", "/news-sitemap.xml")
GZIP_MAGIC = b"\x1f\x8b"
SITEMAP_ACCEPT = "application/xml, text/xml;q=0.9, application/x-gzip;q=0.8, */*;q=0.5"

# paths that are listings, feeds or assets rather than articles (Wayback captures everything)
_NOT_ARTICLE = re.compile(
    r"(/(tag|tags|category|categories|author|authors|search|page|feed|rss|amp/?$|wp-json|"
    r"wp-content|wp-admin|cdn-cgi|static|assets|login|subscribe)(/|$)|"
    r"\.(xml|rss|atom|json|txt|css|js|png|jpe?g|gif|webp|svg|ico|pdf|zip|mp[34])$)",
    re.I,
)
_PAGE_DATE_PATTERNS = [
    re.compile(
        rb"""<meta[^>]+(?:property|name|itemprop)\s*=\s*["'](?:article:published_time|"""
        rb"""og:published_time|datePublished|pubdate|publishdate|date|dc\.date|"""
        rb"""dcterms\.created|sailthru\.date)["'][^>]*>""",
        re.I,
    ),
    re.compile(rb""""datePublished"\s*:\s*"([^"]{8,40})\"""", re.I),
    re.compile(rb"""<time[^>]+datetime\s*=\s*["']([^"']{8,40})["']""", re.I),
]
_CONTENT_ATTR = re.compile(rb"""content\s*=\s*["']([^"']{8,40})["']""", re.I)


# ---------------------------------------------------------------------------- records
@dataclass(frozen=True, slots=True)
class Candidate:
    """A URL to backfill, with what discovery learnt about it.

    Attributes:
        url: the article's own URL (what gets stored).
        published: publication date from an authoritative listing (news sitemap, URL list).
        title: headline from the listing, if any.
        source: name of the configured source it belongs to.
        language: language code from the listing, if any.
        archived_url: a raw archived copy to fetch instead of ``url`` (Wayback ``id_`` URL).
        content: the page itself (WARC payload, or an archived copy already fetched).
        seen: a date known not to precede publication (``lastmod``, capture time); it orders
            and chunks undated candidates and is never stored as the publication date.
    """

    url: str
    published: datetime | None = None
    title: str | None = None
    source: str | None = None
    language: str | None = None
    archived_url: str | None = None
    content: bytes | None = None
    seen: datetime | None = None

    @property
    def day(self) -> date | None:
        """The UTC day used to chunk this candidate (publication, else ``seen``)."""
        dt = self.published or self.seen
        return dt.astimezone(UTC).date() if dt else None


@dataclass(frozen=True, slots=True)
class SitemapEntry:
    """One ``<url>`` or ``<sitemap>`` element of a sitemap."""

    loc: str
    lastmod: datetime | None = None
    published: datetime | None = None
    title: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class SitemapDoc:
    """A parsed sitemap: child sitemaps (index) and/or URL entries (urlset, text)."""

    kind: Literal["index", "urlset", "text", "invalid"]
    sitemaps: tuple[SitemapEntry, ...] = ()
    urls: tuple[SitemapEntry, ...] = ()
    error: str | None = None


@dataclass(frozen=True, slots=True)
class CdxRow:
    """One capture listed by the Wayback CDX server."""

    urlkey: str
    timestamp: str
    original: str
    mimetype: str = ""
    statuscode: str = ""

    @property
    def captured(self) -> datetime | None:
        """Capture time, aware UTC."""
        return parse_cdx_timestamp(self.timestamp)


@dataclass
class Discovery:
    """What discovery found for one source (or one file)."""

    candidates: list[Candidate] = field(default_factory=list)
    listed: int = 0
    sitemaps_fetched: int = 0
    requests: int = 0
    errors: list[str] = field(default_factory=list)
    stopped: str | None = None
    method: str = ""

    def extend(self, other: Discovery) -> None:
        """Merge another discovery into this one (candidates deduplicated by URL)."""
        seen = {c.url for c in self.candidates}
        self.candidates.extend(c for c in other.candidates if c.url not in seen)
        self.listed += other.listed
        self.sitemaps_fetched += other.sitemaps_fetched
        self.requests += other.requests
        self.errors.extend(other.errors)
        self.stopped = self.stopped or other.stopped


# ---------------------------------------------------------------------------- dates
_YEAR_MONTH = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


def parse_w3c_datetime(value: str | None) -> datetime | None:
    """Parse a W3C/ISO 8601 date or datetime (or an RFC 822 date) to aware UTC.

    ``YYYY``, ``YYYY-MM`` and ``YYYY-MM-DD`` mean the start of that period in UTC; a datetime
    without an offset is taken as UTC. Returns None for empty or unparseable values.
    """
    if not value:
        return None
    s = value.strip()
    if not s:
        return None
    m = _YEAR_MONTH.match(s)
    if m:
        return datetime(int(m.group(1)), int(m.group(2) or 1), 1, tzinfo=UTC)
    iso = s.replace(" ", "T", 1) if re.match(r"^\d{4}-\d{2}-\d{2} \d", s) else s
    iso = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", iso)  # +0300 -> +03:00
    try:
        dt = datetime.fromisoformat(iso)
    except ValueError:
        try:
            dt = email.utils.parsedate_to_datetime(s)
        except (TypeError, ValueError, IndexError):
            return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def in_range(dt: datetime, since: date | None, until: date | None) -> bool:
    """Whether ``dt``'s UTC day lies in ``since..until`` (both inclusive, either open)."""
    day = dt.astimezone(UTC).date()
    return (since is None or day >= since) and (until is None or day <= until)


def child_wanted(entry: SitemapEntry, since: date | None) -> bool:
    """Whether a child sitemap may hold entries on or after ``since``.

    A sitemap's ``lastmod`` is when it last changed: one that last changed before ``since`` can
    only list older entries; any later (or missing) ``lastmod`` says nothing, so it is visited.
    """
    return entry.lastmod is None or since is None or entry.lastmod.date() >= since


def parse_cdx_timestamp(ts: str) -> datetime | None:
    """A CDX 14-digit timestamp (``YYYYMMDDhhmmss``, shorter ones padded) as aware UTC."""
    digits = re.sub(r"\D", "", ts or "")
    if len(digits) < 4:
        return None
    if len(digits) < 14:
        digits += "0101000000"[len(digits) - 4 :]
    digits = digits[:14]
    try:
        return datetime.strptime(digits, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def page_date(html: bytes) -> datetime | None:
    """The publication date a page declares in its head (meta tags, JSON-LD, ``<time>``).

    A cheap look at the first 64 KiB, used to filter WARC records before extraction.
    """
    head = html[:65536]
    for n, pat in enumerate(_PAGE_DATE_PATTERNS):
        for m in pat.finditer(head):
            raw = m.group(0) if n == 0 else m.group(1)
            if n == 0:
                cm = _CONTENT_ATTR.search(raw)
                if not cm:
                    continue
                raw = cm.group(1)
            dt = parse_w3c_datetime(raw.decode("ascii", "ignore"))
            if dt is not None:
                return dt
    return None


# ---------------------------------------------------------------------------- bytes
def decompress(data: bytes, *, limit: int = MAX_SITEMAP_BYTES) -> bytes:
    """Gunzip ``data`` when it starts with the gzip magic bytes (whatever its name says).

    Output is capped at ``limit`` bytes (a decompression bomb stops there). Data that is not
    gzip is returned unchanged.

    Raises:
        PermanentFetchError: the gzip stream is corrupt or inflates beyond ``limit``.
    """
    if not data.startswith(GZIP_MAGIC):
        return data
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(data, limit + 1)
    except zlib.error as exc:
        raise PermanentFetchError(f"corrupt gzip data: {exc}") from exc
    if len(out) > limit or d.unconsumed_tail:
        raise PermanentFetchError(f"gzip data inflates beyond {limit} bytes")
    return out


def _localname(el: etree._Element) -> str:
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].lower()


def _text(el: etree._Element | None) -> str:
    if el is None:
        return ""
    return "".join(el.itertext()).strip()


def _xml_parser() -> etree.XMLParser:
    return etree.XMLParser(
        recover=True,
        resolve_entities=False,
        no_network=True,
        remove_comments=True,
        remove_pis=True,
        huge_tree=False,
    )


def parse_robots_sitemaps(text: str, base_url: str) -> list[str]:
    """The ``Sitemap:`` URLs of a robots.txt, absolute, in order, without duplicates."""
    out: list[str] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        key, sep, value = line.partition(":")
        if not sep or key.strip().lower() != "sitemap":
            continue
        url = urljoin(base_url, value.strip())
        if urlsplit(url).scheme in ("http", "https") and url not in out:
            out.append(url)
    return out


def parse_sitemap(data: bytes, url: str = "") -> SitemapDoc:
    """Parse a sitemap, sitemap index, Google News sitemap or plain-text sitemap.

    Namespaces are matched by local name, so unprefixed or oddly-namespaced files parse too;
    relative ``loc`` values are resolved against ``url``. Gzip is detected by magic bytes.

    Raises:
        PermanentFetchError: gzip data is corrupt or too large.
    """
    data = decompress(data)
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped.startswith(b"<"):
        urls = []
        for line in stripped.decode("utf-8", "replace").splitlines():
            line = line.strip()
            if urlsplit(line).scheme in ("http", "https"):
                urls.append(SitemapEntry(loc=line))
        if urls:
            return SitemapDoc(kind="text", urls=tuple(urls))
        return SitemapDoc(kind="invalid", error="neither XML nor a list of URLs")
    try:
        root = etree.fromstring(stripped, _xml_parser())
    except etree.XMLSyntaxError as exc:
        return SitemapDoc(kind="invalid", error=f"not XML: {exc}")
    if root is None:
        return SitemapDoc(kind="invalid", error="empty XML document")
    sitemaps: list[SitemapEntry] = []
    urls = []
    for el in root.iter():
        name = _localname(el)
        if name not in ("url", "sitemap"):
            continue
        entry = _entry(el, url)
        if entry is None:
            continue
        (sitemaps if name == "sitemap" else urls).append(entry)
    root_name = _localname(root)
    if root_name == "sitemapindex" or (sitemaps and not urls):
        kind: Literal["index", "urlset"] = "index"
    elif root_name == "urlset" or urls:
        kind = "urlset"
    else:
        return SitemapDoc(kind="invalid", error=f"unexpected root element <{root_name}>")
    return SitemapDoc(kind=kind, sitemaps=tuple(sitemaps), urls=tuple(urls))


def _entry(el: etree._Element, base: str) -> SitemapEntry | None:
    loc = lastmod = pub = title = lang = None
    for child in el.iter():
        if child is el:
            continue
        name = _localname(child)
        if name == "loc" and loc is None and _localname(child.getparent()) in ("url", "sitemap"):
            loc = _text(child)
        elif name == "lastmod" and lastmod is None:
            lastmod = parse_w3c_datetime(_text(child))
        elif name == "publication_date" and pub is None:
            pub = parse_w3c_datetime(_text(child))
        elif name == "title" and title is None and _localname(child.getparent()) == "news":
            title = " ".join(_text(child).split()) or None
        elif name == "language" and lang is None:
            lang = _text(child) or None
    if not loc:
        return None
    loc = urljoin(base, loc) if base else loc
    if urlsplit(loc).scheme not in ("http", "https"):
        return None
    return SitemapEntry(loc=loc, lastmod=lastmod, published=pub, title=title, language=lang)


def select_entries(
    entries: Iterable[SitemapEntry],
    since: date | None,
    until: date | None,
    *,
    source: str | None = None,
    language: str | None = None,
) -> list[Candidate]:
    """Urlset entries to backfill for ``since..until`` (inclusive, by UTC day), as candidates.

    The publication date decides when present; else ``lastmod`` does; entries with neither are
    kept (the pipeline filters them by the article's own date after extraction).
    """
    out: list[Candidate] = []
    for e in entries:
        if e.published is not None:
            if not in_range(e.published, since, until):
                continue
        elif e.lastmod is not None and not in_range(e.lastmod, since, until):
            continue
        out.append(
            Candidate(
                url=e.loc,
                published=e.published,
                title=e.title,
                source=source,
                language=e.language or language,
                seen=e.lastmod,
            )
        )
    return out


def site_root(url: str) -> str:
    """``scheme://host[:port]`` of a URL (a feed's site, where robots.txt and sitemaps live)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def looks_like_article(url: str) -> bool:
    """A cheap guess that a URL is an article, not a home, listing, feed or asset URL."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if path.strip("/") == "":
        return False
    if re.search(r"(^|&)(page|p|s|q)=", parts.query):
        return False
    return not _NOT_ARTICLE.search(path)


# ---------------------------------------------------------------------------- sitemaps (async)
async def _fetch_sitemap(client: HttpClient, url: str, source: str | None) -> SitemapDoc:
    res = await client.fetch(url, robots=True, source=source, accept=SITEMAP_ACCEPT)
    return parse_sitemap(res.content, res.url or url)


async def discover_sitemaps(
    client: HttpClient, root: str, *, source: str | None = None
) -> tuple[list[str], list[str]]:
    """Find a site's sitemaps: robots.txt ``Sitemap:`` lines, else the usual locations.

    Args:
        client: the HTTP client.
        root: ``scheme://host[:port]`` of the site.
        source: source name for logs and errors.

    Returns:
        (sitemap URLs to start from, errors met). Fallback locations are returned only if they
        answered with a parseable sitemap; robots-declared ones are returned unchecked.
    """
    errors: list[str] = []
    robots_url = root.rstrip("/") + "/robots.txt"
    declared: list[str] = []
    try:
        res = await client.fetch(robots_url, robots=False, source=source, accept="text/plain")
        declared = parse_robots_sitemaps(res.text(), robots_url)
    except FetchError as exc:
        logger.debug("%s: no robots.txt (%s)", source or root, exc)
    if declared:
        return declared, errors
    found: list[str] = []
    for path in FALLBACK_SITEMAP_PATHS:
        url = root.rstrip("/") + path
        try:
            doc = await _fetch_sitemap(client, url, source)
        except FetchError as exc:
            logger.debug("%s: %s not available (%s)", source or root, url, exc)
            continue
        if doc.kind != "invalid":
            found.append(url)
    if not found:
        errors.append(f"{root}: no sitemap in robots.txt or at {', '.join(FALLBACK_SITEMAP_PATHS)}")
    return found, errors


async def sitemap_candidates(
    client: HttpClient,
    start: Sequence[str],
    *,
    since: date | None,
    until: date | None,
    source: str | None = None,
    language: str | None = None,
    max_depth: int = 4,
    max_sitemaps: int = 2000,
) -> Discovery:
    """Walk sitemaps from ``start`` (indexes recursively, to ``max_depth``) into candidates.

    Child sitemaps whose ``lastmod`` is before ``since`` are not fetched. A sitemap that fails
    is recorded in ``errors`` and the walk goes on.
    """
    disc = Discovery()
    seen_maps: set[str] = set()
    seen_urls: set[str] = set()
    queue: list[tuple[str, int]] = [(u, 0) for u in start]
    while queue:
        url, depth = queue.pop(0)
        if url in seen_maps:
            continue
        if len(seen_maps) >= max_sitemaps:
            disc.stopped = f"more than {max_sitemaps} sitemaps"
            logger.warning("%s: sitemap walk stopped after %d sitemaps", source, max_sitemaps)
            break
        seen_maps.add(url)
        try:
            doc = await _fetch_sitemap(client, url, source)
        except FetchError as exc:
            disc.errors.append(f"{url}: {type(exc).__name__}: {exc}"[:300])
            logger.info("%s: sitemap %s failed: %s", source, url, exc)
            continue
        disc.sitemaps_fetched += 1
        disc.requests += 1
        if doc.kind == "invalid":
            disc.errors.append(f"{url}: {doc.error}")
            continue
        for child in doc.sitemaps:
            if depth + 1 > max_depth:
                disc.errors.append(f"{child.loc}: deeper than {max_depth} levels, skipped")
                continue
            if child_wanted(child, since):
                queue.append((child.loc, depth + 1))
            else:
                logger.debug("%s: sitemap %s unchanged since %s", source, child.loc, since)
        disc.listed += len(doc.urls)
        for c in select_entries(doc.urls, since, until, source=source, language=language):
            if c.url not in seen_urls:
                seen_urls.add(c.url)
                disc.candidates.append(c)
    logger.info(
        "%s: %d sitemaps read, %d URLs listed, %d in range",
        source,
        disc.sitemaps_fetched,
        disc.listed,
        len(disc.candidates),
    )
    return disc


async def discover_source_sitemaps(
    client: HttpClient, source: Source, *, since: date | None, until: date | None
) -> Discovery:
    """Candidates for one configured source from its sitemaps.

    A source of kind ``sitemap`` starts from its own URL; a feed starts from its site root
    (robots.txt ``Sitemap:`` lines, else the usual locations).
    """
    errors: list[str] = []
    if source.kind == "sitemap":
        start = [source.url]
    else:
        start, errors = await discover_sitemaps(client, site_root(source.url), source=source.name)
    disc = await sitemap_candidates(
        client, start, since=since, until=until, source=source.name, language=source.language
    )
    disc.errors[:0] = errors
    disc.method = "sitemaps"
    return disc


async def poll_sitemap_source(
    client: HttpClient,
    source: Source,
    *,
    etag: str | None,
    last_modified: str | None,
    max_entries: int = 100,
    max_children: int = 2,
) -> FeedPoll:
    """Poll a news sitemap (or a sitemap index) live, like a feed.

    A conditional GET of ``source.url``; for an index, the ``max_children`` most recently
    changed child sitemaps are read too (and so on for nested indexes, three levels at most).
    The newest ``max_entries`` entries (by publication date, else ``lastmod``) become feed
    entries.

    Raises:
        FetchError: the sitemap itself could not be fetched (children that fail are skipped).
    """
    from regionwatch.feeds import canonical_url

    res = await client.fetch(
        source.url,
        etag=etag,
        last_modified=last_modified,
        robots=False,
        source=source.name,
        accept=SITEMAP_ACCEPT,
    )
    if res.not_modified:
        return FeedPoll(
            source=source.name,
            status="not_modified",
            etag=res.etag or etag,
            last_modified=res.last_modified or last_modified,
            http_status=res.status,
        )
    doc = parse_sitemap(res.content, res.url or source.url)
    if doc.kind == "invalid":
        return FeedPoll(
            source=source.name,
            status="bozo",
            etag=res.etag,
            last_modified=res.last_modified,
            http_status=res.status,
            bozo_reason=doc.error,
        )
    entries = list(doc.urls)
    bozo: str | None = None
    epoch = datetime.min.replace(tzinfo=UTC)
    pending, depth, seen_maps = list(doc.sitemaps), 0, {res.url or source.url}
    while pending and depth < 3:
        depth += 1
        newest_children = sorted(
            enumerate(pending), key=lambda p: (p[1].lastmod or epoch, p[0]), reverse=True
        )[:max_children]
        pending = []
        for _, child in newest_children:
            if child.loc in seen_maps:
                continue
            seen_maps.add(child.loc)
            try:
                sub = await _fetch_sitemap(client, child.loc, source.name)
            except FetchError as exc:
                bozo = f"child sitemap {child.loc}: {exc}"[:300]
                logger.info("%s: %s", source.name, bozo)
                continue
            entries.extend(sub.urls)
            pending.extend(sub.sitemaps)
    epoch = datetime.min.replace(tzinfo=UTC)
    newest = heapq.nlargest(
        max_entries,
        enumerate(entries),
        key=lambda p: (p[1].published or p[1].lastmod or epoch, -p[0]),
    )
    out: list[FeedEntry] = []
    seen: set[str] = set()
    for _, e in newest:
        url = canonical_url(e.loc)
        if url in seen:
            continue
        seen.add(url)
        out.append(
            FeedEntry(
                source=source.name,
                url=url,
                guid=e.loc,
                title=e.title or "",
                summary="",
                published=e.published,
                language=e.language or source.language,
            )
        )
    return FeedPoll(
        source=source.name,
        status="ok" if out else "empty",
        entries=tuple(out),
        etag=res.etag,
        last_modified=res.last_modified,
        http_status=res.status,
        bozo_reason=bozo,
    )


# ---------------------------------------------------------------------------- Wayback CDX
class WaybackStopped(TransientFetchError):
    """The Wayback Machine session stopped: request budget spent or repeatedly rate limited."""


def cdx_query(
    cdx_url: str,
    target: str,
    since: date,
    until: date,
    *,
    limit: int = 1000,
    resume_key: str | None = None,
    page: int | None = None,
) -> str:
    """The CDX API URL listing HTML captures (status 200) of ``target`` in ``since..until``."""
    params: list[tuple[str, str]] = [
        ("url", target),
        ("from", since.strftime("%Y%m%d")),
        ("to", until.strftime("%Y%m%d")),
        ("output", "json"),
        ("filter", "statuscode:200"),
        ("filter", "mimetype:text/html"),
        ("collapse", "urlkey"),
        ("fl", "urlkey,timestamp,original,mimetype,statuscode"),
    ]
    if page is not None:
        params.append(("page", str(page)))
    else:
        params += [("limit", str(limit)), ("showResumeKey", "true")]
        if resume_key:
            params.append(("resumeKey", resume_key))
    sep = "&" if "?" in cdx_url else "?"
    return cdx_url + sep + urlencode(params)


def parse_cdx_json(data: bytes) -> tuple[list[CdxRow], str | None]:
    """Parse CDX ``output=json``: a header row, capture rows, then ``[]`` and a resume key.

    Also accepts the space-separated text output (default field order). Returns the rows and
    the resume key (None on the last page).

    Raises:
        PermanentFetchError: the answer is neither CDX JSON nor CDX text.
    """
    body = data.strip()
    if not body:
        return [], None
    if not body.startswith(b"["):
        return _parse_cdx_text(body), None
    try:
        rows = json.loads(body)
    except ValueError as exc:
        raise PermanentFetchError(f"CDX answer is not JSON: {exc}") from exc
    if not isinstance(rows, list) or not rows:
        return [], None
    header = [str(h) for h in rows[0]] if isinstance(rows[0], list) else []
    idx = {name: n for n, name in enumerate(header)}
    if "original" not in idx or "timestamp" not in idx:
        raise PermanentFetchError(f"CDX JSON header lacks original/timestamp: {header}")
    out: list[CdxRow] = []
    resume: str | None = None
    body_rows = rows[1:]
    for n, r in enumerate(body_rows):
        if not isinstance(r, list):
            continue
        if not r:  # an empty row separates the resume key
            tail = body_rows[n + 1] if n + 1 < len(body_rows) else None
            if isinstance(tail, list) and tail:
                resume = str(tail[0]) or None
            break

        def get(name: str, row: list[object] = r) -> str:
            i = idx.get(name)
            return str(row[i]) if i is not None and i < len(row) else ""

        out.append(
            CdxRow(
                urlkey=get("urlkey"),
                timestamp=get("timestamp"),
                original=get("original"),
                mimetype=get("mimetype"),
                statuscode=get("statuscode"),
            )
        )
    return out, resume


def _parse_cdx_text(body: bytes) -> list[CdxRow]:
    out = []
    for line in body.decode("utf-8", "replace").splitlines():
        f = line.split()
        if len(f) >= 3 and f[1].isdigit():
            out.append(
                CdxRow(
                    urlkey=f[0],
                    timestamp=f[1],
                    original=f[2],
                    mimetype=f[3] if len(f) > 3 else "",
                    statuscode=f[4] if len(f) > 4 else "",
                )
            )
        elif f:
            raise PermanentFetchError(f"CDX answer not understood: {line[:120]!r}")
    return out


class WaybackClient:
    """A polite session with the Wayback Machine: rate limit, request budget, 429 back-off.

    Requests are spaced to ``requests_per_minute``; each one (CDX page or archived copy) counts
    against ``budget``. A 429 is waited out (``Retry-After`` honoured, else exponential
    back-off); after ``max_429`` consecutive 429s the session stops and reports instead of
    hammering (ignoring 429s gets an address blocked for an hour, doubling).
    """

    def __init__(
        self,
        client: HttpClient,
        cfg: BackfillConfig,
        *,
        max_429: int = 3,
        backoff_base: float = 30.0,
        max_wait: float = 600.0,
        page_size: int = 1000,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Wrap ``client`` (ideally built with ``retries=0``, so 429s come back to us)."""
        self.client = client
        self.cfg = cfg
        self.interval = 60.0 / cfg.wayback_requests_per_minute
        self.budget = cfg.wayback_budget
        self.max_429 = max_429
        self.backoff_base = backoff_base
        self.max_wait = max_wait
        self.page_size = page_size
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._next_at = 0.0
        self.requests = 0
        self.throttled = 0
        self._consecutive_429 = 0
        self.stopped: str | None = None

    async def _slot(self) -> None:
        async with self._lock:
            if self.stopped:
                raise WaybackStopped(self.stopped)
            if self.requests >= self.budget:
                self.stopped = f"Wayback request budget of {self.budget} spent"
                logger.warning("%s", self.stopped)
                raise WaybackStopped(self.stopped)
            now = time.monotonic()
            if self._next_at > now:
                await self._sleep(self._next_at - now)
            self._next_at = time.monotonic() + self.interval
            self.requests += 1

    async def get(self, url: str, *, source: str | None = None) -> bytes:
        """GET one Wayback URL politely; returns the body.

        Raises:
            WaybackStopped: budget spent or rate limited ``max_429`` times in a row.
            FetchError: the request failed for another reason.
        """
        while True:
            await self._slot()
            try:
                res = await self.client.fetch(url, robots=False, source=source)
            except TransientFetchError as exc:
                if exc.status != 429:
                    raise
                self.throttled += 1
                self._consecutive_429 += 1
                if self._consecutive_429 >= self.max_429:
                    self.stopped = (
                        f"Wayback answered 429 {self._consecutive_429} times in a row; "
                        "stopped to avoid a block"
                    )
                    logger.warning("%s", self.stopped)
                    raise WaybackStopped(self.stopped, url=url, status=429) from exc
                wait = exc.retry_after
                if wait is None:
                    wait = self.backoff_base * 2 ** (self._consecutive_429 - 1)
                wait = min(max(wait, self.interval), self.max_wait)
                logger.info("Wayback 429 on %s: waiting %.1f s", url, wait)
                async with self._lock:
                    self._next_at = max(self._next_at, time.monotonic() + wait)
                continue
            self._consecutive_429 = 0
            return res.content

    async def captures(
        self, target: str, since: date, until: date, *, source: str | None = None
    ) -> AsyncIterator[CdxRow]:
        """Iterate over the CDX listing of ``target`` page by page (``resumeKey`` paging)."""
        resume: str | None = None
        pages = 0
        while True:
            url = cdx_query(
                self.cfg.wayback_cdx_url,
                target,
                since,
                until,
                limit=self.page_size,
                resume_key=resume,
            )
            rows, resume = parse_cdx_json(await self.get(url, source=source))
            pages += 1
            for row in rows:
                yield row
            if not resume or not rows:
                return
            if pages > 10_000:
                raise PermanentFetchError("CDX paging does not end", url=url)

    def raw_url(self, row: CdxRow) -> str:
        """The archived copy as the site served it (``id_``: no Wayback toolbar or rewriting)."""
        return self.cfg.wayback_raw_url.format(timestamp=row.timestamp, url=row.original)


async def wayback_candidates(
    wb: WaybackClient,
    source: Source,
    *,
    since: date,
    until: date,
    capture_slack_days: int = 3,
) -> Discovery:
    """Candidates for one source from the Wayback CDX index (site root, HTML, status 200).

    Captures from ``since`` to ``until`` + ``capture_slack_days`` are listed (a page is captured
    on or after its publication; the pipeline drops articles dated outside the range).
    """
    disc = Discovery(method="wayback")
    host = urlsplit(source.url).netloc
    target = host + "/*"
    start = wb.requests
    seen: set[str] = set()
    try:
        async for row in wb.captures(
            target, since, until + timedelta(days=capture_slack_days), source=source.name
        ):
            disc.listed += 1
            if row.statuscode and row.statuscode != "200":
                continue
            if row.mimetype and "html" not in row.mimetype:
                continue
            if urlsplit(row.original).scheme not in ("http", "https"):
                continue
            if not looks_like_article(row.original) or row.original in seen:
                continue
            seen.add(row.original)
            disc.candidates.append(
                Candidate(
                    url=row.original,
                    source=source.name,
                    language=source.language,
                    archived_url=wb.raw_url(row),
                    seen=row.captured,
                )
            )
    except WaybackStopped as exc:
        disc.stopped = str(exc)
        disc.errors.append(str(exc))
    except FetchError as exc:
        disc.errors.append(f"CDX {target}: {type(exc).__name__}: {exc}"[:300])
        logger.warning("%s: CDX query failed: %s", source.name, exc)
    disc.requests = wb.requests - start
    return disc


# ---------------------------------------------------------------------------- URL lists
def parse_url_list(
    text: str,
    since: date | None = None,
    until: date | None = None,
    *,
    source: str | None = None,
) -> list[Candidate]:
    """Candidates from a URL list: one URL per line, ``#`` comments, optional ``URL<TAB>date``.

    Lines with a date outside ``since..until`` are dropped; undated lines are kept (filtered
    later by the article's date). Lines that are not http(s) URLs are skipped with a log.
    """
    out: list[Candidate] = []
    seen: set[str] = set()
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = re.split(r"\t+|\s+", line, maxsplit=1)
        url = parts[0].strip()
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            logger.warning("URL list line %d: not an http(s) URL: %.80s", n, line)
            continue
        published = None
        if len(parts) > 1:
            rest = parts[1].split("#", 1)[0].strip()
            published = parse_w3c_datetime(rest) if rest else None
            if rest and published is None:
                logger.warning("URL list line %d: date not understood: %.40s", n, rest)
        if published is not None and not in_range(published, since, until):
            continue
        if url in seen:
            continue
        seen.add(url)
        out.append(Candidate(url=url, published=published, source=source))
    return out


def read_url_list(
    path: Path, since: date | None = None, until: date | None = None, *, source: str | None = None
) -> list[Candidate]:
    """:func:`parse_url_list` over a file (UTF-8, BOM tolerated).

    Raises:
        OSError: the file cannot be read.
    """
    return parse_url_list(path.read_text(encoding="utf-8-sig"), since, until, source=source)


# ---------------------------------------------------------------------------- WARC
def iter_warc(
    path: Path,
    since: date | None = None,
    until: date | None = None,
    *,
    source: str | None = None,
) -> Iterator[Candidate]:
    """Candidates with content from a WARC file (gzipped or not): HTML response records.

    A record is kept when its HTTP status is 200 and its type is HTML, and its date fits:
    the page's own date (meta tags) when it declares one, else its ``WARC-Date`` capture
    time — a capture before ``since`` cannot hold an article published in the range; later
    captures are kept and filtered by the article's date after extraction.

    Raises:
        OSError: the file cannot be read.
        PermanentFetchError: the file is not a WARC archive.
    """
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    with open(path, "rb") as fh:
        head = fh.read(2)
        fh.seek(0)
        if head == GZIP_MAGIC:
            try:
                with gzip.GzipFile(fileobj=fh) as gz:
                    head = gz.read(5)
            except (OSError, EOFError) as exc:
                raise PermanentFetchError(f"{path}: corrupt gzip: {exc}") from exc
            fh.seek(0)
        else:
            head = fh.read(5)
            fh.seek(0)
        if head != b"WARC/":
            raise PermanentFetchError(f"{path}: not a WARC file (no WARC/ version line)")
        try:
            for rec in ArchiveIterator(fh):
                if rec.rec_type != "response":
                    continue
                url = rec.rec_headers.get_header("WARC-Target-URI") or ""
                if urlsplit(url).scheme not in ("http", "https"):
                    continue
                http = rec.http_headers
                if http is None:
                    continue
                status = http.get_statuscode()
                ctype = (http.get_header("Content-Type") or "").lower()
                if status != "200" or ("html" not in ctype and ctype):
                    continue
                content = rec.content_stream().read()
                if not ctype and b"<html" not in content[:4096].lower():
                    continue
                captured = parse_w3c_datetime(rec.rec_headers.get_header("WARC-Date"))
                published = page_date(content)
                if published is not None:
                    if not in_range(published, since, until):
                        continue
                elif captured is not None and since is not None and captured.date() < since:
                    continue
                yield Candidate(
                    url=url, published=published, source=source, content=content, seen=captured
                )
        except ArchiveLoadFailed as exc:
            raise PermanentFetchError(f"{path}: not a WARC file: {exc}") from exc
