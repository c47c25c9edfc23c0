"""Install a built RegionWatch wheel into a fresh venv outside the checkout and use it there.

Usage: ``python tests/packaging/smoke_wheel.py DIST_DIR [--keep]`` (``make wheel`` builds
DIST_DIR first; CI runs it once). Standard library only: nothing of the checkout is imported,
and the child processes get no ``PYTHONPATH``, so only the installed package can answer.

From a temporary folder (the system temp directory, never inside the checkout) it checks:

1. the packages import from the venv and the bundled watchlist is the wheel's package data;
2. ``regionwatch classify`` tags two texts of our own (a border clash; a council budget);
3. ``regionwatch run --no-prefect`` polls a feed served on 127.0.0.1 and stores its article
   (``items --json``);
4. ``regionwatch demo`` (its sample articles ship in the wheel) succeeds.

Exit 0 when all hold. The venv needs ``pip>=24`` (NOTES.md) and the package index.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CLASSIFY_INPUT = [
    {
        "id": "clash",
        "title": "Armenian and Azerbaijani troops exchange fire on the border",
        "text": (
            "Armenian and Azerbaijani troops exchanged fire on Tuesday near the border village "
            "of Sotk, and two Armenian soldiers were wounded, the defence ministry in Yerevan "
            "said. Baku accused Armenian units of opening fire first on its positions along the "
            "border; the shooting lasted for more than an hour before it stopped."
        ),
        "lang": "en",
    },
    {
        "id": "parks",
        "title": "City council approves a larger budget for public parks",
        "text": (
            "The city council approved a larger budget for public parks on Tuesday. New benches, "
            "lighting and a playground will be installed before the summer, the mayor said."
        ),
        "lang": "en",
    },
]

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Kyrgyz and Tajik border guards exchange fire</title></head><body><article>
<h1>Kyrgyz and Tajik border guards exchange fire</h1>
<p>Kyrgyz and Tajik border guards exchanged fire on Monday near a disputed section of the border
in the Batken region, and one Kyrgyz border guard was wounded, the border service in Bishkek said
in a statement. Dushanbe said its posts had come under fire first.</p>
<p>The two sides agreed to pull back their units from the area after talks between the heads of
the local border detachments, the statement added. Shooting along the poorly marked frontier has
flared up several times in recent years.</p></article></body></html>"""


class _Site(BaseHTTPRequestHandler):
    """One RSS feed with one item and its page."""

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        port = self.server.server_address[1]
        if self.path == "/feed.xml":
            body = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Smoke Wire</title><link>http://127.0.0.1:{port}/</link>
<description>wheel smoke test</description><item>
<title>Kyrgyz and Tajik border guards exchange fire</title>
<link>http://127.0.0.1:{port}/news/1.html</link><guid>smoke-1</guid>
<pubDate>{formatdate(usegmt=True)}</pubDate></item></channel></rss>""".encode()
            ctype = "application/rss+xml"
        elif self.path == "/news/1.html":
            body, ctype = PAGE.encode(), "text/html; charset=utf-8"
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _env(tmp: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")
        and not k.startswith("REGIONWATCH_")
        and not k.startswith("PREFECT_")
    }
    env.update(
        PREFECT_HOME=str(tmp / "prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW="ignore",
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120",
        NO_PROXY="127.0.0.1,localhost",
    )
    env["PATH"] = f"{tmp / 'venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    print("$ " + " ".join(cmd), flush=True)
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"FAILED (exit {proc.returncode}): {' '.join(cmd)}")
    return proc.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dist", type=Path, help="folder holding the built wheel")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    wheels = sorted(args.dist.resolve().glob("regionwatch-*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"expected one regionwatch wheel in {args.dist}, found {len(wheels)}")
    tmp = Path(tempfile.mkdtemp(prefix="rw-wheel-")).resolve()
    if tmp.is_relative_to(ROOT):
        raise SystemExit(f"{tmp} is inside the checkout")
    work = tmp / "work"
    work.mkdir()
    env = _env(tmp)
    py = str(tmp / "venv" / "bin" / "python")
    rw = str(tmp / "venv" / "bin" / "regionwatch")
    try:
        _run([sys.executable, "-m", "venv", str(tmp / "venv")], work, env)
        _run([py, "-m", "pip", "install", "-q", "--upgrade", "pip>=24"], work, env)
        _run([py, "-m", "pip", "install", "-q", str(wheels[0])], work, env, timeout=1200)

        # 1. the installed code and its bundled data answer, not the checkout
        where = json.loads(
            _run(
                [
                    py,
                    "-c",
                    "import json, flows, web, regionwatch;"
                    "from regionwatch.settings import DEFAULT_SEEDS_DIR as s;"
                    "print(json.dumps([regionwatch.__file__, flows.__file__, web.__file__,"
                    " str(s), sorted(p.name for p in s.glob('*.yaml'))]))",
                ],
                work,
                env,
            )
        )
        venv = str(tmp / "venv")
        assert all(p.startswith(venv) for p in where[:4]), where
        assert where[3].endswith("regionwatch/seeds"), where
        assert {"actors.yaml", "themes.yaml", "feeds.yaml"} <= set(where[4]), where

        # 2. classify
        src = work / "in.jsonl"
        src.write_text("".join(json.dumps(r) + "\n" for r in CLASSIFY_INPUT), encoding="utf-8")
        _run([rw, "classify", "-i", "in.jsonl", "-o", "out.jsonl"], work, env)
        out = {
            r["id"]: r
            for r in map(json.loads, (work / "out.jsonl").read_text("utf-8").splitlines())
        }
        assert "border_clash" in out["clash"]["labels"], out["clash"]
        assert not out["parks"]["labels"], out["parks"]

        # 3. run: one cycle on a loopback feed, with the bundled watchlist
        srv = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            port = srv.server_address[1]
            (work / "regionwatch.toml").write_text(
                f"""[storage]
url = "sqlite:///{work / "rw.db"}"

[http]
allow_private_networks = true

[[feeds]]
name = "Smoke Wire"
url = "http://127.0.0.1:{port}/feed.xml"
language = "en"
""",
                encoding="utf-8",
            )
            _run([rw, "run", "--no-prefect"], work, env)
            items = [
                json.loads(line)
                for line in _run([rw, "items", "--json"], work, env).splitlines()
                if line.strip()
            ]
        finally:
            srv.shutdown()
        assert len(items) == 1 and items[0]["url"].endswith("/news/1.html"), items

        # 4. the demo, with its bundled sample and Prefect
        _run([rw, "demo"], tmp, env, timeout=900)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("wheel smoke test: OK (installed package, bundled seeds, classify, run, demo)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
