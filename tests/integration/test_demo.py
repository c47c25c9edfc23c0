"""`regionwatch demo` end to end, in-process: sample on loopback → one cycle → outbox + mailbox.

The demo serves our own sample articles on 127.0.0.1, so this runs the real HTTP client, feed
parser, extractor, tagger, story clustering, outbox and terminal/mailbox delivery.
"""

from __future__ import annotations

import email.policy
import io
import mailbox
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import feedparser
import pytest
from rich.console import Console
from sqlalchemy import select

from flows.cli.demo import (
    DemoServer,
    count_mailbox,
    load_sample,
    render_feed,
    run_demo,
)
from regionwatch.store import Store
from regionwatch.store import schema as t

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("demo")
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None)
    code = run_demo(console=console, use_prefect=False, runner=None, workdir=folder)
    store = Store(f"sqlite:///{(folder / 'demo.db').as_posix()}")
    try:
        with store.connect() as conn:
            items = [dict(r) for r in conn.execute(select(t.items)).mappings()]
            alerts = [dict(r) for r in conn.execute(select(t.alerts)).mappings()]
    finally:
        store.close()
    return {
        "code": code,
        "output": out.getvalue(),
        "folder": folder,
        "items": items,
        "alerts": alerts,
    }


def _item(demo: dict[str, Any], article_id: str) -> dict[str, Any]:
    """The stored item of a sample article (pages are served at /<outlet>/<id>.html)."""
    found = [i for i in demo["items"] if i["url"].endswith(f"/{article_id}.html")]
    assert len(found) == 1, (article_id, [i["url"] for i in demo["items"]])
    return found[0]


def _story_alerts(demo: dict[str, Any], story_id: int) -> list[dict[str, Any]]:
    return [a for a in demo["alerts"] if a["story_id"] == story_id]


def _messages(path: Path) -> list[str]:
    box = mailbox.mbox(path, factory=None, create=False)
    texts = []
    try:
        for key in box.iterkeys():
            raw = box.get_bytes(key)
            msg = email.message_from_bytes(raw, _class=EmailMessage, policy=email.policy.default)
            parts = [str(msg["Subject"] or "")]
            for part in msg.walk():
                if part.get_content_maintype() == "text":
                    parts.append(part.get_content())
            texts.append("\n".join(parts))
    finally:
        box.close()
    return texts


def test_demo_succeeds(demo: dict[str, Any]) -> None:
    assert demo["code"] == 0, demo["output"]
    assert "What happened" in demo["output"]
    assert "Mailbox:" in demo["output"]


def test_every_sample_article_is_stored_once(demo: dict[str, Any]) -> None:
    sample = load_sample()
    assert len(demo["items"]) == len(sample.articles)
    assert len({i["url"] for i in demo["items"]}) == len(sample.articles)


def test_border_clash_alerts_exactly_once_despite_the_syndicated_copy(demo) -> None:
    original = _item(demo, "sotk-border-clash")
    copy = _item(demo, "sotk-border-clash-syndicated")
    assert original["id"] != copy["id"]
    assert copy["title"].startswith("Caucasus: ")
    assert original["story_id"] == copy["story_id"]  # clustered into one story
    story = _story_alerts(demo, original["story_id"])
    clashes = [a for a in story if a["category"] == "border_clash"]
    assert len(clashes) == 1, story
    assert clashes[0]["status"] == "sent"


def test_ceasefire_and_csto_items_alert(demo: dict[str, Any]) -> None:
    ceasefire = _item(demo, "batken-ceasefire")
    csto = _item(demo, "csto-bishkek")
    assert "ОДКБ" in csto["title"] and csto["language"] == "ru"
    assert "ceasefire" in {a["category"] for a in _story_alerts(demo, ceasefire["story_id"])}
    assert "csto" in {a["category"] for a in _story_alerts(demo, csto["story_id"])}


@pytest.mark.parametrize("article_id", ["gaza-truce", "kazakhstan-base-rate", "tashkent-metro"])
def test_out_of_scope_items_do_not_alert(demo: dict[str, Any], article_id: str) -> None:
    item = _item(demo, article_id)
    assert _story_alerts(demo, item["story_id"]) == []
    assert not [a for a in demo["alerts"] if a["item_id"] == item["id"]]


def test_mailbox_holds_the_alerts(demo: dict[str, Any]) -> None:
    path = demo["folder"] / "mailbox.mbox"
    sent = [a for a in demo["alerts"] if a["status"] == "sent"]
    assert sent and len(sent) == len(demo["alerts"])
    assert count_mailbox(path) == len(sent)
    texts = _messages(path)
    assert sum("Sotk" in m for m in texts) == 1
    assert sum("Vorukh" in m for m in texts) >= 1
    assert sum("ОДКБ" in m or "CSTO" in m for m in texts) >= 1
    assert not any("Gaza" in m for m in texts)
    assert f"holds {len(sent)} message" in demo["output"]


def test_sample_is_our_own_and_well_formed() -> None:
    sample = load_sample()
    original = sample.article("sotk-border-clash")
    copy = sample.article("sotk-border-clash-syndicated")
    assert copy.title == "Caucasus: " + original.title
    assert copy.body.endswith(original.body) and copy.body != original.body
    assert copy.outlet != original.outlet
    for a in sample.articles:
        assert 150 <= len(a.body.split()) <= 320, a.id
        assert 0 < (sample.now - a.published).total_seconds() < 3600
    categories = {c for a in sample.articles for c in a.expect_alert}
    assert categories == {"border_clash", "ceasefire", "csto"}


def test_feeds_render_as_valid_rss_and_atom() -> None:
    sample = load_sample()
    with DemoServer(sample) as server:
        for outlet in sample.outlets:
            arts = [a for a in sample.articles if a.outlet == outlet.slug]
            parsed = feedparser.parse(render_feed(outlet, arts, server.base))
            assert not parsed.bozo, parsed.get("bozo_exception")
            assert parsed.version.startswith("atom" if outlet.format == "atom" else "rss")
            assert {e.link for e in parsed.entries} == {server.url(a) for a in arts}
