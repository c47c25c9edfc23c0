"""HttpClient on a real loopback server: caching, retries, timeouts, caps, redirects, robots."""

from __future__ import annotations

import asyncio
import gzip
import threading
import time
import zlib
from collections.abc import Iterator

import pytest

from regionwatch.errors import BlockedURLError, PermanentFetchError, TransientFetchError
from regionwatch.http import FetchResult, HttpClient, check_url, decode_bytes, fetch_sync
from regionwatch.settings import HttpConfig
from tests.loopback import LoopServer, Request, Resource

pytestmark = pytest.mark.integration

UA = "RegionWatch-test/0.1 (+http://127.0.0.1/contact)"


def cfg(**kw: object) -> HttpConfig:
    base: dict[str, object] = dict(
        allow_private_networks=True,
        user_agent=UA,
        connect_timeout=1.0,
        read_timeout=3.0,
        total_timeout=3.0,
        retries=2,
        backoff_base=0.01,
        per_host_delay=0.0,
        max_retry_after=2.0,
        max_bytes=200_000,
        max_redirects=5,
    )
    base.update(kw)
    return HttpConfig(**base)  # type: ignore[arg-type]


def fetch(url: str, config: HttpConfig | None = None, **kw: object) -> FetchResult:
    async def run() -> FetchResult:
        async with HttpClient(config or cfg()) as client:
            return await client.fetch(url, **kw)  # type: ignore[arg-type]

    return asyncio.run(run())


# -------------------------------------------------------------------------------- routes
def counting(responses: list[tuple[int, bytes, dict[str, str]]]):
    """A route answering the listed responses in turn (the last one repeats)."""
    state = {"n": 0}

    def fn(h, req: Request) -> None:
        i = min(state["n"], len(responses) - 1)
        state["n"] += 1
        status, body, headers = responses[i]
        h.reply(status, body, "text/html; charset=utf-8", headers, req=req)

    return fn


def stall(h, req: Request) -> None:
    """Headers and a first chunk, then silence for 6 s."""
    req.status = 200
    h.send_response(200)
    h.send_header("Content-Type", "application/rss+xml")
    h.send_header("Content-Length", "1000")
    h.end_headers()
    h.wfile.write(b"<rss>")
    h.wfile.flush()
    time.sleep(6)


def trickle(h, req: Request) -> None:
    """One byte every 0.2 s for 8 s: no read timeout ever fires, only the total one."""
    req.status = 200
    h.send_response(200)
    h.send_header("Content-Type", "text/plain")
    h.send_header("Content-Length", "40")
    h.end_headers()
    for _ in range(40):
        try:
            h.wfile.write(b"x")
            h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return
        time.sleep(0.2)


def chunked_big(h, req: Request) -> None:
    """A 1 MB body with no Content-Length (connection close delimits it)."""
    req.status = 200
    h.send_response(200)
    h.send_header("Content-Type", "text/plain")
    h.send_header("Connection", "close")
    h.end_headers()
    h.close_connection = True
    try:
        for _ in range(16):
            h.wfile.write(b"y" * 65536)
    except (BrokenPipeError, ConnectionResetError):
        pass


BOMB = gzip.compress(b"\0" * 30_000_000, compresslevel=9)
SMALL_GZ = gzip.compress("<p>gzipped página</p>".encode())
SMALL_DEFLATE = zlib.compress(b"deflated body")


class Gauge:
    """Tracks the peak number of requests in flight on one route."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0

    def route(self, h, req: Request) -> None:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(0.15)
        with self.lock:
            self.active -= 1
        h.reply(200, b"ok", "text/plain", req=req)


@pytest.fixture(scope="module")
def server() -> Iterator[LoopServer]:
    srv = LoopServer().start()
    srv.set("/ok", Resource(b"<html><body>hello</body></html>"))
    srv.set("/feed.xml", Resource(b"<rss version='2.0'><channel/></rss>", "application/rss+xml"))
    srv.set("/flaky", counting([(500, b"down", {}), (200, b"recovered", {})]))
    srv.set("/always500", counting([(503, b"down", {})]))
    srv.set("/throttled", counting([(429, b"slow down", {"Retry-After": "1"}), (200, b"ok", {})]))
    srv.set("/throttled-long", counting([(429, b"slow down", {"Retry-After": "3600"})]))
    srv.set("/missing", counting([(404, b"nope", {})]))
    srv.set("/stall", stall)
    srv.set("/trickle", trickle)
    srv.set("/big", Resource(b"z" * 500_000, "text/plain"))
    srv.set("/big-chunked", chunked_big)
    srv.set(
        "/bomb",
        Resource(BOMB, "text/html", headers={"Content-Encoding": "gzip"}, conditional=False),
    )
    srv.set(
        "/gz", Resource(SMALL_GZ, "text/html; charset=utf-8", headers={"Content-Encoding": "gzip"})
    )
    srv.set(
        "/deflate", Resource(SMALL_DEFLATE, "text/plain", headers={"Content-Encoding": "deflate"})
    )
    srv.set("/loop-a", counting([(302, b"", {"Location": "/loop-b"})]))
    srv.set("/loop-b", counting([(302, b"", {"Location": "/loop-a"})]))
    for i in range(8):
        srv.set(f"/chain{i}", counting([(301, b"", {"Location": f"/chain{i + 1}"})]))
    srv.set("/chain8", Resource(b"end of chain", "text/plain"))
    srv.set("/hop", counting([(302, b"", {"Location": "/ok#frag"})]))
    srv.set("/robots.txt", Resource(b"User-agent: *\nDisallow: /private/\n", "text/plain"))
    srv.set("/private/page", Resource(b"<html>secret</html>"))
    srv.set("/public/page", Resource(b"<html>public</html>"))
    srv.set("/cp1251", Resource("Привет, мир".encode("cp1251"), "text/plain; charset=windows-1251"))
    gauge = Gauge()
    srv.gauge = gauge  # type: ignore[attr-defined]
    srv.set("/gauge", gauge.route)
    yield srv
    srv.stop()


# -------------------------------------------------------------------------------- tests
def test_plain_fetch_sends_user_agent_and_lowercases_headers(server: LoopServer) -> None:
    res = fetch(server.url("/ok"))
    assert res.status == 200 and res.content.startswith(b"<html>")
    assert res.headers["content-type"].startswith("text/html")
    assert res.etag and res.last_modified and not res.not_modified
    assert server.requests("/ok")[-1].headers["user-agent"] == UA


def test_conditional_get_second_fetch_is_304(server: LoopServer) -> None:
    first = fetch(server.url("/feed.xml"))
    second = fetch(server.url("/feed.xml"), etag=first.etag)
    assert second.not_modified and second.status == 304 and second.content == b""
    assert second.etag == first.etag
    third = fetch(server.url("/feed.xml"), last_modified=first.last_modified)
    assert third.not_modified
    reqs = server.requests("/feed.xml")
    assert [r.status for r in reqs[-3:]] == [200, 304, 304]
    assert reqs[-2].headers["if-none-match"] == first.etag


def test_500_then_success_is_retried(server: LoopServer) -> None:
    res = fetch(server.url("/flaky"))
    assert res.content == b"recovered"
    assert [r.status for r in server.requests("/flaky")] == [500, 200]


def test_persistent_5xx_is_transient_after_retries(server: LoopServer) -> None:
    with pytest.raises(TransientFetchError) as ei:
        fetch(server.url("/always500"), source="feed X")
    assert ei.value.status == 503 and ei.value.source == "feed X"
    assert ei.value.url == server.url("/always500")
    assert len(server.requests("/always500")) == 3  # 1 + cfg.retries


def test_429_honours_retry_after(server: LoopServer) -> None:
    res = fetch(server.url("/throttled"))
    assert res.content == b"ok"
    reqs = server.requests("/throttled")
    assert [r.status for r in reqs] == [429, 200]
    assert reqs[1].t - reqs[0].t >= 0.9  # waited as told (server clock, not a speed check)


def test_retry_after_beyond_cap_fails_transiently_without_sleeping(server: LoopServer) -> None:
    with pytest.raises(TransientFetchError) as ei:
        fetch(server.url("/throttled-long"))
    assert ei.value.status == 429 and ei.value.retry_after == 3600
    assert len(server.requests("/throttled-long")) == 1


def test_404_is_permanent_and_not_retried(server: LoopServer) -> None:
    with pytest.raises(PermanentFetchError) as ei:
        fetch(server.url("/missing"))
    assert ei.value.status == 404
    assert len(server.requests("/missing")) == 1


def test_stalled_server_hits_the_timeout(server: LoopServer) -> None:
    with pytest.raises(TransientFetchError) as ei:
        fetch(server.url("/stall"), cfg(read_timeout=0.5, total_timeout=5, retries=0))
    assert "timeout" in str(ei.value).lower()
    assert isinstance(ei.value.__cause__, BaseException)


def test_total_timeout_caps_a_trickling_server(server: LoopServer) -> None:
    with pytest.raises(TransientFetchError) as ei:
        fetch(server.url("/trickle"), cfg(read_timeout=5, total_timeout=1, retries=0))
    assert "total timeout" in str(ei.value)


def test_oversized_body_is_refused(server: LoopServer) -> None:
    with pytest.raises(PermanentFetchError, match="exceeds"):
        fetch(server.url("/big"), max_bytes=100_000)
    with pytest.raises(PermanentFetchError, match="exceeds"):
        fetch(server.url("/big-chunked"), max_bytes=100_000)
    assert len(fetch(server.url("/big"), max_bytes=600_000).content) == 500_000


def test_compression_bomb_is_cut_off(server: LoopServer) -> None:
    assert len(BOMB) < 200_000
    with pytest.raises(PermanentFetchError, match="decoded"):
        fetch(server.url("/bomb"), max_bytes=1_000_000)


def test_gzip_and_deflate_bodies_are_decoded(server: LoopServer) -> None:
    assert fetch(server.url("/gz")).text() == "<p>gzipped página</p>"
    assert fetch(server.url("/deflate")).content == b"deflated body"


def test_redirect_loop_is_permanent(server: LoopServer) -> None:
    with pytest.raises(PermanentFetchError, match="loop"):
        fetch(server.url("/loop-a"))


def test_too_many_redirects(server: LoopServer) -> None:
    with pytest.raises(PermanentFetchError, match="redirects"):
        fetch(server.url("/chain0"))
    res = fetch(server.url("/chain3"))  # five hops: allowed
    assert res.content == b"end of chain" and res.url == server.url("/chain8")


def test_redirect_reports_final_url(server: LoopServer) -> None:
    res = fetch(server.url("/hop"))
    assert res.url == server.url("/ok") and res.status == 200


def test_robots_txt_is_obeyed_and_cached(server: LoopServer) -> None:
    async def run() -> list[object]:
        out: list[object] = []
        async with HttpClient(cfg()) as client:
            for path in ("/public/page", "/private/page", "/public/page"):
                try:
                    out.append((await client.fetch(server.url(path), robots=True)).status)
                except BlockedURLError as exc:
                    out.append(exc)
            out.append((await client.fetch(server.url("/private/page"))).status)  # feeds: no robots
        return out

    before = len(server.requests("/robots.txt"))
    private_before = len(server.requests("/private/page"))
    out = asyncio.run(run())
    assert out[0] == 200 and out[2] == 200 and out[3] == 200
    assert isinstance(out[1], BlockedURLError) and "robots" in str(out[1])
    assert len(server.requests("/robots.txt")) == before + 1
    # the disallowed page was requested only by the robots=False fetch
    assert len(server.requests("/private/page")) == private_before + 1


def test_loopback_refused_unless_private_networks_allowed(server: LoopServer) -> None:
    before = len(server.requests("/ok"))
    with pytest.raises(BlockedURLError):
        fetch(server.url("/ok"), cfg(allow_private_networks=False))
    with pytest.raises(BlockedURLError):
        fetch(
            server.url("/ok").replace("127.0.0.1", "localhost"), cfg(allow_private_networks=False)
        )
    assert len(server.requests("/ok")) == before


def test_per_host_concurrency_limit(server: LoopServer) -> None:
    async def run() -> None:
        async with HttpClient(cfg(per_host_concurrency=2)) as client:
            await asyncio.gather(*(client.fetch(server.url("/gauge")) for _ in range(6)))

    asyncio.run(run())
    assert server.gauge.peak == 2  # type: ignore[attr-defined]


def test_unresolvable_host_is_transient() -> None:
    with pytest.raises(TransientFetchError):
        fetch("http://no-such-host.invalid/feed", cfg(allow_private_networks=False))


def test_fetch_sync_and_charset_from_header(server: LoopServer) -> None:
    res = fetch_sync(cfg(), server.url("/cp1251"))
    assert res.text() == "Привет, мир"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/x",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://172.16.5.4/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://localhost:8080/",
        "http://metadata.google.internal/",
        "http://100.64.0.1/",
        "http://[fd00:ec2::254]/",
        "http:///nohost",
    ],
)
def test_url_guard_refuses(url: str) -> None:
    with pytest.raises(BlockedURLError):
        check_url(url, allow_private=False)


def test_url_guard_allows_public_and_private_when_configured() -> None:
    check_url("http://93.184.216.34/page", allow_private=False)
    check_url("https://[2606:4700::1111]/", allow_private=False)
    check_url("http://10.0.0.1/feed", allow_private=True)
    with pytest.raises(BlockedURLError):
        check_url("gopher://10.0.0.1/", allow_private=True)


@pytest.mark.parametrize(
    ("data", "ctype", "expected"),
    [
        ("Привет".encode("cp1251"), "text/html; charset=windows-1251", "Привет"),
        ("\ufeffПривет".encode(), "text/html; charset=iso-8859-1", "Привет"),
        (
            '<meta charset="koi8-r"><p>Привет</p>'.encode("koi8-r"),
            "text/html",
            '<meta charset="koi8-r"><p>Привет</p>',
        ),
        (
            "<?xml version='1.0' encoding='windows-1251'?><a>Привет</a>".encode("cp1251"),
            None,
            "<?xml version='1.0' encoding='windows-1251'?><a>Привет</a>",
        ),
        ("naïve café".encode(), "text/plain", "naïve café"),
        (b"", None, ""),
    ],
)
def test_decode_bytes(data: bytes, ctype: str | None, expected: str) -> None:
    assert decode_bytes(data, ctype) == expected


def test_decode_bytes_detects_undeclared_cyrillic() -> None:
    text = (
        "Министерство обороны сообщило о прекращении огня на границе. "
        "Пограничники двух стран провели переговоры в среду."
    ) * 3
    assert decode_bytes(text.encode("cp1251"), "text/html") == text


def test_unresolvable_host_fails_fast_the_second_time() -> None:
    """A name that does not resolve is not retried, and not asked for again for a while.

    The resolver failure is produced by a transport (no DNS query leaves this machine).
    """
    import socket

    import httpx

    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        try:
            raise socket.gaierror(-2, "Name or service not known")
        except socket.gaierror as exc:
            raise httpx.ConnectError(
                "[Errno -2] Name or service not known", request=request
            ) from exc

    async def run() -> list[str]:
        out = []
        async with HttpClient(
            cfg(allow_private_networks=True), transport=httpx.MockTransport(handler)
        ) as client:
            for _ in range(2):
                try:
                    await client.fetch("http://no-such-host.invalid/page")
                except TransientFetchError as exc:
                    out.append(str(exc))
        return out

    first, second = asyncio.run(run())
    assert "connection failed" in first and "recently" in second
    assert len(calls) == 1, "an unresolvable name was retried"


def test_every_redirect_hop_passes_the_url_guard() -> None:
    """A public page redirecting to the metadata address is refused at that hop."""
    import httpx

    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/latest/"})

    async def run() -> None:
        async with HttpClient(
            cfg(allow_private_networks=False), transport=httpx.MockTransport(handler)
        ) as client:
            await client.fetch("http://93.184.216.34/story")

    with pytest.raises(BlockedURLError, match="169.254.169.254"):
        asyncio.run(run())
    assert seen == ["http://93.184.216.34/story"]


def test_parse_retry_after_forms() -> None:
    from regionwatch.http import parse_retry_after

    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 30) == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 + 30) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_batches_of_a_cycle_share_one_client_and_its_per_host_limit(server: LoopServer) -> None:
    """The monitor flow's batch tasks run on one BatchLoop: the host limit holds for the cycle."""
    from tasks.ingest import BatchLoop

    gauge = Gauge()
    server.set("/gauge-shared", gauge.route)
    results: list[list[FetchResult]] = []
    with BatchLoop(cfg(per_host_concurrency=2)) as loop:
        client = loop.client
        assert client is not None

        async def batch() -> list[FetchResult]:
            return list(
                await asyncio.gather(*(client.fetch(server.url("/gauge-shared")) for _ in range(3)))
            )

        threads = [
            threading.Thread(target=lambda: results.append(loop.run(batch()))) for _ in range(3)
        ]  # three task threads, as the task runner has
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=30)
    assert len(results) == 3 and all(r.status == 200 for b in results for r in b)
    assert gauge.peak == 2  # separate clients per batch would have allowed 2 each
    assert loop.client is None  # closed with the loop
