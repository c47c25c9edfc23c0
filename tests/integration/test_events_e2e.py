"""Events end to end on loopback: real feeds, pages, store, tagger, grouping and webhook.

Three outlets (one loopback server each: English, Russian, German RSS) publish coverage of two
simultaneous happenings — an Armenian-Azerbaijani exchange of fire and a Kyrgyz-Tajik shootout —
plus unrelated news, in three waves (tests/integration/events_corpus.py, our own texts). Checks:
one alert per (event, category) on each channel; the later article with a higher casualty figure
sends one ``[border_clash] Update:``; the third wave (more coverage only) sends nothing; a restart
between cycles continues the events; two workers on one PostgreSQL store open one event and send
one alert; a backfill of the same days into a fresh store forms the same events and alerts nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from regionwatch.alerts import build_digest
from regionwatch.backfill import run_backfill
from regionwatch.pipeline import Context, run_cycle
from regionwatch.settings import ChannelConfig, FeedConfig, HttpConfig, Settings, StorageConfig
from regionwatch.store import Store
from regionwatch.store import schema as t
from regionwatch.store.events import get_event, list_events
from tests.integration.events_corpus import ARTICLES, LANG, OUTLETS, Piece
from tests.loopback import LoopServer, Resource, Webhook

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
#: wave n is published n hours after BASE (all within the alert age limit and the event gap)
BASE = NOW - timedelta(hours=4)


def published(p: Piece) -> datetime:
    order = [a.slug for a in ARTICLES if a.wave == p.wave].index(p.slug)
    return BASE + timedelta(hours=p.wave - 1, minutes=5 * order)


def page(p: Piece, url: str) -> bytes:
    paras = "\n".join(f"<p>{escape(x)}</p>" for x in p.text.split("\n\n"))
    when = published(p).isoformat()
    return f"""<!DOCTYPE html><html lang="{p.lang}"><head><meta charset="utf-8">
<title>{escape(p.title)} | {OUTLETS[p.outlet]}</title>
<meta property="og:title" content="{escape(p.title)}">
<meta property="article:published_time" content="{when}">
<link rel="canonical" href="{url}"></head>
<body><header><nav><a href="/">Home</a> <a href="/news/">News</a></nav></header>
<main><article><h1>{escape(p.title)}</h1><time datetime="{when}">{when[:10]}</time>
{paras}
</article></main><footer>{OUTLETS[p.outlet]}</footer></body></html>""".encode()


class Outlets:
    """Three loopback outlets; :meth:`publish` puts the articles of waves 1..n on the feeds."""

    def __init__(self) -> None:
        self.srv = {k: LoopServer().start() for k in OUTLETS}
        for s in self.srv.values():
            s.set("/robots.txt", Resource(b"User-agent: *\nAllow: /\n", "text/plain"))
        self.urls = {p.slug: self.srv[p.outlet].url(f"/news/{p.slug}.html") for p in ARTICLES}
        self.slug_of = {u: s for s, u in self.urls.items()}
        self.wave = 0

    def publish(self, wave: int, only: set[str] | None = None) -> None:
        """Show waves 1..``wave`` on the feeds (with ``only``: just these slugs)."""
        self.wave = wave
        for key, srv in self.srv.items():
            shown = [
                p
                for p in ARTICLES
                if p.outlet == key and p.wave <= wave and (only is None or p.slug in only)
            ]
            items = []
            for p in sorted(shown, key=published, reverse=True):
                url = self.urls[p.slug]
                srv.set(f"/news/{p.slug}.html", Resource(page(p, url)))
                items.append(
                    f"<item><title>{escape(p.title)}</title><link>{url}</link>"
                    f"<guid>{url}</guid><pubDate>{format_datetime(published(p))}</pubDate>"
                    f"<description>{escape(p.text.split(chr(10))[0][:200])}</description></item>"
                )
            rss = (
                '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>{OUTLETS[key]}</title><link>{srv.url('/')}</link>"
                f"<description>{OUTLETS[key]}</description>{''.join(items)}</channel></rss>"
            )
            srv.set("/rss.xml", Resource(rss.encode(), "application/rss+xml; charset=utf-8"))

    def feeds(self, keys: tuple[str, ...] = tuple(OUTLETS)) -> list[FeedConfig]:
        return [
            FeedConfig(name=OUTLETS[k], url=self.srv[k].url("/rss.xml"), language=LANG[k])
            for k in keys
        ]

    def stop(self) -> None:
        for s in self.srv.values():
            s.stop()


@pytest.fixture(scope="module")
def outlets() -> Iterator[Outlets]:
    o = Outlets()
    yield o
    o.stop()


@pytest.fixture(scope="module")
def hook() -> Iterator[Webhook]:
    h = Webhook().start()
    yield h
    h.stop()


def make_settings(db_url: str, outlets: Outlets, hook: Webhook, **kw: Any) -> Settings:
    return Settings(
        storage=StorageConfig(url=db_url),
        http=HttpConfig(allow_private_networks=True, per_host_delay=0, backoff_base=0, retries=1),
        feeds=kw.pop("feeds", None) or outlets.feeds(),
        channels=[ChannelConfig(url=f"json://127.0.0.1:{hook.port}/hook", name="desk")],
        **kw,
    )


def posts(hook: Webhook, since: int = 0) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in hook.delivered()[since:]]


def slug_in(msg: dict[str, Any], outlets: Outlets) -> str:
    """The article an alert links to."""
    found = [s for u, s in outlets.slug_of.items() if u in msg["message"]]
    assert len(found) == 1, msg["message"]
    return found[0]


def groups(store: Store, outlets: Outlets, event: str | None = None) -> dict[str, int | None]:
    """slug -> event id of the stored articles (of one scenario event when given)."""
    with store.connect() as conn:
        rows = conn.execute(select(t.items.c.url, t.items.c.event_id)).all()
    out = {outlets.slug_of[r.url]: r.event_id for r in rows if r.url in outlets.slug_of}
    want = {p.slug for p in ARTICLES if event is None or p.event == event}
    return {s: e for s, e in out.items() if s in want}


def partition(g: dict[str, int | None]) -> set[frozenset[str]]:
    by: dict[int | None, set[str]] = {}
    for s, e in g.items():
        by.setdefault(e, set()).add(s)
    return {frozenset(v) for v in by.values()}


EVENT_SLUGS = {p.slug for p in ARTICLES if p.event != "none"}


# ---------------------------------------------------------------------------- live cycles
def test_three_waves_alert_once_per_event_update_once_and_survive_a_restart(
    tmp_path: Path, outlets: Outlets, hook: Webhook
) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'live.db'}", outlets, hook)
    start = len(hook.delivered())

    # wave 1: the first report of each happening, in English and in Russian, and other news
    outlets.publish(1)
    ctx = Context.open(settings)
    run_cycle(settings, ctx=ctx)
    first = posts(hook, start)
    assert sorted(slug_in(m, outlets) for m in first) == ["am-az-first-en", "kg-tj-first-ru"]
    assert all(m["title"].startswith("[border_clash] ") for m in first)
    assert not any("Update" in m["title"] for m in first)
    assert all("Event carried by 1 outlet" in m["message"] for m in first)
    ids1 = groups(ctx.store, outlets)
    assert ids1["am-az-first-en"] != ids1["kg-tj-first-ru"]
    ctx.close()

    # restart: wave 2 in a new process context; more outlets and languages join the events,
    # and the higher death toll of the Armenian-Azerbaijani clash is one update
    outlets.publish(2)
    ctx = Context.open(settings)
    run_cycle(settings, ctx=ctx)
    second = posts(hook, start + len(first))
    assert [m["title"].split(" ", 2)[:2] for m in second] == [["[border_clash]", "Update:"]]
    assert slug_in(second[0], outlets) == "am-az-toll-en"
    assert "casualty figure now" in second[0]["message"]
    g = groups(ctx.store, outlets)
    assert g["am-az-second-ru"] == g["am-az-toll-en"] == ids1["am-az-first-en"]
    assert g["kg-tj-second-de"] == ids1["kg-tj-first-ru"]

    # wave 3: more coverage only, nothing new to say
    outlets.publish(3)
    run_cycle(settings, ctx=ctx)
    assert posts(hook, start + len(first) + len(second)) == []
    g = groups(ctx.store, outlets)
    am_az = {g[s] for s in EVENT_SLUGS if s.startswith("am-az")}
    kg_tj = {g[s] for s in EVENT_SLUGS if s.startswith("kg-tj")}
    assert len(am_az) == 1 and len(kg_tj) == 1 and am_az != kg_tj
    am_az_id = next(iter(am_az))
    assert not any(g[s] is not None for s in ("grain-de", "chess-ru"))

    # the read API and the outbox agree: one first alert per event, one update
    events = {e.event_id: e for e in list_events(ctx.store)}
    ev = events[am_az_id]
    assert ev.categories == ("border_clash",) and ev.alerted == {"border_clash": True}
    assert set(ev.languages) == {"en", "ru", "de"} and len(ev.outlets) == 3
    assert ev.title == "Armenian and Azerbaijani troops exchange fire near Sotk"
    assert {"armenia", "azerbaijan"} <= set(ev.actors) and ev.max_casualties == 6
    detail = get_event(ctx.store, ev.event_id)
    assert detail is not None
    assert [(a.kind, a.seq, a.status) for a in detail.alerts] == [
        ("alert", 0, "sent"),
        ("update", 1, "sent"),
    ]
    assert detail.alerts[1].material == ("casualties_rose",)
    assert len(detail.articles) >= 4 and detail.evidence.get("border_clash")

    # the digest lists events, not articles, and the events that grew since their alert
    digest = build_digest(ctx.store, settings, datetime.now(UTC)).channels[0]
    section = {e.event_id: e for e in digest.sections["border_clash"]}
    assert set(section) == {ev.event_id} | kg_tj
    assert sorted(section[ev.event_id].languages) == ["de", "en", "ru"]
    assert {e.event_id for e in digest.grew} == {ev.event_id} | kg_tj
    assert "3 languages (de, en, ru)" in digest.message.text
    assert digest.message.title.endswith(": 2 events in 24 h")
    ctx.close()

    # the CLI contract: `events --json` and `items --json` with event_id
    cfg = tmp_path / "rw.toml"
    cfg.write_text(f'[storage]\nurl = "sqlite:///{tmp_path / "live.db"}"\n')
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REGIONWATCH_CONFIG": str(cfg)}
    out = subprocess.run(
        [sys.executable, "-m", "flows.cli", "events", "--json", "--category", "border_clash"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    rows = [json.loads(x) for x in out.stdout.decode().splitlines()]
    assert len(rows) == 2
    keys = {"event_id", "categories", "title", "actors", "first_seen", "last_seen"}
    keys |= {"published_first", "articles", "outlets", "languages", "alerted"}
    assert all(keys <= set(r) for r in rows)
    assert {r["event_id"] for r in rows} == set(events) & {r["event_id"] for r in rows}
    items = subprocess.run(
        [sys.executable, "-m", "flows.cli", "items", "--json"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert items.returncode == 0, items.stderr.decode()[-2000:]
    by_url = {r["url"]: r for r in map(json.loads, items.stdout.decode().splitlines())}
    for slug in EVENT_SLUGS:
        row = by_url[outlets.urls[slug]]
        assert row["event_id"] == g[slug] and "story_id" in row
    assert "event_id" not in by_url[outlets.urls["chess-ru"]]


def test_updates_off_sends_only_first_alerts(
    tmp_path: Path, outlets: Outlets, hook: Webhook
) -> None:
    from regionwatch.settings import AlertsConfig

    settings = make_settings(
        f"sqlite:///{tmp_path / 'quiet.db'}", outlets, hook, alerts=AlertsConfig(updates=False)
    )
    start = len(hook.delivered())
    outlets.publish(1)
    run_cycle(settings)
    outlets.publish(2)
    run_cycle(settings)
    titles = [m["title"] for m in posts(hook, start)]
    assert len(titles) == 2 and not any("Update:" in x for x in titles)


def test_no_update_before_the_first_alert_went_out(
    tmp_path: Path, outlets: Outlets, hook: Webhook
) -> None:
    from regionwatch.settings import AlertsConfig

    settings = make_settings(
        f"sqlite:///{tmp_path / 'down.db'}",
        outlets,
        hook,
        alerts=AlertsConfig(retry_base_seconds=0),
    )
    start = len(hook.delivered())
    hook.fail_next = 10**6  # the channel is down while the events develop
    try:
        outlets.publish(1)
        run_cycle(settings)
        outlets.publish(2)
        run_cycle(settings)
    finally:
        hook.fail_next = 0
    run_cycle(settings)  # the channel is back: the queued first alerts go out, no update
    got = posts(hook, start)
    assert sorted(slug_in(m, outlets) for m in got) == ["am-az-first-en", "kg-tj-first-ru"]
    assert not any("Update" in m["title"] for m in got)
    # the first alert shows the event as it is when it goes out: three outlets, the new toll
    (am_az,) = [m for m in got if slug_in(m, outlets) == "am-az-first-en"]
    assert "Event carried by 2 outlets in 2 languages (en, ru)" in am_az["message"]
    assert "highest casualty figure reported: 6" in am_az["message"]


# ---------------------------------------------------------------------------- backfill
def test_backfill_of_the_same_days_forms_the_same_events_and_alerts_nothing(
    tmp_path: Path, outlets: Outlets, hook: Webhook
) -> None:
    outlets.publish(3)
    live = make_settings(f"sqlite:///{tmp_path / 'live.db'}", outlets, hook)
    for _ in range(2):
        run_cycle(live)
    store = Store(live.storage.url)
    want = partition(groups(store, outlets))
    store.close()

    settings = make_settings(f"sqlite:///{tmp_path / 'archive.db'}", outlets, hook)
    start = len(hook.requests(method="POST"))
    stored = 0
    # two runs, each in a new process context: waves 1-2, then wave 3 after a "restart"
    for run, waves in enumerate(((1, 2), (3,))):
        urls = tmp_path / f"urls{run}.txt"
        urls.write_text(
            "".join(
                f"{outlets.urls[p.slug]}\t{published(p).date().isoformat()}\n"
                for p in ARTICLES
                if p.wave in waves
            )
        )
        ctx = Context.open(settings)
        try:
            rep = asyncio.run(
                run_backfill(
                    ctx,
                    since=(BASE - timedelta(days=1)).date(),
                    until=NOW.date(),
                    mode="urls",
                    urls_file=urls,
                )
            )
            stored += rep.stored
            got = groups(ctx.store, outlets)
            with ctx.store.connect() as conn:
                n_alerts = conn.execute(select(func.count()).select_from(t.alerts)).scalar()
        finally:
            ctx.close()
    assert stored == len(ARTICLES)
    assert n_alerts == 0 and len(hook.requests(method="POST")) == start
    only_events = {s for s in got if s in EVENT_SLUGS}
    assert partition({s: got[s] for s in only_events}) == {
        p & only_events for p in want if p & only_events
    }


# ---------------------------------------------------------------------------- two workers
WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from regionwatch.pipeline import Context, run_cycle
    from regionwatch.settings import load_settings

    cfg, ready, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    settings = load_settings(cfg)
    ctx = Context.open(settings)
    run_cycle(settings, ctx=ctx)  # wave 1: this worker's index is loaded
    ready.write_text("ready")
    while not go.exists():
        time.sleep(0.05)
    run_cycle(settings, ctx=ctx)  # wave 2: both save at once
    ctx.close()
    """
)


@pytest.mark.postgres
def test_two_workers_on_one_postgres_store_open_one_event_and_alert_once(
    tmp_path: Path, outlets: Outlets, hook: Webhook, fresh_pg: str
) -> None:
    # each worker polls its own outlet; in wave 2 both outlets carry the same clash
    first = {"kg-tj-first-ru", "grain-de"}
    both = first | {"am-az-second-ru", "am-az-third-de"}
    outlets.publish(1, only=first)
    start = len(hook.delivered())
    procs, readies = [], []
    go = tmp_path / "go"
    for key in ("vostok", "donau"):
        cfg = tmp_path / f"{key}.toml"
        cfg.write_text(
            textwrap.dedent(
                f"""
                [storage]
                url = "{fresh_pg}"
                [http]
                allow_private_networks = true
                per_host_delay = 0
                [[feeds]]
                name = "{OUTLETS[key]}"
                url = "{outlets.srv[key].url("/rss.xml")}"
                language = "{LANG[key]}"
                [[channels]]
                name = "desk"
                url = "json://127.0.0.1:{hook.port}/hook"
                """
            )
        )
        ready = tmp_path / f"{key}.ready"
        readies.append(ready)
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", WORKER, str(cfg), str(ready), str(go)],
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                cwd=ROOT,
                stderr=subprocess.PIPE,
            )
        )
    try:
        deadline = time.monotonic() + 240
        while not all(r.exists() for r in readies):
            assert time.monotonic() < deadline, "workers did not finish wave 1"
            assert all(p.poll() is None for p in procs), [p.stderr.read() for p in procs]  # type: ignore[union-attr]
            time.sleep(0.1)
        outlets.publish(3, only=both)
        go.write_text("go")
        for p in procs:
            _out, err = p.communicate(timeout=240)
            assert p.returncode == 0, err.decode()[-2000:]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    store = Store(fresh_pg)
    try:
        g = groups(store, outlets)
    finally:
        store.close()
    assert g["am-az-second-ru"] is not None and g["am-az-second-ru"] == g["am-az-third-de"]
    am_az = [m for m in posts(hook, start) if slug_in(m, outlets).startswith("am-az")]
    assert len(am_az) == 1 and not am_az[0]["title"].startswith("[border_clash] Update")
