"""parse_feed over real-world and malformed feeds (shared fixtures) and our own small feeds."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest

from regionwatch.feeds import canonical_url, html_to_text, parse_feed
from regionwatch.models import FeedPoll, Source
from tests.conftest import shared_dir

SRC = Source(name="test feed", url="http://feeds.example.org/rss", language="en")
BASE = "http://feeds.example.org/rss"
_SHARED = shared_dir()
_MALFORMED = (
    sorted(
        p.relative_to(_SHARED / "fixtures" / "malformed_feeds").as_posix()
        for p in (_SHARED / "fixtures" / "malformed_feeds").rglob("*")
        if p.is_file()
    )
    if _SHARED
    else []
)
_FEEDS = sorted(p.name for p in (_SHARED / "fixtures" / "feeds").iterdir()) if _SHARED else []


def header_lines(raw: bytes) -> dict[str, str]:
    """HTTP headers named in a feedparser test file's ``Header:`` comment lines."""
    for enc in (
        "utf-8",
        "utf-16",
        "utf-32",
        "utf-16-be",
        "utf-16-le",
        "utf-32-be",
        "utf-32-le",
        "latin-1",
    ):
        try:
            txt = raw[:4000].decode(enc)
        except UnicodeDecodeError:
            continue
        if "Header:" in txt:
            return {
                m.group(1).strip().lower(): m.group(2).strip()
                for m in re.finditer(r"Header:\s*([A-Za-z-]+)\s*:\s*(.*)", txt)
            }
    return {}


def check_poll(poll: FeedPoll) -> None:
    """What every poll must satisfy, whatever the input."""
    assert poll.status in ("ok", "bozo", "empty", "error")
    if poll.status == "bozo":
        assert poll.bozo_reason
    if poll.status == "error":
        assert poll.error
    now = datetime.now(UTC)
    urls = [e.url for e in poll.entries]
    assert len(urls) == len(set(urls))
    for e in poll.entries:
        assert e.url.startswith(("http://", "https://")) and "#" not in e.url
        assert e.guid
        assert isinstance(e.title, str) and isinstance(e.summary, str)
        assert "<script" not in e.summary.lower() and "<script" not in e.title.lower()
        if e.published is not None:
            assert e.published.tzinfo is not None and e.published <= now


@pytest.mark.parametrize("rel", _MALFORMED)
def test_malformed_feed_parses_with_clear_outcome(shared: Path, rel: str) -> None:
    raw = (shared / "fixtures" / "malformed_feeds" / rel).read_bytes()
    poll = parse_feed(raw, source=SRC, base_url=BASE, headers=header_lines(raw))
    check_poll(poll)


def test_malformed_corpus_outcomes(shared: Path) -> None:
    outcomes: dict[str, int] = {}
    entries = 0
    for rel in _MALFORMED:
        raw = (shared / "fixtures" / "malformed_feeds" / rel).read_bytes()
        poll = parse_feed(raw, source=SRC, base_url=BASE, headers=header_lines(raw))
        outcomes[poll.status] = outcomes.get(poll.status, 0) + 1
        entries += len(poll.entries)
    print(f"\nmalformed_feeds: {len(_MALFORMED)} files, outcomes {outcomes}, entries {entries}")
    assert len(_MALFORMED) >= 200
    assert outcomes.get("error", 0) == 0
    assert entries > 0


@pytest.mark.parametrize("name", _FEEDS)
def test_real_feed_keeps_every_linked_entry(shared: Path, name: str) -> None:
    raw = (shared / "fixtures" / "feeds" / name).read_bytes()
    ctype = "application/feed+json" if name.endswith(".json") else "application/rss+xml"
    poll = parse_feed(raw, source=SRC, base_url=BASE, headers={"content-type": ctype})
    check_poll(poll)
    assert poll.status in ("ok", "bozo")
    if name.endswith(".json"):
        assert len(poll.entries) == len(json.loads(raw)["items"])
        return
    d = feedparser.parse(raw)
    links = {
        canonical_url(e.get("link") or "")
        for e in d.entries
        if (e.get("link") or "").startswith(("http://", "https://"))
    }
    assert {e.url for e in poll.entries} >= links
    assert all(e.title or e.summary for e in poll.entries)


def test_guardian_feed_is_bozo_but_recovers_entries(shared: Path) -> None:
    raw = (shared / "fixtures" / "feeds" / "feeder-rss_theguardian.xml").read_bytes()
    poll = parse_feed(
        raw, source=SRC, base_url=BASE, headers={"content-type": "application/rss+xml"}
    )
    assert poll.status == "bozo" and poll.bozo_reason and len(poll.entries) == 54


def test_localized_dates_are_parsed(shared: Path) -> None:
    name = "rssparser-uol-noticias-pt-localized-dates.rss"
    raw = (shared / "fixtures" / "feeds" / name).read_bytes()
    poll = parse_feed(raw, source=Source("uol", BASE, language="pt"), base_url=BASE)
    first = poll.entries[0]
    assert first.published == datetime(2018, 9, 24, 22, 42, 40, tzinfo=UTC)


# --------------------------------------------------------------------------- our own feeds
def rss(items: str, *, encoding: str = "utf-8", channel_extra: str = "") -> str:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>\n<rss version="2.0"><channel>'
        f"<title>Test</title><link>http://feeds.example.org/</link>{channel_extra}"
        f"{items}</channel></rss>"
    )


def test_windows_1251_russian_feed() -> None:
    body = rss(
        "<language>ru</language><item><title>Пограничники Киргизии и Таджикистана</title>"
        "<link>http://news.example.ru/a/1</link><description>Стороны договорились о "
        "прекращении огня.</description><pubDate>Tue, 02 Sep 2025 08:00:00 +0300</pubDate>"
        "</item>",
        encoding="windows-1251",
    ).encode("cp1251")
    for headers in (
        {"content-type": "application/rss+xml; charset=windows-1251"},
        {"content-type": "application/xml"},
        None,
    ):
        poll = parse_feed(body, source=SRC, base_url=BASE, headers=headers)
        assert poll.status == "ok", (headers, poll.bozo_reason)
        (e,) = poll.entries
        assert e.title == "Пограничники Киргизии и Таджикистана"
        assert e.summary == "Стороны договорились о прекращении огня."
        assert e.language == "ru"
        assert e.published == datetime(2025, 9, 2, 5, 0, tzinfo=UTC)


def test_html_in_titles_and_summaries_becomes_plain_text() -> None:
    body = rss(
        "<item><title>&lt;b&gt;Ceasefire&lt;/b&gt; holds in &lt;i&gt;Karabakh&lt;/i&gt; "
        "&amp;amp; Lachin &amp;#8211; report</title><link>http://x.example/1</link>"
        "<description><![CDATA[<p>First&nbsp;para.</p><script>alert(1)</script>"
        "<p>Second &amp; last.</p>]]></description></item>"
    ).encode()
    (e,) = parse_feed(body, source=SRC, base_url=BASE).entries
    assert "<" not in e.title and "Ceasefire holds in Karabakh" in e.title
    assert "alert" not in e.summary
    assert e.summary == "First para.\nSecond & last."


def test_relative_links_resolve_against_feed_url_and_tracking_is_dropped() -> None:
    body = rss(
        "<item><title>a</title><link>/news/2025/one?utm_source=rss&amp;id=7#top</link></item>"
        "<item><title>b</title><link>two.html?fbclid=abc</link></item>"
        "<item><title>c</title><guid isPermaLink='true'>https://Site.Example:443/c?gclid=1</guid>"
        "</item>"
        "<item><title>dup</title><link>/news/2025/one?id=7&amp;utm_medium=x</link></item>"
        "<item><title>no link</title><description>nothing to fetch</description></item>"
    ).encode()
    poll = parse_feed(body, source=SRC, base_url="https://www.example.org/feeds/main.xml")
    assert [e.url for e in poll.entries] == [
        "https://www.example.org/news/2025/one?id=7",
        "https://www.example.org/feeds/two.html",
        "https://site.example/c",
    ]


def test_missing_dates_are_none_and_future_dates_clamped() -> None:
    future = (datetime.now(UTC) + timedelta(days=3)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    body = rss(
        "<item><title>undated</title><link>http://x.example/1</link></item>"
        f"<item><title>future</title><link>http://x.example/2</link><pubDate>{future}</pubDate>"
        "</item>"
    ).encode()
    undated, fut = parse_feed(body, source=SRC, base_url=BASE).entries
    assert undated.published is None
    assert fut.published is not None and fut.published <= datetime.now(UTC)
    assert fut.published > datetime.now(UTC) - timedelta(minutes=5)


def test_atom_feed_with_html_title_and_xml_lang() -> None:
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="hy"><title>t</title>
<entry><title type="html">Armenia &amp;amp; Azerbaijan &lt;em&gt;talks&lt;/em&gt;</title>
<link rel="alternate" href="entries/1"/><id>urn:x:1</id>
<updated>2025-01-02T03:04:05Z</updated><author><name>Desk</name></author>
<summary>Short.</summary></entry></feed>"""
    (e,) = parse_feed(
        body,
        source=SRC,
        base_url="http://am.example/atom.xml",
        headers={"content-type": "application/atom+xml"},
    ).entries
    assert e.title == "Armenia & Azerbaijan talks"
    assert e.url == "http://am.example/entries/1" and e.guid == "urn:x:1"
    assert e.author == "Desk" and e.language == "hy"
    assert e.published == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_json_feed() -> None:
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "J",
            "home_page_url": "https://j.example/",
            "items": [
                {
                    "id": "1",
                    "url": "/posts/1?utm_campaign=x",
                    "title": "One <b>bold</b>",
                    "content_html": "<p>Body</p>",
                    "date_published": "2024-05-01T10:00:00+02:00",
                    "authors": [{"name": "A. Writer"}],
                },
                {"id": "2", "title": "no url"},
            ],
        }
    ).encode()
    poll = parse_feed(
        body,
        source=SRC,
        base_url="https://j.example/feed.json",
        headers={"content-type": "application/feed+json"},
    )
    assert poll.status == "ok"
    (e,) = poll.entries
    assert e.url == "https://j.example/posts/1" and e.title == "One bold"
    assert e.summary == "Body" and e.author == "A. Writer"
    assert e.published == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not a feed at all",
        b"\x00\xff\xfe garbage",
        b"{]",
        b"<html><body>a web page</body></html>",
        b"/etc/passwd",
    ],
)
def test_garbage_is_empty_not_a_crash(body: bytes) -> None:
    poll = parse_feed(body, source=SRC, base_url=BASE, headers={"content-type": "text/html"})
    assert poll.status == "empty" and not poll.entries


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        ("HTTP://Example.COM:80/a b?utm_source=x&q=1#frag", None, "http://example.com/a%20b?q=1"),
        ("https://example.com", None, "https://example.com/"),
        ("../x?mc_cid=1&gclid=2&page=2", "https://e.org/a/b/c", "https://e.org/a/x?page=2"),
        ("  https://e.org/x?a=1&a=2  ", None, "https://e.org/x?a=1&a=2"),
        ("//cdn.e.org/p", "https://e.org/", "https://cdn.e.org/p"),
    ],
)
def test_canonical_url(url: str, base: str | None, expected: str) -> None:
    assert canonical_url(url, base) == expected


def test_html_to_text() -> None:
    assert html_to_text("<p>a&nbsp;b</p><p>c<br/>d</p><!-- x --><style>p{}</style>") == "a b\nc\nd"
    assert html_to_text(None) == ""
