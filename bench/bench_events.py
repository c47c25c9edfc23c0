"""Benchmark of the event-grouping stage (issue 12, item 11).

Two targets:

* cost: grouping (building an article's :class:`~regionwatch.events.EventSignal` from its tags
  and assigning it in :class:`~regionwatch.events.EventIndex`) ≤ 5 % of the per-article cost of
  the stages it sits behind, measured in the same run on the same pages: extraction
  (``extract_article``) and tagging. Storing is left out of the denominator, so the share shown
  is an upper bound of grouping's share of the whole pipeline;
* memory: flat over a 5,000-article stream (``RW_BENCH_EVENT_STREAM``) spread over 50 days of
  publication time, one article in twenty a new happening: the index holds the events of its
  sliding window only. Traced (``tracemalloc``) memory and live events are sampled at 1,000 and
  at 5,000 articles; flat = within +25 % or +1 MB.

    .venv/bin/python bench/bench_events.py
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bench_pipeline import HEADERS, entry_for
from common import Stopwatch, knob, log, md_table, target_line
from pagegen import Page, corpus

SHARE_TARGET = 0.05
FLAT_PCT, FLAT_MB = 0.25, 1.0


def measure_cost(pages: list[Page]) -> dict[str, Any]:
    """Per-article seconds of extract, tag, signal and assign over the same pages."""
    import regionwatch.extract as ex
    from regionwatch.events import EventIndex, SignalBuilder
    from regionwatch.settings import EventsConfig
    from regionwatch.tagging import get_tagger

    tagger = get_tagger()
    builder = SignalBuilder(tagger.lexicon)
    sw = {k: Stopwatch() for k in ("extract", "tag", "signal", "assign")}
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    tagged = []
    for _ in range(2):  # warm-up pass then the measured one; keep the second's figures
        for k in sw:
            sw[k] = Stopwatch()
        idx = EventIndex(EventsConfig())
        tagged = []
        for n, p in enumerate(pages):
            with sw["extract"]:
                art = ex.extract_article(p.content, url=p.url, headers=HEADERS, entry=entry_for(p))
            with sw["tag"]:
                tags = tagger.tag(art.text, title=art.title, lang=art.language)
            with sw["signal"]:
                sig = builder.build(
                    key=art.key,
                    time=art.published or t0 + timedelta(minutes=n),
                    outlet=art.source,
                    language=art.language,
                    title=art.title,
                    text=art.text,
                    tags=tags,
                )
            if sig is not None:
                with sw["assign"]:
                    idx.assign(sig)
                tagged.append(sig)
    n = len(pages)
    per = {k: v.total / n for k, v in sw.items()}
    return {"per": per, "signals": tagged, "articles": n}


def measure_memory(signals: list[Any], total: int) -> dict[str, Any]:
    """Stream ``total`` articles through a fresh index; sample traced memory and live events."""
    from regionwatch.events import EventIndex
    from regionwatch.settings import EventsConfig

    cfg = EventsConfig()
    idx = EventIndex(cfg)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    span = timedelta(days=50)
    samples: dict[int, tuple[float, int]] = {}
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    t_assign = 0.0
    for i in range(total):
        src = signals[i % len(signals)]
        # one article in twenty opens a new happening: other parties, as a new pair would
        happening = i // 20
        parties = tuple((f"{p}_{happening}", s) for p, s in src.weights)
        sig = replace(
            src,
            key=f"s{i}",
            time=start + span * (i / total),
            weights=parties if i % 20 == 0 else src.weights,
            parties=frozenset(p for p, _ in parties) if i % 20 == 0 else src.parties,
        )
        t = time.perf_counter()
        idx.assign(sig)
        t_assign += time.perf_counter() - t
        if i + 1 in (1000, 2000, 3000, 4000, total):
            gc.collect()
            samples[i + 1] = ((tracemalloc.get_traced_memory()[0] - base) / 1e6, len(idx))
    tracemalloc.stop()
    return {
        "samples": samples,
        "assign_ms": 1000 * t_assign / total,
        "window": cfg.window_days,
        "happenings": total // 20,
    }


def main() -> None:
    n_pages = knob("RW_BENCH_EVENT_PAGES", 300)
    stream = knob("RW_BENCH_EVENT_STREAM", 5000)
    log(f"events bench: {n_pages} generated pages + fixtures, stream of {stream}")
    pages = corpus(n_pages)
    cost = measure_cost(pages)
    per = cost["per"]
    floor = per["extract"] + per["tag"]
    grouping = per["signal"] + per["assign"]
    share = grouping / floor if floor else 0.0
    mem = measure_memory(cost["signals"], stream)
    s = mem["samples"]
    m1, e1 = s[1000]
    m5, e5 = s[max(s)]
    flat = m5 <= max(m1 * (1 + FLAT_PCT), m1 + FLAT_MB)

    out = ["## Event grouping", ""]
    out.append(
        target_line(
            "grouping ≤ 5% of the per-article cost (extract + tag, same pages, same run)",
            share <= SHARE_TARGET,
            f"{1000 * grouping:.3f} ms vs {1000 * floor:.2f} ms per article = {100 * share:.2f}%",
        )
    )
    out.append("")
    out.append(
        target_line(
            f"index memory flat over a {stream:,}-article stream",
            flat,
            f"{m1:.2f} MB at 1,000 → {m5:.2f} MB at {max(s):,} articles traced "
            f"({e1} → {e5} live events; flat = ≤ +25% or +1 MB)",
        )
    )
    out.append("")
    out.append(
        f"Cost: {cost['articles']} pages (generated + real fixtures), each extracted, tagged, "
        "turned into a signal and assigned, one pass after a warm-up pass; per article:"
    )
    out.append("")
    rows = [
        ("extract_article", 1000 * per["extract"], ""),
        ("tagger.tag", 1000 * per["tag"], ""),
        ("SignalBuilder.build", 1000 * per["signal"], f"{100 * per['signal'] / floor:.2f}%"),
        ("EventIndex.assign", 1000 * per["assign"], f"{100 * per['assign'] / floor:.2f}%"),
    ]
    out.append(md_table(["stage", "ms / article", "share of extract + tag"], rows))
    out.append("")
    out.append(
        f"Memory: a stream of {stream:,} signals over 50 days of publication time "
        f"(window {mem['window']:g} days), {mem['happenings']:,} distinct new happenings among "
        f"them (an index that never evicted would hold them all), assign "
        f"{mem['assign_ms']:.3f} ms per article under tracemalloc:"
    )
    out.append("")
    out.append(
        md_table(
            ["articles", "traced MB", "live events"],
            [(f"{k:,}", v[0], v[1]) for k, v in sorted(s.items())],
        )
    )
    out.append("")
    out.append(
        f"<!-- metric events_share={share:.4f} events_mem_1k={m1:.2f} events_mem_5k={m5:.2f} -->"
    )
    print("\n".join(out))


if __name__ == "__main__":
    main()
