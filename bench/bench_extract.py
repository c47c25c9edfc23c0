"""Benchmark of article extraction on the shared page fixtures.

Prints a markdown table: per page the token F1 against the benchmark ground truth (AEB pages)
or the share of must-have / must-not-have snippets honoured (trafilatura pages), the time per
page, and the means; plus the floor cost (plain ``trafilatura.extract``) measured in the same run,
since absolute figures swing with machine load. Needs ``$REGIONWATCH_SHARED``.

    .venv/bin/python bench/bench_extract.py [--repeat N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402

from regionwatch.extract import extract_article  # noqa: E402
from regionwatch.http import decode_bytes  # noqa: E402

_TOKEN_RE = re.compile(r"\w+", re.UNICODE)


def shared_dir() -> Path:
    env = os.environ.get("REGIONWATCH_SHARED")
    if env and Path(env).is_dir():
        return Path(env)
    return ROOT.parent / "shared"


def tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(text.lower())


def token_f1(predicted: str, truth: str) -> tuple[float, float, float]:
    """(precision, recall, F1) of bags of lower-cased word tokens."""
    p, t = Counter(tokens(predicted)), Counter(tokens(truth))
    common = sum((p & t).values())
    if not p or not t or not common:
        return 0.0, 0.0, 0.0
    prec, rec = common / sum(p.values()), common / sum(t.values())
    return prec, rec, 2 * prec * rec / (prec + rec)


def load_pages(shared: Path) -> list[dict]:
    """Pages with ground truth: name, bytes, url, kind ('aeb' | 'snippets'), truth."""
    pages_dir = shared / "fixtures" / "pages"
    out = []
    for path in sorted(pages_dir.iterdir()):
        if path.is_dir():
            continue
        base = path.name.removesuffix(".gz").removesuffix(".html")
        gt_path = pages_dir / "groundtruth" / f"{base}.json"
        raw = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
        page = {
            "name": base,
            "content": raw,
            "url": f"https://example.org/{base}",
            "kind": None,
            "truth": None,
        }
        if gt_path.is_file():
            key, gt = next(iter(json.loads(gt_path.read_text(encoding="utf-8")).items()))
            if "articleBody" in gt:
                page.update(kind="aeb", truth=gt["articleBody"], url=gt.get("url") or page["url"])
            else:
                page.update(
                    kind="snippets", truth=gt, url=key if key.startswith("http") else page["url"]
                )
        out.append(page)
    return out


def score_snippets(text: str, truth: dict) -> float:
    """Share of snippets honoured: `with` present, `without` absent."""
    norm = " ".join(text.split())
    checks = [" ".join(s.split()) in norm for s in truth.get("with", [])]
    checks += [" ".join(s.split()) not in norm for s in truth.get("without", [])]
    return sum(checks) / len(checks) if checks else 1.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1, help="extractions per page (timing)")
    args = ap.parse_args()
    pages = load_pages(shared_dir())
    extract_article(pages[0]["content"], url=pages[0]["url"])  # warm-up (imports, models)
    rows, f1s, snips, times, floor = [], [], [], [], []
    for page in pages:
        html_text = decode_bytes(page["content"], "text/html")
        t0 = time.perf_counter()
        for _ in range(args.repeat):
            trafilatura.extract(html_text, url=page["url"], include_comments=False)
        floor.append((time.perf_counter() - t0) * 1000 / args.repeat)
        t0 = time.perf_counter()
        for _ in range(args.repeat):
            art = extract_article(
                page["content"], url=page["url"], headers={"content-type": "text/html"}
            )
        ms = (time.perf_counter() - t0) * 1000 / args.repeat
        times.append(ms)
        if page["kind"] == "aeb":
            p, r, f1 = token_f1(art.text, page["truth"])
            f1s.append(f1)
            score = f"F1 {f1:.3f} (P {p:.2f} R {r:.2f})"
        elif page["kind"] == "snippets":
            s = score_snippets(art.text, page["truth"])
            snips.append(s)
            score = f"snippets {s:.2f}"
        else:
            score = "-"
        rows.append(
            f"| {page['name']} | {art.text_source} | {art.language} | {len(art.text)} "
            f"| {score} | {ms:.1f} |"
        )
    print("| page | text_source | lang | chars | score | ms/page |")
    print("|---|---|---|---:|---|---:|")
    print("\n".join(rows))
    print()
    print("| metric | value |")
    print("|---|---:|")
    print(f"| mean token F1 (AEB ground truth, {len(f1s)} pages) | {statistics.mean(f1s):.3f} |")
    print(
        f"| snippet checks honoured (trafilatura eval, {len(snips)} pages) "
        f"| {statistics.mean(snips):.3f} |"
    )
    print(f"| ms/page, mean over {len(times)} pages | {statistics.mean(times):.1f} |")
    print(f"| ms/page, median | {statistics.median(times):.1f} |")
    print(
        f"| floor: plain trafilatura.extract(), ms/page mean (same run) "
        f"| {statistics.mean(floor):.1f} |"
    )
    print(f"| extract_article / floor | {statistics.mean(times) / statistics.mean(floor):.2f}x |")


if __name__ == "__main__":
    main()
