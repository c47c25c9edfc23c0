"""Console pages on a big store: the events page and an event page, server time.

Target (issue 15): the events page (``/``) and an event page (``/events/{id}``) answer in
≤ 150 ms server time with 100,000 items stored, on SQLite and on PostgreSQL.

The store is filled directly through the schema (bulk inserts: 100,000 items with tags and
evidence, grouped 5 to an event over 60 days, 10 outlets, three languages, alert rows for one
event in ten), then the real console (``web.create_app``) is served by uvicorn on loopback and
requested over HTTP. Server time is the ``Server-Timing: app;dur=`` the console sets around each
request (routing, queries, template rendering); the wall time on the client is shown beside it.

Knobs: ``RW_BENCH_WEB_ITEMS`` (100000), ``RW_BENCH_WEB_REQUESTS`` (40 per page kind).
PostgreSQL runs when ``REGIONWATCH_TEST_PG_URL`` is set (a database ``rw_bench_web`` is made).
"""

from __future__ import annotations

import os
import random
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from common import OUT_DIR, knob, log, md_table, target_line

from regionwatch.settings import Settings, StorageConfig, WebConfig
from regionwatch.store import Store
from regionwatch.store import schema as t

TARGET_MS = 150.0
CATS = ("csto", "ceasefire", "border_clash")
PARTIES = ("armenia", "azerbaijan", "kyrgyzstan", "tajikistan", "russia", "georgia", "kazakhstan")
LANGS = ("en", "ru", "hy")
VOCABULARY = (
    "forces exchanged fire near the border village overnight the defence ministry said two "
    "soldiers were wounded both sides accused each other talks on a ceasefire continued in "
    "the capital officials of the security treaty met to discuss joint exercises"
)
WORDS = tuple(VOCABULARY.split(" "))


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def fill(store: Store, n_items: int) -> list[int]:
    """Bulk-fill the store; returns the event ids."""
    rng = random.Random(15)
    now = datetime.now(UTC)
    outlets = [f"Outlet {i}" for i in range(10)]
    per_event = 5
    n_events = n_items // per_event
    with store.begin() as conn:
        conn.execute(
            t.feeds.insert(),
            [
                {"name": o, "url": f"http://127.0.0.1:9/{i}.xml", "kind": "feed"}
                for i, o in enumerate(outlets)
            ],
        )
        ev_rows = []
        for _e in range(n_events):
            when = now - timedelta(minutes=rng.randrange(60 * 24 * 60))
            cats = [rng.choice(CATS)] if rng.random() < 0.9 else list(rng.sample(CATS, 2))
            ev_rows.append(
                {
                    "first_seen_at": when,
                    "last_seen_at": when + timedelta(hours=2),
                    "published_first": when,
                    "time_first": when,
                    "time_last": when + timedelta(hours=2),
                    "categories": cats,
                    "actors": rng.sample(PARTIES, 2),
                    "places": [],
                    "title": _text(rng, 10),
                    "item_count": per_event,
                    "outlets": rng.sample(outlets, 3),
                    "languages": rng.sample(LANGS, 2),
                    "phases": [],
                    "updates": [],
                    "alerted_item_count": 0,
                    "changed_at": when,
                }
            )
        for i in range(0, len(ev_rows), 2000):
            conn.execute(t.events.insert(), ev_rows[i : i + 2000])
        story_rows = [
            {
                "first_seen_at": r["first_seen_at"],
                "last_seen_at": r["last_seen_at"],
                "title": r["title"],
                "item_count": per_event,
                "outlets": r["outlets"],
                "categories": r["categories"],
            }
            for r in ev_rows
        ]
        for i in range(0, len(story_rows), 2000):
            conn.execute(t.stories.insert(), story_rows[i : i + 2000])
        event_ids = [
            int(r[0]) for r in conn.execute(t.events.select().with_only_columns(t.events.c.id))
        ]
    log(f"{len(event_ids)} events stored")
    batch: list[dict[str, Any]] = []
    n = 0
    for eid in event_ids:
        for _k in range(per_event):
            n += 1
            when = now - timedelta(minutes=rng.randrange(60 * 24 * 60))
            title = _text(rng, 11)
            body = "\n".join(_text(rng, 18) for _ in range(5))
            cat = rng.choice(CATS)
            sentence = _text(rng, 14)
            batch.append(
                {
                    "url_hash": f"{n:032x}",
                    "url": f"http://127.0.0.1:9/a/{n}.html",
                    "canonical_url": f"http://127.0.0.1:9/a/{n}.html",
                    "feed_name": outlets[n % 10],
                    "title": title,
                    "summary": body[:200],
                    "text": body,
                    "text_source": "page",
                    "language": LANGS[n % 3],
                    "published_at": when,
                    "first_seen_at": when,
                    "origin": "feed",
                    "event_id": eid,
                    "story_id": eid,
                    "categories": [cat],
                    "baseline": False,
                    "tags": {
                        "actors": [
                            {"slug": p, "name": p.title(), "mentions": 2} for p in PARTIES[:3]
                        ],
                        "categories": {
                            cat: {
                                "score": 0.8,
                                "decision": True,
                                "evidence": [
                                    {
                                        "sentence": sentence,
                                        "matched": sentence.split()[3],
                                        "start": 0,
                                        "end": 1,
                                    }
                                ],
                            }
                        },
                    },
                }
            )
            if len(batch) >= 5000:
                with store.begin() as conn:
                    conn.execute(t.items.insert(), batch)
                batch = []
                log(f"{n} items stored")
    if batch:
        with store.begin() as conn:
            conn.execute(t.items.insert(), batch)
    alerts = []
    with store.connect() as conn:
        leads = dict(
            conn.execute(
                t.items.select()
                .with_only_columns(t.items.c.event_id, t.items.c.id)
                .where(t.items.c.event_id.in_(event_ids[::10]))
            ).all()
        )
    for eid, item_id in leads.items():
        when = now - timedelta(minutes=rng.randrange(60 * 24 * 60))
        alerts.append(
            {
                "story_id": eid,
                "event_id": eid,
                "item_id": item_id,
                "category": rng.choice(CATS),
                "rule": "default",
                "channel": "desk",
                "status": "sent",
                "attempts": 1,
                "created_at": when,
                "next_attempt_at": when,
                "sent_at": when,
                "kind": "alert",
                "seq": 0,
            }
        )
    if alerts:
        with store.begin() as conn:
            conn.execute(t.alerts.insert(), alerts)
    if store.dialect == "postgresql":
        with store.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    return event_ids


def serve(settings: Settings, store: Store, port: int) -> Any:
    import uvicorn

    from web.app import create_app

    app = create_app(settings, store)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    threading.Thread(target=server.run, daemon=True).start()
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("console did not start")


def measure(base: str, paths: list[str], warm: bool = True) -> tuple[list[float], list[float]]:
    server, wall = [], []
    with httpx.Client(base_url=base, timeout=60) as c:
        for p in paths[:3] if warm else []:
            c.get(p)  # warm-up
        for p in paths:
            t0 = time.perf_counter()
            r = c.get(p)
            wall.append((time.perf_counter() - t0) * 1e3)
            assert r.status_code == 200, (p, r.status_code)
            server.append(float(r.headers["server-timing"].split("dur=")[1]))
    return server, wall


def p95(xs: list[float]) -> float:
    return sorted(xs)[max(0, int(len(xs) * 0.95) - 1)]


def run_one(label: str, url: str, n_items: int, n_req: int, port: int) -> list[list[Any]]:
    store = Store(url)
    t0 = time.perf_counter()
    event_ids = fill(store, n_items)
    log(f"{label}: filled in {time.perf_counter() - t0:.0f} s")
    settings = Settings(storage=StorageConfig(url=url), web=WebConfig(port=port))
    server = serve(settings, store, port)
    rng = random.Random(7)
    # the first request computes the 30-day chart (later ones reuse it for 30 s)
    first, first_wall = measure(f"http://127.0.0.1:{port}", ["/"], warm=False)
    rows = [[label, "events page `/`, first request", 1, first[0], first[0], first_wall[0]]]
    kinds = {
        "events page `/`": ["/"] * n_req,
        "events page, one category": [f"/?category={rng.choice(CATS)}" for _ in range(n_req)],
        "events page, party + language": [
            f"/?actor={rng.choice(PARTIES)}&language={rng.choice(LANGS)}" for _ in range(n_req)
        ],
        "event page `/events/{id}`": [f"/events/{rng.choice(event_ids)}" for _ in range(n_req)],
        "search `/search?q=`": [
            f"/search?q={rng.choice(WORDS)}" for _ in range(max(5, n_req // 4))
        ],
    }
    for kind, paths in kinds.items():
        srv, wall = measure(f"http://127.0.0.1:{port}", paths)
        rows.append(
            [label, kind, len(paths), statistics.median(srv), p95(srv), statistics.median(wall)]
        )
        log(f"{label} {kind}: median {statistics.median(srv):.1f} ms, p95 {p95(srv):.1f} ms")
    server.should_exit = True
    store.close()
    return rows


def main() -> None:
    n_items = knob("RW_BENCH_WEB_ITEMS", 100_000)
    n_req = knob("RW_BENCH_WEB_REQUESTS", 40)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    db = OUT_DIR / "bench_web.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    rows = run_one("SQLite", f"sqlite:///{db}", n_items, n_req, 8791)
    pg = os.environ.get("REGIONWATCH_TEST_PG_URL")
    if pg:
        from sqlalchemy import create_engine, text

        admin = create_engine(pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("DROP DATABASE IF EXISTS rw_bench_web WITH (FORCE)"))
            conn.execute(text("CREATE DATABASE rw_bench_web"))
        admin.dispose()
        url = pg.rsplit("/", 1)[0] + "/rw_bench_web"
        rows += run_one("PostgreSQL", url, n_items, n_req, 8792)
    print(f"## Console pages ({n_items:,} items)\n")
    print(
        "`python bench/bench_web.py`: the console over a store of "
        f"{n_items:,} items ({n_items // 5:,} events, 5 articles each, 60 days), served by "
        "uvicorn on loopback; server time from the console's `Server-Timing` header.\n"
    )
    print(
        md_table(
            ["store", "page", "requests", "server ms median", "server ms p95", "wall ms median"],
            rows,
        )
    )
    print()
    for store_label in sorted({r[0] for r in rows}):
        mine = [
            r
            for r in rows
            if r[0] == store_label and ("events page" in r[1] or "event page" in r[1])
        ]
        worst = max(r[4] for r in mine)
        print(
            target_line(
                f"events page and event page ≤ {TARGET_MS:.0f} ms server time, {store_label}",
                worst <= TARGET_MS,
                f"worst p95 {worst:.1f} ms",
            )
        )
        print()


if __name__ == "__main__":
    main()
