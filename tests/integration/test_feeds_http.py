"""poll_feed and page extraction over a real loopback server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from regionwatch.errors import BlockedURLError, PermanentFetchError, TransientFetchError
from regionwatch.extract import article_from_entry, extract_article
from regionwatch.feeds import poll_feed
from regionwatch.http import HttpClient
from regionwatch.models import FeedPoll, Source
from regionwatch.settings import HttpConfig
from tests.loopback import LoopServer, Request, Resource

pytestmark = pytest.mark.integration

ARTICLE = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>{t}</title></head><body>"
    "<nav>Home | World | Sport</nav><article><h1>{t}</h1>"
    "<p>Border guards of Kyrgyzstan and Tajikistan met in Batken on Tuesday to discuss the "
    "schedule of the demarcation commission, officials of both countries said.</p>"
    "<p>The talks followed a week of calm along the disputed section of the frontier, where "
    "clashes killed dozens of people two years ago.</p></article></body></html>"
)


def cfg(**kw: object) -> HttpConfig:
    base: dict[str, object] = dict(
        allow_private_networks=True,
        user_agent="RegionWatch-test/0.1 (+http://127.0.0.1/)",
        connect_timeout=1.0,
        read_timeout=2.0,
        total_timeout=3.0,
        retries=1,
        backoff_base=0.01,
        per_host_delay=0.0,
        max_retry_after=2.0,
    )
    base.update(kw)
    return HttpConfig(**base)  # type: ignore[arg-type]


def run(coro_fn: Any, config: HttpConfig | None = None) -> Any:
    async def go() -> Any:
        async with HttpClient(config or cfg()) as client:
            return await coro_fn(client)

    return asyncio.run(go())


@pytest.fixture(scope="module")
def server() -> Iterator[LoopServer]:
    srv = LoopServer().start()
    base = srv.base
    items = "".join(
        f"<item><title>Item {i} &lt;b&gt;bold&lt;/b&gt;</title><link>/pages/{i}.html?utm_source=rss"
        f"</link><description>Summary {i}.</description>"
        f"<pubDate>Mon, 0{i + 1} Sep 2025 10:00:00 GMT</pubDate></item>"
        for i in range(3)
    )
    srv.set(
        "/rss.xml",
        Resource(
            f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
            f"<link>{base}/</link>{items}</channel></rss>".encode(),
            "application/rss+xml",
        ),
    )
    for i in range(3):
        srv.set(f"/pages/{i}.html", Resource(ARTICLE.format(t=f"Article {i}").encode()))
    ru = (
        '<?xml version="1.0" encoding="windows-1251"?><rss version="2.0"><channel>'
        "<title>Новости</title><language>ru-RU</language><item><title>Перемирие в силе</title>"
        "<link>http://ru.example.net/n/1</link><description>Стороны соблюдают режим "
        "прекращения огня.</description></item></channel></rss>"
    ).encode("cp1251")
    srv.set("/ru-header.xml", Resource(ru, "application/rss+xml; charset=windows-1251"))
    srv.set("/ru-decl.xml", Resource(ru, "text/xml"))
    srv.set(
        "/moved.xml",
        lambda h, req: h.reply(301, b"", "text/html", {"Location": "/feeds/v2/rss.xml"}, req=req),
    )
    srv.set(
        "/feeds/v2/rss.xml",
        Resource(
            b"<rss version='2.0'><channel><title>v2</title><item><title>rel</title>"
            b"<link>story.html#c</link></item></channel></rss>",
            "application/rss+xml",
        ),
    )
    srv.set(
        "/private-link.xml",
        Resource(
            f"<rss version='2.0'><channel><title>p</title><item><title>internal</title>"
            f"<link>{base}/internal/admin</link><description>An internal link.</description></item>"
            f"</channel></rss>".encode(),
            "application/rss+xml",
        ),
    )
    srv.set("/internal/admin", Resource(b"<html>internal</html>"))
    srv.set(
        "/broken.xml",
        Resource(
            b"<rss><channel><item><title>Half & broken</title>"
            b"<link>http://x.example/1</link></item><item><title>",
            "application/rss+xml",
        ),
    )
    state = {"n": 0}

    def flaky(h: Any, req: Request) -> None:
        state["n"] += 1
        h.reply(500, b"down", req=req)

    srv.set("/down.xml", flaky)
    srv.set("/robots.txt", Resource(b"User-agent: *\nDisallow: /pages/2.html\n", "text/plain"))
    yield srv
    srv.stop()


def src(server: LoopServer, path: str, **kw: Any) -> Source:
    return Source(name=path.strip("/"), url=server.url(path), **kw)


def test_conditional_get_second_poll_parses_nothing(server: LoopServer) -> None:
    source = src(server, "/rss.xml", language="en")

    async def twice(client: HttpClient) -> tuple[FeedPoll, FeedPoll]:
        first = await poll_feed(client, source, etag=None, last_modified=None)
        second = await poll_feed(client, source, etag=first.etag, last_modified=first.last_modified)
        return first, second

    first, second = run(twice)
    assert first.status == "ok" and first.http_status == 200 and first.etag
    assert [e.url for e in first.entries] == [server.url(f"/pages/{i}.html") for i in range(3)]
    assert first.entries[0].title == "Item 0 bold"
    assert second.status == "not_modified" and second.entries == () and second.http_status == 304
    assert second.etag == first.etag
    assert server.requests("/rss.xml")[-1].status == 304


@pytest.mark.parametrize("path", ["/ru-header.xml", "/ru-decl.xml"])
def test_windows_1251_feed_over_http(server: LoopServer, path: str) -> None:
    poll = run(lambda c: poll_feed(c, src(server, path), etag=None, last_modified=None))
    (e,) = poll.entries
    assert e.title == "Перемирие в силе" and e.language == "ru"
    assert e.summary == "Стороны соблюдают режим прекращения огня."
    assert e.published is None  # missing date stays missing


def test_relative_links_resolve_against_final_url_after_redirect(server: LoopServer) -> None:
    poll = run(lambda c: poll_feed(c, src(server, "/moved.xml"), etag=None, last_modified=None))
    assert [e.url for e in poll.entries] == [server.url("/feeds/v2/story.html")]


def test_bozo_feed_yields_entries_and_reason(server: LoopServer) -> None:
    poll = run(lambda c: poll_feed(c, src(server, "/broken.xml"), etag=None, last_modified=None))
    assert poll.status == "bozo" and poll.bozo_reason
    assert [e.title for e in poll.entries][:1] == ["Half & broken"]


def test_failing_feed_raises_fetch_error(server: LoopServer) -> None:
    with pytest.raises(TransientFetchError) as ei:
        run(lambda c: poll_feed(c, src(server, "/down.xml"), etag=None, last_modified=None))
    assert ei.value.status == 500 and ei.value.source == "down.xml"
    with pytest.raises(PermanentFetchError):
        run(lambda c: poll_feed(c, src(server, "/nope.xml"), etag=None, last_modified=None))


def test_pages_fetched_extracted_and_robots_obeyed(server: LoopServer) -> None:
    source = src(server, "/rss.xml", language="en")

    async def pipeline(client: HttpClient) -> list[Any]:
        poll = await poll_feed(client, source, etag=None, last_modified=None)
        out = []
        for e in poll.entries:
            try:
                res = await client.fetch(e.url, robots=True, source=source.name)
            except BlockedURLError as exc:
                out.append(article_from_entry(e, f"blocked: {exc}", source.language))
                continue
            out.append(
                extract_article(
                    res.content,
                    url=res.url,
                    headers=res.headers,
                    entry=e,
                    language_hint=source.language,
                )
            )
        return out

    arts = run(pipeline)
    assert [a.text_source for a in arts] == ["page", "page", "summary"]
    assert "demarcation commission" in arts[0].text and "Home | World" not in arts[0].text
    assert arts[0].published is not None and arts[0].published.day == 1
    assert "robots" in (arts[2].fetch_note or "") and arts[2].text == "Summary 2."
    assert not server.requests("/pages/2.html")


def test_feed_link_to_loopback_refused_without_private_networks(server: LoopServer) -> None:
    # the feed itself is read with a permissive client; its link must not pass a strict one
    poll = run(
        lambda c: poll_feed(c, src(server, "/private-link.xml"), etag=None, last_modified=None)
    )
    (e,) = poll.entries
    assert e.url == server.url("/internal/admin")
    with pytest.raises(BlockedURLError):
        run(lambda c: c.fetch(e.url, robots=True), cfg(allow_private_networks=False))
    assert not server.requests("/internal/admin")
    art = article_from_entry(e, "blocked: private address")
    assert art.text_source == "summary" and art.text == "An internal link."
