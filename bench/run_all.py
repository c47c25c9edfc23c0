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

Background: ``bench_serve.py`` (``serve`` memory over 100 monitor cycles, a few seconds of a fresh
interpreter per cycle: too long for the foreground) starts at t = 0 and runs alongside the
others; benches whose targets are wall times wrap their measured part in ``common.quiet`` and
the background bench pauses its schedule meanwhile. It is collected at the end, stopped early
(SIGTERM, partial table) if the budget runs out.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from common import BENCH_DIR, OUT_DIR, QUIET_ENV, ROOT, knob, log, machine_line, md_table

RESULTS = BENCH_DIR / "RESULTS.md"

#: run order, then any other bench_*.py alphabetically; default timeout in seconds. The benches
#: whose targets are ratios, CPU time or memory come first (they share the machine with the
#: background bench); cycle, orchestration and delivery measure wall times inside quiet windows.
ORDER: dict[str, int] = {
    "pipeline": 170,
    "tagging": 120,
    "extract": 60,
    "events": 90,
    "peer": 160,
    "backfill": 210,
    "e2e": 420,
    "cycle": 300,
    "orchestration": 300,
    "delivery": 60,
    "web": 420,
}
DEFAULT_TIMEOUT = 180
#: started at t = 0 and collected at the end (name → the most it may run)
BACKGROUND: dict[str, int] = {"serve": 860}
#: benches that pause the background bench (``common.quiet``) around their measured part
QUIET_BENCHES = {"cycle", "orchestration", "delivery"}
#: seconds kept at the end of the budget to stop the background bench and write RESULTS.md
RESERVE = 30

#: section title and the target(s) it answers (issue 7 unless said otherwise)
SECTIONS: dict[str, tuple[str, str]] = {
    "pipeline": (
        "Pipeline cost per article",
        "7.2 — extract → tag → cluster → store ≤ 1.3 × floor (bare trafilatura + "
        "blank-spaCy tokenisation, same run)",
    ),
    "tagging": (
        "Tagging alone",
        "7.5 — ≤ 2 × a bare blank-spaCy pass; issue 3 — ≥ 100 articles of 800 words "
        "per second on one core; statistical NER reported separately, off by default",
    ),
    "extract": (
        "Extraction quality and speed",
        "informational: token F1 against ground truth, ms per page against plain trafilatura",
    ),
    "events": (
        "Event grouping",
        "issue 12 — grouping ≤ 5 % of the per-article cost; index memory flat over a "
        "5,000-article stream",
    ),
    "peer": (
        "Peer: newspaper4k",
        "7.3 — ours end to end ≥ 2 × faster than newspaper4k's extraction alone",
    ),
    "cycle": (
        "Monitor cycle, 300 loopback feeds",
        "7.4 — unchanged (304) cycle ≤ 3 s; 1 % new reported; Prefect share ≤ 10 %",
    ),
    "backfill": (
        "Backfill of 5,000 pages",
        "7.6 / issue 6 — pages per minute; peak RSS at "
        "1,000 / 2,500 / 5,000 pages flat and ≤ 500 MB",
    ),
    "e2e": (
        "End to end: `regionwatch run` on loopback pages",
        "issue 12.11 — marginal cost per article of `regionwatch run` from 300 to 1,200 "
        "loopback pages (politeness off) ≤ 1.3 × a bare script (one httpx client, "
        "`trafilatura.extract`, a blank-spaCy pass) on the same pages",
    ),
    "orchestration": (
        "Orchestration overhead",
        "issue 5 — Prefect share of a 2,000-item cycle ≤ 10 %",
    ),
    "delivery": (
        "Alert delivery in a cycle",
        "issue 14 — 40 alerts to a loopback SMTP server, 100 pending to a dead one: each pass "
        "adds ≤ 5 s to a cycle",
    ),
    "serve": (
        "`serve` memory over 100 monitor cycles (background)",
        "issue 5 — RSS of the "
        "`regionwatch serve` process flat over 100 cycles (RSS at 10 / 50 / 100)",
    ),
}

METRIC_RE = re.compile(r"<!--\s*metric\s+(?P<body>.*?)-->")

TARGET_RE = re.compile(
    r"^Target:\s*(?P<label>.+?)\s+—\s+(?P<verdict>\*\*\w+\*\*|n/a)\s*(?P<detail>.*)$"
)


def discover() -> list[tuple[str, Path]]:
    """The bench scripts, in run order (background ones last)."""
    found = {p.stem.removeprefix("bench_"): p for p in sorted(BENCH_DIR.glob("bench_*.py"))}
    names = [n for n in ORDER if n in found] + sorted(
        n for n in found if n not in ORDER and n not in BACKGROUND
    )
    names += [n for n in BACKGROUND if n in found]
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


def bench_env() -> dict[str, str]:
    """Environment of every bench process."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.setdefault("REGIONWATCH_SHARED", str(ROOT.parent / "shared"))
    if not Path(env["REGIONWATCH_SHARED"]).is_dir():
        env.pop("REGIONWATCH_SHARED")
    return env


class Bench:
    """One bench process: stdout to ``bench/out/<name>.md``, stderr to ``bench/out/<name>.log``.

    Output goes to files (not pipes), so whatever a bench printed before it was stopped is kept.
    """

    def __init__(self, name: str, path: Path, env: dict[str, str]) -> None:
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.logfile = OUT_DIR / f"{name}.log"
        self.mdfile = OUT_DIR / f"{name}.md"
        self.t0 = time.perf_counter()
        self.t1: float | None = None
        self.status = "running"
        with (
            open(self.logfile, "w", encoding="utf-8") as err,
            open(self.mdfile, "w", encoding="utf-8") as out,
        ):
            self.proc = subprocess.Popen(
                [sys.executable, str(path)],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=err,
                text=True,
                start_new_session=True,
            )

    def wait(self, timeout: float) -> None:
        """Wait up to ``timeout`` s; on timeout stop it and everything it started."""
        try:
            self.proc.wait(timeout=max(0.0, timeout))
            self.status = "ok" if self.proc.returncode == 0 else f"exit {self.proc.returncode}"
        except subprocess.TimeoutExpired:
            stop_tree(self.proc)
            self.status = f"timeout after {time.perf_counter() - self.t0:.0f} s"
        self.t1 = time.perf_counter()

    def finish_early(self, grace: float) -> None:
        """SIGTERM (the bench prints what it has), then stop the tree after ``grace`` s."""
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                stop_tree(self.proc)
            self.status = (
                "stopped early (budget)"
                if self.proc.returncode == 0
                else f"stopped early (budget; exit {self.proc.returncode})"
            )
            self.t1 = time.perf_counter()
        else:
            self.wait(0)

    @property
    def seconds(self) -> float:
        return (self.t1 or time.perf_counter()) - self.t0

    def markdown(self) -> str:
        """The bench's markdown, with a clear line and the log tail when it did not finish."""
        out = self.mdfile.read_text(encoding="utf-8", errors="replace").strip()
        if self.status not in ("ok", "stopped early (budget)"):
            tail = self.logfile.read_text(encoding="utf-8", errors="replace").strip()
            tail_lines = tail.splitlines()[-12:]
            out = "\n\n".join(
                x
                for x in (
                    out + ("\n\n*(partial output above)*" if out else ""),
                    f"**Bench did not finish: {self.status}.** Last lines of "
                    f"`bench/out/{self.name}.log`:",
                    "```\n" + "\n".join(tail_lines) + "\n```",
                )
                if x
            )
        return out


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
                rows.append(
                    (
                        name,
                        SECTIONS.get(name, ("", "—"))[1],
                        "see section" if status == "ok" else f"**{status}**",
                        f"{dt:.0f}",
                    )
                )
    return rows


def section(name: str, md: str, note: str = "") -> str:
    """A bench's markdown under a uniform heading with the target it answers."""
    title, target = SECTIONS.get(name, (name, ""))
    lines = md.strip().splitlines()
    if lines and lines[0].startswith("## "):
        lines = lines[1:]
    head = [f"## {title} (`bench/bench_{name}.py`)", ""]
    if target:
        head += [f"*Target: {target}.*", ""]
    if note:
        head += [note, ""]
    return "\n".join(head + lines).strip() + "\n"


def metrics(sections: list[tuple[str, str, float, str]]) -> dict[str, str]:
    """``<!-- metric key=value … -->`` comments of every section (invisible in the markdown)."""
    out: dict[str, str] = {}
    for _name, md, _dt, _status in sections:
        for m in METRIC_RE.finditer(md):
            for pair in m["body"].split():
                if "=" in pair:
                    k, v = pair.split("=", 1)
                    out[k] = v
    return out


def _fmt(m: dict[str, str], key: str, unit: str = "", pct: bool = False) -> str:
    if key not in m:
        return "not measured this run"
    try:
        v = float(m[key])
    except ValueError:
        return m[key]
    if pct:
        return f"{v:.1%}"
    return f"{v:.0f}{unit}" if v == int(v) else f"{v:.2f}{unit}"


def profiling_notes(m: dict[str, str]) -> str:
    """Section "Profiling notes (before/after)": earlier findings next to this run's figures."""
    rows = [
        (
            "trafilatura's comparison with readability/justext (and, with `favor_precision`, "
            "its extra pruning of the raw page) ran on every page",
            "extract_article 1.16 × floor, pipeline 1.85 ×",
            "fast pass first; the full cascade only when the comparison could change the text "
            "(short text, no paragraphs, boilerplate left, or < 35 % of the page's visible text): "
            "same text as the full cascade on all 39 real pages (test_extract.py)",
            "extract_article "
            + _fmt(m, "pipeline_extract", " ×")
            + " floor; pipeline "
            + _fmt(m, "pipeline_ratio", " ×")
            + " vs "
            + _fmt(m, "pipeline_before", " ×")
            + " with the full cascade patched back in (same run)",
        ),
        (
            "trafilatura metadata pass (`with_metadata=True`)",
            "1.28 × a plain `extract()`",
            "skipped when the feed entry gives title and date (dd46c6f)",
            _fmt(m, "extract_meta", " ×") + " when it runs",
        ),
        (
            "story index: SHA-1 per shingle string in Python; LSH band parameters found by "
            "numerical integration at every index build",
            "cluster 0.19 × floor",
            "shingles hashed with CRC-32 per token and combined in numpy; (bands, rows) cached",
            "cluster: see the pipeline table",
        ),
        (
            "story index held every backfilled item (all 'seen' now)",
            "backfill peak RSS 298 → 345 MB from 1,000 to 5,000 pages",
            "backfilled items sit in the index at their publication date: the window slides "
            "along the archive",
            "peak " + _fmt(m, "backfill_peak_mb", " MB") + " at 5,000 pages",
        ),
        (
            "each cold extraction thread loaded its own language model",
            "backfill peak RSS 569 MB",
            "one load under a lock (4ef10ec)",
            "peak " + _fmt(m, "backfill_peak_mb", " MB"),
        ),
        (
            "304 responses closed the connection (body never read)",
            "301 TCP connections per unchanged cycle; unchanged cycle 2.96 s (what-if: 2.36 s)",
            "empty body drained → connection back in the pool (cd13fe0)",
            _fmt(m, "cycle_unchanged_conns")
            + " connections; unchanged cycle "
            + _fmt(m, "cycle_unchanged", " s"),
        ),
        (
            "per-feed store statements in `sync_sources` / `record_poll_success`",
            "one statement per feed per cycle",
            "batched (cd13fe0)",
            "inside the unchanged cycle above",
        ),
        (
            "`monitor` flow: batches of 8 feeds (38 tasks for 300 feeds)",
            "flow unchanged cycle 5.21 s, Prefect share 17.9 %",
            "⌈feeds / parallel slots⌉ per task (cd13fe0)",
            "flow unchanged "
            + _fmt(m, "cycle_prefect_unchanged", " s")
            + ", share "
            + _fmt(m, "cycle_share", pct=True),
        ),
        (
            "tagger: three phrase-matcher passes (LOWER, ORTH, NORM), an object per match, "
            "context built for every sentence",
            "3.9 × a bare blank-spaCy pass",
            "one merged NORM pass, bulk counting, rule objects only for sentences a rule can "
            "use (a545a78; output identical on 2,537 texts)",
            "see the next two rows",
        ),
        (
            "spaCy's tokenizer stops caching a text's chunks after the first special case it "
            "meets, and `\\n`, `\\t`, `' '`, `'` and `—` are special cases of its base "
            "exceptions: in any text with a line break every later chunk went through the "
            "prefix / suffix / infix regexes again (the earlier tagging corpus folded white "
            "space to one line, which hid it)",
            "stock blank spaCy ~4 ms on an 850-word extracted article vs ~0.13 ms with its "
            "cache on; tagging 7.0–7.6 ms per generated article (the tag stage of the "
            "pipeline table, 8.3 ms)",
            "the tagger's tokenizer drops the one-character special cases that set nothing but "
            "the token's text (same tokens; TagResult identical on 3,004 texts; ee455fe)",
            "tagging / bare "
            + _fmt(m, "tag_ratio", " ×")
            + " on articles, "
            + _fmt(m, "tag_ratio_generated", " ×")
            + " on generated articles ("
            + _fmt(m, "tag_per_s")
            + " articles/s); tag stage of the pipeline: see its table",
        ),
        (
            "tagger, one-line texts (stock tokenizer's best case): per-match bisect for the "
            "sentence of each match, a dict of every match's first occurrence, the ceasefire "
            "party check on every truce sentence",
            "2.35 × a bare pass (same-process A/B, 12 alternating passes)",
            "one numpy searchsorted for all matches; a sentence's first matches worked out when "
            "a rule asks; party check only when an out-of-region actor is named (identical "
            "output on 3,004 texts)",
            _fmt(m, "tag_ratio_one_line", " ×") + " (2.10 × in the A/B)",
        ),
        (
            "`monitor` flow: Prefect 3.8's heartbeat thread sleeps in 1 s steps and is joined at "
            "the end of every flow run; four batch event loops in four threads; three artifact "
            "POSTs in a row",
            "unchanged cycle through Prefect 2.10 s, share 22.7 % (37 % in an A/B run)",
            "heartbeat loop that waits on its stop event (guarded to Prefect 3.8.x); one event "
            "loop and one HTTP client for all batches (per-host limits now hold per cycle); "
            "artifacts sent in the background (32b8047)",
            "flow unchanged "
            + _fmt(m, "cycle_prefect_unchanged", " s")
            + ", share "
            + _fmt(m, "cycle_share", pct=True)
            + " (see the next row)",
        ),
        (
            "`monitor` flow, unchanged cycle (pyinstrument over 8 runs, per-thread timelines): "
            "a delivery task run on every cycle, even with nothing due; the share counted the "
            "batches' event loop and HTTP client set-up as Prefect's (overstated, 17–29 ms) and "
            "our stages' slowdown beside Prefect's threads and server as ours (understated, "
            "0.1–0.15 s)",
            "Prefect time 235 ms median per run, share (a) 18.3 % (corrected accounting, 20 runs)",
            "delivery task only when the outbox has a due row (`pipeline.alerts_due`, the claim "
            "condition); the store closes while the artifacts are in flight (837a00c); the target "
            "is judged on the larger of (a) and (b) (e6d4545). Left: Prefect's fixed cost per flow "
            "run (~120 ms: API client with its TLS set-up, flow-run and state POSTs, the walk of "
            "the returned summary), the artifact POSTs (30–110 ms) and the CPU its server takes "
            "from our stages on 2 cores — about 10 % of a ~1.1 s cycle each; fewer poll tasks "
            "(4 → 1) would save ~0.1 s more at the cost of per-batch retries and UI rows",
            "Prefect time 190 ms median (A/B, 20 runs); share this run "
            + _fmt(m, "cycle_share", pct=True),
        ),
        (
            "peer speed-up (ours vs newspaper4k)",
            "1.75 × → 2.25 × (previous session)",
            "the fixes above",
            _fmt(m, "peer_speedup", " ×"),
        ),
    ]
    out = [
        "## Profiling notes (before/after)",
        "",
        "Findings of the earlier bench runs (cProfile in the pipeline section, what-if patches in "
        "the bench process) and the fixes made since; the last column is measured in **this** "
        "run, so it can disagree with the earlier figures.",
        "",
        md_table(["finding", "before (earlier runs)", "fix", "this run"], rows),
        "",
    ]
    return "\n".join(out)


def main() -> None:
    """Run the benches and write RESULTS.md."""
    ap = argparse.ArgumentParser(description="Run the RegionWatch benchmarks.")
    ap.add_argument("only", nargs="*", help="bench names (pipeline, peer, cycle, …)")
    ap.add_argument("--list", action="store_true", help="list the benches and exit")
    args = ap.parse_args()
    benches = discover()
    if args.list:
        for n, p in benches:
            kind = "background" if n in BACKGROUND else "timeout"
            print(
                f"{n:15} {p.relative_to(ROOT)}  {kind} "
                f"{BACKGROUND.get(n) or ORDER.get(n, DEFAULT_TIMEOUT)} s"
            )
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
    env = bench_env()
    qdir = OUT_DIR / "quiet"
    shutil.rmtree(qdir, ignore_errors=True)
    qdir.mkdir(parents=True)
    env[QUIET_ENV] = str(qdir)
    bg = [Bench(n, p, env) for n, p in benches if n in BACKGROUND]
    for b in bg:
        log(f"run_all: {b.name} started in the background")
    done: dict[str, tuple[str, float, str]] = {}
    windows: dict[str, tuple[float, float]] = {}
    for n, p in benches:
        if n in BACKGROUND:
            continue
        left = budget - RESERVE - (time.perf_counter() - t_start)
        own = knob(f"RW_BENCH_TIMEOUT_{n.upper()}", ORDER.get(n, DEFAULT_TIMEOUT))
        if left < 20:
            done[n] = (f"**Not run: the {budget} s budget was used up.**", 0.0, "not run")
            continue
        timeout = min(own, left)
        log(f"run_all: {n} (timeout {timeout:.0f} s)")
        b = Bench(n, p, env)
        b.wait(timeout)
        windows[n] = (b.t0 - t_start, (b.t1 or b.t0) - t_start)
        log(f"run_all: {n} {b.status} in {b.seconds:.0f} s")
        done[n] = (b.markdown(), b.seconds, b.status)
    for b in bg:  # collect: wait while the budget lasts, then stop it (it prints its marks)
        left = budget - (time.perf_counter() - t_start) - RESERVE
        cap = knob(f"RW_BENCH_TIMEOUT_{b.name.upper()}", BACKGROUND[b.name]) - b.seconds
        log(f"run_all: waiting up to {max(0.0, min(left, cap)):.0f} s for {b.name}")
        try:
            b.proc.wait(timeout=max(0.0, min(left, cap)))
        except subprocess.TimeoutExpired:
            log(f"run_all: stopping {b.name} (budget)")
        b.finish_early(grace=RESERVE - 5)
        log(f"run_all: {b.name} {b.status} after {b.seconds:.0f} s")
        overlap = [n for n, (a, z) in windows.items() if a < (b.t1 or 0) - t_start]
        md = b.markdown()
        md += (
            f"\n\nForeground benches that ran while it was active: {', '.join(overlap) or 'none'}."
        )
        done[b.name] = (md, b.seconds, b.status)
    shutil.rmtree(qdir, ignore_errors=True)
    total = time.perf_counter() - t_start
    bg_end = {b.name: (b.t1 or 0) - t_start for b in bg}

    sections = [(n, *done[n]) for n, _ in benches if n in done]
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
    ]
    if bg_end:
        head.append(
            "- **Background:** "
            + ", ".join(f"`bench_{n}.py` from 0 to {t:.0f} s" for n, t in bg_end.items())
            + " (a `regionwatch serve` process doing a monitor cycle every few seconds: about "
            "one core). Benches before it ended shared the machine with it — their targets are "
            "ratios measured interleaved within the bench, CPU time or memory; "
            + " and ".join(sorted(QUIET_BENCHES))
            + " pause it (schedule paused, no flow run in "
            "flight) around their measured part."
        )
    head += [
        "",
        "## Summary",
        "",
        md_table(["bench", "target", "result", "s"], summary_rows(sections)),
        "",
    ]
    body = []
    for n, md, _, _ in sections:
        note = ""
        if n not in BACKGROUND and any(windows.get(n, (0, 0))[0] < t for t in bg_end.values()):
            note = (
                "*Measured part inside a quiet window: the background serve bench was paused.*"
                if n in QUIET_BENCHES
                else "*Ran alongside the background serve bench (≈ one core): absolute times "
                "carry that load; the ratios are measured interleaved within this bench.*"
            )
        body.append(section(n, md, note))
    body.append(profiling_notes(metrics(sections)))
    RESULTS.write_text("\n".join(head) + "\n" + "\n".join(body), encoding="utf-8")
    log(f"run_all: wrote {RESULTS.relative_to(ROOT)} ({total:.0f} s)")
    print(RESULTS.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
