"""Run every benchmark and rewrite ``bench/RESULTS.md`` (``make bench``).

Each ``bench/bench_*.py`` runs as its own subprocess (fresh interpreter, no shared caches) with a
timeout, prints one markdown section on stdout and its progress on stderr (kept in
``bench/out/<name>.log``). This script puts the sections together under a header with the
machine line and the date, and a summary of every ``Target: … — PASS/MISS`` line.

Usage::

    python bench/run_all.py                 # everything, rewrites bench/RESULTS.md
    python bench/run_all.py pipeline cycle  # only these (still rewrites RESULTS.md)
    python bench/run_all.py --list

Budget: ``RW_BENCH_BUDGET`` seconds for the whole run (default 870, i.e. 14.5 minutes); each
bench gets its own timeout (``RW_BENCH_TIMEOUT_<NAME>``, e.g. ``RW_BENCH_TIMEOUT_CYCLE=600``),
cut to what is left of the budget. Sizes: see bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from common import BENCH_DIR, OUT_DIR, ROOT, knob, log, machine_line, md_table

RESULTS = BENCH_DIR / "RESULTS.md"

#: run order, then any other bench_*.py alphabetically; default timeout in seconds
ORDER: dict[str, int] = {
    "pipeline": 220,
    "tagging": 120,
    "extract": 120,
    "peer": 240,
    "cycle": 320,
    "backfill": 330,
    "orchestration": 300,
}
DEFAULT_TIMEOUT = 180

#: section title and the target(s) it answers (issue 7 unless said otherwise)
SECTIONS: dict[str, tuple[str, str]] = {
    "pipeline": ("Pipeline cost per article",
                 "7.2 — extract → tag → cluster → store ≤ 1.3 × floor (bare trafilatura + "
                 "blank-spaCy tokenisation, same run)"),
    "tagging": ("Tagging alone",
                "7.5 — ≤ 2 × a bare blank-spaCy pass; issue 3 — ≥ 100 articles of 800 words "
                "per second on one core; statistical NER reported separately, off by default"),
    "extract": ("Extraction quality and speed",
                "informational: token F1 against ground truth, ms per page against plain "
                "trafilatura"),
    "peer": ("Peer: newspaper4k", "7.3 — ours end to end ≥ 2 × faster than newspaper4k's "
             "extraction alone"),
    "cycle": ("Monitor cycle, 300 loopback feeds",
              "7.4 — unchanged (304) cycle ≤ 3 s; 1 % new reported; Prefect share ≤ 10 %"),
    "backfill": ("Backfill of 5,000 pages", "7.6 / issue 6 — pages per minute; peak RSS at "
                 "1,000 / 2,500 / 5,000 pages flat and ≤ 500 MB"),
    "orchestration": ("Orchestration overhead", "issue 5 — Prefect share of a 2,000-item "
                      "cycle ≤ 10 %; `serve` memory flat over 100 cycles"),
}

TARGET_RE = re.compile(
    r"^Target:\s*(?P<label>.+?)\s+—\s+(?P<verdict>\*\*\w+\*\*|n/a)\s*(?P<detail>.*)$"
)


def discover() -> list[tuple[str, Path]]:
    """The bench scripts, in run order."""
    found = {p.stem.removeprefix("bench_"): p for p in sorted(BENCH_DIR.glob("bench_*.py"))}
    names = [n for n in ORDER if n in found] + sorted(n for n in found if n not in ORDER)
    return [(n, found[n]) for n in names]


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (Linux /proc), children before grandchildren."""
    parent: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            parent[int(d.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    out, frontier = [], [pid]
    while frontier:
        kids = [c for c, pp in parent.items() if pp in frontier]
        out += kids
        frontier = kids
    return out


def stop_tree(proc: subprocess.Popen[str]) -> None:
    """Stop a timed-out bench and everything it started (servers in their own sessions too)."""
    tree = descendants(proc.pid)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in [proc.pid, *tree]:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                continue
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        time.sleep(1)
        tree = [p for p in tree if Path(f"/proc/{p}").exists()]
        if proc.poll() is not None and not tree:
            break


def run_one(name: str, path: Path, timeout: float) -> tuple[str, float, str]:
    """Run one bench; (markdown, seconds, status)."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    logfile = OUT_DIR / f"{name}.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.setdefault("REGIONWATCH_SHARED", str(ROOT.parent / "shared"))
    if not Path(env["REGIONWATCH_SHARED"]).is_dir():
        env.pop("REGIONWATCH_SHARED")
    t0 = time.perf_counter()
    with open(logfile, "w", encoding="utf-8") as err:
        proc = subprocess.Popen([sys.executable, str(path)], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=err, text=True,
                                start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=timeout)
            status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}"
        except subprocess.TimeoutExpired:
            stop_tree(proc)  # the bench and any child it started (servers, peers)
            out, _ = proc.communicate()
            status = f"timeout after {timeout:.0f} s"
    dt = time.perf_counter() - t0
    out = (out or "").strip()
    if status != "ok":
        tail = logfile.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-12:]
        out = "\n\n".join(x for x in (
            out,
            f"**Bench did not finish: {status}.** Last lines of `bench/out/{name}.log`:",
            "```\n" + "\n".join(tail) + "\n```",
        ) if x)
    return out, dt, status


def _table_verdicts(md: str) -> list[tuple[str, str]]:
    """(row, verdict) for table rows that state a target (benches without ``Target:`` lines)."""
    out = []
    for ln in md.splitlines():
        low = ln.lower()
        if not ln.startswith("|") or "target" not in low:
            continue
        cells = [c.strip() for c in ln.strip("|").split("|")]
        if "not met" in low or "miss" in low or "fail" in low:
            verdict = "**MISS**"
        elif "met" in low or "pass" in low or "yes" in low or "✓" in low:
            verdict = "**PASS**"
        else:
            verdict = "see section"
        out.append((" — ".join(cells), verdict))
    return out


def summary_rows(sections: list[tuple[str, str, float, str]]) -> list[tuple[str, ...]]:
    """One row per ``Target:`` line (or target table row) of every section."""
    rows = []
    for name, md, dt, status in sections:
        hits = [TARGET_RE.match(ln.strip()) for ln in md.splitlines()]
        hits = [h for h in hits if h]
        for h in hits:
            detail = h["detail"].strip()
            if detail.startswith("(") and detail.endswith(")"):
                detail = detail[1:-1]
            rows.append((name, h["label"], f"{h['verdict']} {detail}".strip(), f"{dt:.0f}"))
        if not hits:
            table = _table_verdicts(md) if status == "ok" else []
            for row, verdict in table:
                rows.append((name, row, verdict, f"{dt:.0f}"))
            if not table:
                rows.append((name, SECTIONS.get(name, ("", "—"))[1],
                             "see section" if status == "ok" else f"**{status}**", f"{dt:.0f}"))
    return rows


def section(name: str, md: str) -> str:
    """A bench's markdown under a uniform heading with the target it answers."""
    title, target = SECTIONS.get(name, (name, ""))
    lines = md.strip().splitlines()
    if lines and lines[0].startswith("## "):
        lines = lines[1:]
    head = [f"## {title} (`bench/bench_{name}.py`)", ""]
    if target:
        head += [f"*Target: {target}.*", ""]
    return "\n".join(head + lines).strip() + "\n"


def main() -> None:
    """Run the benches and write RESULTS.md."""
    ap = argparse.ArgumentParser(description="Run the RegionWatch benchmarks.")
    ap.add_argument("only", nargs="*", help="bench names (pipeline, peer, cycle, …)")
    ap.add_argument("--list", action="store_true", help="list the benches and exit")
    args = ap.parse_args()
    benches = discover()
    if args.list:
        for n, p in benches:
            print(f"{n:15} {p.relative_to(ROOT)}  timeout {ORDER.get(n, DEFAULT_TIMEOUT)} s")
        return
    if args.only:
        unknown = set(args.only) - {n for n, _ in benches}
        if unknown:
            sys.exit(f"unknown bench(es): {', '.join(sorted(unknown))}")
        benches = [(n, p) for n, p in benches if n in args.only]
    budget = knob("RW_BENCH_BUDGET", 870)
    started = datetime.now(UTC)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    machine = machine_line()
    t_start = time.perf_counter()
    sections: list[tuple[str, str, float, str]] = []
    for n, p in benches:
        left = budget - (time.perf_counter() - t_start)
        own = knob(f"RW_BENCH_TIMEOUT_{n.upper()}", ORDER.get(n, DEFAULT_TIMEOUT))
        if left < 20:
            sections.append((n, f"**Not run: the {budget} s budget was used up.**", 0.0,
                             "not run"))
            continue
        timeout = min(own, left)
        log(f"run_all: {n} (timeout {timeout:.0f} s)")
        md, dt, status = run_one(n, p, timeout)
        log(f"run_all: {n} {status} in {dt:.0f} s")
        sections.append((n, md, dt, status))
    total = time.perf_counter() - t_start

    head = [
        "# RegionWatch benchmark results",
        "",
        "Generated by `make bench` (`python bench/run_all.py`); do not edit by hand — rerun.",
        "",
        f"- **Date:** {started:%Y-%m-%d %H:%M} UTC",
        f"- **Machine:** {machine}",
        f"- **Load average at start:** {load:.2f} (shared machines vary ±30 % run to run: "
        f"compare the ratios, which are measured within one run)",
        f"- **Total time:** {total:.0f} s for {len(sections)} benches "
        f"(budget {budget} s){'; subset: ' + ', '.join(args.only) if args.only else ''}",
        "",
        "## Summary",
        "",
        md_table(["bench", "target", "result", "s"], summary_rows(sections)),
        "",
    ]
    body = [section(n, md) for n, md, _, _ in sections]
    RESULTS.write_text("\n".join(head) + "\n" + "\n".join(body), encoding="utf-8")
    log(f"run_all: wrote {RESULTS.relative_to(ROOT)} ({total:.0f} s)")
    print(RESULTS.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
