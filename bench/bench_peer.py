"""A peer side by side: newspaper4k on the same pages (issue 7, item 3).

newspaper4k lives in its own virtual environment, ``bench/.venv-newspaper`` (git-ignored),
created here on first use with ``python3.11 -m venv`` + ``pip install newspaper4k`` from the
package index; when that fails the bench prints a clear skip line and exits 0.

The peer does **extraction alone**, from HTML strings already in memory (``Article(url,
fetch_images=False)``, ``download(input_html=…)``, ``parse()`` — nothing is downloaded), timed
inside its own process after a warm-up. Ours is the whole post-download pipeline per article:
extract → tag → cluster → store (the same pass as bench_pipeline.py). Target: ours ≥ 2× faster.

The two alternate in ``RW_BENCH_PEER_CHUNKS`` chunks of pages (default 8) so both see the same
machine load.

Knobs: ``RW_BENCH_PAGES`` (generated pages, default 500), ``RW_BENCH_PEER_PYTHON`` (interpreter
for the venv, default ``python3.11``), ``RW_BENCH_PEER_INSTALL_TIMEOUT`` (seconds, default 600).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench_pipeline import BATCH, Ours
from common import BENCH_DIR, knob, log, md_table, target_line
from pagegen import corpus

VENV = BENCH_DIR / ".venv-newspaper"
TARGET = 2.0

WORKER = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import newspaper
pages = json.load(open(sys.argv[1], encoding="utf-8"))

def run(p):
    a = newspaper.Article(p["url"], fetch_images=False)
    a.download(input_html=p["html"])
    a.parse()
    return a

for p in pages[:10]:
    try:
        run(p)  # warm-up
    except Exception:
        pass
words = 0
failed = []
t0 = time.perf_counter()
for p in pages:
    try:
        words += len(run(p).text.split())
    except Exception as exc:  # a page the peer cannot handle: counted, time kept
        failed.append(f"{p['url']}: {type(exc).__name__}: {str(exc)[:80]}")
total = time.perf_counter() - t0
print(json.dumps({"seconds": total, "pages": len(pages), "words": words, "failed": failed,
                  "version": getattr(newspaper, "__version__", "?")}))
"""


def ensure_venv() -> tuple[Path | None, str]:
    """The peer venv's python, creating the venv when needed; (None, reason) on failure."""
    py = VENV / "bin" / "python"
    if py.exists():
        ok = subprocess.run([str(py), "-c", "import newspaper"], capture_output=True, timeout=120)
        if ok.returncode == 0:
            return py, "existing venv"
    base = os.environ.get("RW_BENCH_PEER_PYTHON", "python3.11")
    if shutil.which(base) is None:
        return None, f"{base} not found on PATH"
    timeout = knob("RW_BENCH_PEER_INSTALL_TIMEOUT", 600)
    log(f"peer: creating {VENV} and installing newspaper4k (once)")
    steps = [
        [base, "-m", "venv", str(VENV)],
        [str(py), "-m", "pip", "install", "-q", "--upgrade", "pip>=24"],
        [str(py), "-m", "pip", "install", "-q", "newspaper4k"],
    ]
    for cmd in steps:
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except (subprocess.TimeoutExpired, OSError) as exc:
            return None, f"`{' '.join(cmd[-2:])}` failed: {exc}"
        if res.returncode != 0:
            tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["?"]
            if "pip>=24" in cmd:  # an old pip is fine if it can still install
                log(f"peer: pip upgrade failed ({tail[0]}); continuing")
                continue
            return None, f"`{' '.join(cmd[-2:])}` exited {res.returncode}: {tail[0][:200]}"
    return py, "created now"


class OursRunner:
    """Our pipeline on one fresh store, fed chunk by chunk (batches of 20, as a feed would)."""

    def __init__(self, pages: list[Any]) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="rw-peer-ours-")
        self._warm(pages)
        self.ours = Ours(Path(self._tmp.name))

    def _warm(self, pages: list[Any]) -> None:
        with tempfile.TemporaryDirectory(prefix="rw-peer-warm-") as tmp:
            w = Ours(Path(tmp))
            w.batch(pages[:10])
            w.close()

    def run(self, chunk: list[Any]) -> None:
        for i in range(0, len(chunk), BATCH):
            self.ours.batch(chunk[i : i + BATCH])

    def breakdown(self) -> dict[str, float]:
        return self.ours.breakdown()

    def close(self) -> None:
        self.ours.close()
        self._tmp.cleanup()


def main() -> None:
    """Run the benchmark and print its markdown section."""
    print("## Peer: newspaper4k on the same pages (issue 7.3)\n")
    py, how = ensure_venv()
    if py is None:
        print(
            target_line(
                f"ours ≥ {TARGET}× faster than newspaper4k",
                None,
                f"SKIPPED: newspaper4k could not be installed in {VENV.name}: {how}",
            )
        )
        return
    n = knob("RW_BENCH_PAGES", 500)
    chunks = max(1, knob("RW_BENCH_PEER_CHUNKS", 8))
    pages = corpus(n)
    n_fix = sum(1 for p in pages if p.kind == "fixture")
    peer: dict[str, Any] = {"seconds": 0.0, "pages": 0, "failed": [], "version": "?"}
    ours = OursRunner(pages)
    log(f"peer: newspaper4k and ours on {len(pages)} pages, alternating in {chunks} chunks")
    with tempfile.TemporaryDirectory(prefix="rw-peer-") as tmp:
        script = Path(tmp) / "worker.py"
        script.write_text(WORKER, encoding="utf-8")
        size = -(-len(pages) // chunks)
        for k in range(chunks):
            chunk = pages[k * size : (k + 1) * size]
            if not chunk:
                continue
            data = Path(tmp) / f"pages{k}.json"
            data.write_text(
                json.dumps([{"url": p.url, "html": p.html} for p in chunk]), encoding="utf-8"
            )
            res = subprocess.run(
                [str(py), str(script), str(data)],
                capture_output=True,
                text=True,
                timeout=1800,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )
            if res.returncode != 0:
                tail = res.stderr.strip().splitlines()[-1:] or ["?"]
                print(
                    target_line(
                        f"ours ≥ {TARGET}× faster than newspaper4k",
                        None,
                        f"SKIPPED: the newspaper4k worker failed: {tail[0][:200]}",
                    )
                )
                ours.close()
                return
            got = json.loads(res.stdout.strip().splitlines()[-1])
            peer["seconds"] += got["seconds"]
            peer["pages"] += got["pages"]
            peer["failed"] += got["failed"]
            peer["version"] = got["version"]
            ours.run(chunk)
    ours.close()
    ours_b = ours.breakdown()
    count = len(pages)
    ours_ms = ours_b["total"] / count * 1000
    peer_ms = peer["seconds"] / peer["pages"] * 1000
    speedup = peer_ms / ours_ms
    print(f"<!-- metric peer_speedup={speedup:.2f} -->")
    print(
        target_line(
            f"ours ≥ {TARGET}× faster than newspaper4k",
            speedup >= TARGET,
            f"ours {ours_ms:.1f} ms end-to-end vs newspaper4k {peer_ms:.1f} ms "
            f"extraction alone per article = {speedup:.2f}× faster",
        )
    )
    print()
    print(
        f"Same {count} pages ({count - n_fix} generated + {n_fix} real); newspaper4k "
        f"{peer['version']} in `bench/.venv-newspaper` ({how}), Python "
        f"{sys.version.split()[0]} here. The two alternate in {chunks} chunks of pages, so "
        f"both see the same machine load; each newspaper4k chunk runs in a fresh process, "
        f"timed after a 10-page warm-up.\n"
    )
    print(
        md_table(
            ["what", "ms / article", "covers"],
            [
                (
                    "RegionWatch, end to end",
                    f"{ours_ms:.1f}",
                    "extract (trafilatura + metadata + language) → tag → cluster → store (SQLite)",
                ),
                ("… of which extract_article", f"{ours_b['extract'] / count * 1000:.1f}", ""),
                (
                    "newspaper4k 0.9.x, extraction alone",
                    f"{peer_ms:.1f}",
                    "Article.download(input_html=…) + parse(), fetch_images=False",
                ),
            ],
        )
    )
    print()
    if peer.get("failed"):
        print(
            f"newspaper4k raised on {len(peer['failed'])} page(s) (their time is included): "
            + "; ".join(f"`{f}`" for f in peer["failed"][:3])
            + "\n"
        )


if __name__ == "__main__":
    main()
