"""Archive discovery over real HTTP on loopback: sitemaps, live sitemap polling, Wayback CDX.

The formats are written by us after their documentation (sitemaps.org protocol, Google News
sitemap extension, Wayback CDX server API).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from regionwatch.archives import (
    WaybackClient,
    discover_source_sitemaps,
    poll_sitemap_source,
    wayback_candidates,
)
from regionwatch.http import HttpClient
from regionwatch.models import Source
from regionwatch.settings import BackfillConfig, HttpConfig
from tests.loopback import LoopServer, Request, Resource

pytestmark = pytest.mark.integration

SINCE, UNTIL = date(2022, 9, 10), date(2022, 9, 20)
HTTP = HttpConfig(allow_private_networks=True, per_host_delay=0, retries=0, backoff_base=0)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


async def with_client(fn, cfg: HttpConfig = HTTP):  # type: ignore[no-untyped-def]
    async with HttpClient(cfg) as client:
        return await fn(client)


def news_sitemap(base: str, entries: list[tuple[str, datetime, str]]) -> bytes:
    urls = "".join(
        f"<url><loc>{base}{path}</loc><news:news><news:publication><news:name>Sevan</news:name>"
        f"<news:language>en</news:language></news:publication>"
        f"<news:publication_date>{dt.isoformat()}</news:publication_date>"
        f"<news:title>{title}</news:title></news:news></url>\n"
        for path, dt, title in entries
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/'
        'sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">\n'
        + urls
        + "</urlset>\n"
    ).encode()


def plain_sitemap(base: str, entries: list[tuple[str, datetime]]) -> bytes:
    urls = "".join(
        f"<url><loc>{base}{p}</loc><lastmod>{dt.isoformat()}</lastmod></url>\n" for p, dt in entries
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/'
        'schemas/sitemap/0.9">\n' + urls + "</urlset>\n"
    ).encode()


def index(children: list[tuple[str, str]]) -> bytes:
    body = "".join(
        f"<sitemap><loc>{u}</loc><lastmod>{m}</lastmod></sitemap>\n" for u, m in children
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="http://www.sitemaps.org/'
        'schemas/sitemap/0.9">\n' + body + "</sitemapindex>\n"
    ).encode()


def d(day: int, hour: int = 12, month: int = 9) -> datetime:
    return datetime(2022, month, day, hour, tzinfo=UTC)


SEPT = [  # (path, publication date, title): edges on both sides
    ("/news/0909-late", d(9, 23), "Late on the ninth"),
    ("/news/0910-early", datetime(2022, 9, 10, 0, 0, tzinfo=UTC), "Just after midnight"),
    ("/news/0915", d(15), "Mid month"),
    ("/news/0920-late", datetime(2022, 9, 20, 23, 59, 59, tzinfo=UTC), "Last second"),
    ("/news/0921-early", datetime(2022, 9, 21, 0, 0, tzinfo=UTC), "Too late"),
    (
        "/news/0921-yerevan",
        datetime(2022, 9, 21, 2, 0, tzinfo=UTC) - timedelta(hours=3),
        "Still the 20th in UTC",
    ),
]
OCT = [("/news/1002", d(2, month=10)), ("/news/1015", d(15, month=10))]
AUG = [("/news/0815", d(15, month=8))]


@pytest.fixture(scope="module")
def site() -> Iterator[LoopServer]:
    srv = LoopServer().start()
    b = srv.base
    srv.set(
        "/robots.txt",
        Resource(
            f"User-agent: *\nDisallow: /admin/\n\nSitemap: {b}/sitemap_index.xml\n".encode(),
            "text/plain",
        ),
    )
    srv.set(
        "/sitemap_index.xml",
        Resource(
            index(
                [
                    (f"{b}/sitemaps/posts-2022-08.xml", "2022-08-31T23:00:00+00:00"),
                    (f"{b}/sitemaps/news-2022-09.xml.gz", "2022-09-30T23:00:00+00:00"),
                    (f"{b}/sitemaps/nested-index.xml", "2022-10-31T23:00:00+00:00"),
                ]
            ),
            "application/xml",
        ),
    )
    srv.set(
        "/sitemaps/nested-index.xml",
        Resource(
            index(
                [
                    (
                        f"{b}/sitemaps/posts-2022-10",
                        "2022-10-31T23:00:00+00:00",
                    ),  # no extension at all
                ]
            ),
            "application/xml",
        ),
    )
    srv.set("/sitemaps/posts-2022-08.xml", Resource(plain_sitemap(b, AUG), "application/xml"))
    srv.set(
        "/sitemaps/news-2022-09.xml.gz",
        Resource(gzip.compress(news_sitemap(b, SEPT)), "application/octet-stream"),
    )
    srv.set(
        "/sitemaps/posts-2022-10", Resource(gzip.compress(plain_sitemap(b, OCT)), "application/xml")
    )
    yield srv
    srv.stop()


def test_robots_index_monthly_gzip_news(site: LoopServer) -> None:
    site.clear_log()
    src = Source(name="Sevan", url=site.url("/feed.xml"), language="en")
    disc = run(with_client(lambda c: discover_source_sitemaps(c, src, since=SINCE, until=UNTIL)))
    got = {c.url[len(site.base) :]: c for c in disc.candidates}
    assert set(got) == {"/news/0910-early", "/news/0915", "/news/0920-late", "/news/0921-yerevan"}
    assert got["/news/0915"].title == "Mid month" and got["/news/0915"].published == d(15)
    assert all(c.source == "Sevan" and c.language == "en" for c in disc.candidates)
    assert disc.sitemaps_fetched == 4 and not disc.errors
    paths = [urlsplit(r.path).path for r in site.requests()]
    assert "/robots.txt" in paths and "/sitemaps/posts-2022-10" in paths
    # the August sitemap last changed before the range: never fetched
    assert "/sitemaps/posts-2022-08.xml" not in paths


def test_lastmod_only_sitemap_in_range(site: LoopServer) -> None:
    src = Source(name="Sevan", url=site.url("/feed.xml"))
    disc = run(
        with_client(
            lambda c: discover_source_sitemaps(
                c, src, since=date(2022, 10, 2), until=date(2022, 10, 2)
            )
        )
    )
    assert [c.url for c in disc.candidates] == [site.url("/news/1002")]
    assert disc.candidates[0].published is None  # lastmod orders, it is not a publication date


def test_sitemap_fallback_locations_and_missing_sitemaps() -> None:
    srv = LoopServer().start()
    try:
        srv.set("/robots.txt", Resource(b"User-agent: *\nDisallow:\n", "text/plain"))
        srv.set("/news-sitemap.xml", Resource(news_sitemap(srv.base, SEPT[2:3]), "text/xml"))
        src = Source(name="S", url=srv.url("/rss"))

        def discover(c: HttpClient):  # type: ignore[no-untyped-def]
            return discover_source_sitemaps(c, src, since=SINCE, until=UNTIL)

        disc = run(with_client(discover))
        assert [c.url for c in disc.candidates] == [srv.url("/news/0915")]
        srv.routes.pop("/news-sitemap.xml")
        disc = run(with_client(discover))
        assert disc.candidates == [] and disc.errors and "no sitemap" in disc.errors[0]
    finally:
        srv.stop()


def test_sitemap_source_polled_like_a_feed(site: LoopServer) -> None:
    src = Source(name="Sevan", url=site.url("/sitemap_index.xml"), kind="sitemap", language="en")

    async def poll_twice(client: HttpClient):  # type: ignore[no-untyped-def]
        first = await poll_sitemap_source(client, src, etag=None, last_modified=None, max_entries=3)
        second = await poll_sitemap_source(
            client, src, etag=first.etag, last_modified=first.last_modified
        )
        return first, second

    site.clear_log()
    first, second = run(with_client(poll_twice))
    assert first.status == "ok" and first.etag
    # the two most recently changed children (the nested index, read through, and September);
    # newest first by publication date, else lastmod
    assert [e.url for e in first.entries] == [
        site.url("/news/1015"),
        site.url("/news/1002"),
        site.url("/news/0921-early"),
    ]
    assert first.entries[2].title == "Too late" and first.entries[2].published == d(21, 0)
    assert first.entries[0].published is None and first.entries[0].title == ""
    assert first.entries[2].guid == first.entries[2].url and first.entries[2].summary == ""
    assert not site.requests("/sitemaps/posts-2022-08.xml")
    assert second.status == "not_modified" and not second.entries
    cond = [r for r in site.requests("/sitemap_index.xml") if r.conditional]
    assert len(cond) == 1 and cond[0].status == 304


def test_news_sitemap_source_direct(site: LoopServer) -> None:
    src = Source(name="Sevan", url=site.url("/sitemaps/news-2022-09.xml.gz"), kind="sitemap")
    poll = run(with_client(lambda c: poll_sitemap_source(c, src, etag=None, last_modified=None)))
    assert len(poll.entries) == len(SEPT)
    pubs = [e.published for e in poll.entries]
    assert pubs == sorted(pubs, reverse=True)  # type: ignore[type-var]


# ---------------------------------------------------------------------------- Wayback
class FakeWayback:
    """A CDX endpoint (resumeKey paging) and an ``id_`` archive that answers 429 on demand."""

    def __init__(self, srv: LoopServer, captures: list[tuple[str, str]], page_size: int = 2):
        self.srv = srv
        self.captures = captures  # (timestamp, original)
        self.page_size = page_size
        self.throttle: dict[str, int] = {}  # raw path -> 429s still to send
        self.always_429 = False
        self.lock = threading.Lock()
        srv.set("/cdx/search/cdx", self.cdx)

    def cdx(self, h, req: Request) -> None:  # type: ignore[no-untyped-def]
        q = parse_qs(urlsplit(req.path).query)
        assert q["output"] == ["json"] and q["collapse"] == ["urlkey"]
        assert sorted(q["filter"]) == ["mimetype:text/html", "statuscode:200"]
        lo, hi = q["from"][0], q["to"][0] + "235959"
        rows = [c for c in self.captures if lo <= c[0] <= hi]
        start = int(q.get("resumeKey", ["0"])[0])
        size = int(q.get("limit", [str(self.page_size)])[0])
        page = rows[start : start + size]
        out: list[list[str]] = [["urlkey", "timestamp", "original", "mimetype", "statuscode"]]
        out += [[o.split("//", 1)[1], ts, o, "text/html", "200"] for ts, o in page]
        if start + size < len(rows):
            out += [[], [str(start + size)]]
        h.reply(200, json.dumps(out).encode(), "application/json", req=req)

    def archived(self, h, req: Request) -> None:  # type: ignore[no-untyped-def]
        path = urlsplit(req.path).path
        with self.lock:
            left = self.throttle.get(path, 0)
            if self.always_429 or left > 0:
                self.throttle[path] = left - 1
                h.reply(429, b"slow down", "text/plain", {"Retry-After": "0"}, req=req)
                return
        h.reply(200, f"<html><body>copy of {path}</body></html>".encode(), "text/html", req=req)


@pytest.fixture()
def wayback() -> Iterator[FakeWayback]:
    srv = LoopServer().start()
    site = "http://old.example"
    caps = [
        ("20220909120000", f"{site}/news/before"),
        ("20220910000000", f"{site}/news/a"),
        ("20220911000000", f"{site}/news/b"),
        ("20220912000000", f"{site}/tag/armenia/"),
        ("20220913000000", f"{site}/"),
        ("20220915000000", f"{site}/news/c"),
        ("20220920235959", f"{site}/news/d"),
        ("20220922000000", f"{site}/news/e-late-capture"),
        ("20221101000000", f"{site}/news/too-late"),
    ]
    fw = FakeWayback(srv, caps)
    for ts, o in caps:
        srv.set(f"/web/{ts}id_/{o}", fw.archived)
    yield fw
    srv.stop()


def wb_config(fw: FakeWayback, **kw) -> BackfillConfig:  # type: ignore[no-untyped-def]
    base = dict(
        wayback_cdx_url=fw.srv.url("/cdx/search/cdx"),
        wayback_raw_url=fw.srv.base + "/web/{timestamp}id_/{url}",
        wayback_requests_per_minute=60000,
        wayback_budget=100,
    )
    base.update(kw)
    return BackfillConfig(**base)


def test_cdx_paging_and_filters(wayback: FakeWayback) -> None:
    cfg = wb_config(wayback)
    src = Source(name="Old", url="http://old.example/rss")

    async def go(client: HttpClient):  # type: ignore[no-untyped-def]
        wb = WaybackClient(client, cfg, page_size=2, backoff_base=0)
        return await wayback_candidates(wb, src, since=SINCE, until=UNTIL), wb

    disc, wb = run(with_client(go))
    urls = [c.url.split("old.example", 1)[1] for c in disc.candidates]
    assert urls == ["/news/a", "/news/b", "/news/c", "/news/d", "/news/e-late-capture"]
    assert disc.candidates[0].archived_url == wayback.srv.url(
        "/web/20220910000000id_/http://old.example/news/a"
    )
    assert disc.candidates[0].published is None
    assert disc.candidates[0].seen == datetime(2022, 9, 10, tzinfo=UTC)
    cdx = wayback.srv.requests("/cdx/search/cdx")
    assert len(cdx) == 4 == wb.requests  # 7 captures in from..to+3 days, 2 a page
    assert "resumeKey=2" in cdx[1].path and "resumeKey" not in cdx[0].path


def test_archived_copy_429_backoff_then_success(wayback: FakeWayback) -> None:
    cfg = wb_config(wayback)
    raw = "/web/20220910000000id_/http://old.example/news/a"
    wayback.throttle[raw] = 2  # two 429s, then the page

    async def go(client: HttpClient):  # type: ignore[no-untyped-def]
        wb = WaybackClient(client, cfg, backoff_base=0)
        return await wb.get(wayback.srv.url(raw)), wb

    body, wb = run(with_client(go))
    assert b"copy of" in body
    assert wb.throttled == 2 and wb.requests == 3 and wb.stopped is None
    assert [r.status for r in wayback.srv.requests(raw)] == [429, 429, 200]


def test_repeated_429_stops_instead_of_hammering(wayback: FakeWayback) -> None:
    from regionwatch.archives import WaybackStopped

    cfg = wb_config(wayback)
    wayback.always_429 = True
    raw = "/web/20220911000000id_/http://old.example/news/b"

    async def go(client: HttpClient):  # type: ignore[no-untyped-def]
        wb = WaybackClient(client, cfg, backoff_base=0, max_429=3)
        with pytest.raises(WaybackStopped):
            await wb.get(wayback.srv.url(raw))
        with pytest.raises(WaybackStopped):  # and it stays stopped
            await wb.get(wayback.srv.url(raw))
        return wb

    wb = run(with_client(go))
    assert len(wayback.srv.requests(raw)) == 3
    assert wb.stopped and "429" in wb.stopped


def test_request_budget(wayback: FakeWayback) -> None:
    cfg = wb_config(wayback, wayback_budget=2)
    src = Source(name="Old", url="http://old.example/rss")

    async def go(client: HttpClient):  # type: ignore[no-untyped-def]
        wb = WaybackClient(client, cfg, page_size=2, backoff_base=0)
        return await wayback_candidates(wb, src, since=SINCE, until=UNTIL)

    disc = run(with_client(go))
    assert len(wayback.srv.requests("/cdx/search/cdx")) == 2
    assert disc.stopped and "budget" in disc.stopped
    assert len(disc.candidates) == 2  # kept: page 1 (a, b); page 2 held no articles


def test_rate_limit_spacing(wayback: FakeWayback) -> None:
    """Requests are spaced to the configured rate (checked on the injected sleep, not a clock)."""
    cfg = wb_config(wayback, wayback_requests_per_minute=30)  # one every 2 s
    waits: list[float] = []

    async def fake_sleep(s: float) -> None:
        waits.append(s)

    async def go(client: HttpClient):  # type: ignore[no-untyped-def]
        wb = WaybackClient(client, cfg, sleep=fake_sleep)
        for ts, o in wayback.captures[:3]:
            await wb.get(wayback.srv.url(f"/web/{ts}id_/{o}"))

    run(with_client(go))
    assert len(waits) == 2 and all(1.5 < w <= 2.0 for w in waits)
