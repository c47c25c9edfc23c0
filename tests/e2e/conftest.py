"""End-to-end fixtures: real Prefect servers on loopback, an outlet and a webhook on loopback.

One Prefect server (SQLite) per test session; a second one on PostgreSQL for the worker test.
The outlet serves an RSS feed and article pages written for these tests (our own short texts).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any

import pytest

from tests.loopback import LoopServer, Resource, Webhook

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable

QUIET_PREFECT = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_UI_ENABLED": "false",
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
}

# ---------------------------------------------------------------------------- our articles
# Short texts written for these tests; any resemblance to real reports is in the genre only.
ARTICLES: list[dict[str, Any]] = [
    {
        "slug": "batken-border-firefight",
        "title": "Kyrgyz and Tajik border guards exchange fire near Batken",
        "paras": [
            "Border guards of Kyrgyzstan and Tajikistan exchanged fire on Tuesday near a disputed "
            "section of the border in the Batken region, officials in Bishkek said.",
            "The Kyrgyz border service said two of its servicemen were wounded in the border "
            "clash, which began after a dispute over a water intake and lasted several hours.",
            "Tajikistan's border troops accused the Kyrgyz side of opening fire first. Both "
            "governments said talks between the border commanders were under way.",
        ],
        "expect": {"border_clash"},
    },
    {
        "slug": "karabakh-line-ceasefire",
        "title": "Armenia and Azerbaijan agree ceasefire after shelling on the border",
        "paras": [
            "Armenia and Azerbaijan agreed a ceasefire on Wednesday after a night of shelling "
            "along their shared border, the defence ministries in Yerevan and Baku said.",
            "The truce took effect at noon. Both sides accused each other of violating the "
            "ceasefire earlier in the week and said they would respect it from now on.",
            "Observers said the agreement was fragile and that clashes on the border could resume.",
        ],
        "expect": {"ceasefire"},
    },
    {
        "slug": "almaty-tram-line",
        "title": "Almaty opens a new tram line to the airport",
        "paras": [
            "The city of Almaty opened a new tram line on Monday linking the centre with the "
            "airport, the mayor's office said.",
            "The line is twelve kilometres long and has fourteen stops. Trams will run every "
            "eight minutes during the day.",
        ],
        "expect": set(),
    },
]


def article_html(url: str, title: str, paras: list[str], published: datetime, outlet: str) -> str:
    body = "\n".join(f"<p>{escape(p)}</p>" for p in paras)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)} | {escape(outlet)}</title>
<link rel="canonical" href="{escape(url)}">
<meta property="og:title" content="{escape(title)}">
<meta property="og:site_name" content="{escape(outlet)}">
<meta property="article:published_time" content="{published.isoformat()}">
</head><body><header><nav><a href="/">Home</a> <a href="/news/">News</a></nav></header>
<main><article><h1>{escape(title)}</h1>
<time datetime="{published.isoformat()}">{published:%d %B %Y %H:%M}</time>
{body}
</article></main><footer>© {escape(outlet)}</footer></body></html>"""


def rss(title: str, link: str, items: list[dict[str, Any]]) -> str:
    entries = "\n".join(
        f"""<item><title>{escape(i["title"])}</title><link>{escape(i["url"])}</link>
<guid isPermaLink="true">{escape(i["url"])}</guid>
<pubDate>{format_datetime(i["published"])}</pubDate>
<description>{escape(i["paras"][0])}</description></item>"""
        for i in items
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>{escape(title)}</title><link>{escape(link)}</link>
<description>News from the region</description>
{entries}
</channel></rss>"""


@dataclass
class Outlet:
    """A loopback outlet with one RSS feed; ``urls`` maps article slug to page URL."""

    server: LoopServer
    feed_url: str
    urls: dict[str, str]
    name: str = "Steppe Herald"

    def expected(self) -> set[tuple[str, str]]:
        """(page URL, category) pairs that must alert (others may alert too, never twice)."""
        return {(self.urls[a["slug"]], c) for a in ARTICLES for c in a["expect"]}

    def quiet(self) -> set[str]:
        """Pages that must not alert at all."""
        return {self.urls[a["slug"]] for a in ARTICLES if not a["expect"]}


def publish_outlet(srv: LoopServer, name: str = "Steppe Herald", prefix: str = "") -> Outlet:
    now = datetime.now(UTC).replace(microsecond=0)
    items = []
    urls = {}
    for k, a in enumerate(ARTICLES):
        path = f"/{prefix}news/{a['slug']}.html"
        url = srv.url(path)
        published = now - timedelta(minutes=10 + 7 * k)
        srv.set(path, Resource(article_html(url, a["title"], a["paras"], published, name).encode()))
        items.append({**a, "url": url, "published": published})
        urls[a["slug"]] = url
    feed_path = f"/{prefix}feed.xml"
    srv.set(
        feed_path,
        Resource(rss(name, srv.url("/"), items).encode(), "application/rss+xml; charset=utf-8"),
    )
    return Outlet(server=srv, feed_url=srv.url(feed_path), urls=urls, name=name)


def toml_str(s: str) -> str:
    return json.dumps(s)


def write_config(
    path: Path, *, db_url: str, feeds: list[tuple[str, str]], hook_port: int, interval: int = 600
) -> Path:
    lines = [
        "[storage]",
        f"url = {toml_str(db_url)}",
        "",
        "[http]",
        "allow_private_networks = true",
        "obey_robots = false",
        "per_host_delay = 0",
        "",
    ]
    for name, url in feeds:
        lines += [
            "[[feeds]]",
            f"name = {toml_str(name)}",
            f"url = {toml_str(url)}",
            'language = "en"',
            "",
        ]
    lines += [
        "[[channels]]",
        f"url = {toml_str(f'json://127.0.0.1:{hook_port}/hook')}",
        'name = "desk"',
        "",
        "[alerts]",
        "max_age_hours = 48",
        "",
        "[service]",
        f"monitor_interval_seconds = {interval}",
        'digest_time = "07:00"',
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def hook_keys(wh: Webhook, outlet: Outlet) -> list[tuple[str, str]]:
    """(article URL, category) for every delivered webhook POST."""
    out = []
    for req in wh.delivered():
        try:
            payload = json.loads(req.body.decode("utf-8"))
        except ValueError:
            continue
        blob = json.dumps(payload)
        title = str(payload.get("title", ""))
        cat = next((c for c in ("border_clash", "ceasefire", "csto") if c in title), None)
        cat = cat or next((c for c in ("border_clash", "ceasefire", "csto") if c in blob), "?")
        link = next((u for u in outlet.urls.values() if u in blob), "?")
        out.append((link, cat))
    return out


# ---------------------------------------------------------------------------- prefect servers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def api(url: str, body: dict[str, Any] | None = None, timeout: float = 10) -> Any:
    """One Prefect API call; retried on 429/502/503 like Prefect's own client does (a busy
    SQLite-backed server answers 503 while its database is locked)."""
    for attempt in range(6):
        req = urllib.request.Request(
            url,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json"},
            method="POST" if body is not None else "GET",
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read().decode() or "null")
        except urllib.error.HTTPError as exc:
            if exc.code not in (429, 502, 503) or attempt == 5:
                raise
            time.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


def wait_for(pred: Any, timeout: float, step: float = 1.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@dataclass
class PrefectServer:
    api_url: str
    home: Path
    proc: subprocess.Popen[bytes]
    env: dict[str, str]

    def flow_runs(self, **filt: Any) -> list[dict[str, Any]]:
        return api(self.api_url + "/flow_runs/filter", {"limit": 200, **filt}) or []

    def log(self) -> str:
        return (self.home / "server.log").read_text(errors="replace")[-4000:]


def child_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PREFECT_") and not k.startswith("REGIONWATCH_")
    }
    env.update(QUIET_PREFECT)
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def start_prefect_server(home: Path, **extra: str) -> PrefectServer:
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = child_env(PREFECT_HOME=str(home), **extra)
    with open(home / "server.log", "wb") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [PY, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(home),
            start_new_session=True,
        )
    srv = PrefectServer(api_url=f"http://127.0.0.1:{port}/api", home=home, proc=proc, env=env)

    def healthy() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"prefect server exited rc={proc.returncode}:\n{srv.log()}")
        try:
            api(srv.api_url + "/health", timeout=3)
            return True
        except (urllib.error.URLError, OSError, ValueError):
            return False

    wait_for(healthy, 120, 0.5, "prefect server health")
    return srv


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 20) -> int | None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """A real ``prefect server`` (SQLite) on loopback for the whole session."""
    srv = start_prefect_server(tmp_path_factory.mktemp("prefect-home"))
    yield srv
    stop_process(srv.proc)


@pytest.fixture(scope="session")
def prefect_pg_server(
    tmp_path_factory: pytest.TempPathFactory, pg_url: str
) -> Iterator[PrefectServer]:
    """A real ``prefect server`` whose database is a fresh PostgreSQL database."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = "prefect_e2e_" + uuid.uuid4().hex[:10]
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_url).set(drivername="postgresql+asyncpg", database=name)
    srv = start_prefect_server(
        tmp_path_factory.mktemp("prefect-pg-home"),
        PREFECT_API_DATABASE_CONNECTION_URL=url.render_as_string(hide_password=False),
    )
    yield srv
    stop_process(srv.proc)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def outlet() -> Iterator[Outlet]:
    srv = LoopServer().start()
    yield publish_outlet(srv)
    srv.stop()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    wh = Webhook().start()
    yield wh
    wh.stop()
