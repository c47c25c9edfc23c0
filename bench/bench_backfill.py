"""Backfill throughput and memory: N article pages from a loopback site, sitemaps → store.

The parent process serves a synthetic outlet on 127.0.0.1 (robots.txt → sitemap index →
one gzipped Google News sitemap per day of 100 pages, pages generated on request); one child
process backfills all ``--pages`` (default 5,000, ``RW_BENCH_BACKFILL_PAGES``) into a new SQLite
store through ``regionwatch.backfill.run_backfill`` (the real pipeline: fetch → extract → tag →
cluster → store). Its progress callback samples ``/proc/self/status`` (VmHWM = peak RSS so far,
VmRSS = current) and the elapsed time when the run passes each mark (default 1,000 / 2,500 /
5,000 pages), so one run gives pages per minute and memory at every mark. Rows are printed as
they arrive, so a timed-out run still leaves its partial table. Politeness is relaxed for
loopback (``per_host_delay = 0``, ``per_host_concurrency = 8``).

Usage: ``.venv/bin/python bench/bench_backfill.py [--pages 5000 --marks 1000,2500,5000]``
Prints a Markdown section for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from common import ROOT, knob, log, target_line

PER_DAY = 100
CHUNK = 50
LIMIT_MB = 500
FLAT_MB = 25  # "flat": peak RSS at the last mark within +25 MB or +10 % of the first mark's
FLAT_SHARE = 0.10
DAY0 = date(2022, 1, 1)
WORDS = [
    "delegation",
    "ministry",
    "talks",
    "village",
    "district",
    "observers",
    "convoy",
    "statement",
    "parliament",
    "officials",
    "envoy",
    "agreement",
    "residents",
    "monitoring",
    "mission",
    "spokesperson",
    "negotiators",
    "road",
    "checkpoint",
    "region",
    "meeting",
    "summit",
    "report",
    "council",
    "inspection",
    "harvest",
    "bridge",
    "reservoir",
    "elections",
    "budget",
    "reform",
    "school",
    "hospital",
    "railway",
    "pipeline",
    "customs",
    "tariff",
    "market",
    "border",
    "ceasefire",
    "shelling",
    "troops",
    "treaty",
    "alliance",
    "exercise",
    "drills",
    "garrison",
    "patrol",
    "governor",
    "mayor",
    "court",
    "protest",
    "strike",
    "factory",
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
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/'
            'schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            + "".join(urls)
            + "</urlset>"
        )
        srv.set(
            f"/sitemaps/{day}.xml.gz", Resource(gzip.compress(xml.encode()), "application/x-gzip")
        )
        index.append(
            f"<sitemap><loc>{b}/sitemaps/{day}.xml.gz</loc>"
            f"<lastmod>{day}T23:59:00+00:00</lastmod></sitemap>"
        )
    srv.set(
        "/sitemap_index.xml",
        Resource(
            (
                '<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/'
                'schemas/sitemap/0.9">' + "".join(index) + "</sitemapindex>"
            ).encode(),
            "application/xml",
        ),
    )
    srv.set(
        "/robots.txt",
        Resource(f"User-agent: *\nSitemap: {b}/sitemap_index.xml\n".encode(), "text/plain"),
    )
    feed = b'<rss version="2.0"><channel><title>Bench</title></channel></rss>'
    srv.set("/feed.xml", Resource(feed, "application/rss+xml"))
    return srv


# ---------------------------------------------------------------------------- child
def proc_status_mb(field: str) -> float:
    """A ``/proc/self/status`` memory field (``VmRSS``, ``VmHWM``) in MB (10^6 bytes)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024 / 1e6
    return float("nan")


def child(base: str, n: int, db: str, marks: list[int]) -> None:
    """Backfill the first ``n`` pages once; one JSON line on stdout per mark, then a summary."""
    from regionwatch.backfill import BackfillProgress, run_backfill
    from regionwatch.pipeline import Context
    from regionwatch.settings import BackfillConfig, FeedConfig, HttpConfig, Settings, StorageConfig

    settings = Settings(
        storage=StorageConfig(url=f"sqlite:///{db}"),
        http=HttpConfig(
            allow_private_networks=True,
            per_host_delay=0,
            per_host_concurrency=8,
            max_connections=16,
        ),
        feeds=[FeedConfig(name="Bench Herald", url=base + "/feed.xml", language="en")],
        backfill=BackfillConfig(chunk_size=CHUNK),
    )
    ctx = Context.open(settings)
    _ = ctx.tagger  # build the tagger before timing (loading spaCy is not backfill work)
    start_rss = proc_status_mb("VmRSS")
    pending = sorted(marks)
    t0 = time.perf_counter()
    last = [0, t0]

    def emit(kind: str, pages: int, p: BackfillProgress | None) -> None:
        now = time.perf_counter()
        seg_pages, seg_s = pages - last[0], now - last[1]
        last[:] = [pages, now]
        row = {
            "kind": kind,
            "pages": pages,
            "wall": now - t0,
            "seg_ppm": seg_pages / seg_s * 60 if seg_s > 0 else 0.0,
            "rss": proc_status_mb("VmRSS"),
            "hwm": proc_status_mb("VmHWM"),
            "start_rss": start_rss,
            "stored": p.stored if p else 0,
            "failed": p.failed if p else 0,
        }
        sys.stdout.write(json.dumps(row) + "\n")
        sys.stdout.flush()

    def progress(p: BackfillProgress) -> None:
        if p.phase == "discovered":
            emit("discovered", 0, p)
            last[1] = time.perf_counter()
            return
        while pending and p.urls_done >= pending[0]:
            emit("mark", pending.pop(0), p)

    since = DAY0
    until = DAY0 + timedelta(days=(n + PER_DAY - 1) // PER_DAY - 1)
    rep = asyncio.run(
        run_backfill(ctx, since=since, until=until, sources=ctx.sources, progress=progress)
    )
    wall = time.perf_counter() - t0
    ctx.close()
    sys.stdout.write(
        json.dumps(
            {
                "kind": "done",
                "found": rep.found,
                "stored": rep.stored,
                "failed": rep.failed,
                "wall": wall,
                "hwm": proc_status_mb("VmHWM"),
            }
        )
        + "\n"
    )


# ---------------------------------------------------------------------------- parent
def main() -> None:
    """Serve the site, run one backfill child, print its marks as they arrive (markdown)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=knob("RW_BENCH_BACKFILL_PAGES", 5000))
    ap.add_argument("--marks", default="1000,2500,5000")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--base")
    ap.add_argument("--db")
    args = ap.parse_args()
    marks = sorted(
        {int(x) for x in args.marks.split(",") if x.strip() and int(x) <= args.pages} | {args.pages}
    )
    if args.child:
        child(args.base, args.pages, args.db, marks)
        return
    srv = serve(args.pages)
    rows: dict[int, dict[str, float]] = {}
    done: dict[str, float] = {}
    print(
        f"One backfill of {args.pages:,} pages (sitemaps → fetch → extract → tag → cluster → "
        f"store) from a loopback site served by the parent process, in a child process that "
        f"samples its own memory from `/proc/self/status` when the progress callback passes "
        f"each mark (chunk {CHUNK}, so marks fall on chunk boundaries): **peak RSS** = VmHWM, "
        f"the kernel's high-water mark since the child started (tagger and spaCy are loaded "
        f"before the run; first row), current RSS = VmRSS. SQLite store, per-host "
        f"concurrency 8, delay 0, {os.cpu_count()} cores, Python {sys.version.split()[0]}.\n"
    )
    print(
        "| pages | wall s | pages/min (cumulative) | pages/min (since last mark) "
        "| RSS MB | peak RSS MB |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    try:
        with tempfile.TemporaryDirectory(prefix="rw-bench-backfill-") as tmp:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    "--base",
                    srv.base,
                    "--pages",
                    str(args.pages),
                    "--marks",
                    ",".join(map(str, marks)),
                    "--db",
                    os.path.join(tmp, "bf.db"),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            assert proc.stdout is not None
            for line in proc.stdout:
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                if r["kind"] == "discovered":
                    print(
                        f"| 0 (after discovery, before the first page; start "
                        f"{r['start_rss']:.0f}) | {r['wall']:.1f} | – | – | {r['rss']:.0f} "
                        f"| {r['hwm']:.0f} |"
                    )
                elif r["kind"] == "mark":
                    rows[int(r["pages"])] = r
                    cum = r["pages"] / r["wall"] * 60 if r["wall"] else 0.0
                    print(
                        f"| {r['pages']:,} | {r['wall']:.1f} | {cum:,.0f} | {r['seg_ppm']:,.0f} "
                        f"| {r['rss']:.0f} | {r['hwm']:.0f} |"
                    )
                else:
                    done = r
                log(f"backfill: {r}")
            err = proc.stderr.read() if proc.stderr else ""
            if proc.wait() != 0:
                sys.stderr.write(err[-3000:])
                print(
                    f"\n**The backfill child exited {proc.returncode}** (last stderr lines in "
                    f"bench/out/backfill.log)."
                )
    finally:
        srv.stop()
    print()
    if done:
        print(
            f"Backfill report: {done['found']:,.0f} found, {done['stored']:,.0f} stored, "
            f"{done['failed']:,.0f} failed in {done['wall']:.1f} s "
            f"= **{done['stored'] / done['wall'] * 60:,.0f} pages/min**.\n"
        )
    if len(rows) >= 2:
        first, final = rows[min(rows)], rows[max(rows)]
        peak = final["hwm"]
        growth = final["hwm"] - first["hwm"]
        flat = growth <= max(FLAT_MB, FLAT_SHARE * first["hwm"])
        print(
            target_line(
                f"backfill peak RSS ≤ {LIMIT_MB} MB",
                peak <= LIMIT_MB,
                f"{peak:.0f} MB at {max(rows):,} pages",
            )
        )
        print(
            target_line(
                "backfill peak RSS flat from 1,000 to 5,000 pages",
                flat,
                f"{first['hwm']:.0f} → {final['hwm']:.0f} MB ({growth:+.0f} MB; flat ="
                f" ≤ +{FLAT_MB} MB or +{FLAT_SHARE:.0%})",
            )
        )
        ppm = done.get("stored", 0) / max(done.get("wall", 1.0), 1e-9) * 60
        print(f"<!-- metric backfill_ppm={ppm:.0f} backfill_peak_mb={peak:.0f} -->")
    else:
        print(
            target_line(
                f"backfill peak RSS ≤ {LIMIT_MB} MB, flat",
                None,
                "not measured: fewer than two marks reached",
            )
        )


if __name__ == "__main__":
    main()
