"""Archive discovery, pure parts: dates, gzip, robots.txt, sitemaps, CDX, URL lists, WARC."""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from regionwatch.archives import (
    Candidate,
    SitemapEntry,
    cdx_query,
    child_wanted,
    decompress,
    in_range,
    iter_warc,
    looks_like_article,
    page_date,
    parse_cdx_json,
    parse_cdx_timestamp,
    parse_robots_sitemaps,
    parse_sitemap,
    parse_url_list,
    parse_w3c_datetime,
    select_entries,
    site_root,
)
from regionwatch.backfill import job_key, plan_chunks
from regionwatch.errors import PermanentFetchError

SINCE, UNTIL = date(2022, 9, 10), date(2022, 9, 20)


# ---------------------------------------------------------------------------- dates
@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("2022-09-10", datetime(2022, 9, 10, tzinfo=UTC)),
        ("2022-09", datetime(2022, 9, 1, tzinfo=UTC)),
        ("2022", datetime(2022, 1, 1, tzinfo=UTC)),
        ("2022-09-10T07:30:00Z", datetime(2022, 9, 10, 7, 30, tzinfo=UTC)),
        ("2022-09-10T07:30+03:00", datetime(2022, 9, 10, 4, 30, tzinfo=UTC)),
        ("2022-09-10T07:30:00.123+0300", datetime(2022, 9, 10, 4, 30, 0, 123000, tzinfo=UTC)),
        ("2022-09-10 07:30:00", datetime(2022, 9, 10, 7, 30, tzinfo=UTC)),
        (" 2020-05-19T21:57:45Z ", datetime(2020, 5, 19, 21, 57, 45, tzinfo=UTC)),
        ("Sat, 10 Sep 2022 07:30:00 +0200", datetime(2022, 9, 10, 5, 30, tzinfo=UTC)),
    ],
)
def test_parse_w3c_datetime(raw: str, want: datetime) -> None:
    got = parse_w3c_datetime(raw)
    assert got == want
    assert got is not None and got.tzinfo is not None


@pytest.mark.parametrize("raw", ["", "   ", None, "yesterday", "2022-13-45"])
def test_parse_w3c_datetime_rejects(raw: str | None) -> None:
    assert parse_w3c_datetime(raw) is None


def test_in_range_is_inclusive_by_utc_day() -> None:
    assert in_range(datetime(2022, 9, 10, 0, 0, tzinfo=UTC), SINCE, UNTIL)
    assert in_range(datetime(2022, 9, 20, 23, 59, 59, tzinfo=UTC), SINCE, UNTIL)
    assert not in_range(datetime(2022, 9, 9, 23, 59, 59, tzinfo=UTC), SINCE, UNTIL)
    assert not in_range(datetime(2022, 9, 21, 0, 0, tzinfo=UTC), SINCE, UNTIL)
    # 01:00 in Yerevan on the 10th is still the 9th in UTC
    assert not in_range(parse_w3c_datetime("2022-09-10T01:00:00+04:00"), SINCE, UNTIL)  # type: ignore[arg-type]
    assert in_range(parse_w3c_datetime("2022-09-21T02:00:00+04:00"), SINCE, UNTIL)  # type: ignore[arg-type]
    assert in_range(datetime(1999, 1, 1, tzinfo=UTC), None, UNTIL)


def test_cdx_timestamp() -> None:
    assert parse_cdx_timestamp("20220915123456") == datetime(2022, 9, 15, 12, 34, 56, tzinfo=UTC)
    assert parse_cdx_timestamp("202209") == datetime(2022, 9, 1, tzinfo=UTC)
    assert parse_cdx_timestamp("x") is None


# ---------------------------------------------------------------------------- gzip, robots
def test_decompress_by_magic_bytes_not_name() -> None:
    xml = b"<urlset/>"
    assert decompress(gzip.compress(xml)) == xml
    assert decompress(xml) == xml
    with pytest.raises(PermanentFetchError):
        decompress(gzip.compress(b"a" * 10_000), limit=1000)
    with pytest.raises(PermanentFetchError):
        decompress(b"\x1f\x8b\x08\x00garbage-not-deflate")


def test_robots_sitemap_lines() -> None:
    robots = (
        "User-agent: *\nDisallow: /admin/\n# Sitemap: http://x/commented.xml\n"
        "SITEMAP:   https://a.example/sitemap_index.xml\n"
        "sitemap: /relative-news.xml  # trailing comment\n"
        "Sitemap: https://a.example/sitemap_index.xml\nSitemap: ftp://a.example/x.xml\n"
    )
    assert parse_robots_sitemaps(robots, "https://a.example/robots.txt") == [
        "https://a.example/sitemap_index.xml",
        "https://a.example/relative-news.xml",
    ]
    assert parse_robots_sitemaps("User-agent: *\nDisallow:\n", "https://a.example/robots.txt") == []


def test_site_root() -> None:
    assert site_root("https://News.example:8443/rss/feed.xml?x=1") == "https://News.example:8443"


# ---------------------------------------------------------------------------- sitemaps
def test_shared_sitemap_index_with_cdata(shared: Path) -> None:
    doc = parse_sitemap((shared / "fixtures/sitemaps/trafilatura-sitemap2.xml").read_bytes())
    assert doc.kind == "index"
    assert [e.loc for e in doc.sitemaps] == [
        "http://www.example.com/sitemap1.xml.gz",
        "http://www.example.com/sitemap2.xml.gz",
    ]
    assert doc.sitemaps[0].lastmod == datetime(2004, 10, 1, 18, 23, 17, tzinfo=UTC)
    assert doc.sitemaps[1].lastmod == datetime(2005, 1, 1, tzinfo=UTC)


def test_shared_gzipped_sitemap_matches_plain(shared: Path) -> None:
    base = shared / "fixtures/sitemaps"
    plain = parse_sitemap((base / "trafilatura-sitemap.xml").read_bytes())
    gz = parse_sitemap((base / "trafilatura-sitemap.xml.gz").read_bytes())
    assert plain.kind == gz.kind == "urlset"
    assert len(plain.urls) == 84
    assert gz.urls == plain.urls
    assert plain.urls[0].loc == "https://www.sitemaps.org/"
    assert plain.urls[0].lastmod == datetime(2016, 11, 21, tzinfo=UTC)


def test_shared_google_news_sitemap(shared: Path) -> None:
    doc = parse_sitemap(
        (shared / "fixtures/sitemaps/advertools-nytimes-google-news-sitemap.xml").read_bytes()
    )
    assert doc.kind == "urlset" and len(doc.urls) >= 4
    first = doc.urls[0]
    # whitespace around <loc> and <news:title> is trimmed
    assert (
        first.loc
        == "https://www.nytimes.com/interactive/2020/05/11/magazine/quarantine-insanity.html"
    )
    assert first.published == datetime(2020, 5, 11, 9, 0, 1, tzinfo=UTC)
    assert first.lastmod == datetime(2020, 5, 19, 21, 57, 45, tzinfo=UTC)
    assert first.title is not None and first.title.startswith("Quarantine Was Driving Me Crazy")
    assert first.language == "en-US"
    # image:loc is not mistaken for the page's loc
    assert all("static01.nyt.com" not in e.loc for e in doc.urls)
    picked = select_entries(doc.urls, date(2020, 5, 11), date(2020, 5, 11), source="NYT")
    assert picked and all(c.published and c.published.date() == date(2020, 5, 11) for c in picked)
    assert all(c.source == "NYT" and c.title for c in picked)


def test_shared_hreflang_sitemap(shared: Path) -> None:
    path = shared / "fixtures/sitemaps/trafilatura-sitemap-hreflang.xml"
    doc = parse_sitemap(path.read_bytes())
    assert [e.loc for e in doc.urls] == [
        "http://www.example.com/english/page.html",
        "http://www.example.com/deutsch/page.html",
        "http://www.example.com/schweiz-deutsch/page.html",
    ]
    assert [e.loc for e in doc.sitemaps] == ["http://www.example.com/sitemap2.xml.gz"]


def _news(entries: list[tuple[str, str]]) -> bytes:
    body = "".join(
        f"<url><loc>{u}</loc><news:news><news:publication><news:name>X</news:name>"
        f"<news:language>hy</news:language></news:publication>"
        f"<news:publication_date>{d}</news:publication_date><news:title>T {u[-6:]}</news:title>"
        "</news:news></url>"
        for u, d in entries
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/'
        'sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
        + body
        + "</urlset>"
    ).encode()


def test_news_sitemap_edges_exact() -> None:
    dates = {
        "https://s.example/a-0909": "2022-09-09T23:59:59+00:00",
        "https://s.example/b-0910": "2022-09-10T00:00:00+00:00",
        "https://s.example/c-0920": "2022-09-20T23:59:59Z",
        "https://s.example/d-0921": "2022-09-21T00:00:00Z",
        "https://s.example/e-tzin": "2022-09-21T03:00:00+04:00",  # 09-20 23:00 UTC
        "https://s.example/f-tzout": "2022-09-10T03:00:00+04:00",  # 09-09 23:00 UTC
    }
    doc = parse_sitemap(gzip.compress(_news(list(dates.items()))), "https://s.example/n.xml")
    got = {c.url for c in select_entries(doc.urls, SINCE, UNTIL)}
    assert got == {
        "https://s.example/b-0910",
        "https://s.example/c-0920",
        "https://s.example/e-tzin",
    }
    lang = {c.language for c in select_entries(doc.urls, SINCE, UNTIL, language="en")}
    assert lang == {"hy"}  # the sitemap's language wins over the source default


def test_lastmod_and_undated_entries() -> None:
    xml = (
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>https://s.example/old</loc><lastmod>2022-09-09</lastmod></url>"
        b"<url><loc>https://s.example/in</loc><lastmod>2022-09-15T10:00:00Z</lastmod></url>"
        b"<url><loc>https://s.example/late</loc><lastmod>2022-10-02</lastmod></url>"
        b"<url><loc>/relative/undated</loc></url>"
        b"<url><loc>mailto:someone@example.org</loc></url>"
        b"</urlset>"
    )
    doc = parse_sitemap(xml, "https://s.example/posts.xml")
    got = select_entries(doc.urls, SINCE, UNTIL, source="S")
    assert [c.url for c in got] == ["https://s.example/in", "https://s.example/relative/undated"]
    # lastmod is not a publication date: it orders and chunks, it is not stored
    assert got[0].published is None and got[0].seen == datetime(2022, 9, 15, 10, tzinfo=UTC)
    assert got[0].day == date(2022, 9, 15) and got[1].day is None


def test_child_sitemap_lastmod_rule() -> None:
    assert child_wanted(SitemapEntry("u", lastmod=datetime(2022, 9, 10, tzinfo=UTC)), SINCE)
    assert child_wanted(SitemapEntry("u", lastmod=datetime(2023, 1, 1, tzinfo=UTC)), SINCE)
    assert child_wanted(SitemapEntry("u"), SINCE)
    assert not child_wanted(SitemapEntry("u", lastmod=datetime(2022, 9, 9, 23, tzinfo=UTC)), SINCE)


def test_text_and_invalid_sitemaps() -> None:
    doc = parse_sitemap(b"https://s.example/a\n\nhttps://s.example/b\nnot a url\n")
    assert doc.kind == "text" and [e.loc for e in doc.urls] == [
        "https://s.example/a",
        "https://s.example/b",
    ]
    assert parse_sitemap(b"hello").kind == "invalid"
    assert parse_sitemap(b"<html><body>404</body></html>").kind == "invalid"
    # an entity-expansion attempt is not expanded
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
        b"<urlset><url><loc>https://s.example/&b;</loc></url></urlset>"
    )
    doc = parse_sitemap(bomb)
    assert all("aaaaaaaaaa" not in e.loc for e in doc.urls)


# ---------------------------------------------------------------------------- CDX
def test_cdx_json_with_resume_key() -> None:
    rows = [
        ["urlkey", "timestamp", "original", "mimetype", "statuscode"],
        ["example,s)/a", "20220911120000", "https://s.example/a", "text/html", "200"],
        ["example,s)/b", "20220912120000", "https://s.example/b", "text/html", "200"],
        [],
        ["example%2Cs%29%2Fb+20220912120000"],
    ]
    got, resume = parse_cdx_json(json.dumps(rows).encode())
    assert [r.original for r in got] == ["https://s.example/a", "https://s.example/b"]
    assert got[0].captured == datetime(2022, 9, 11, 12, tzinfo=UTC)
    assert resume == "example%2Cs%29%2Fb+20220912120000"
    last, resume2 = parse_cdx_json(json.dumps(rows[:3]).encode())
    assert len(last) == 2 and resume2 is None
    assert parse_cdx_json(b"[]") == ([], None)
    assert parse_cdx_json(b"") == ([], None)
    text, _ = parse_cdx_json(b"example,s)/a 20220911120000 https://s.example/a text/html 200 X 1\n")
    assert text[0].timestamp == "20220911120000"
    with pytest.raises(PermanentFetchError):
        parse_cdx_json(b"<html>error</html>")


def test_cdx_query_parameters() -> None:
    from urllib.parse import parse_qs, urlsplit

    url = cdx_query(
        "https://web.archive.org/cdx/search/cdx",
        "s.example/*",
        SINCE,
        UNTIL,
        limit=50,
        resume_key="k1",
    )
    q = parse_qs(urlsplit(url).query)
    assert q["url"] == ["s.example/*"] and q["from"] == ["20220910"] and q["to"] == ["20220920"]
    assert sorted(q["filter"]) == ["mimetype:text/html", "statuscode:200"]
    assert q["collapse"] == ["urlkey"] and q["output"] == ["json"]
    assert q["showResumeKey"] == ["true"] and q["resumeKey"] == ["k1"] and q["limit"] == ["50"]


def test_looks_like_article() -> None:
    assert looks_like_article("https://s.example/news/2022/09/10/border-clash-123.html")
    for u in (
        "https://s.example/",
        "https://s.example/tag/armenia/",
        "https://s.example/feed/",
        "https://s.example/news/?page=2",
        "https://s.example/static/app.js",
        "https://s.example/sitemap.xml",
    ):
        assert not looks_like_article(u), u


# ---------------------------------------------------------------------------- URL lists
def test_url_list() -> None:
    text = (
        "\ufeff# analyst's list\n"
        "https://s.example/a\n"
        "https://s.example/b\t2022-09-10\n"
        "https://s.example/c\t2022-09-21T00:00:00Z\n"
        "https://s.example/d 2022-09-20T23:59:00Z   # space-separated works too\n"
        "   \n"
        "not-a-url\n"
        "https://s.example/a\n"
        "https://s.example/e\tsometime\n"
    )
    got = parse_url_list(text.lstrip("\ufeff"), SINCE, UNTIL, source="S")
    assert [c.url for c in got] == [
        "https://s.example/a",
        "https://s.example/b",
        "https://s.example/d",
        "https://s.example/e",
    ]
    assert got[0].published is None and got[1].published == datetime(2022, 9, 10, tzinfo=UTC)
    assert all(c.source == "S" for c in got)


# ---------------------------------------------------------------------------- WARC
def _page(title: str, published: str | None) -> bytes:
    meta = f'<meta property="article:published_time" content="{published}">' if published else ""
    return (
        f"<html><head><title>{title}</title>{meta}</head><body><article><p>{title} text."
        "</p></article></body></html>"
    ).encode()


def write_warc(path: Path, records: list[tuple[str, str, int, str, bytes]]) -> None:
    """records: (url, WARC-Date, HTTP status, content type, body)."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for url, wdate, status, ctype, body in records:
            http = StatusAndHeaders(
                f"{status} OK" if status == 200 else f"{status} Not Found",
                [("Content-Type", ctype)],
                protocol="HTTP/1.1",
            )
            rec = writer.create_warc_record(
                url,
                "response",
                payload=io.BytesIO(body),
                http_headers=http,
                warc_headers_dict={"WARC-Date": wdate},
            )
            writer.write_record(rec)
            req_http = StatusAndHeaders(
                "GET / HTTP/1.1", [("Host", "s.example")], is_http_request=True
            )
            req = writer.create_warc_record(
                url,
                "request",
                payload=io.BytesIO(b""),
                http_headers=req_http,
                warc_headers_dict={"WARC-Date": wdate},
            )
            writer.write_record(req)


def test_warc_records(tmp_path: Path) -> None:
    p = tmp_path / "site.warc.gz"
    write_warc(
        p,
        [
            (
                "https://s.example/in",
                "2022-09-12T10:00:00Z",
                200,
                "text/html; charset=utf-8",
                _page("in", "2022-09-10T00:00:00+00:00"),
            ),
            (
                "https://s.example/before",
                "2022-09-12T10:00:00Z",
                200,
                "text/html",
                _page("before", "2022-09-09T23:59:59+00:00"),
            ),
            (
                "https://s.example/after",
                "2022-09-25T10:00:00Z",
                200,
                "text/html",
                _page("after", "2022-09-21T00:00:00+00:00"),
            ),
            (
                "https://s.example/undated-late",
                "2022-09-20T10:00:00Z",
                200,
                "text/html",
                _page("undated-late", None),
            ),
            (
                "https://s.example/undated-early",
                "2022-09-01T10:00:00Z",
                200,
                "text/html",
                _page("undated-early", None),
            ),
            (
                "https://s.example/gone",
                "2022-09-12T10:00:00Z",
                404,
                "text/html",
                _page("gone", None),
            ),
            ("https://s.example/logo.png", "2022-09-12T10:00:00Z", 200, "image/png", b"\x89PNG"),
        ],
    )
    got = list(iter_warc(p, SINCE, UNTIL, source="S"))
    assert [c.url for c in got] == ["https://s.example/in", "https://s.example/undated-late"]
    assert got[0].content is not None and b"<title>in</title>" in got[0].content
    assert got[0].published == datetime(2022, 9, 10, tzinfo=UTC)
    assert got[1].published is None and got[1].seen == datetime(2022, 9, 20, 10, tzinfo=UTC)


def test_warc_rejects_other_files(tmp_path: Path) -> None:
    p = tmp_path / "not.warc"
    p.write_bytes(b"this is not a warc file\n" * 10)
    with pytest.raises(PermanentFetchError):
        list(iter_warc(p))


def test_page_date() -> None:
    want = datetime(2022, 9, 10, 2, tzinfo=UTC)
    assert page_date(_page("x", "2022-09-10T05:00:00+03:00")) == want
    ld = b'<script type="application/ld+json">{"datePublished": "2022-09-11"}</script>'
    assert page_date(ld) == datetime(2022, 9, 11, tzinfo=UTC)
    assert page_date(b'<time class="x" datetime="2022-09-12T01:02:03Z">12 Sep</time>') == datetime(
        2022, 9, 12, 1, 2, 3, tzinfo=UTC
    )
    assert page_date(b"<html><body>no date</body></html>") is None


# ---------------------------------------------------------------------------- chunks
def test_plan_chunks_days_and_caps() -> None:
    def c(url: str, day: int | None, hour: int = 5) -> Candidate:
        pub = datetime(2022, 9, day, hour, tzinfo=UTC) if day else None
        return Candidate(url=url, published=pub)

    cands = [c(f"https://s.example/{i}", 10) for i in range(5)] + [
        c("https://s.example/x", 11, 23),
        c("https://s.example/u1", None),
        Candidate(url="https://s.example/seen", seen=datetime(2022, 9, 11, 1, tzinfo=UTC)),
    ]
    plan = plan_chunks(list(reversed(cands)), "Sevan Herald", 2)
    assert [cid.rsplit("|", 1)[0] for cid, _ in plan] == [
        "Sevan Herald|2022-09-10|0",
        "Sevan Herald|2022-09-10|1",
        "Sevan Herald|2022-09-10|2",
        "Sevan Herald|2022-09-11|0",
        "Sevan Herald|undated|0",
    ]
    assert sum(len(x) for _, x in plan) == len(cands)
    assert plan == plan_chunks(cands, "Sevan Herald", 2)  # order-independent
    # a day that gained a URL gets new chunk ids (it is redone, not skipped as finished)
    more = plan_chunks([*cands, c("https://s.example/new", 11)], "Sevan Herald", 2)
    assert plan[0] in more and plan[3][0] not in {cid for cid, _ in more}


def test_job_key_depends_on_parameters(tmp_path: Path) -> None:
    a = job_key(since=SINCE, until=UNTIL, sources=["A", "B"], mode=None)
    assert a == job_key(since=SINCE, until=UNTIL, sources=["B", "A"], mode=None)
    assert a != job_key(since=SINCE, until=date(2022, 9, 21), sources=["A", "B"], mode=None)
    assert a != job_key(since=SINCE, until=UNTIL, sources=["A"], mode=None)
    f = tmp_path / "urls.txt"
    f.write_text("https://s.example/a\n")
    k1 = job_key(since=SINCE, until=UNTIL, sources=[], mode="urls", urls_file=f)
    f.write_text("https://s.example/b\n")
    assert k1 != job_key(since=SINCE, until=UNTIL, sources=[], mode="urls", urls_file=f)
