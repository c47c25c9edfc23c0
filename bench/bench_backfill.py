"""Backfill throughput and memory: N article pages from a loopback site, sitemaps → store.

The parent process serves a synthetic outlet on 127.0.0.1 (robots.txt → sitemap index →
one gzipped Google News sitemap per day of 100 pages, pages generated on request); for each
size a fresh child process backfills the first N pages into a new SQLite store through
``regionwatch.backfill.run_backfill`` (the real pipeline: fetch → extract → tag → cluster →
store) and reports wall time and its peak RSS. Politeness is relaxed for loopback
(``per_host_delay = 0``, ``per_host_concurrency = 8``).

Usage: ``.venv/bin/python bench/bench_backfill.py [--sizes 1000,2500,5000]``
Prints a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PER_DAY = 100
DAY0 = date(2022, 1, 1)
WORDS = [
    "delegation", "ministry", "talks", "village", "district", "observers", "convoy", "statement",
    "parliament", "officials", "envoy", "agreement", "residents", "monitoring", "mission",
    "spokesperson", "negotiators", "road", "checkpoint", "region", "meeting", "summit", "report",
    "council", "inspection", "harvest", "bridge", "reservoir", "elections", "budget", "reform",
    "school", "hospital", "railway", "pipeline", "customs", "tariff", "market", "border",
    "ceasefire", "shelling", "troops", "treaty", "alliance", "exercise", "drills", "garrison",
    "patrol", "governor", "mayor", "court", "protest", "strike", "factory",
]
LEADS = [
    "Forces exchanged fire along the border overnight and shelling of two villages was reported.",
    "Both sides said a ceasefire brokered by Moscow held for a second day.",
    "The CSTO secretary general met defence ministers ahead of joint exercises.",
    "The regional council approved a budget for road repairs and a new school.",
    "Customs officers reported longer queues at the crossing after new rules took effect.",
]


def page_time(n: int) -> datetime:
    day = DAY0 + timedelta(days=n // PER_DAY)
    start = datetime(day.year, day.month, day.day, 6, tzinfo=UTC)
    return start + timedelta(minutes=(n % PER_DAY) * 7)


def page_html(n: int, url: str) -> bytes:
    rng = random.Random(n)
    paras = [LEADS[n % len(LEADS)]] + [
        " ".join(" ".join(rng.sample(WORDS, 11)).capitalize() + "." for _ in range(5))
        for _ in range(8)
    ]
    dt = page_time(n)
    body = "\n".join(f"<p>{p}</p>" for p in paras)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Report {n} | Bench'
        f' Herald</title><meta property="article:published_time" content="{dt.isoformat()}">'
        f'<link rel="canonical" href="{url}"></head><body><nav><a href="/">Home</a></nav><main>'
        f"<article><h1>Report number {n} from the district</h1>{body}</article></main>"
        "<footer>Bench Herald</footer></body></html>"
    ).encode()


# ---------------------------------------------------------------------------- server (parent)
def serve(n_max: int):  # type: ignore[no-untyped-def]
    from tests.loopback import LoopServer, Resource

    srv = LoopServer().start()
    b = srv.base

    def article(h, req):  # type: ignore[no-untyped-def]
        path = urlsplit(req.path).path
        try:
            n = int(path.rsplit("-", 1)[1].split(".")[0])
        except (IndexError, ValueError):
            h.reply(404, b"no", req=req)
            return
        h.reply(200, page_html(n, b + path), "text/html; charset=utf-8", req=req)

    days = (n_max + PER_DAY - 1) // PER_DAY
    index = []
    for d in range(days):
        day = DAY0 + timedelta(days=d)
        urls = []
        for n in range(d * PER_DAY, min(n_max, (d + 1) * PER_DAY)):
            path = f"/news/{day:%Y/%m/%d}/report-{n}.html"
            srv.set(path, article)
            urls.append(
                f"<url><loc>{b}{path}</loc><news:news><news:publication><news:name>Bench"
                f"</news:name><news:language>en</news:language></news:publication>"
                f"<news:publication_date>{page_time(n).isoformat()}</news:publication_date>"
                f"<news:title>Report number {n}</news:title></news:news></url>"
            )
        xml = ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/'
               'schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
               + "".join(urls) + "</urlset>")
        srv.set(f"/sitemaps/{day}.xml.gz",
                Resource(gzip.compress(xml.encode()), "application/x-gzip"))
        index.append(f"<sitemap><loc>{b}/sitemaps/{day}.xml.gz</loc>"
                     f"<lastmod>{day}T23:59:00+00:00</lastmod></sitemap>")
    srv.set("/sitemap_index.xml", Resource((
        '<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/'
        'schemas/sitemap/0.9">' + "".join(index) + "</sitemapindex>").encode(), "application/xml"))
    srv.set("/robots.txt", Resource(f"User-agent: *\nSitemap: {b}/sitemap_index.xml\n".encode(),
                                    "text/plain"))
    feed = b'<rss version="2.0"><channel><title>Bench</title></channel></rss>'
    srv.set("/feed.xml", Resource(feed, "application/rss+xml"))
    return srv


# ---------------------------------------------------------------------------- child
def child(base: str, n: int, db: str) -> dict[str, object]:
    from regionwatch.backfill import run_backfill
    from regionwatch.pipeline import Context
    from regionwatch.settings import BackfillConfig, FeedConfig, HttpConfig, Settings, StorageConfig

    settings = Settings(
        storage=StorageConfig(url=f"sqlite:///{db}"),
        http=HttpConfig(allow_private_networks=True, per_host_delay=0, per_host_concurrency=8,
                        max_connections=16),
        feeds=[FeedConfig(name="Bench Herald", url=base + "/feed.xml", language="en")],
        backfill=BackfillConfig(chunk_size=50),
    )
    ctx = Context.open(settings)
    _ = ctx.tagger  # build the tagger before timing (loading spaCy is not backfill work)
    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    since = DAY0
    until = DAY0 + timedelta(days=(n + PER_DAY - 1) // PER_DAY - 1)
    t0 = time.perf_counter()
    rep = asyncio.run(run_backfill(ctx, since=since, until=until, sources=ctx.sources))
    wall = time.perf_counter() - t0
    ctx.close()
    return {
        "n": n, "found": rep.found, "stored": rep.stored, "failed": rep.failed, "wall": wall,
        "rss_start_mb": rss_start / 1024,
        "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,2500,5000")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--base")
    ap.add_argument("--n", type=int)
    ap.add_argument("--db")
    args = ap.parse_args()
    if args.child:
        sys.stdout.write(json.dumps(child(args.base, args.n, args.db)) + "\n")
        return
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    srv = serve(max(sizes))
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="rw-bench-backfill-") as tmp:
            for n in sizes:
                db = os.path.join(tmp, f"bf-{n}.db")
                out = subprocess.run(
                    [sys.executable, __file__, "--child", "--base", srv.base, "--n", str(n),
                     "--db", db],
                    capture_output=True, text=True, cwd=ROOT, check=False,
                    env={**os.environ, "PYTHONPATH": str(ROOT)},
                )
                if out.returncode != 0:
                    sys.stderr.write(out.stderr[-3000:])
                    raise SystemExit(f"child for n={n} failed")
                r = json.loads(out.stdout.strip().splitlines()[-1])
                rows.append(r)
                print(f"n={n}: {r}", file=sys.stderr)
    finally:
        srv.stop()
    print(f"\n### Backfill from a loopback site ({os.cpu_count()} cores, Python "
          f"{sys.version.split()[0]}, SQLite, chunk 50, per-host concurrency 8, delay 0)\n")
    print("| pages | found | stored | failed | wall s | pages/min | RSS before MB | peak RSS MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        ppm = r["stored"] / r["wall"] * 60 if r["wall"] else 0
        print(f"| {r['n']:,} | {r['found']:,} | {r['stored']:,} | {r['failed']} | {r['wall']:.1f} "
              f"| {ppm:,.0f} | {r['rss_start_mb']:.0f} | {r['rss_peak_mb']:.0f} |")


if __name__ == "__main__":
    main()
