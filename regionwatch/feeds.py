"""Feeds: conditional GET, then feedparser over the fetched bytes → typed, normalised entries.

RSS 0.9x/1.0/2.0 and Atom go through feedparser; JSON Feed (1.0/1.1) is read directly. A bozo
(ill-formed) feed yields whatever feedparser could recover plus the reason. Entry links become
canonical URLs (tracking parameters and fragments dropped, relative links resolved), titles and
summaries plain text, dates aware UTC and never in the future.
"""

from __future__ import annotations

import asyncio
import html
import io
import json
import logging
import re
import xml.sax
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

import feedparser

from regionwatch.http import HttpClient
from regionwatch.models import FeedEntry, FeedPoll, Source

__all__ = [
    "FEED_ACCEPT",
    "canonical_url",
    "html_to_text",
    "parse_feed",
    "poll_feed",
]

LOGGER = logging.getLogger(__name__)

#: Accept header of feed polls (IANA types, plus the not-registered but common JSON Feed one).
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
#: Query parameters that only track the reader (utm_* handled by prefix).
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "msclkid",
        "yclid",
        "ysclid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "ref_src",
        "ref_url",
        "at_medium",
        "at_campaign",
        "at_custom1",
        "at_custom2",
        "at_custom3",
        "at_custom4",
        "ocid",
        "cmpid",
        "xtor",
        "__twitter_impression",
        "wt_mc",
        "wt.mc_id",
        "s_cid",
        "ncid",
        "sr_share",
        "rss",
        "from_rss",
        "rss_source",
        "spm",
        "icid",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "mbid",
        "cid_rss",
    }
)
TRACKING_PREFIXES = ("utm_", "utm-", "pk_", "mtm_", "hmb_", "itm_")
MAX_SUMMARY_CHARS = 20_000
_PARSE_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    LookupError,
    UnicodeError,
    RecursionError,
    OverflowError,
    xml.sax.SAXException,
)
_BLOCK_TAG_RE = re.compile(
    r"<\s*(?:br|/p|p|/div|/li|li|/h[1-6]|/tr|/blockquote|/pre|hr|/section|/article)\b[^>]*>",
    re.IGNORECASE,
)
_SCRIPT_RE = re.compile(
    r"<(script|style|noscript|template)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL
)
_COMMENT_RE = re.compile(r"<!--.*?-->", re.DOTALL)
_TAG_RE = re.compile(r"</?[A-Za-z][A-Za-z0-9:_-]*(?:\s[^<>]*)?/?>")
_CDATA_RE = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.DOTALL)
_WS_RE = re.compile(r"[ \t\r\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_ZW_RE = re.compile(r"[\u200b-\u200d\u2060\ufeff]")
_LANG_RE = re.compile(r"^[A-Za-z]{2,3}(?:$|[-_])")


# --------------------------------------------------------------------------------------------
# text and URL helpers
# --------------------------------------------------------------------------------------------
def html_to_text(s: str | None) -> str:
    """Turn an HTML fragment into plain text: scripts dropped, tags stripped, entities unescaped.

    Block-level tags become line breaks; runs of spaces collapse; empty lines go.

    Args:
        s: the fragment (plain text passes through, apart from whitespace).

    Returns:
        The plain text.
    """
    if not s:
        return ""
    if "<" in s:
        s = _CDATA_RE.sub(r"\1", s)
        s = _SCRIPT_RE.sub(" ", s)
        s = _COMMENT_RE.sub(" ", s)
        s = _BLOCK_TAG_RE.sub("\n", s)
        s = _TAG_RE.sub(" ", s)
    if "&" in s:
        s = html.unescape(s)
    return _clean_ws(s)


def _clean_ws(s: str) -> str:
    s = _ZW_RE.sub("", s)
    lines = (_WS_RE.sub(" ", line).strip() for line in s.splitlines())
    return "\n".join(line for line in lines if line)


def _plain(s: str | None, *, is_html: bool) -> str:
    """Plain text of a feed field: HTML-typed fields are stripped, plain ones only trimmed."""
    if not s:
        return ""
    if is_html:
        return html_to_text(s)
    return _clean_ws(s)


def canonical_url(url: str, base: str | None = None) -> str:
    """Canonical form of an article link.

    Relative links are resolved against ``base``; scheme and host are lower-cased, default
    ports, fragments and tracking parameters (``utm_*``, ``fbclid``, ``gclid`` …) dropped,
    spaces and unsafe characters percent-encoded. Other query parameters keep their order.

    Args:
        url: the link as found.
        base: the feed or page URL it was found in.

    Returns:
        The canonical URL (the input, stripped, when it cannot be parsed).
    """
    raw = (url or "").strip()
    if base:
        try:
            raw = urljoin(base.strip(), raw)
        except ValueError:
            pass
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        return raw
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if host and ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        host = host.encode("idna").decode("ascii") if host and not host.isascii() else host
    except UnicodeError:
        pass
    netloc = host
    if parts.username:
        netloc = f"{parts.username}{':' + parts.password if parts.password else ''}@{netloc}"
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        netloc += f":{port}"
    path = quote(parts.path, safe="/%:@!$&'()*+,;=-._~") or ("/" if host else "")
    query = ""
    if parts.query:
        pairs = [
            (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)
        ]
        query = urlencode(pairs, doseq=False, safe="/:@!$'()*,;~")
    return urlunsplit((scheme, netloc, path, query, ""))


def _is_tracking(key: str) -> bool:
    k = key.lower()
    return k in TRACKING_PARAMS or k.startswith(TRACKING_PREFIXES)


def _is_http(url: str | None) -> bool:
    return bool(url) and urlsplit(url or "").scheme.lower() in ("http", "https")


def _lang(value: Any) -> str | None:
    """Primary language subtag ("en-US" → "en"), or None."""
    if not value or not isinstance(value, str):
        return None
    value = value.strip()
    if not _LANG_RE.match(value):
        return None
    return re.split(r"[-_]", value, maxsplit=1)[0].lower()


def _clamp(dt: datetime | None, now: datetime) -> datetime | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    dt = dt.astimezone(UTC)
    if dt.year < 1995:
        return None
    return min(dt, now)


def _struct_to_dt(t: Any) -> datetime | None:
    if not t:
        return None
    try:
        y, mo, d, h, mi, sec = (int(x) for x in t[:6])
        return datetime(y, mo, d, h, mi, min(sec, 59), tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def parse_date_text(raw: str | None, language: str | None = None) -> datetime | None:
    """Parse a date string feedparser could not read (localised or non-RFC), as aware UTC.

    Args:
        raw: the date text.
        language: a language hint for month and day names.

    Returns:
        The date, or None.
    """
    if not raw or not raw.strip():
        return None
    raw = raw.strip()[:100]
    try:
        import dateparser  # slow import: only when needed
    except ImportError:  # pragma: no cover - dateparser ships with htmldate/prefect
        return None
    settings = {"RETURN_AS_TIMEZONE_AWARE": True, "TO_TIMEZONE": "UTC", "PREFER_DATES_FROM": "past"}
    langs = [language] if language else None
    try:
        dt: datetime | None = dateparser.parse(raw, languages=langs, settings=settings)
        if dt is None and langs:
            dt = dateparser.parse(raw, settings=settings)
    except (ValueError, TypeError, OverflowError, LookupError, AttributeError) as exc:
        LOGGER.debug("cannot parse date %r: %s", raw, exc)
        return None
    return dt


# --------------------------------------------------------------------------------------------
# parsing
# --------------------------------------------------------------------------------------------
def parse_feed(
    content: bytes,
    *,
    source: Source,
    base_url: str,
    headers: dict[str, str] | None = None,
) -> FeedPoll:
    """Parse feed bytes into a :class:`FeedPoll` (never raises on bad input).

    Args:
        content: the body as fetched.
        source: the configured feed.
        base_url: the URL the body came from (final URL after redirects).
        headers: HTTP response headers (lower-case keys); the Content-Type resolves encodings.

    Returns:
        status "ok", "bozo" (ill-formed but entries recovered; ``bozo_reason`` says why),
        "empty" (no usable entries) or "error" (the parser failed).
    """
    hdrs = {k.lower(): v for k, v in (headers or {}).items()}
    now = datetime.now(UTC)
    if _looks_like_json(content, hdrs.get("content-type")):
        poll = _parse_json_feed(content, source=source, base_url=base_url, now=now)
        if poll is not None:
            return poll
    response_headers = {
        k: v
        for k, v in hdrs.items()
        if k in ("content-type", "content-language", "content-location")
    }
    response_headers.setdefault("content-location", base_url)
    # no header at all (a file, a test): let the XML declaration decide, as for application/xml
    response_headers.setdefault("content-type", "application/xml")
    try:
        d = feedparser.parse(
            io.BytesIO(content),
            response_headers=response_headers,
            sanitize_html=True,
            resolve_relative_uris=True,
        )
    except _PARSE_ERRORS as exc:
        LOGGER.warning("%s: feed parser failed: %s", source.name, exc)
        return FeedPoll(
            source=source.name,
            status="error",
            error=f"parser failed: {type(exc).__name__}: {exc}"[:500],
        )
    feed_lang = _lang(d.feed.get("language")) or _lang(hdrs.get("content-language"))
    default_lang = feed_lang or _lang(source.language)
    entries = _dedupe(
        e
        for e in (_entry_from_fp(raw, source, base_url, default_lang, now) for raw in d.entries)
        if e is not None
    )
    bozo_reason = None
    benign = False
    if d.get("bozo"):
        bozo_exc = d.get("bozo_exception")
        bozo_reason = (
            f"{type(bozo_exc).__name__}: {bozo_exc}"[:500] if bozo_exc else "ill-formed feed"
        )
        # wrong Content-Type or a declared charset overridden: the feed itself is fine
        benign = isinstance(bozo_exc, feedparser.ThingsNobodyCaresAboutButMe)
    status: Literal["ok", "bozo", "empty"]
    if not entries:
        status = "empty"
    elif bozo_reason and not benign:
        status = "bozo"
    else:
        status = "ok"
    if status != "ok":
        LOGGER.debug(
            "%s: %s (%d raw entries) %s", source.name, status, len(d.entries), bozo_reason or ""
        )
    return FeedPoll(
        source=source.name, status=status, entries=tuple(entries), bozo_reason=bozo_reason
    )


def _dedupe(entries: Iterable[FeedEntry]) -> list[FeedEntry]:
    seen: set[str] = set()
    out = []
    for e in entries:
        if e.url in seen:
            continue
        seen.add(e.url)
        out.append(e)
    return out


def _detail_is_html(detail: Any, value: str) -> bool:
    ctype = (detail or {}).get("type", "") if isinstance(detail, dict) else ""
    if ctype:
        return "html" in ctype
    return "<" in value or "&" in value


def _entry_from_fp(
    e: Any, source: Source, base_url: str, default_lang: str | None, now: datetime
) -> FeedEntry | None:
    try:
        link = _entry_link(e, base_url)
        if link is None:
            return None
        title_raw = e.get("title") or ""
        title = _plain(title_raw, is_html=_detail_is_html(e.get("title_detail"), title_raw))
        summary_raw = e.get("summary") or ""
        is_html = _detail_is_html(e.get("summary_detail"), summary_raw)
        if not summary_raw.strip() and e.get("content"):
            c0 = e["content"][0]
            summary_raw = c0.get("value") or ""
            is_html = _detail_is_html(c0, summary_raw)
        summary = _plain(summary_raw, is_html=is_html)[:MAX_SUMMARY_CHARS]
        lang = (
            _lang((e.get("title_detail") or {}).get("language"))
            or _lang((e.get("summary_detail") or {}).get("language"))
            or default_lang
        )
        published = None
        for key in ("published_parsed", "updated_parsed", "created_parsed"):
            # dict.get: skip FeedParserDict's deprecated updated→published key mapping
            published = _struct_to_dt(dict.get(e, key))
            if published is not None:
                break
        if published is None:
            for key in ("published", "updated", "created"):
                if dict.get(e, key):
                    published = parse_date_text(dict.get(e, key), lang)
                    if published is not None:
                        break
        author = _plain(e.get("author") or "", is_html=True) or None
        guid = (e.get("id") or e.get("guid") or "").strip() or link
        return FeedEntry(
            source=source.name,
            url=link,
            guid=guid[:1000],
            title=title[:1000],
            summary=summary,
            published=_clamp(published, now),
            author=author,
            language=lang,
        )
    except _PARSE_ERRORS as exc:
        LOGGER.debug("%s: skipping an unreadable entry: %s", source.name, exc)
        return None


def _entry_link(e: Any, base_url: str) -> str | None:
    candidates: list[str] = []
    if e.get("link"):
        candidates.append(e["link"])
    for lk in e.get("links") or []:
        if lk.get("href") and lk.get("rel", "alternate") == "alternate":
            candidates.append(lk["href"])
    guid = e.get("id") or ""
    if guid and (e.get("guidislink") or guid.startswith(("http://", "https://"))):
        candidates.append(guid)
    for c in candidates:
        url = canonical_url(c, base_url)
        if _is_http(url) and urlsplit(url).hostname:
            return url
    return None


def _looks_like_json(content: bytes, content_type: str | None) -> bool:
    if content_type and "json" in content_type.lower():
        return True
    head = content[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"{")


def _parse_json_feed(
    content: bytes, *, source: Source, base_url: str, now: datetime
) -> FeedPoll | None:
    """JSON Feed 1.0/1.1; None when the body is not a JSON Feed (caller falls back)."""
    try:
        data = json.loads(content.decode("utf-8-sig", errors="replace"))
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        return None
    home = data.get("home_page_url") or base_url
    default_lang = _lang(data.get("language")) or _lang(source.language)
    entries: list[FeedEntry] = []
    for item in data["items"]:
        if not isinstance(item, dict):
            continue
        try:
            link = None
            for cand, absolute_only in (
                (item.get("url"), False),
                (item.get("external_url"), False),
                (item.get("id"), True),
            ):  # an id is a link only if absolute
                if not isinstance(cand, str) or not cand.strip():
                    continue
                if absolute_only and not _is_http(cand.strip()):
                    continue
                url = canonical_url(cand, home if not _is_http(cand.strip()) else None)
                if _is_http(url):
                    link = url
                    break
            if link is None:
                continue
            summary = (
                html_to_text(item.get("summary"))
                or _clean_ws(item.get("content_text") or "")
                or html_to_text(item.get("content_html"))
            )[:MAX_SUMMARY_CHARS]
            published = None
            for key in ("date_published", "date_modified"):
                if isinstance(item.get(key), str):
                    try:
                        published = datetime.fromisoformat(item[key].replace("Z", "+00:00"))
                    except ValueError:
                        published = parse_date_text(item[key])
                    if published is not None:
                        break
            authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
            author = (
                ", ".join(
                    a.get("name", "") for a in authors if isinstance(a, dict) and a.get("name")
                )
                or None
            )
            entries.append(
                FeedEntry(
                    source=source.name,
                    url=link,
                    guid=str(item.get("id") or link)[:1000],
                    title=html_to_text(str(item.get("title") or ""))[:1000],
                    summary=summary,
                    published=_clamp(published, now),
                    author=author,
                    language=_lang(item.get("language")) or default_lang,
                )
            )
        except _PARSE_ERRORS as exc:
            LOGGER.debug("%s: skipping an unreadable JSON Feed item: %s", source.name, exc)
    entries = _dedupe(entries)
    return FeedPoll(source=source.name, status="ok" if entries else "empty", entries=tuple(entries))


# --------------------------------------------------------------------------------------------
# polling
# --------------------------------------------------------------------------------------------
async def poll_feed(
    client: HttpClient,
    source: Source,
    *,
    etag: str | None,
    last_modified: str | None,
) -> FeedPoll:
    """Conditional GET of a feed, then parse it.

    Args:
        client: the shared :class:`regionwatch.http.HttpClient`.
        source: the feed.
        etag: the stored ETag (sent as If-None-Match).
        last_modified: the stored Last-Modified (sent as If-Modified-Since).

    Returns:
        The poll; status "not_modified" on 304 (nothing parsed, validators kept).

    Raises:
        FetchError: the feed could not be fetched (Transient/Permanent/Blocked subclasses).
    """
    res = await client.fetch(
        source.url,
        etag=etag,
        last_modified=last_modified,
        accept=FEED_ACCEPT,
        source=source.name,
    )
    if res.not_modified:
        return FeedPoll(
            source=source.name,
            status="not_modified",
            etag=res.etag or etag,
            last_modified=res.last_modified or last_modified,
            http_status=304,
        )
    poll = await asyncio.to_thread(
        parse_feed, res.content, source=source, base_url=res.url, headers=res.headers
    )
    return replace(poll, etag=res.etag, last_modified=res.last_modified, http_status=res.status)
