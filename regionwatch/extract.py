"""Articles: trafilatura over the fetched page → clean text and metadata; summary fallback.

One trafilatura pass per page gives the main text and metadata (title, author, date, site,
language). When the page is not HTML, or its text is too short, the feed's summary is kept and
the article is marked ``text_source="summary"`` with a ``fetch_note``. Text is normalised
(entities, even broken ones, stray tags, whitespace, share/subscribe lines) before hashing.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
import threading
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from regionwatch.feeds import canonical_url, html_to_text
from regionwatch.http import decode_bytes
from regionwatch.models import Article, FeedEntry
from regionwatch.unspaced import UNSPACED_CHARS

__all__ = [
    "MIN_PAGE_CHARS",
    "article_from_entry",
    "content_hash",
    "detect_language",
    "extract_article",
    "normalize_text",
]

LOGGER = logging.getLogger(__name__)

#: Page text shorter than this (characters) is not trusted over the feed summary.
MIN_PAGE_CHARS = 200
#: A shorter page text is used only when it clearly adds to the summary (see _page_text_usable).
MIN_SHORT_PAGE_CHARS = 80
#: Language identification needs some text; below this the hint wins.
MIN_LANGID_CHARS = 40
LANGID_MIN_PROB = 0.80
_HTML_TYPES = ("text/html", "application/xhtml+xml", "application/xml", "text/xml")

# Broken entity forms seen in feeds and CMS output: "& nbsp;", "& nbsp,", "&nbsp" (no ";"),
# "&amp;nbsp;" (double-escaped), "&#160" (no ";").
_NAMED = (
    "nbsp|amp|quot|apos|lt|gt|laquo|raquo|lsquo|rsquo|sbquo|ldquo|rdquo|bdquo|ndash|mdash|"
    "hellip|middot|bull|shy|zwnj|zwj|lrm|rlm|thinsp|ensp|emsp|copy|reg|trade|deg|euro|times"
)
_DOUBLE_ESCAPED_RE = re.compile(r"&amp;(?=(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|(?:" + _NAMED + r"));)")
_BROKEN_ENTITY_RE = re.compile(
    r"&\s{0,2}(" + _NAMED + r"|#\d{1,7}|#[xX][0-9a-fA-F]{1,6})(?:\s?[;,]|(?![A-Za-z0-9]))",
    re.IGNORECASE,
)
_COMMENT_RE = re.compile(r"<!--.*?-->", re.DOTALL)
_STRAY_TAG_RE = re.compile(
    r"</?(?:a|b|i|u|em|strong|span|div|p|br|hr|img|font|small|sup|sub|section|article|figure|"
    r"figcaption|h[1-6]|ul|ol|li|table|tr|td|th|tbody|thead|blockquote|iframe|script|style|"
    r"noscript|center|nobr|wbr|abbr|cite|code|pre|time|picture|source|video|audio|svg|path|"
    r"meta|link|input|button|form|label|header|footer|nav|aside|main)\b[^<>]{0,500}/?>",
    re.IGNORECASE,
)
_BR_RE = re.compile(r"<\s*(?:br|/p|/div|/li|/h[1-6])\b[^>]*>", re.IGNORECASE)
_INLINE_WS_RE = re.compile(r"[ \t\r\f\v\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_INVISIBLE_RE = re.compile(r"[\u200b-\u200d\u2060\ufeff\u00ad]")
_BOILERPLATE_RE = re.compile(
    r"""^(?:
        share(?:\s+(?:this|on|via)\b.*)?|tweet(?:\s+this)?|print(?:\s+this)?|e-?mail(?:\s+this)?|
        (?:share|follow)\s+(?:us\s+)?on\s+.*|
        (?:click|tap)\s+here\s+to\s+(?:subscribe|sign\s+up|share|follow|read).*|
        subscribe(?:\s+(?:now|here|today))?\s*[.!]?|
        subscribe\s+(?:to|for|on)\b.*\b(?:newsletters?|channel|updates|alerts|podcasts?|feed|
            digest|briefing|us|telegram|youtube|notifications)\b.*|
        sign\s+up\s+(?:for|to)\s+(?:our|the)\s+.*newsletter.*|
        (?:get|receive)\s+(?:our|the)\s+.*newsletter.*|
        (?:join|follow)\s+us\s+on\s+.*|
        (?:read|see)\s+(?:more|also)\s*:.*|
        related(?:\s+(?:articles?|stories|news|content|coverage|topics))?\s*(?::.*)?|
        advertisement|sponsored(?:\s+content)?|
        (?:all\s+)?rights\s+reserved\.?|copyright\s*(?:©|\(c\)|\d{4}).*|©\s*\d{4}.*|
        поделиться.*|подписывайтесь.*|подпишитесь.*|читайте\s+также.*|реклама|
        читайте\s+нас\s+в\s+.*|следите\s+за\s+.*\s+в\s+.*|
        поділитися.*|підписуйтесь.*|читайте\s+також.*
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
_BOILERPLATE_MAX_LINE = 100


# --------------------------------------------------------------------------------------------
# text
# --------------------------------------------------------------------------------------------
def normalize_text(s: str | None) -> str:
    """Normalise article or summary text.

    Decodes HTML entities, including double-escaped (``&amp;nbsp;``) and broken forms
    (``& nbsp,``, ``&nbsp`` without ``;``); removes comments and stray tags; drops invisible
    characters; collapses whitespace; removes share/subscribe/newsletter boilerplate lines.

    Args:
        s: the text.

    Returns:
        Clean text, one paragraph per line.
    """
    if not s:
        return ""
    if "&" in s:
        for _ in range(2):
            s = _DOUBLE_ESCAPED_RE.sub("&", s)
        s = _BROKEN_ENTITY_RE.sub(lambda m: "&" + m.group(1).lower() + ";", s)
        s = html.unescape(s)
    if "<" in s:
        s = _COMMENT_RE.sub(" ", s)
        s = _BR_RE.sub("\n", s)
        s = _STRAY_TAG_RE.sub(" ", s)
    s = _INVISIBLE_RE.sub("", s)
    out: list[str] = []
    for line in s.splitlines():
        line = _INLINE_WS_RE.sub(" ", line).strip()
        if not line:
            continue
        if len(line) <= _BOILERPLATE_MAX_LINE and _BOILERPLATE_RE.match(line):
            continue
        out.append(line)
    return "\n".join(out)


def content_hash(text: str) -> str:
    """SHA-256 (hex) of text lower-cased with whitespace collapsed."""
    return hashlib.sha256(" ".join(text.lower().split()).encode("utf-8")).hexdigest()


def _item_hash(text: str, *, title: str, url: str, summary_only: bool) -> str:
    """The item's content hash: of the page text; summary items include the title (short,
    generic summaries must not make different stories look identical); empty ones use the URL."""
    if summary_only:
        basis = f"{title}\n{text}".strip()
        return content_hash(basis) if basis else content_hash("url:" + url)
    return content_hash(text)


_LANGID_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _langid_model() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _langid() -> Any:
    """The language model, loaded once per process.

    lru_cache alone lets every extraction thread that arrives before the first load finishes
    build its own copy (hundreds of MB at a backfill's first chunk); the lock makes it one.
    """
    with _LANGID_LOCK:
        return _langid_model()


def _primary(lang: str | None) -> str | None:
    if not lang:
        return None
    lang = re.split(r"[-_]", lang.strip(), maxsplit=1)[0].lower()
    return lang if 2 <= len(lang) <= 3 and lang.isalpha() else None


def detect_language(text: str, hint: str | None) -> str | None:
    """Identify the language of a text (ISO 639-1 where possible).

    py3langid decides when the text is long enough and the decision confident; otherwise the
    hint (feed or page language) is returned.

    Args:
        text: the text.
        hint: a language hint such as ``"ru"`` or ``"en-US"``.

    Returns:
        A lower-case language code, or None.
    """
    hint = _primary(hint)
    sample = (text or "").strip()
    # a character of Chinese, Japanese, Korean or Thai carries about what 3 Latin letters do
    if len(sample) + 2 * len(_DENSE_CHARS.findall(sample)) < MIN_LANGID_CHARS:
        return hint
    scores: dict[str, float] = {}
    for code, p in _langid().rank(sample[:3000]):
        key = _LANG_VARIETY.get(str(code), str(code))
        scores[key] = scores.get(key, 0.0) + float(p)
    lang, prob = max(scores.items(), key=lambda kv: kv[1])
    if prob >= LANGID_MIN_PROB or hint is None:
        return lang
    return hint


#: py3langid's varieties and historic forms folded into the ISO 639-1 language they are written
#: in (the model splits Chinese news text between zh, wuu and yue, none of them confident).
_LANG_VARIETY = {
    "wuu": "zh",
    "yue": "zh",
    "ary": "ar",
    "arz": "ar",
    "nn": "no",
    "uzs": "uz",
    "hbo": "he",
    "grc": "el",
}
_DENSE_CHARS = re.compile(rf"[{UNSPACED_CHARS}\uac00-\ud7af]")


# --------------------------------------------------------------------------------------------
# articles
# --------------------------------------------------------------------------------------------
def _clamp(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return min(dt.astimezone(UTC), datetime.now(UTC))


def _page_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _is_html(content: bytes, content_type: str | None) -> bool:
    if content_type:
        ct = content_type.split(";", 1)[0].strip().lower()
        if ct in _HTML_TYPES:
            return True
        if ct and ct not in ("text/plain", "application/octet-stream", "binary/octet-stream"):
            return False
    head = content[:1024].lstrip().lower()
    return (
        head.startswith((b"<!doctype html", b"<html", b"<?xml"))
        or b"<html" in head
        or b"<body" in head
        or b"<p" in head
        or b"<div" in head
    )


def article_from_entry(entry: FeedEntry, note: str, language_hint: str | None = None) -> Article:
    """An article from the feed entry alone (page blocked, missing, failed or unusable).

    Args:
        entry: the feed entry.
        note: why the page was not used (stored as ``fetch_note``).
        language_hint: the feed's configured language.

    Returns:
        The article with ``text_source="summary"``.
    """
    text = normalize_text(entry.summary)
    title = normalize_text(entry.title).replace("\n", " ")
    url = canonical_url(entry.url)
    return Article(
        url=entry.url,
        canonical_url=url,
        source=entry.source,
        title=title,
        text=text,
        text_source="summary",
        published=_clamp(entry.published),
        language=detect_language(text or title, entry.language or language_hint),
        guid=entry.guid,
        summary=text,
        author=entry.author,
        content_hash=_item_hash(text, title=title, url=url, summary_only=True),
        fetch_note=note,
    )


#: Language identification reads the opening of the text: enough to be sure (800 characters agreed
#: with 3,000 on all 108 dev-set and fixture texts of over 200 characters), at half the cost.
LANGID_CHARS = 800


#: The fast pass (no comparison with readability/justext) is kept unless the comparison could
#: change it: a text shorter than this many characters ...
FAST_MIN_CHARS = 1000
#: ... or covering less than this share of the page's visible text (on the 39 real fixture pages
#: every page whose text the comparison changed had a share of 0.29 or less; generated pages
#: with site furniture sit near 0.6).
FAST_PAGE_SHARE = 0.35

_TRAFILATURA_OPTIONS: dict[str, Any] = {
    "include_comments": False,
    "favor_precision": True,  # bench/bench_extract.py: F1 0.985 vs 0.971 (balanced)
    "include_tables": True,
    "deduplicate": False,
}


@lru_cache(maxsize=1)
def _xpaths() -> tuple[Any, Any, Any, str]:
    from lxml.etree import XPath
    from trafilatura.external import SANITIZED_XPATH

    return (
        XPath("string-length(normalize-space(//body))"),
        XPath("//body//script|//body//style|//body//noscript|//body//template"),
        XPath("string-length(normalize-space(.))"),
        SANITIZED_XPATH,
    )


def _page_chars(tree: Any) -> float:
    """Visible text of a parsed page, in characters (whitespace collapsed, scripts left out)."""
    body_len, noise, node_len, _ = _xpaths()
    n = float(body_len(tree))
    for el in noise(tree):
        n -= float(node_len(el))
    return n


def _needs_comparison(doc: Any, tree: Any) -> str | None:
    """Why trafilatura's comparison with readability/justext could change a fast result.

    Mirrors the comparison's own triggers: an empty or short text (justext, readability), no
    paragraph text or more tables than paragraphs (readability), boilerplate elements left in
    the body (justext), or a text covering little of the page (readability wins only when it
    finds at least twice as much). ``None``: the fast result stands.
    """
    text = (getattr(doc, "text", None) or "") if doc is not None else ""
    if len(text) < FAST_MIN_CHARS:
        return "short"
    body = getattr(doc, "body", None)
    if (
        body is None
        or not body.xpath(".//p//text()")
        or len(body.findall(".//table")) > len(body.findall(".//p"))
    ):
        return "structure"
    if body.xpath(_xpaths()[3]):
        return "unclean"
    if len(text) < FAST_PAGE_SHARE * _page_chars(tree):
        return "share"
    return None


def _bare_extract(html_text: str, url: str, *, with_metadata: bool = True) -> Any:
    """trafilatura's extraction, its costly comparison pass only where it can matter.

    The page is parsed once; a fast pass (no readability/justext comparison: about half the
    cost) is kept when :func:`_needs_comparison` finds nothing, else the full cascade runs on
    the same tree (trafilatura copies it). On the real fixture pages the result equals the full
    cascade's on every page (``tests/unit/test_extract.py``).
    """
    import trafilatura
    from trafilatura.utils import load_html

    tree = load_html(html_text)
    if tree is None:
        return None
    # the metadata pass (title, date, author, site) costs about a quarter of the
    # extraction: skip it when the feed entry already gives title and date
    doc: Any = trafilatura.bare_extraction(
        tree, url=url, fast=True, with_metadata=with_metadata, **_TRAFILATURA_OPTIONS
    )
    if _needs_comparison(doc, tree) is not None:
        full: Any = trafilatura.bare_extraction(
            tree, url=url, with_metadata=False, **_TRAFILATURA_OPTIONS
        )
        if doc is None or full is None or not with_metadata:
            return full
        # the metadata pass reads the whole page, not the extracted body: keep the first one's
        doc.text, doc.body, doc.raw_text = full.text, full.body, full.raw_text
    return doc


def extract_article(
    content: bytes,
    *,
    url: str,
    headers: dict[str, str] | None = None,
    entry: FeedEntry | None = None,
    language_hint: str | None = None,
) -> Article:
    """Extract an article from a fetched page (one trafilatura pass).

    Args:
        content: the page bytes as fetched.
        url: the final page URL.
        headers: response headers (lower-case keys); Content-Type picks the charset.
        entry: the feed entry the page belongs to (title, date and summary take precedence).
        language_hint: the feed's configured language.

    Returns:
        The article: ``text_source="page"`` with the extracted text, or ``"summary"`` (with a
        ``fetch_note``) when the page is not HTML or its text is too short.
    """
    hdrs = {k.lower(): v for k, v in (headers or {}).items()}
    ctype = hdrs.get("content-type")
    summary = normalize_text(entry.summary) if entry else ""
    if not _is_html(content, ctype):
        return _fallback(entry, url, f"page is not HTML ({ctype or 'unknown type'})", language_hint)
    doc = None
    html_text = decode_bytes(content, ctype)
    try:
        need_meta = entry is None or not entry.title or entry.published is None
        doc = _bare_extract(html_text, url, with_metadata=need_meta)
    except (ValueError, TypeError, AttributeError, LookupError, RecursionError) as exc:
        LOGGER.warning("trafilatura failed on %s: %s", url, exc)
    text = normalize_text(getattr(doc, "text", None) or "") if doc is not None else ""
    if not _page_text_usable(text, summary):
        note = (
            f"page text too short ({len(text)} chars)" if text else "no main text found on the page"
        )
        art = _fallback(entry, url, note, language_hint)
        if entry is None and doc is not None:
            # no feed entry to fall back on: keep what the page offers
            title = normalize_text(getattr(doc, "title", None) or "").replace("\n", " ")
            return _replace_article(
                art,
                title=title,
                text=text,
                summary=text,
                content_hash=_item_hash(
                    text, title=title, url=art.canonical_url, summary_only=True
                ),
                published=_clamp(_page_date(getattr(doc, "date", None))),
                site=getattr(doc, "sitename", None),
                author=getattr(doc, "author", None),
            )
        return art
    page_title = normalize_text(getattr(doc, "title", None) or "").replace("\n", " ")
    title = (
        normalize_text(entry.title).replace("\n", " ") if entry and entry.title else ""
    ) or page_title
    published = (
        entry.published if entry and entry.published else _page_date(getattr(doc, "date", None))
    )
    hint = (
        (entry.language if entry else None)
        or _primary(getattr(doc, "language", None))
        or language_hint
    )
    canon = canonical_url(entry.url if entry else url)
    return Article(
        url=url,
        canonical_url=canon,
        source=entry.source if entry else "",
        title=title,
        text=text,
        text_source="page",
        published=_clamp(published),
        language=detect_language(text[:LANGID_CHARS], hint),
        guid=entry.guid if entry else None,
        summary=summary,
        author=(entry.author if entry and entry.author else getattr(doc, "author", None)),
        site=getattr(doc, "sitename", None),
        content_hash=content_hash(text),
        fetch_note=None,
    )


def _page_text_usable(text: str, summary: str) -> bool:
    """Whether extracted page text beats the feed summary.

    Never when it is shorter than the summary. Long enough (``MIN_PAGE_CHARS``) wins; a short
    text wins only when it clearly adds to the summary (1.5 times as long, at least
    ``MIN_SHORT_PAGE_CHARS``): brief news items are short, but so are consent walls and stubs.
    """
    if not text or len(text) < len(summary):
        return False
    if len(text) >= MIN_PAGE_CHARS:
        return True
    return len(text) >= max(MIN_SHORT_PAGE_CHARS, 1.5 * len(summary))


def _fallback(entry: FeedEntry | None, url: str, note: str, language_hint: str | None) -> Article:
    if entry is not None:
        art = article_from_entry(entry, note, language_hint)
        return _replace_article(art, url=url)
    canon = canonical_url(url)
    return Article(
        url=url,
        canonical_url=canon,
        source="",
        title="",
        text="",
        text_source="summary",
        published=None,
        language=_primary(language_hint),
        content_hash=content_hash("url:" + canon),
        fetch_note=note,
    )


def _replace_article(art: Article, **changes: Any) -> Article:
    from dataclasses import replace

    return replace(art, **changes)


def page_text(html_fragment: str) -> str:
    """Plain, normalised text of an HTML fragment (no boilerplate removal beyond lines)."""
    return normalize_text(html_to_text(html_fragment))
