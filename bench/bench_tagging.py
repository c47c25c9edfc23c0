"""Tagging alone: articles of ~800 words per second on one core, and the cost relative to a bare
blank-spaCy tokenisation pass (stock ``spacy.blank("xx")``) over the same texts, measured in the
same run (alternating, best of N, CPU time of this process). With a statistical NER model
installed, its cost is reported separately (it is off the hot path by default).

Texts: the dev set's excerpts stitched to ~800 words when $REGIONWATCH_SHARED (or ../shared) is
at hand, else synthetic articles built from our own sentences. Prints a markdown section.

    .venv/bin/python bench/bench_tagging.py      # knobs: RW_BENCH_TAG_N (300), RW_BENCH_TAG_WORDS
                                                 # (800), RW_BENCH_TAG_REPEATS (5)
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

import spacy  # noqa: E402
from common import knob, log, md_table, shared_dir, target_line  # noqa: E402

from regionwatch.tagging import Tagger, get_tagger  # noqa: E402

_OWN = [
    "Kyrgyz and Tajik border guards exchanged fire near the village on Tuesday morning.",
    "Officials in Bishkek said two servicemen were wounded and taken to hospital in Batken.",
    "The Collective Security Treaty Organization said its secretary-general called both sides.",
    "Armenia and Azerbaijan accused each other of opening fire along the line of contact.",
    "Moscow urged restraint and offered to host talks on a lasting ceasefire.",
    "Переговоры о прекращении огня продолжатся в Москве на следующей неделе.",
    "Analysts said the economy of Kazakhstan grew by four percent despite higher fuel prices.",
    "The parliament in Tbilisi debated the budget while protesters gathered outside.",
    "Energy exports through the Middle Corridor rose sharply in the first quarter.",
    "The minister said the road crossing would reopen once the situation calmed down.",
    "Residents described hearing gunfire overnight and sheltering in basements.",
    "Turkey and Russia discussed grain shipments and the situation in the South Caucasus.",
]


def _texts(n: int, words: int) -> tuple[list[str], str]:
    shared = shared_dir()
    dev = shared / "eval" / "dev.jsonl" if shared else None
    rng = random.Random(7)
    if dev is not None and dev.is_file():
        pool = [json.loads(x)["text"] for x in dev.read_text(encoding="utf-8").splitlines() if x]
        source = "dev-set excerpts stitched"
    else:
        pool = [" ".join(rng.choice(_OWN) for _ in range(12)) for _ in range(60)]
        source = "synthetic sentences of our own"
    out = []
    for _ in range(n):
        parts: list[str] = []
        count = 0
        while count < words:
            t = rng.choice(pool)
            parts.append(t)
            count += len(t.split())
        out.append(" ".join(" ".join(parts).split()[:words]))
    return out, source


def _cpu(fn: Callable[[str], Any], texts: list[str]) -> float:
    t0 = time.process_time()
    for t in texts:
        fn(t)
    return time.process_time() - t0


def main() -> None:
    n, words, repeats = (
        knob("RW_BENCH_TAG_N", 300),
        knob("RW_BENCH_TAG_WORDS", 800),
        knob("RW_BENCH_TAG_REPEATS", 5),
    )
    texts, source = _texts(n, words)
    t0 = time.process_time()
    tagger = get_tagger()
    build = time.process_time() - t0
    bare_nlp = spacy.blank("xx")
    for t in texts[:20]:  # warm both vocabularies
        bare_nlp(t)
        tagger.tag(t)
    make_doc = tagger.nlp.make_doc
    match = getattr(tagger, "_match", None)

    def tokenise_and_match(text: str) -> Any:
        return match(make_doc(text)) if match is not None else make_doc(text)

    bare, full, tok, tok_match = [], [], [], []
    for r in range(repeats):  # alternate, keep the best of each
        log(f"tagging bench: pass {r + 1}/{repeats}")
        bare.append(_cpu(bare_nlp, texts))
        full.append(_cpu(tagger.tag, texts))
        tok.append(_cpu(make_doc, texts))
        tok_match.append(_cpu(tokenise_and_match, texts))
    b, f = min(bare), min(full)
    per_art = sorted(_cpu(tagger.tag, [t]) for t in texts[:100])
    rate = n / f
    ratio = f / b
    rows: list[tuple[str, str]] = [
        ("pipeline build (lexicon load + matchers), once per process", f"{build:.2f} s"),
        (
            "bare blank-spaCy pass (`spacy.blank('xx')(text)`)",
            f"{n / b:,.0f} articles/s ({b / n * 1e3:.2f} ms)",
        ),
        (
            "tagging (actors, themes, 3 categories, evidence)",
            f"{rate:,.0f} articles/s ({f / n * 1e3:.2f} ms)",
        ),
        (
            "ms per article, median / p95 / max of 100",
            f"{statistics.median(per_art) * 1e3:.2f} / {per_art[94] * 1e3:.2f} / "
            f"{per_art[-1] * 1e3:.2f}",
        ),
        ("tagging / bare pass", f"{ratio:.2f}x"),
        ("… of which our tokenizer alone / bare pass", f"{min(tok) / b:.2f}x"),
        ("… of which tokenizer + the phrase-matcher pass / bare pass",
         f"{min(tok_match) / b:.2f}x"),
        ("… the rest (sentences, years, counting, context, the three category rules)",
         f"{(f - min(tok_match)) / b:.2f}x"),
    ]
    ner_tagger = Tagger(tagger.lexicon, ner=True)
    if ner_tagger.has_ner:
        sample = texts[: min(60, n)]
        ner_t = _cpu(ner_tagger.tag, sample) / len(sample)
        rows.append(
            (
                "with statistical NER (`--ner`, off by default)",
                f"{1 / ner_t:,.0f} articles/s ({ner_t * 1e3:.1f} ms)",
            )
        )
    else:
        rows.append(("with statistical NER", "model not installed (optional)"))
    print(
        f"{n} articles of {words} words ({source}); CPU time of one process, best of "
        f"{repeats} alternating passes.\n"
    )
    print(md_table(["measure", "value"], rows))
    print()
    print(
        target_line(
            "issue 3 — tagging ≥ 100 articles of 800 words per second",
            rate >= 100,
            f"{rate:,.0f}/s",
        )
    )
    print(target_line("7.5 — tagging ≤ 2 × a bare blank-spaCy pass", ratio <= 2.0, f"{ratio:.2f}x"))
    print(f"<!-- metric tag_ratio={ratio:.2f} tag_per_s={rate:.0f} -->")
    if ratio > 2.0:
        print(
            "\nWhere the rest goes (profiled with cProfile and an alternating harness, "
            "a545a78): tokenising is the bare pass itself and the one phrase-matcher pass "
            "adds 0.3–0.4× (rows above); the rest is Python over the ~200 matches and the "
            "~14 rule sentences of an 800-word article (evidence, actor context, cancelling "
            "rules). Before that commit the tagger ran three matcher passes, built an object "
            "per match and context for every sentence: 3.9× (identical output after, on "
            "2,537 texts). Reaching 2× would need the per-sentence rule inputs compiled "
            "(Cython) — not done."
        )


if __name__ == "__main__":
    main()
