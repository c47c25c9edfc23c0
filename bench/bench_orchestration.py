"""Orchestration overhead of Prefect on a 2,000-item cycle (issue 5).

A 2,000-item cycle (40 loopback feeds × 50 new pages, our own generated texts) is run once each
way on fresh stores: as the library-only ``run_cycle`` and as the ``monitor`` flow against a
running Prefect server (``prefect server start``, warm: one tiny flow run first). Also the flow
over one tiny feed: Prefect's fixed cost per cycle (flow run, task runs, states, artifacts).
Prints the share of the cycle's wall time spent in Prefect; target ≤ 10 %. The measured part
runs inside a quiet window (``common.quiet``: the background ``serve`` bench pauses).

The memory of a ``serve`` process over 100 cycles (the other half of issue 5) is
``bench/bench_serve.py``, run in the background by ``make bench``; shared helpers (loopback
outlet, config, Prefect server) live here.

Usage: ``.venv/bin/python bench/bench_orchestration.py [--feeds 40 --items 50]``.
Loopback only; Prefect quiet (no analytics). Prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import config_lines, knob, log, quiet, target_line

TARGET_SHARE = 0.10
os.environ.update(
    PREFECT_SERVER_ANALYTICS_ENABLED="false",
    DO_NOT_TRACK="1",
    PREFECT_UI_ENABLED="false",
    PREFECT_LOGGING_LEVEL="WARNING",
)
for k in [k for k in os.environ if k.startswith("REGIONWATCH_")]:
    os.environ.pop(k)

from tests.e2e.conftest import article_html, free_port, rss  # noqa: E402
from tests.loopback import LoopServer, Resource  # noqa: E402

_TEXT = (
    "the regional council met on tuesday to discuss the budget for schools roads and "
    "water supply in the valley while residents asked about bus routes and new clinics "
    "a spokesman said the plan would be published next month after public hearings"
)
WORDS = _TEXT.split()


def build_outlet(srv: LoopServer, feeds: int, items: int) -> list[tuple[str, str]]:
    now = datetime.now(UTC).replace(microsecond=0)
    out = []
    for f in range(feeds):
        entries = []
        for i in range(items):
            path = f"/f{f}/a{i}.html"
            title = f"Town {f} council notes item {i} on budget and roads"
            paras = [
                " ".join(WORDS[(j * 7 + i + f) % len(WORDS)] for j in range(60)).capitalize() + "."
                for _ in range(5)
            ]
            pub = now - timedelta(hours=12, minutes=i)
            srv.set(
                path,
                Resource(article_html(srv.url(path), title, paras, pub, f"Outlet {f}").encode()),
            )
            entries.append({"title": title, "url": srv.url(path), "published": pub, "paras": paras})
        srv.set(
            f"/f{f}/feed.xml",
            Resource(
                rss(f"Outlet {f}", srv.url("/"), entries).encode(),
                "application/rss+xml; charset=utf-8",
            ),
        )
        out.append((f"Outlet {f}", srv.url(f"/f{f}/feed.xml")))
    return out


def write_cfg(path: Path, db: Path, feeds: list[tuple[str, str]], interval: int = 600) -> Path:
    lines = config_lines(db, obey_robots=False, per_host_delay=0, per_host_concurrency=8)
    for name, url in feeds:
        lines += [
            "[[feeds]]",
            f"name = {json.dumps(name)}",
            f"url = {json.dumps(url)}",
            'language = "en"',
            "",
        ]
    lines += ["[service]", f"monitor_interval_seconds = {interval}", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def start_server(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(os.environ, PREFECT_HOME=str(home))
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=open(home / "server.log", "wb"),  # noqa: SIM115 stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api"
    for _ in range(240):
        try:
            urllib.request.urlopen(url + "/health", timeout=2)
            return proc, url
        except OSError:
            time.sleep(0.5)
    raise SystemExit("prefect server did not start")


def api(url: str, body: dict | None = None, attempts: int = 6) -> object:
    """One Prefect API call; a 5xx (the server answers 503 while its SQLite database is busy)
    or a dropped connection is tried again with a growing pause, ``attempts`` times in all."""
    for attempt in range(attempts):
        req = urllib.request.Request(
            url,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json"},
            method="POST" if body is not None else "GET",
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.loads(r.read().decode() or "null")
        except urllib.error.HTTPError as exc:
            if exc.code < 500 or attempt == attempts - 1:
                raise
        except (urllib.error.URLError, TimeoutError, ConnectionError):
            if attempt == attempts - 1:
                raise
        time.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def overhead(tmp: Path, args: argparse.Namespace, api_url: str) -> None:
    srv = LoopServer().start()
    feeds = build_outlet(srv, args.feeds, args.items)
    os.environ["PREFECT_API_URL"] = api_url
    from flows.monitor import monitor
    from regionwatch.pipeline import run_cycle
    from regionwatch.settings import load_settings

    # zero feeds would fall back to the default (internet) list: give one tiny loopback feed
    srv.set("/tiny.xml", Resource(rss("Tiny", srv.url("/"), []).encode(), "application/rss+xml"))
    empty = write_cfg(tmp / "empty.toml", tmp / "empty.db", [("Tiny", srv.url("/tiny.xml"))])
    monitor(str(empty))  # warm both paths: imports, tagger, first API calls
    run_cycle(load_settings(str(empty)))
    with quiet("orchestration"):
        t_lib, t_flow, fixed_s, lib, flow = measure(tmp, srv, feeds, empty)
    srv.stop()
    report(args, t_lib, t_flow, fixed_s, lib, flow)


def measure(
    tmp: Path, srv: LoopServer, feeds: list[tuple[str, str]], empty: Path
) -> tuple[list[float], list[float], float, object, dict]:
    """The timed runs: fixed cost (median of 3), then run_cycle and the flow on fresh stores,
    ``RW_BENCH_ORCH_ROUNDS`` of each in the order library, flow, flow, library, … (ABBA: a
    drift in the machine's load falls on both sides; one run of each was ±15 % noise)."""
    from flows.monitor import monitor
    from regionwatch.pipeline import run_cycle
    from regionwatch.settings import load_settings

    fixed = []
    for _ in range(3):
        t0 = time.perf_counter()
        monitor(str(empty))
        fixed.append(time.perf_counter() - t0)
    fixed_s = sorted(fixed)[1]

    rounds = max(1, knob("RW_BENCH_ORCH_ROUNDS", 2))
    order = [("lib", "flow") if r % 2 == 0 else ("flow", "lib") for r in range(rounds)]
    t_lib: list[float] = []
    t_flow: list[float] = []
    lib: object = None
    flow: dict = {}
    for r, pair in enumerate(order):
        for kind in pair:
            cfg = write_cfg(tmp / f"{kind}{r}.toml", tmp / f"{kind}{r}.db", feeds)
            srv.clear_log()
            t0 = time.perf_counter()
            if kind == "lib":
                lib = run_cycle(load_settings(str(cfg)))
                t_lib.append(time.perf_counter() - t0)
            else:
                flow = monitor(str(cfg))
                t_flow.append(time.perf_counter() - t0)
            log(f"orchestration: round {r + 1} {kind} {time.perf_counter() - t0:.1f} s")
    log(f"orchestration: fixed {fixed_s:.2f} s, run_cycle {t_lib}, flow {t_flow}")
    return t_lib, t_flow, fixed_s, lib, flow


def report(
    args: argparse.Namespace,
    libs: list[float],
    flows: list[float],
    fixed_s: float,
    lib: object,
    flow: dict,
) -> None:
    """Print the section (the shares from the mean of each side's runs)."""
    t_lib, t_flow = sum(libs) / len(libs), sum(flows) / len(flows)
    try:
        from flows.monitor import BATCH_SIZE, MAX_PARALLEL_BATCHES

        tasks = math.ceil(
            args.feeds / max(BATCH_SIZE, math.ceil(args.feeds / MAX_PARALLEL_BATCHES))
        )
        flow_label = f"{tasks} batch tasks, {MAX_PARALLEL_BATCHES} at a time"
    except ImportError:
        flow_label = "batch tasks"
    n = args.feeds * args.items
    fixed_share = fixed_s / t_flow
    diff_share = (t_flow - t_lib) / t_flow
    share = max(fixed_share, diff_share)
    print(
        target_line(
            f"Prefect share of a {n:,}-item cycle ≤ {TARGET_SHARE:.0%}",
            share <= TARGET_SHARE,
            f"{share:.1%}: the larger of fixed cost / flow wall time "
            f"({fixed_share:.1%}) and (flow − library) / flow ({diff_share:.1%})",
        )
    )
    print(f"<!-- metric orch_share={share:.3f} -->")
    print(
        f"\n### Orchestration overhead: one cycle of {n:,} new items "
        f"({args.feeds} feeds × {args.items}), SQLite store, warm Prefect server\n"
    )
    print("| run | items stored | wall time (s) |")
    print("|---|---:|---:|")
    runs = ", ".join(f"{x:.1f}" for x in libs)
    print(
        f"| library only (`run_cycle`), mean of {len(libs)} ({runs}) | "
        f"{lib.items_new:,} | {t_lib:.1f} |"
    )  # type: ignore[attr-defined]
    runs = ", ".join(f"{x:.1f}" for x in flows)
    print(
        f"| `monitor` flow ({flow_label}), mean of {len(flows)} ({runs}) | "
        f"{flow.items_new:,} | {t_flow:.1f} |"
    )
    print(f"| `monitor` flow, 1 tiny feed (Prefect's fixed cost per cycle) | 0 | {fixed_s:.2f} |")
    print()
    print("| measure | value |")
    print("|---|---:|")
    print(f"| Prefect fixed cost / flow wall time | {fixed_share:.1%} |")
    print(f"| (flow − library) / flow wall time | {diff_share:.1%} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=knob("RW_BENCH_ORCH_FEEDS", 40))
    ap.add_argument("--items", type=int, default=knob("RW_BENCH_ORCH_ITEMS", 50))
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rw-bench-orch-"))
    home = tmp / "prefect-home"
    home.mkdir()
    t0 = time.perf_counter()
    server, api_url = start_server(home)
    log(f"orchestration: Prefect server up in {time.perf_counter() - t0:.1f} s")
    try:
        overhead(tmp, args, api_url)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
