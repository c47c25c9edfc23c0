"""Article extraction: normalisation, language, hashing, fallbacks, and the shared page fixtures."""

from __future__ import annotations

import gzip
import json
import re
import statistics
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from regionwatch.extract import (
    article_from_entry,
    content_hash,
    detect_language,
    extract_article,
    normalize_text,
)
from regionwatch.models import FeedEntry
from tests.conftest import shared_dir

_SHARED = shared_dir()
_PAGES_DIR = _SHARED / "fixtures" / "pages" if _SHARED else None
_PAGES = sorted(p.name for p in _PAGES_DIR.iterdir() if p.is_file()) if _PAGES_DIR else []
_F1: dict[str, float] = {}
_SNIPPETS: dict[str, float] = {}

PARAS = [
    "Border guards of Kyrgyzstan and Tajikistan met in Batken on Tuesday to discuss the "
    "schedule of the demarcation commission, officials said.",
    "The talks followed a week of calm along the disputed section of the frontier, where "
    "clashes in 2022 killed dozens of people on both sides.",
    "Both delegations agreed to meet again next month and to keep the ceasefire in place.",
]


def page(
    paras: list[str], *, title: str = "Page title", date: str = "2025-03-04", extra: str = ""
) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paras)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{title}</title><meta property='og:site_name' content='Test Desk'>"
        f"<meta property='article:published_time' content='{date}T10:00:00+00:00'>"
        "<meta name='author' content='Jane Reporter'></head><body>"
        "<nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
        f"<article><h1>{title}</h1>{body}{extra}</article>"
        "<footer>Copyright 2025 Test Desk. All rights reserved.</footer></body></html>"
    ).encode()


def entry(summary: str = "Border guards met in Batken.", **kw: object) -> FeedEntry:
    base: dict[str, object] = dict(
        source="Test feed",
        url="https://news.example.org/a/1?utm_source=rss",
        guid="g-1",
        title="Guards meet in Batken",
        summary=summary,
        published=datetime(2025, 3, 4, 9, 30, tzinfo=UTC),
        author=None,
        language="en",
    )
    base.update(kw)
    return FeedEntry(**base)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ normalisation
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Moscow& nbsp, Russia", "Moscow Russia"),
        ("Yerevan&nbsp;Armenia", "Yerevan Armenia"),
        ("Baku&nbspAzerbaijan", "Baku Azerbaijan"),
        ("Tbilisi &amp;nbsp; Georgia", "Tbilisi Georgia"),
        (
            "AT&amp;amp;T and &laquo;quotes&raquo; &#8211; ok &#x2014; fine",
            "AT&T and «quotes» – ok — fine",
        ),
        ("A <b>bold</b> <span class='x'>claim</span><br/>next line", "A bold claim\nnext line"),
        ("  many\t\tspaces \u00a0 here \u200b ", "many spaces here"),
        ("Text\n\n\nShare this article\nSubscribe to our newsletter\nMore text", "Text\nMore text"),
        ("Поделиться\nЧитайте также: другое\nСуть новости.", "Суть новости."),
        ("Read more: Recognizing Germany colonial crimes\nBody.", "Body."),
        ("", ""),
        ("x < y and y > z", "x < y and y > z"),
    ],
)
def test_normalize_text(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


def test_boilerplate_words_inside_long_sentences_are_kept() -> None:
    s = (
        "Subscribe to the idea that the ceasefire will hold, officials said on Monday, and the "
        "talks will resume after the holidays in the capital of the republic next week."
    )
    assert normalize_text(s) == s


def test_content_hash_ignores_case_and_whitespace() -> None:
    assert content_hash("Hello  World\n") == content_hash("hello world")
    assert content_hash("hello world") != content_hash("hello world!")


@pytest.mark.parametrize(
    ("text", "hint", "expected"),
    [
        (
            "Министерство обороны сообщило о прекращении огня на границе двух государств.",
            None,
            "ru",
        ),
        (
            "The defence ministry reported a ceasefire along the border between the two states.",
            "ru",
            "en",
        ),
        ("Короткий", "ru", "ru"),
        ("short", "en-US", "en"),
        ("", None, None),
    ],
)
def test_detect_language(text: str, hint: str | None, expected: str | None) -> None:
    assert detect_language(text, hint) == expected


# ------------------------------------------------------------------------------ articles
def test_extract_article_from_page() -> None:
    art = extract_article(
        page(PARAS),
        url="https://news.example.org/a/1",
        headers={"Content-Type": "text/html; charset=utf-8"},
        entry=entry(),
    )
    assert art.text_source == "page" and art.fetch_note is None
    assert "demarcation commission" in art.text and "ceasefire in place" in art.text
    assert "Home" not in art.text and "All rights reserved" not in art.text
    assert art.title == "Guards meet in Batken"  # the feed title wins
    assert art.canonical_url == "https://news.example.org/a/1"
    assert art.source == "Test feed" and art.guid == "g-1"
    assert art.published == datetime(2025, 3, 4, 9, 30, tzinfo=UTC)  # the feed date wins
    # feed title and date given: trafilatura's metadata pass (site name etc.) is skipped
    assert art.language == "en" and art.site is None
    assert art.content_hash == content_hash(art.text)
    assert art.summary == "Border guards met in Batken."


def test_page_metadata_used_without_feed_data() -> None:
    e = entry(title="", published=None, author=None)
    art = extract_article(
        page(PARAS, title="Talks in Batken"),
        url="https://n.example/x",
        headers={"content-type": "text/html"},
        entry=e,
    )
    assert art.title == "Talks in Batken"
    assert art.published is not None and art.published.date().isoformat() == "2025-03-04"
    assert art.author == "Jane Reporter"
    assert art.site == "Test Desk"


def test_page_date_in_the_future_is_clamped() -> None:
    future = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    art = extract_article(
        page(PARAS, date=future),
        url="https://n.example/x",
        headers={"content-type": "text/html"},
        entry=entry(published=None),
    )
    assert art.published is not None and art.published <= datetime.now(UTC)


def test_short_page_keeps_the_feed_summary() -> None:
    long_summary = " ".join(PARAS) + " " + " ".join(PARAS)
    art = extract_article(
        page(PARAS[:1]),
        url="https://n.example/x",
        headers={"content-type": "text/html"},
        entry=entry(long_summary),
    )
    assert art.text_source == "summary" and art.fetch_note and "short" in art.fetch_note
    assert art.text == normalize_text(long_summary)


def test_non_html_page_keeps_the_feed_summary() -> None:
    art = extract_article(
        b"%PDF-1.7 binary",
        url="https://n.example/x.pdf",
        headers={"content-type": "application/pdf"},
        entry=entry(),
    )
    assert art.text_source == "summary" and "not HTML" in (art.fetch_note or "")
    assert art.text == "Border guards met in Batken."
    assert art.url == "https://n.example/x.pdf"


def test_windows_1251_page_without_header_charset() -> None:
    paras = [
        "Пограничники Киргизии и Таджикистана встретились во вторник в Баткене, чтобы "
        "обсудить график работы комиссии по делимитации границы.",
        "Стороны договорились сохранять режим прекращения огня и встретиться снова в "
        "следующем месяце, сообщили официальные лица.",
    ]
    raw = page(paras, title="Встреча").replace(b"charset='utf-8'", b"charset='windows-1251'")
    raw = raw.decode().encode("cp1251")
    art = extract_article(
        raw,
        url="https://n.example/ru",
        headers={"content-type": "text/html"},
        entry=entry(language=None),
        language_hint="en",
    )
    assert art.text_source == "page" and "Баткене" in art.text and art.language == "ru"


def test_article_from_entry_fallback() -> None:
    art = article_from_entry(entry("Summary &amp;nbsp; with <b>tags</b>"), "fetch failed: 404")
    assert art.text_source == "summary" and art.fetch_note == "fetch failed: 404"
    assert art.text == "Summary with tags" and art.summary == art.text
    assert art.canonical_url == "https://news.example.org/a/1"


def test_summary_items_with_identical_text_do_not_collide() -> None:
    a = article_from_entry(entry("", title="First story", url="https://n.example/1"), "x")
    b = article_from_entry(entry("", title="Second story", url="https://n.example/2"), "x")
    c = article_from_entry(entry("", title="", url="https://n.example/3"), "x")
    d = article_from_entry(entry("", title="", url="https://n.example/4"), "x")
    assert len({a.content_hash, b.content_hash, c.content_hash, d.content_hash}) == 4


# ------------------------------------------------------------------------------ shared pages
_TOKEN_RE = re.compile(r"\w+")


def token_f1(predicted: str, truth: str) -> float:
    p = Counter(_TOKEN_RE.findall(predicted.lower()))
    t = Counter(_TOKEN_RE.findall(truth.lower()))
    common = sum((p & t).values())
    if not common:
        return 0.0
    prec, rec = common / sum(p.values()), common / sum(t.values())
    return 2 * prec * rec / (prec + rec)


@pytest.mark.parametrize("name", _PAGES)
def test_fixture_page_extracts(shared: Path, name: str) -> None:
    path = shared / "fixtures" / "pages" / name
    raw = gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()
    base = name.removesuffix(".gz").removesuffix(".html")
    gt_path = shared / "fixtures" / "pages" / "groundtruth" / f"{base}.json"
    art = extract_article(
        raw, url=f"https://example.org/{base}", headers={"content-type": "text/html"}
    )
    assert art.text_source in ("page", "summary")
    assert "\ufffd" not in art.text[:2000]  # charset resolved
    if not gt_path.is_file():
        assert art.text_source == "page" and len(art.text) > 500
        return
    _, gt = next(iter(json.loads(gt_path.read_text(encoding="utf-8")).items()))
    if "articleBody" in gt:
        f1 = _F1[base] = token_f1(art.text, gt["articleBody"])
        assert f1 >= 0.7, f"{base}: token F1 {f1:.3f}"
    else:
        text = " ".join(art.text.split())
        checks = [" ".join(s.split()) in text for s in gt.get("with", [])]
        checks += [" ".join(s.split()) not in text for s in gt.get("without", [])]
        _SNIPPETS[base] = sum(checks) / len(checks)


def test_fixture_pages_mean_f1(shared: Path) -> None:
    if len(_F1) < 20:
        pytest.skip("run together with test_fixture_page_extracts")
    mean = statistics.mean(_F1.values())
    snippets = statistics.mean(_SNIPPETS.values())
    print(
        f"\nextraction: mean token F1 {mean:.3f} over {len(_F1)} AEB pages; "
        f"snippet checks honoured {snippets:.3f} over {len(_SNIPPETS)} trafilatura pages"
    )
    assert mean >= 0.95
    assert snippets >= 0.85


def test_short_page_that_adds_to_the_summary_is_used() -> None:
    paras = [
        "This is a brief item about the border commission.",
        "Guards of both countries met; no incident was reported.",
    ]
    art = extract_article(
        page(paras),
        url="https://n.example/x",
        headers={"content-type": "text/html"},
        entry=entry(paras[0]),
    )
    assert art.text_source == "page" and "no incident" in art.text


# ------------------------------------------------------------------ fast pass vs full cascade
def _full_cascade(html_text: str, url: str) -> str:
    import trafilatura

    from regionwatch.extract import _TRAFILATURA_OPTIONS

    doc = trafilatura.bare_extraction(
        html_text, url=url, with_metadata=False, **_TRAFILATURA_OPTIONS
    )
    return normalize_text(doc.text or "") if doc is not None else ""


@pytest.mark.parametrize("name", _PAGES)
def test_fast_pass_equals_full_cascade_on_real_pages(shared: Path, name: str) -> None:
    """The comparison pass is skipped only where it would not change the text."""
    from regionwatch.extract import _bare_extract
    from regionwatch.http import decode_bytes

    path = shared / "fixtures" / "pages" / name
    raw = gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()
    html_text = decode_bytes(raw, "text/html")
    url = f"https://example.org/{name}"
    doc = _bare_extract(html_text, url, with_metadata=False)
    ours = normalize_text(doc.text or "") if doc is not None else ""
    assert ours == _full_cascade(html_text, url)


def _furnished_page(paras: list[str]) -> str:
    nav = "".join(f"<li><a href='/s/{i}'>Section {i}</a></li>" for i in range(8))
    return (
        f"<html><head><title>T</title></head><body><nav><ul>{nav}</ul></nav>"
        f"<article><h1>Headline</h1>{''.join(f'<p>{p}</p>' for p in paras)}</article>"
        "<footer><p>Contact us. Copyright.</p></footer></body></html>"
    )


def _distinct_paras(n: int) -> list[str]:
    return [
        f"{PARAS[i % 3]} Report {i} added that talks on sector {i} would resume." for i in range(n)
    ]


def test_clean_article_page_skips_the_comparison() -> None:
    from trafilatura.utils import load_html

    from regionwatch.extract import _bare_extract, _needs_comparison

    html_text = _furnished_page(_distinct_paras(8))
    doc = _bare_extract(html_text, "https://n.example/a", with_metadata=False)
    assert _needs_comparison(doc, load_html(html_text)) is None
    assert normalize_text(doc.text) == _full_cascade(html_text, "https://n.example/a")


def test_text_covering_little_of_the_page_gets_the_full_cascade() -> None:
    """Much more text outside the extracted part: readability might find the real article."""
    import trafilatura
    from trafilatura.utils import load_html

    from regionwatch.extract import _bare_extract, _needs_comparison

    side = "".join(f"<div class='col'>{p}</div>" for p in _distinct_paras(40))
    html_text = _furnished_page(_distinct_paras(8)).replace(
        "<footer>", f"<div class='sidebar'>{side}</div><footer>"
    )
    fast = trafilatura.bare_extraction(
        load_html(html_text),
        url="https://n.example/b",
        fast=True,
        with_metadata=False,
        include_comments=False,
        favor_precision=True,
    )
    assert len(fast.text) >= 1000
    assert _needs_comparison(fast, load_html(html_text)) == "share"
    doc = _bare_extract(html_text, "https://n.example/b", with_metadata=False)
    assert normalize_text(doc.text or "") == _full_cascade(html_text, "https://n.example/b")


def test_short_fast_text_gets_the_full_cascade() -> None:
    import trafilatura
    from trafilatura.utils import load_html

    from regionwatch.extract import _needs_comparison

    html_text = _furnished_page(PARAS[:1])
    fast = trafilatura.bare_extraction(
        load_html(html_text),
        url="https://n.example/c",
        fast=True,
        with_metadata=False,
        include_comments=False,
        favor_precision=True,
    )
    assert _needs_comparison(fast, load_html(html_text)) == "short"
    assert _needs_comparison(None, load_html(html_text)) == "short"
