"""Backfill end to end on loopback: sitemaps, URL list, WARC and Wayback into a real store.

One outlet with robots.txt → sitemap index → a gzipped Google News sitemap (September) and a
plain lastmod sitemap (October); article pages written by us. Checks: exactly the items dated
inside the range are stored, a second run stores nothing, an interrupted run resumed ends with
the same store as an uninterrupted one, and no alert row is ever written for backfilled items.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from regionwatch.backfill import BackfillProgress, BackfillReport, run_backfill
from regionwatch.pipeline import Context
from regionwatch.settings import (
    BackfillConfig,
    ChannelConfig,
    FeedConfig,
    HttpConfig,
    Settings,
    StorageConfig,
)
from regionwatch.store import schema as t
from tests.loopback import LoopServer, Request, Resource, Webhook

pytestmark = pytest.mark.integration

SINCE, UNTIL = date(2022, 9, 10), date(2022, 9, 20)
NAME = "Lake Herald"
SEPT_DAYS = [3, 8, 9, 10, 10, 12, 15, 17, 20, 20, 21, 22, 27]
OCT_DAYS = [1, 4, 9, 14, 30]

_WORDS: Any = """delegation ministry talks village district observers convoy statement parliament
officials envoy agreement residents monitoring mission spokesperson negotiators road checkpoint
region meeting summit report council inspection harvest bridge reservoir elections budget reform
school hospital railway pipeline customs tariff market"""
_WORDS = _WORDS.split()
_TOPICS = [
    "Azerbaijani and Armenian forces exchanged fire along the border near Jermuk, and shelling "
    "of border villages was reported overnight, the defence ministry said.",
    "Both sides agreed to a ceasefire brokered by Moscow after two days of fighting; the truce "
    "took effect at 20:00 local time, officials said.",
    "Yerevan asked the CSTO, the Russia-led Collective Security Treaty Organization, for help "
    "under the alliance's mutual defence clause.",
    "The regional council discussed the budget for school repairs and a new bus route.",
]


def sentence(rng: random.Random) -> str:
    words = rng.sample(_WORDS, 12)
    return " ".join(words).capitalize() + "."


def article_html(url: str, title: str, published: datetime, seed: int) -> bytes:
    rng = random.Random(seed)
    paras = [_TOPICS[seed % len(_TOPICS)]] + [
        " ".join(sentence(rng) for _ in range(4)) for _ in range(5)
    ]
    body = "\n".join(f"<p>{p}</p>" for p in paras)
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{title} | {NAME}</title>
<meta property="og:title" content="{title}">
<meta property="article:published_time" content="{published.isoformat()}">
<link rel="canonical" href="{url}"></head>
<body><header><nav><a href="/">Home</a> <a href="/politics/">Politics</a></nav></header>
<main><article><h1>{title}</h1>
<time datetime="{published.isoformat()}">{published:%d %B %Y}</time>
{body}
</article></main><footer>© {NAME}</footer></body></html>""".encode()


class Site:
    """The outlet: pages, robots.txt, sitemap index, two monthly sitemaps, an RSS feed."""

    def __init__(self) -> None:
        self.srv = LoopServer().start()
        self.pages: dict[str, datetime] = {}  # url -> publication time
        self.bodies: dict[str, bytes] = {}
        b = self.srv.base
        n = 0
        for month, days in ((9, SEPT_DAYS), (10, OCT_DAYS)):
            for day in days:
                n += 1
                dt = datetime(2022, month, day, 6 + n % 15, (n * 7) % 60, tzinfo=UTC)
                if n == 4:  # 00:30 on the 10th in UTC: the first minute-ish of the range
                    dt = datetime(2022, 9, 10, 0, 30, tzinfo=UTC)
                if n == 10:  # 23:50 on the 20th in UTC: the last minutes of the range
                    dt = datetime(2022, 9, 20, 23, 50, tzinfo=UTC)
                path = f"/news/{dt:%Y/%m/%d}/story-{n}.html"
                url = b + path
                body = article_html(url, f"Story {n} from the lake shore", dt, n)
                self.srv.set(path, Resource(body, last_modified=dt.timestamp()))
                self.pages[url] = dt
                self.bodies[url] = body
        sept = [(u, dt) for u, dt in self.pages.items() if dt.month == 9]
        octo = [(u, dt) for u, dt in self.pages.items() if dt.month == 10]
        news = "".join(
            f"<url><loc>{u}</loc><news:news><news:publication><news:name>{NAME}</news:name>"
            f"<news:language>en</news:language></news:publication>"
            f"<news:publication_date>{dt.isoformat()}</news:publication_date>"
            f"<news:title>Story from {dt:%d %B}</news:title></news:news></url>\n"
            for u, dt in sept
        )
        self.srv.set(
            "/sitemaps/news-2022-09.xml.gz",
            Resource(
                gzip.compress(
                    (
                        '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/'
                        'sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">\n'
                        + news
                        + "</urlset>"
                    ).encode()
                ),
                "application/x-gzip",
            ),
        )
        plain = "".join(
            f"<url><loc>{u}</loc><lastmod>{dt.isoformat()}</lastmod></url>\n" for u, dt in octo
        )
        self.srv.set(
            "/sitemaps/posts-2022-10.xml",
            Resource(
                (
                    '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/'
                    'schemas/sitemap/0.9">\n' + plain + "</urlset>"
                ).encode(),
                "application/xml",
            ),
        )
        self.srv.set(
            "/sitemap_index.xml",
            Resource(
                (
                    '<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/'
                    'schemas/sitemap/0.9">'
                    f"<sitemap><loc>{b}/sitemaps/news-2022-09.xml.gz</loc>"
                    "<lastmod>2022-09-30T23:00:00+00:00</lastmod></sitemap>"
                    f"<sitemap><loc>{b}/sitemaps/posts-2022-10.xml</loc>"
                    "<lastmod>2022-10-31T23:00:00+00:00</lastmod></sitemap></sitemapindex>"
                ).encode(),
                "application/xml",
            ),
        )
        self.srv.set(
            "/robots.txt",
            Resource(
                f"User-agent: *\nDisallow: /admin/\n\nSitemap: {b}/sitemap_index.xml\n".encode(),
                "text/plain",
            ),
        )
        newest = sorted(self.pages.items(), key=lambda p: p[1])[-3:]
        items = "".join(f"<item><title>x</title><link>{u}</link></item>" for u, _ in newest)
        self.srv.set(
            "/feed.xml",
            Resource(
                f'<?xml version="1.0"?><rss version="2.0"><channel><title>{NAME}</title>'
                f"<link>{b}/</link>{items}</channel></rss>".encode(),
                "application/rss+xml",
            ),
        )

    def in_range(self) -> set[str]:
        return {u for u, dt in self.pages.items() if SINCE <= dt.date() <= UNTIL}


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.srv.stop()


@pytest.fixture(scope="module")
def hook() -> Iterator[Webhook]:
    wh = Webhook().start()
    yield wh
    wh.stop()


def make_settings(db_url: str, site: Site, hook: Webhook, **backfill: Any) -> Settings:
    return Settings(
        storage=StorageConfig(url=db_url),
        http=HttpConfig(allow_private_networks=True, per_host_delay=0, backoff_base=0, retries=1),
        feeds=[FeedConfig(name=NAME, url=site.srv.url("/feed.xml"), language="en")],
        channels=[ChannelConfig(url=f"json://127.0.0.1:{hook.port}/hook")],
        backfill=BackfillConfig(**({"chunk_size": 2} | backfill)),
    )


def backfill(settings: Settings, **kw: Any) -> BackfillReport:
    ctx = Context.open(settings)
    try:
        kw.setdefault("sources", [ctx.source(NAME)])
        return asyncio.run(
            run_backfill(ctx, since=kw.pop("since", SINCE), until=kw.pop("until", UNTIL), **kw)
        )
    finally:
        ctx.close()


def stored(settings: Settings) -> dict[str, dict[str, Any]]:
    ctx = Context.open(settings)
    try:
        with ctx.store.connect() as conn:
            rows = conn.execute(select(t.items)).mappings().all()
            alerts = conn.execute(select(func.count()).select_from(t.alerts)).scalar_one()
    finally:
        ctx.close()
    assert alerts == 0, "backfilled items must never write alert rows"
    return {r["url"]: dict(r) for r in rows}


def snapshot(rows: dict[str, dict[str, Any]]) -> set[tuple[Any, ...]]:
    return {
        (
            u,
            str(r["published_at"])[:19],
            r["title"],
            r["content_hash"],
            tuple(sorted(r["categories"] or [])),
            r["origin"],
        )
        for u, r in rows.items()
    }


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/rw.db"
    return str(request.getfixturevalue("fresh_pg"))


def test_sitemaps_range_exact_and_rerun_is_a_no_op(db_url: str, site: Site, hook: Webhook):
    settings = make_settings(db_url, site, hook)
    site.srv.clear_log()
    events: list[BackfillProgress] = []
    rep = backfill(settings, progress=events.append)
    rows = stored(settings)
    assert set(rows) == site.in_range()
    for url, r in rows.items():
        assert r["origin"] == "backfill"
        assert str(r["published_at"])[:10] == site.pages[url].date().isoformat()
    assert rep.stored == len(site.in_range()) and rep.failed == 0
    assert rep.found == len(site.in_range())  # the October lastmods are all after the range
    assert rep.chunks_total == rep.chunks_run > 1
    assert events[0].phase == "discovered" and events[-1].phase == "done"
    assert events[-1].urls_done == events[-1].urls_total == rep.found
    assert sum(rep.per_category.values()) == sum(len(r["categories"] or []) for r in rows.values())
    paths = [urlsplit(q.path).path for q in site.srv.requests()]
    assert "/robots.txt" in paths and "/sitemaps/news-2022-09.xml.gz" in paths
    assert sum(p.startswith("/news/") for p in paths) == len(site.in_range())
    assert not hook.requests(method="POST")

    site.srv.clear_log()
    again = backfill(settings)
    assert again.stored == 0 and again.chunks_run == 0
    assert again.chunks_resumed == rep.chunks_total
    assert not [q for q in site.srv.requests() if q.path.startswith("/news/")]
    assert snapshot(stored(settings)) == snapshot(rows)

    # a wider range re-uses nothing from the checkpoint but skips every stored URL
    wider = backfill(settings, since=date(2022, 9, 1), until=date(2022, 10, 31))
    assert wider.skipped_known == len(site.in_range())
    assert set(stored(settings)) == set(site.pages)
    assert not hook.requests(method="POST")


# the backfill command alone (the full CLI module pulls in every other command)
CLI = (
    "import typer; from flows.cli import backfill as cli_backfill; app = typer.Typer(); "
    "app.callback()(lambda: None); cli_backfill.register(app); app()"
)


class Interrupt(Exception):
    pass


def test_interrupted_run_resumes_to_the_same_store(tmp_path: Path, site: Site, hook: Webhook):
    whole = make_settings(f"sqlite:///{tmp_path}/whole.db", site, hook)
    backfill(whole)
    expected = snapshot(stored(whole))

    broken = make_settings(f"sqlite:///{tmp_path}/broken.db", site, hook)
    seen = {"chunks": 0}

    def stop_after_two(ev: BackfillProgress) -> None:
        if ev.phase == "chunk":
            seen["chunks"] += 1
            if seen["chunks"] == 2:
                raise Interrupt("killed mid-way")

    with pytest.raises(Interrupt):
        backfill(broken, progress=stop_after_two)
    partial = stored(broken)
    assert 0 < len(partial) < len(expected)
    resumed = backfill(broken)
    assert resumed.chunks_resumed == 2 and resumed.chunks_run == resumed.chunks_total - 2
    assert resumed.stored == len(expected) - len(partial)
    assert snapshot(stored(broken)) == expected


def test_killed_process_resumes(tmp_path: Path, site: Site, hook: Webhook) -> None:
    """A real ``regionwatch backfill`` process killed with SIGKILL, then run again."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from sqlalchemy import create_engine

    slow = LoopServer().start()  # a slow mirror of the site so the kill lands mid-way
    try:
        b = slow.base
        for url, body in site.bodies.items():
            path = urlsplit(url).path
            new_url = b + path
            body = body.replace(site.srv.base.encode(), b.encode())

            def handler(h, req: Request, body: bytes = body) -> None:  # type: ignore[no-untyped-def]
                time.sleep(0.4)
                h.reply(200, body, "text/html; charset=utf-8", req=req)

            slow.set(path, handler)
            del new_url
        for path in (
            "/sitemaps/news-2022-09.xml.gz",
            "/sitemaps/posts-2022-10.xml",
            "/sitemap_index.xml",
            "/robots.txt",
            "/feed.xml",
        ):
            res = site.srv.routes[path]
            assert isinstance(res, Resource)
            raw = gzip.decompress(res.body) if res.body[:2] == b"\x1f\x8b" else res.body
            raw = raw.replace(site.srv.base.encode(), b.encode())
            slow.set(path, Resource(gzip.compress(raw) if path.endswith(".gz") else raw, res.ctype))
        db = tmp_path / "killed.db"
        cfg = tmp_path / "config.toml"
        cfg.write_text(
            f'[storage]\nurl = "sqlite:///{db}"\n\n[http]\nallow_private_networks = true\n'
            f"per_host_delay = 0\n\n[backfill]\nchunk_size = 1\n\n"
            f'[[feeds]]\nname = "{NAME}"\nurl = "{b}/feed.xml"\nlanguage = "en"\n\n'
            f'[[channels]]\nurl = "json://127.0.0.1:{hook.port}/hook"\n'
        )
        root = Path(__file__).resolve().parents[2]
        argv = [
            sys.executable,
            "-c",
            CLI,
            "backfill",
            "--since",
            SINCE.isoformat(),
            "--until",
            UNTIL.isoformat(),
            "--source",
            NAME,
            "--config",
            str(cfg),
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGIONWATCH_")}
        proc = subprocess.Popen(
            argv, env=env, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        engine = None
        try:
            deadline = time.monotonic() + 120
            done = 0
            while time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.2)
                if db.exists():
                    engine = engine or create_engine(f"sqlite:///{db}")
                    try:
                        with engine.connect() as conn:
                            done = conn.execute(
                                select(func.count()).select_from(t.backfill_chunks)
                            ).scalar_one()
                    except Exception:  # table not created yet
                        done = 0
                    if done >= 2:
                        break
            assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
            if engine is not None:
                engine.dispose()
        settings = make_settings(f"sqlite:///{db}", site, hook).model_copy(
            update={"feeds": [FeedConfig(name=NAME, url=f"{b}/feed.xml", language="en")]}
        )
        partial = stored(settings)
        assert len(partial) < len(site.in_range())
        r = subprocess.run(argv, env=env, cwd=root, capture_output=True, timeout=300)
        assert r.returncode == 0, r.stderr.decode()[-2000:]
        final = stored(settings)
        want = {b + urlsplit(u).path for u in site.in_range()}
        assert set(final) == want
        assert not hook.requests(method="POST")
    finally:
        slow.stop()


def test_url_list_filters_by_article_date(tmp_path: Path, site: Site, hook: Webhook) -> None:
    settings = make_settings(f"sqlite:///{tmp_path}/urls.db", site, hook)
    urls = sorted(site.pages)
    lines = ["# analyst's list, some dated, most not"]
    for n, u in enumerate(urls):
        if n % 3 == 0:
            lines.append(f"{u}\t{site.pages[u].date().isoformat()}")
        else:
            lines.append(u)
    lines.append(site.srv.url("/news/missing-page.html"))
    f = tmp_path / "urls.txt"
    f.write_text("\n".join(lines) + "\n")
    rep = backfill(settings, mode="urls", urls_file=f)
    assert set(stored(settings)) == site.in_range()
    assert rep.failed == 1 and rep.out_of_range > 0


def write_warc(path: Path, pages: dict[str, tuple[bytes, datetime]]) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        for url, (body, captured) in pages.items():
            http = StatusAndHeaders(
                "200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1"
            )
            w.write_record(
                w.create_warc_record(
                    url,
                    "response",
                    payload=io.BytesIO(body),
                    http_headers=http,
                    warc_headers_dict={"WARC-Date": captured.strftime("%Y-%m-%dT%H:%M:%SZ")},
                )
            )


def test_warc_files_need_no_fetch(tmp_path: Path, site: Site, hook: Webhook) -> None:
    settings = make_settings(f"sqlite:///{tmp_path}/warc.db", site, hook)
    urls = sorted(site.pages)
    half = len(urls) // 2
    w1, w2 = tmp_path / "a.warc.gz", tmp_path / "b.warc.gz"
    write_warc(w1, {u: (site.bodies[u], site.pages[u] + timedelta(hours=5)) for u in urls[:half]})
    write_warc(w2, {u: (site.bodies[u], site.pages[u] + timedelta(days=2)) for u in urls[half:]})
    site.srv.clear_log()
    rep = backfill(settings, mode="warc", warc_files=[w1, w2])
    assert set(stored(settings)) == site.in_range()
    assert rep.fetched == 0
    assert not [q for q in site.srv.requests() if q.path.startswith("/news/")]


# ---------------------------------------------------------------------------- Wayback
class Wayback:
    """CDX with resumeKey paging plus ``id_`` copies; some copies answer 429 first."""

    def __init__(self, site: Site) -> None:
        self.srv = LoopServer().start()
        self.site = site
        self.old_host = "lake-herald.example"
        self.captures: list[tuple[str, str, bytes]] = []
        self.throttle: dict[str, int] = {}
        for n, (url, dt) in enumerate(sorted(site.pages.items(), key=lambda p: p[1])):
            orig = f"http://{self.old_host}{urlsplit(url).path}"
            ts = (dt + timedelta(hours=n % 3 * 20)).strftime("%Y%m%d%H%M%S")
            body = site.bodies[url].replace(
                site.srv.base.encode(), f"http://{self.old_host}".encode()
            )
            self.captures.append((ts, orig, body))
            raw = f"/web/{ts}id_/{orig}"
            self.srv.set(raw, self.archived)
            if n % 4 == 0:
                self.throttle[raw] = 1
        self.srv.set("/cdx/search/cdx", self.cdx)

    def cdx(self, h, req: Request) -> None:  # type: ignore[no-untyped-def]
        q = parse_qs(urlsplit(req.path).query)
        lo, hi = q["from"][0], q["to"][0] + "235959"
        rows = [c for c in self.captures if lo <= c[0] <= hi and q["url"][0].rstrip("*") in c[1]]
        start, size = int(q.get("resumeKey", ["0"])[0]), int(q["limit"][0])
        out: list[list[str]] = [["urlkey", "timestamp", "original", "mimetype", "statuscode"]]
        out += [["k", ts, o, "text/html", "200"] for ts, o, _ in rows[start : start + size]]
        if start + size < len(rows):
            out += [[], [str(start + size)]]
        h.reply(200, json.dumps(out).encode(), "application/json", req=req)

    def archived(self, h, req: Request) -> None:  # type: ignore[no-untyped-def]
        path = urlsplit(req.path).path
        if self.throttle.get(path, 0) > 0:
            self.throttle[path] -= 1
            h.reply(429, b"too many", "text/plain", {"Retry-After": "0"}, req=req)
            return
        body = next(b for ts, o, b in self.captures if path == f"/web/{ts}id_/{o}")
        h.reply(200, body, "text/html; charset=utf-8", req=req)


def test_wayback_mode(tmp_path: Path, site: Site, hook: Webhook) -> None:
    wb = Wayback(site)
    try:
        settings = make_settings(
            f"sqlite:///{tmp_path}/wb.db",
            site,
            hook,
            chunk_size=3,
            wayback_cdx_url=wb.srv.url("/cdx/search/cdx"),
            wayback_raw_url=wb.srv.base + "/web/{timestamp}id_/{url}",
            wayback_requests_per_minute=60000,
            wayback_budget=500,
        ).model_copy(
            update={
                "feeds": [
                    FeedConfig(name="Old Lake", url=f"http://{wb.old_host}/rss", language="en")
                ]
            }
        )
        ctx = Context.open(settings)
        try:
            rep = asyncio.run(
                run_backfill(
                    ctx, since=SINCE, until=UNTIL, mode="wayback", sources=[ctx.source("Old Lake")]
                )
            )
        finally:
            ctx.close()
        rows = stored(settings)
        want = {f"http://{wb.old_host}{urlsplit(u).path}" for u in site.in_range()}
        assert set(rows) == want
        assert all(r["feed_name"] == "Old Lake" for r in rows.values())
        assert rep.stopped is None and rep.per_source[0].mode == "wayback"
        throttled = [q for q in wb.srv.requests() if q.status == 429]
        assert throttled  # some copies were rate limited, then fetched
        assert len(wb.srv.requests("/cdx/search/cdx")) >= 1
        # a re-run spends no requests on archived copies already stored
        wb.srv.clear_log()
        again = make_settings(f"sqlite:///{tmp_path}/wb.db", site, hook).model_copy(
            update={"feeds": settings.feeds, "backfill": settings.backfill}
        )
        ctx = Context.open(again)
        try:
            rep2 = asyncio.run(
                run_backfill(
                    ctx,
                    since=SINCE,
                    until=date(2022, 9, 21),
                    mode="wayback",
                    sources=[ctx.source("Old Lake")],
                )
            )
        finally:
            ctx.close()
        assert rep2.stored == 0 or rep2.stored == len(
            [u for u, dt in site.pages.items() if dt.date() == date(2022, 9, 21)]
        )
        assert not [
            q
            for q in wb.srv.requests()
            if q.path.startswith("/web/") and any(q.path.endswith(urlsplit(u).path) for u in want)
        ]
    finally:
        wb.srv.stop()


def test_cli_table_unknown_source_and_digest(tmp_path: Path, site: Site, hook: Webhook) -> None:
    import typer
    from typer.testing import CliRunner

    from flows.cli import backfill as cli_backfill

    app = typer.Typer()
    app.callback()(lambda: None)
    cli_backfill.register(app)
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[storage]\nurl = "sqlite:///{tmp_path}/cli.db"\n\n[http]\nallow_private_networks = true\n'
        f'per_host_delay = 0\n\n[[feeds]]\nname = "{NAME}"\nurl = "{site.srv.url("/feed.xml")}"\n'
    )
    runner = CliRunner()
    base = [
        "backfill",
        "--since",
        SINCE.isoformat(),
        "--until",
        UNTIL.isoformat(),
        "--config",
        str(cfg),
    ]
    bad = runner.invoke(app, [*base, "--source", "No Such Outlet"])
    assert bad.exit_code == 2 and "No Such Outlet" in bad.output
    assert runner.invoke(app, [*base[:2], "10/09/2022", *base[3:]]).exit_code == 2
    assert runner.invoke(app, [*base, "--from", "gopher"]).exit_code == 2
    ok = runner.invoke(app, [*base, "--source", NAME, "--digest"])
    assert ok.exit_code == 0, ok.output
    for label in ("URLs found", "fetched", "skipped as known", "failed", "items stored"):
        assert label in ok.output
    assert "digest:" in ok.output
    again = runner.invoke(app, [*base, "--json"])
    assert again.exit_code == 0
    data = json.loads(again.output.strip().splitlines()[-1])
    assert data["stored"] == 0 and data["kind"] == "backfill"
