"""Tagging quality per language group on the dev sets, with a blind slice (not a speed bench:
``run_all.py`` does not run it).

Items in the sixteen languages listed for tagging are scored per label (P/R/F1, "scope"); the
items in other languages ("beyond") are split by a hash of their id into a *tune* half, whose
errors may be read while writing language packs, and a *blind* half, whose texts and errors are
never printed (only its counts): micro P/R/F1 over the three labels for each half.

    .venv/bin/python bench/eval_languages.py [SEEDS_DIR] [--show]   # --show: the tune half's errors

Needs ``$REGIONWATCH_SHARED`` (``eval/dev.jsonl``, ``eval/dev2.jsonl``).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, shared_dir  # noqa: E402

from regionwatch.lexicon import load_lexicon  # noqa: E402
from regionwatch.tagging import Tagger  # noqa: E402

# fmt: off
SCOPE = frozenset(
    ["en", "ru", "uk", "be", "hy", "az", "ka", "tr", "kk", "ky", "tg", "uz", "tk", "fr", "de", "fa"]
)
# fmt: on
LABELS = ("border_clash", "ceasefire", "csto")


def is_blind(item_id: str) -> bool:
    """The blind half of the beyond-list items: odd SHA-256 of the id."""
    return int(hashlib.sha256(item_id.encode()).hexdigest(), 16) % 2 == 1


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def count(acc: list[int], pred: set[str], gold: set[str], label: str) -> None:
    acc[0] += label in pred and label in gold
    acc[1] += label in pred and label not in gold
    acc[2] += label in gold and label not in pred


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    show = "--show" in sys.argv
    shared = shared_dir()
    if shared is None:
        sys.exit("set REGIONWATCH_SHARED (the dev sets live there)")
    tagger = Tagger(load_lexicon(Path(args[0]) if args else ROOT / "seeds"))
    print(f"lexicon {tagger.lexicon_hash}")
    for name in ("dev.jsonl", "dev2.jsonl"):
        with open(shared / "eval" / name, encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
        scope = {lab: [0, 0, 0] for lab in LABELS}
        halves = {"tune": [0, 0, 0], "blind": [0, 0, 0]}
        sizes = {"tune": 0, "blind": 0}
        for row in rows:
            res = tagger.tag(row["text"], title=row.get("title") or None, lang=row["lang"])
            pred, gold = set(res.labels), set(row["labels"])
            if row["lang"] in SCOPE:
                for lab in LABELS:
                    count(scope[lab], pred, gold, lab)
                continue
            half = "blind" if is_blind(row["id"]) else "tune"
            sizes[half] += 1
            for lab in LABELS:
                count(halves[half], pred, gold, lab)
            if show and half == "tune" and pred != gold:
                print(f"  tune error {row['id']} {row['lang']} {sorted(gold)} -> {sorted(pred)}")
        print(f"## {name}")
        for lab in LABELS:
            p, r, f = prf(*scope[lab])
            print(
                f"  in scope  {lab:13s} P={p:.3f} R={r:.3f} F1={f:.3f}  (tp, fp, fn)={scope[lab]}"
            )
        for half in ("tune", "blind"):
            p, r, f = prf(*halves[half])
            print(
                f"  beyond, {half:5s} half ({sizes[half]:2d} items) micro P={p:.3f} R={r:.3f} "
                f"F1={f:.3f}  (tp, fp, fn)={halves[half]}"
            )


if __name__ == "__main__":
    main()
