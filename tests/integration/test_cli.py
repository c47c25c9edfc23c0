"""The CLI contract, driven as a user would: subprocesses against feeds served on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

import pytest

from tests.loopback import LoopServer, Resource

ROOT = Path(__file__).resolve().parents[2]

STORIES = [
    (
        "Border guards trade fire near Vorukh",
        "Kyrgyz and Tajik border guards exchanged fire on Tuesday near the Vorukh enclave, "
        "the border services of both countries said. Two servicemen were wounded in the "
        "shooting, which began after a dispute over a water distribution point on the "
        "disputed section of the frontier. Both sides accused each other of opening fire first.",
    ),
    (
        "Almaty opens a new tram line",
        "The city of Almaty opened its first new tram line in a decade on Monday. The line "
        "runs twelve kilometres from the railway station to the southern districts and is "
        "expected to carry forty thousand passengers a day, the mayor's office said.",
    ),
]


def rss(base: str, items: list[tuple[str, str, datetime, str]]) -> bytes:
    body = "".join(
        f"<item><title>{escape(t)}</title><link>{base}{path}</link>"
        f"<guid>{base}{path}</guid><pubDate>{format_datetime(d)}</pubDate>"
        f"<description>{escape(s[:120])}</description></item>"
        for t, path, d, s in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Loopback Desk</title><link>{base}/</link><description>test</description>"
        f"{body}</channel></rss>"
    ).encode()


def page(title: str, text: str) -> bytes:
    return (
        f"<html><head><title>{escape(title)}</title></head><body><nav>Home | News</nav>"
        f"<article><h1>{escape(title)}</h1><p>{escape(text)}</p><p>{escape(text)}</p></article>"
        "<footer>(c) Loopback Desk</footer></body></html>"
    ).encode()


@pytest.fixture(scope="module")
def site() -> Iterator[LoopServer]:
    srv = LoopServer().start()
    now = datetime.now(UTC) - timedelta(minutes=10)
    items = []
    for n, (title, text) in enumerate(STORIES):
        path = f"/news/{n}.html"
        srv.set(path, Resource(page(title, text)))
        items.append((title, path, now - timedelta(minutes=n), text))
    srv.set("/feed.xml", Resource(rss(srv.base, items), "application/rss+xml"))
    srv.set("/broken.xml", Resource(b"<html>not a feed", "text/html"))
    srv.set("/robots.txt", Resource(b"User-agent: *\nAllow: /\n", "text/plain"))
    yield srv
    srv.stop()


def cli(*args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGIONWATCH_")}
    env["COLUMNS"] = "200"
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def config(site: LoopServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cli")
    cfg = d / "rw.toml"
    cfg.write_text(
        f"""
[storage]
url = "sqlite:///{d}/rw.db"
[http]
allow_private_networks = true
user_agent = "RegionWatch-test/1 (+http://127.0.0.1/)"
[[feeds]]
name = "Loopback Desk"
url = "{site.url("/feed.xml")}"
language = "en"
[[feeds]]
name = "Broken"
url = "{site.url("/broken.xml")}"
[[channels]]
url = "json://127.0.0.1:9/hook?token=sekrit"
[alerts]
max_age_hours = 48
""",
        encoding="utf-8",
    )
    return cfg


def test_bad_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[http]\nallow_private_networks = 'perhaps'\n", encoding="utf-8")
    r = cli("run", "--config", str(bad), cwd=tmp_path)
    assert r.returncode == 2
    assert "http.allow_private_networks" in r.stderr
    bad.write_text("[storage\n", encoding="utf-8")
    r = cli("items", "--config", str(bad), cwd=tmp_path)
    assert r.returncode == 2 and "TOML" in r.stderr


def test_config_show_masks_secrets(config: Path) -> None:
    r = cli("config", "show", "--config", str(config), cwd=config.parent)
    assert r.returncode == 0, r.stderr
    assert "sekrit" not in r.stdout
    shown = json.loads(r.stdout)
    assert shown["feeds"][0]["name"] == "Loopback Desk"


def test_run_twice_stores_once_and_lists_items(site: LoopServer, config: Path) -> None:
    r1 = cli("run", "--no-prefect", "--json", "--config", str(config), cwd=config.parent)
    assert r1.returncode == 0, r1.stderr
    s1 = json.loads(r1.stdout.strip().splitlines()[-1])
    feeds = {f["source"]: f for f in s1["feeds"]}
    assert feeds["Loopback Desk"]["new_items"] == 2
    assert feeds["Broken"]["status"] in ("empty", "bozo", "error")
    site.clear_log()
    r2 = cli("run", "--no-prefect", "--config", str(config), cwd=config.parent)
    assert r2.returncode == 0, r2.stderr
    assert "Loopback Desk" in r2.stdout and "total:" in r2.stdout
    feed_gets = site.requests("/feed.xml")
    assert feed_gets and all(q.status == 304 for q in feed_gets)
    assert not site.requests("/news/0.html"), "a known page was fetched again"

    r3 = cli("items", "--json", "--config", str(config), cwd=config.parent)
    assert r3.returncode == 0, r3.stderr
    rows = [json.loads(line) for line in r3.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 2
    assert len({row["url"] for row in rows}) == 2
    for row in rows:
        assert {"url", "title", "published", "language", "feed", "text_source"} <= row.keys()
        assert row["text_source"] == "page"
        assert row["feed"] == "Loopback Desk"
    clash = next(row for row in rows if "Vorukh" in row["title"])
    assert clash["categories"] == ["border_clash"]
    assert "kyrgyzstan" in clash["actors"] and "tajikistan" in clash["actors"]
    tram = next(row for row in rows if "tram" in row["title"])
    assert tram["categories"] == []


def test_status_and_feeds_tables(config: Path) -> None:
    r = cli("status", "--config", str(config), cwd=config.parent)
    assert r.returncode == 0, r.stderr
    assert "Last runs" in r.stdout and "monitor" in r.stdout
    r = cli("feeds", "--config", str(config), cwd=config.parent)
    assert r.returncode == 0, r.stderr
    assert "Loopback Desk" in r.stdout
