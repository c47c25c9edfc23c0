"""End to end: ``regionwatch run`` on loopback pages against a bare script (issue 12, item 11).

A site on 127.0.0.1 (a child process: our threaded ``http.server`` from ``bench/common.py``)
serves ``RW_BENCH_E2E_LARGE`` generated article pages (default 1,200, ~800 words,
bench/pagegen.py) through RSS feeds of ``RW_BENCH_E2E_ITEMS`` items (default 30), with a
``robots.txt`` that allows everything. The pages are dated 2-30 days ago, so the first cycle
baselines them (no alert is sent: delivery is not what is measured).

* **ours**: ``regionwatch run --no-prefect --json`` (``RW_BENCH_E2E_PREFECT=1`` adds the same
  through the Prefect ``monitor`` flow) on a fresh SQLite store, the feeds of the first
  ``RW_BENCH_E2E_SMALL`` pages (default 300), then of all of them: poll every feed, robots.txt,
  fetch every page, extract, tag, cluster, store, the run record. Politeness off
  (``per_host_delay = 0``, ``per_host_concurrency = max_connections = 16``: every feed and page
  shares one host).
* **bare**: a script doing the unavoidable work on the same pages: one ``httpx.Client``
  fetching each page, ``trafilatura.extract(html, include_comments=False)``, a blank-spaCy
  (``spacy.blank("xx")``) pass over the text.

Every run is its own process, timed from the outside: its CPU time (user + system, from the
child's resource usage) and its wall time. The **marginal cost per article** is (time on the
large set − time on the small set) / (large − small): interpreter start, imports, the tagger's
build and Prefect's server start cancel out. Ours and bare alternate (ABBA over
``RW_BENCH_E2E_ROUNDS`` rounds, default 2), medians are compared. Target: ours ≤ 1.3 × bare,
judged on CPU time: ours overlaps fetching with extraction in threads, so on two cores (or on a
machine other work is loading) its wall time can come out below the single-threaded bare
script's while it costs more; the wall-time ratio is shown beside it. ``RW_BENCH_PROFILE=1``
(or a missed target, unless ``0``) profiles one large ``regionwatch run --no-prefect``
(cProfile of the event loop's thread, ``bench/out/e2e.prof``) and prints its top.

Usage: ``python bench/bench_e2e.py`` (markdown on stdout); the children are
``bench_e2e.py --serve N ITEMS`` and ``bench_e2e.py --bare URLS_FILE``.
"""

from __future__ import annotations

import io
import json
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from common import (
    OUT_DIR,
    ROOT,
    BenchServer,
    ChildSite,
    Res,
    config_lines,
    knob,
    log,
    md_table,
    median,
    rss,
    serve_until_stdin_closes,
    target_line,
)

TARGET = 1.3


# ---------------------------------------------------------------------------- the site (child)
def serve(n: int, items: int) -> None:
    """Serve ``n`` pages in feeds of ``items``; print the base URL; stop when stdin closes."""
    from pagegen import generate_pages

    srv = BenchServer()
    now = datetime.now(UTC)
    pages = generate_pages(
        n,
        seed=23,
        base_url=srv.base,
        base_date=now - timedelta(days=30),
        step=timedelta(days=28) / max(n, 1),
    )
    for f in range((n + items - 1) // items):
        mine = pages[f * items : (f + 1) * items]
        for p in mine:
            srv.routes[urlsplit(p.url).path] = Res(p.content)
        srv.routes[f"/feeds/{f:03d}.xml"] = Res(
            rss(f"feed {f}", reversed(mine)), ctype="application/rss+xml; charset=utf-8"
        )
    srv.routes["/robots.txt"] = Res(b"User-agent: *\nAllow: /\n", ctype="text/plain")
    srv.routes["/urls.txt"] = Res(("\n".join(p.url for p in pages) + "\n").encode())
    serve_until_stdin_closes(srv)


# ---------------------------------------------------------------------------- bare (child)
def bare(urls_file: str) -> None:
    """The unavoidable work: one httpx client fetching each page, extract, blank spaCy."""
    import httpx
    import spacy
    import trafilatura

    nlp = spacy.blank("xx")
    urls = Path(urls_file).read_text(encoding="utf-8").split()
    words = 0
    with httpx.Client(timeout=30) as client:
        for url in urls:
            r = client.get(url)
            r.raise_for_status()
            text = trafilatura.extract(r.text, include_comments=False) or ""
            words += len(nlp(text))
    print(json.dumps({"pages": len(urls), "tokens": words}), flush=True)


# ---------------------------------------------------------------------------- runs
def write_config(path: Path, base: str, feeds: int, db: Path) -> None:
    lines = config_lines(db, per_host_delay=0.0, per_host_concurrency=16, max_connections=16)
    for f in range(feeds):
        lines += ["[[feeds]]", f'name = "bench-{f:03d}"', f'url = "{base}/feeds/{f:03d}.xml"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGIONWATCH_")}
    if "REGIONWATCH_SHARED" in os.environ:
        env["REGIONWATCH_SHARED"] = os.environ["REGIONWATCH_SHARED"]
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.setdefault("DO_NOT_TRACK", "1")
    return env


def _child_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _timed(args: list[str]) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """(wall seconds, CPU seconds, the process) of one child run to its end."""
    c0, t0 = _child_cpu(), time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *args], env=_env(), capture_output=True, text=True, timeout=900
    )
    return time.perf_counter() - t0, _child_cpu() - c0, proc


def run_ours(
    base: str, feeds: int, work: Path, *, prefect: bool, profile: Path | None = None
) -> tuple[float, float, dict[str, Any]]:
    """(wall, CPU) seconds of one ``regionwatch run`` on a fresh store, and its summary."""
    db = work / f"rw-{time.monotonic_ns()}.db"
    cfg = work / "bench.toml"
    write_config(cfg, base, feeds, db)
    args = ["-m", "flows.cli", "run", "--config", str(cfg), "--json"]
    if not prefect:
        args.insert(args.index("--config"), "--no-prefect")
    if profile is not None:
        args = ["-m", "cProfile", "-o", str(profile), *args]
    wall, cpu, proc = _timed(args)
    if proc.returncode != 0:
        raise RuntimeError(f"regionwatch run failed: {proc.stderr[-2000:]}")
    summary: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    return wall, cpu, summary


def run_bare(urls: list[str], work: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of the bare script over ``urls``."""
    f = work / f"urls-{len(urls)}.txt"
    f.write_text("\n".join(urls) + "\n", encoding="utf-8")
    wall, cpu, proc = _timed([str(Path(__file__).resolve()), "--bare", str(f)])
    if proc.returncode != 0:
        raise RuntimeError(f"bare script failed: {proc.stderr[-2000:]}")
    return wall, cpu


def main() -> None:
    small = knob("RW_BENCH_E2E_SMALL", 300)
    large = knob("RW_BENCH_E2E_LARGE", 1200)
    items = knob("RW_BENCH_E2E_ITEMS", 30)
    rounds = knob("RW_BENCH_E2E_ROUNDS", 2)
    with_prefect = knob("RW_BENCH_E2E_PREFECT", 0) == 1
    profile = os.environ.get("RW_BENCH_PROFILE", "auto")
    assert small % items == 0 and large % items == 0, "sizes must be whole feeds"
    kinds = ["ours"] + (["ours (Prefect flow)"] if with_prefect else []) + ["bare"]
    sizes = (small, large)
    wall: dict[tuple[str, int], list[float]] = {(k, n): [] for k in kinds for n in sizes}
    cpu: dict[tuple[str, int], list[float]] = {(k, n): [] for k in kinds for n in sizes}
    stored: dict[str, int] = {}
    log(f"e2e: site with {large} pages in feeds of {items}")
    site = ChildSite(Path(__file__).resolve(), "--serve", str(large), str(items))
    try:
        urls = site.get("/urls.txt").split()
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            for r in range(rounds):
                order = kinds if r % 2 == 0 else list(reversed(kinds))
                for n in sizes:
                    for kind in order:
                        if kind == "bare":
                            w, c = run_bare(urls[:n], work)
                        else:
                            w, c, summary = run_ours(
                                site.base, n // items, work, prefect=kind != "ours"
                            )
                            if n == large:
                                stored[kind] = int(summary.get("items_new", 0))
                        wall[(kind, n)].append(w)
                        cpu[(kind, n)].append(c)
                        log(f"e2e: round {r + 1} {kind} {n} pages: {w:.2f} s wall, {c:.2f} s CPU")

            def marginal(times: dict[tuple[str, int], list[float]], kind: str) -> float:
                a, b = median(times[(kind, small)]), median(times[(kind, large)])
                return (b - a) / (large - small) * 1000

            ms_cpu = {k: marginal(cpu, k) for k in kinds}
            ms_wall = {k: marginal(wall, k) for k in kinds}
            ratio = ms_cpu["ours"] / ms_cpu["bare"] if ms_cpu["bare"] > 0 else float("inf")
            names = {
                "ours": "`regionwatch run --no-prefect`",
                "ours (Prefect flow)": "`regionwatch run` (Prefect `monitor` flow)",
                "bare": "bare: httpx + `trafilatura.extract` + blank spaCy",
            }
            rows = [
                (
                    names[k],
                    " / ".join(f"{median(cpu[(k, n)]):.1f}" for n in sizes),
                    f"{ms_cpu[k]:.2f}",
                    f"{ms_cpu[k] / ms_cpu['bare']:.2f}×",
                    " / ".join(f"{median(wall[(k, n)]):.1f}" for n in sizes),
                    f"{ms_wall[k]:.2f}",
                    f"{ms_wall[k] / ms_wall['bare']:.2f}×",
                    stored.get(k, "—"),
                )
                for k in kinds
            ]
            print(
                md_table(
                    (
                        "path",
                        f"CPU s ({small} / {large} pages)",
                        "marginal CPU ms / article",
                        "× bare",
                        f"wall s ({small} / {large})",
                        "marginal wall ms / article",
                        "× bare",
                        f"items stored ({large})",
                    ),
                    rows,
                )
            )
            print()
            print(
                f"Marginal cost per article = (median time on {large} pages − median time on "
                f"{small}) / {large - small}; each run a fresh process (and store), "
                f"{rounds} rounds alternating ours and bare; CPU = the child's user + system "
                f"time. Site: {large} generated pages, feeds of {items}, robots.txt allowing "
                f"all, one host (127.0.0.1); `per_host_delay = 0`, "
                f"`per_host_concurrency = max_connections = 16`."
            )
            print()
            print(f"<!-- metric e2e_ours_cpu_ms={ms_cpu['ours']:.2f} -->")
            print(f"<!-- metric e2e_bare_cpu_ms={ms_cpu['bare']:.2f} -->")
            print(f"<!-- metric e2e_ratio={ratio:.2f} -->")
            ok = ratio <= TARGET
            print(
                target_line(
                    f"`regionwatch run` marginal cost per article ≤ {TARGET} × bare (CPU)",
                    ok,
                    f"{ms_cpu['ours']:.2f} ms against {ms_cpu['bare']:.2f} ms: {ratio:.2f}× "
                    f"(wall: {ms_wall['ours']:.2f} ms against {ms_wall['bare']:.2f} ms)",
                )
            )
            if profile == "1" or (profile == "auto" and not ok):
                _profile(site.base, large // items, work)
    finally:
        site.close()


def _profile(base: str, feeds: int, work: Path) -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    prof = OUT_DIR / "e2e.prof"
    log("e2e: profiling one large run")
    run_ours(base, feeds, work, prefect=False, profile=prof)
    buf = io.StringIO()
    pstats.Stats(str(prof), stream=buf).sort_stats("tottime").print_stats(25)
    print()
    print(
        "<details><summary>cProfile of one large `regionwatch run --no-prefect` (the event "
        "loop's thread; extraction runs in worker threads, not profiled)</summary>"
    )
    print()
    print("```")
    print(buf.getvalue().strip()[-6000:])
    print("```")
    print("</details>")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), int(sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--bare":
        bare(sys.argv[2])
    else:
        main()
