"""The console over HTTP: ``regionwatch web`` in a child process, a store filled by a real cycle
of our loopback news site, requests as a script or a browser would send them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.console import Console, filled_site, run_console
from tests.loopback import Webhook
from tests.web_site import BASE_URL, HOSTILE_STORED, SECRET, TOKEN

pytestmark = pytest.mark.integration

EVENT_FIELDS = {
    "event_id",
    "categories",
    "title",
    "actors",
    "first_seen",
    "last_seen",
    "published_first",
    "articles",
    "outlets",
    "languages",
    "alerted",
}


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Webhook, Path]]:
    with filled_site(tmp_path_factory.mktemp("console")) as (_site, hook, cfg):
        yield hook, cfg


@pytest.fixture(scope="module")
def config(filled: tuple[Webhook, Path]) -> Path:
    return filled[1]


@pytest.fixture(scope="module")
def console(config: Path) -> Iterator[Console]:
    with run_console(config, TOKEN) as c:
        yield c


@pytest.fixture(scope="module")
def readonly(config: Path) -> Iterator[Console]:
    with run_console(config, None) as c:
        yield c


def _events(c: httpx.Client, **params: str) -> list[dict[str, Any]]:
    r = c.get("/api/events", params=params)
    assert r.status_code == 200, r.text
    return list(r.json())


def _clash(c: httpx.Client) -> dict[str, Any]:
    (ev,) = [e for e in _events(c) if e["categories"] == ["border_clash"]]
    return ev


def _feedback_count(c: httpx.Client, event_id: int) -> int:
    return len(re.findall(r'class="feedback verdict-', c.get(f"/events/{event_id}").text))


def test_events_api_fields_and_filters(console: Console) -> None:
    with console.client() as c:
        events = _events(c)
        assert len(events) == 2
        assert all(set(e) >= EVENT_FIELDS for e in events)
        clash = _clash(c)
        assert clash["articles"] == 3
        assert set(clash["languages"]) == {"en", "ru"}
        assert {"armenia", "azerbaijan"} <= set(clash["actors"])
        assert clash["alerted"] == {"border_clash": True}
        assert [e["event_id"] for e in _events(c, category="ceasefire")] != [clash["event_id"]]
        assert len(_events(c, category="ceasefire")) == 1
        assert [e["event_id"] for e in _events(c, actor="armenia")] == [clash["event_id"]]
        assert [e["event_id"] for e in _events(c, country="AM")] == [clash["event_id"]]
        assert len(_events(c, language="ru")) == 2
        assert _events(c, since="2999-01-01") == []
        assert c.get("/api/events", params={"category": "weather"}).status_code == 400
        assert c.get("/api/events", params={"since": "yesterday"}).status_code == 400


def test_event_api_articles_and_evidence(console: Console) -> None:
    with console.client() as c:
        clash = _clash(c)
        r = c.get(f"/api/events/{clash['event_id']}")
        assert r.status_code == 200
        detail = r.json()
        assert set(detail) >= EVENT_FIELDS
        assert len(detail["articles"]) == 3
        for a in detail["articles"]:
            assert {"url", "title", "outlet", "language", "published"} <= set(a)
            assert a["url"].startswith("http://127.0.0.1:")
        assert {a["outlet"] for a in detail["articles"]} == set(clash["outlets"])
        assert detail["evidence"], "the sentences that made it fire"
        assert all(ev["matched"] for ev in detail["evidence"])
        assert c.get("/api/events/999999").status_code == 404
        assert c.get("/events/999999").status_code == 404


def test_search_finds_the_event_by_a_cyrillic_place_name(console: Console) -> None:
    with console.client() as c:
        clash = _clash(c)
        hits = c.get("/api/search", params={"q": "Сотк"}).json()
        assert hits and {h["event_id"] for h in hits} == {clash["event_id"]}
        assert any(h["language"] == "ru" for h in hits)
        page = c.get("/search", params={"q": "сотк"}).text
        assert f'href="/events/{clash["event_id"]}"' in page
        assert c.get("/api/search", params={"q": "Сотк", "language": "en"}).json() == []
        # search syntax is not ours to interpret: it is text
        assert c.get("/api/search", params={"q": '" OR 1=1 -- NEAR(*'}).status_code == 200


def test_feedback_api_needs_the_token(console: Console) -> None:
    with console.client() as c:
        clash = _clash(c)
        body = {"event_id": clash["event_id"], "category": "border_clash", "verdict": "wrong"}
        before = _feedback_count(c, clash["event_id"])
        r = c.post("/api/feedback", json=body)
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Bearer")
        r = c.post("/api/feedback", json=body, headers={"Authorization": "Bearer not-the-token"})
        assert r.status_code == 403
        r = c.post("/api/feedback", json=body, headers={"Authorization": f"Basic {TOKEN}"})
        assert r.status_code == 401
        assert _feedback_count(c, clash["event_id"]) == before
        auth = {"Authorization": f"Bearer {TOKEN}"}
        for bad in (
            {**body, "verdict": "maybe"},
            {**body, "category": "weather"},
            {"category": "csto", "verdict": "wrong"},
            {**body, "item_id": 1},
            {**body, "event_id": "1"},
            {**body, "extra": 1},
        ):
            assert c.post("/api/feedback", json=bad, headers=auth).status_code == 400, bad
        assert c.post("/api/feedback", content=b"{not json", headers=auth).status_code == 400
        missing = {**body, "event_id": 999999}
        assert c.post("/api/feedback", json=missing, headers=auth).status_code == 404
        assert _feedback_count(c, clash["event_id"]) == before
        r = c.post("/api/feedback", json={**body, "note": "a drill, not a clash"}, headers=auth)
        assert r.status_code == 201, r.text
        assert r.json()["verdict"] == "wrong" and r.json()["event_id"] == clash["event_id"]
        page = c.get(f"/events/{clash['event_id']}").text
        assert _feedback_count(c, clash["event_id"]) == before + 1
        assert "a drill, not a clash" in page
        # feedback never changes past alerts
        assert _clash(c)["alerted"] == {"border_clash": True}


def _login(c: httpx.Client, token: str) -> httpx.Response:
    return c.post("/login", data={"token": token, "next": "/"})


def _csrf(c: httpx.Client, path: str) -> str:
    m = re.search(r'name="csrf" value="([0-9a-f]+)"', c.get(path).text)
    assert m, "signed-in pages carry the CSRF field"
    return m.group(1)


def test_page_forms_need_a_session_and_the_csrf_field(console: Console) -> None:
    with console.client() as c:
        clash = _clash(c)
        eid = clash["event_id"]
        form = {"event_id": str(eid), "category": "ceasefire", "verdict": "missing", "next": "/"}
        before = _feedback_count(c, eid)
        assert c.post("/forms/feedback", data=form).status_code == 403
        assert _login(c, "wrong-token-wrong-token").status_code == 403
        assert "rw_session" not in c.cookies
        r = _login(c, TOKEN)
        assert r.status_code == 303
        assert "httponly" in r.headers["set-cookie"].lower()
        assert "samesite=strict" in r.headers["set-cookie"].lower()
        csrf = _csrf(c, f"/events/{eid}")
        assert c.post("/forms/feedback", data={**form, "csrf": "0" * 64}).status_code == 403
        cross = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
        r = c.post("/forms/feedback", data={**form, "csrf": csrf}, headers=cross)
        assert r.status_code == 403
        assert _feedback_count(c, eid) == before
        r = c.post("/forms/feedback", data={**form, "csrf": csrf, "next": "//evil.example/"})
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert _feedback_count(c, eid) == before + 1


def test_readonly_console_refuses_every_write(readonly: Console) -> None:
    with readonly.client() as c:
        page = c.get("/").text
        assert "writes are off" in page
        clash = _clash(c)
        body = {"event_id": clash["event_id"], "category": "csto", "verdict": "missing"}
        r = c.post("/api/feedback", json=body, headers={"Authorization": "Bearer anything-at-all"})
        assert r.status_code == 403
        assert _login(c, "anything-at-all").status_code == 403
        assert c.post("/forms/alerts/retry", data={"csrf": "x"}).status_code == 403
        assert "writes are off" in c.get(f"/events/{clash['event_id']}").text


def test_pages_escape_feed_text_and_show_no_secret(console: Console) -> None:
    with console.client() as c:
        clash = _clash(c)
        pages = {
            p: c.get(p)
            for p in (
                "/",
                f"/events/{clash['event_id']}",
                "/search?q=Sotk",
                "/feeds",
                "/alerts",
                "/login",
                "/api/events",
            )
        }
        for path, r in pages.items():
            assert r.status_code == 200, path
            assert SECRET not in r.text and TOKEN not in r.text, path
            if path.startswith("/api"):
                continue
            csp = r.headers["content-security-policy"]
            assert "script-src 'none'" in csp and "default-src 'none'" in csp
            assert r.headers["x-content-type-options"] == "nosniff"
            assert "<script" not in r.text.lower()
            assert "//" not in re.sub(r"https?://127\.0\.0\.1:\d+", "", _asset_refs(r.text))
        event_page = pages[f"/events/{clash['event_id']}"].text
        for raw in HOSTILE_STORED:
            assert raw not in event_page
            assert raw.replace("<", "&lt;").replace(">", "&gt;") in event_page
        found = c.get("/search", params={"q": "ontoggle"}).text
        assert "&lt;details open ontoggle=alert(3)&gt;" in found  # shown, as text
        assert "<details" not in found
        assert "<mark>" in event_page  # the matched words of the evidence


def _asset_refs(page: str) -> str:
    return " ".join(re.findall(r'(?:src|href)="([^"]*)"', page))


def test_host_header_is_checked(console: Console) -> None:
    r = httpx.get(console.base + "/", headers={"Host": "evil.example"})
    assert r.status_code == 400


def test_feeds_and_alerts_pages(console: Console) -> None:
    with console.client() as c:
        feeds = c.get("/feeds").text
        for name in ("Caspian Herald", "Vestnik Kavkaza", "Ferghana Daily"):
            assert name in feeds
        assert "0% of 1" in feeds  # one poll each, none answered 304 yet
        alerts = c.get("/alerts").text
        assert "desk hook" in alerts and "sent" in alerts
        assert c.get("/alerts", params={"status": "bogus"}).status_code == 400
        assert c.get("/healthz").json() == {"status": "ok"}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_feedback_export_is_an_eval_dataset(console: Console, tmp_path: Path) -> None:
    with console.client() as c:
        clash = _clash(c)
        item = c.get(f"/api/events/{clash['event_id']}").json()["articles"][0]["item_id"]
        auth = {"Authorization": f"Bearer {TOKEN}"}
        body = {"item_id": item, "category": "csto", "verdict": "missing"}
        assert c.post("/api/feedback", json=body, headers=auth).status_code == 201
    out = tmp_path / "feedback.jsonl"
    r = _cli("feedback", "export", "--output", str(out), "--config", str(console.config))
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert rows and all(set(row) == {"id", "text", "title", "lang", "labels"} for row in rows)
    by_title = {row["title"]: row for row in rows}
    assert any("csto" in row["labels"] for row in rows)
    assert all(row["text"] for row in by_title.values())
    r = _cli("eval", str(out), "--json", "--config", str(console.config))
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["total"] == len(rows)
    r = _cli("status", "--config", str(console.config))
    assert r.returncode == 0, r.stderr
    assert "Feedback, last 30 days" in r.stdout


def test_serve_runs_the_console_beside_the_schedules_when_enabled(config: Path) -> None:
    from regionwatch.settings import WebConfig, load_settings
    from tests.console import free_port
    from web.server import console_beside

    port = free_port()
    base = load_settings(config)
    off = base.model_copy(update={"web": WebConfig(enabled=False, port=port)})
    with console_beside(off) as server:
        assert server is None
    on = base.model_copy(update={"web": WebConfig(enabled=True, port=port)})
    with console_beside(on):
        for _ in range(100):
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                import time

                time.sleep(0.1)
        assert r.status_code == 200
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)


def test_alert_messages_link_to_the_event_page(
    filled: tuple[Webhook, Path], console: Console
) -> None:
    hook, _cfg = filled
    with console.client() as c:
        ids = {e["event_id"] for e in _events(c) if any(e["alerted"].values())}
    bodies = [json.loads(r.body)["message"] for r in hook.delivered()]
    assert bodies
    linked = {int(m) for b in bodies for m in re.findall(re.escape(BASE_URL) + r"/events/(\d+)", b)}
    assert linked == ids


@pytest.mark.postgres
def test_console_on_postgresql(fresh_pg: str, tmp_path: Path) -> None:
    with (
        filled_site(tmp_path, fresh_pg) as (_site, _hook, cfg),
        run_console(cfg, TOKEN) as pg,
        pg.client() as c,
    ):
        clash = _clash(c)
        assert clash["articles"] == 3
        hits = c.get("/api/search", params={"q": "Сотк"}).json()
        assert {h["event_id"] for h in hits} == {clash["event_id"]}
        page = c.get(f"/events/{clash['event_id']}")
        assert page.status_code == 200 and "<mark>" in page.text
        body = {"event_id": clash["event_id"], "category": "csto", "verdict": "missing"}
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert c.post("/api/feedback", json=body, headers=auth).status_code == 201
        assert c.post("/api/feedback", json=body).status_code == 401
        assert _feedback_count(c, clash["event_id"]) == 1
        assert len(_events(c, category="ceasefire", language="ru")) == 1
        assert "<rect" in c.get("/").text
