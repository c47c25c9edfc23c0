"""Delivery through Apprise to a real SMTP server (aiosmtpd) and a webhook, both on loopback."""

from __future__ import annotations

import email
import email.policy
import json
import mailbox
import re
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from regionwatch.alerts import build_digest, deliver_pending, send_digest, send_test
from regionwatch.settings import mask_url
from regionwatch.store import Store
from regionwatch.store import schema as t
from tests.integration.test_outbox import BODY, World, add_feed, alert_rows, make_settings
from tests.loopback import Webhook

pytestmark = pytest.mark.integration


class Inbox:
    """aiosmtpd handler keeping messages; ``refuse`` answers 451 to that many messages."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.refuse = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            if self.refuse > 0:
                self.refuse -= 1
                return "451 4.3.0 Mailbox temporarily unavailable"
            raw = envelope.original_content or envelope.content
            self.messages.append(email.message_from_bytes(raw, policy=email.policy.default))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port)
    ctl.start()
    yield inbox, port
    ctl.stop()


@pytest.fixture(scope="module")
def hook() -> Iterator[Webhook]:
    wh = Webhook().start()
    yield wh
    wh.stop()


@pytest.fixture
def servers(smtp: tuple[Inbox, int], hook: Webhook) -> Iterator[tuple[Inbox, int, Webhook]]:
    inbox, port = smtp
    inbox.messages.clear()
    inbox.refuse = 0
    hook.clear_log()
    hook.fail_next = 0
    yield inbox, port, hook


def _urls(port: int, hook: Webhook) -> list[str]:
    return [
        f"mailto://127.0.0.1:{port}?mode=insecure&from=rw@example.org&to=desk@example.org",
        f"json://127.0.0.1:{hook.port}/hook",
    ]


def _world(tmp_path: Path, urls: list[str], **alerts: Any) -> World:
    url = f"sqlite:///{tmp_path / 'rw.db'}"
    store = Store(url)
    add_feed(store, "Ararat Wire", "AM", False)
    add_feed(store, "Vostok Vestnik", "RU", True)
    return World(store, make_settings(url, urls, **alerts))


def _parts(msg: Message) -> dict[str, str]:
    out = {}
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            out[part.get_content_subtype()] = payload.decode(part.get_content_charset() or "utf-8")
    return out


CAT_RE = re.compile(r"^\s*\[(csto|ceasefire|border_clash)\]")


def test_border_clash_alert_delivered_once_per_channel(servers: Any, tmp_path: Path) -> None:
    inbox, port, hook = servers
    w = _world(tmp_path, _urls(port, hook))
    item_url = "http://127.0.0.1:9/ararat-wire/news/2026/11/12/clash-near-sotk-123456.html"
    w.add(title="Armenia and Azerbaijan exchange fire near Sotk", url=item_url)
    # the same report from a second outlet joins the story: no second alert
    w.add(
        title="Report: Armenia and Azerbaijan exchange fire near Sotk",
        feed="Vostok Vestnik",
        text="BAKU, Nov 12 (Vostok Vestnik) — This report was distributed by a partner. " + BODY,
    )
    rep = deliver_pending(w.store, w.settings)
    assert (rep.sent, rep.failed, rep.dead) == (2, 0, 0)
    again = deliver_pending(w.store, w.settings)
    assert again.attempted == 0
    assert len(inbox.messages) == 1 and len(hook.delivered()) == 1

    msg = inbox.messages[0]
    assert msg["Subject"].startswith("[border_clash] Armenia, Azerbaijan — Armenia and Azerbaijan")
    parts = _parts(msg)
    assert {"plain", "html"} <= set(parts)
    assert item_url in parts["plain"] and item_url in parts["html"]
    assert "Vostok Vestnik (RU, state-affiliated)" in parts["plain"]
    assert "carried by 2 outlets" in parts["plain"]
    assert "0.90" in parts["plain"]

    payload = json.loads(hook.delivered()[0].body)
    assert CAT_RE.match(payload["title"]).group(1) == "border_clash"  # type: ignore[union-attr]
    assert f"<{item_url}>" in payload["message"]
    assert "**exchanged fire**" in payload["message"]  # evidence with the matched words marked
    assert {r["status"] for r in alert_rows(w.store)} == {"sent"}


def test_smtp_refusing_one_cycle_then_accepting_delivers_once(servers: Any, tmp_path: Path) -> None:
    inbox, port, hook = servers
    w = _world(tmp_path, _urls(port, hook)[:1], retry_base_seconds=0)
    w.add(title="Kyrgyz and Tajik border guards exchange fire")
    inbox.refuse = 100
    rep = deliver_pending(w.store, w.settings)
    assert (rep.sent, rep.failed) == (0, 1)
    row = alert_rows(w.store)[0]
    assert row["status"] == "pending" and row["attempts"] == 1 and row["last_error"]
    inbox.refuse = 0
    rep = deliver_pending(w.store, w.settings)
    assert rep.sent == 1
    assert deliver_pending(w.store, w.settings).attempted == 0
    assert len(inbox.messages) == 1


def test_webhook_500_then_200_delivers_once_with_backoff(servers: Any, tmp_path: Path) -> None:
    _inbox, _port, hook = servers
    w = _world(tmp_path, _urls(0, hook)[1:])
    w.add(title="Armenia and Azerbaijan exchange fire on border")
    hook.fail_next = 1
    rep = deliver_pending(w.store, w.settings)
    assert (rep.sent, rep.failed) == (0, 1)
    row = alert_rows(w.store)[0]
    due_in = (row["next_attempt_at"].replace(tzinfo=UTC) - datetime.now(UTC)).total_seconds()
    assert 0 < due_in <= 60  # first retry within a minute (retry_base_seconds = 30)
    assert str(hook.port) in (row["last_error"] or "") or "failed" in (row["last_error"] or "")
    assert deliver_pending(w.store, w.settings).attempted == 0  # not due yet
    with w.store.begin() as conn:  # time passes
        conn.execute(t.alerts.update().values(next_attempt_at=datetime.now(UTC)))
    assert deliver_pending(w.store, w.settings).sent == 1
    assert deliver_pending(w.store, w.settings).attempted == 0
    assert len(hook.delivered()) == 1
    assert [r.status for r in hook.requests(method="POST")] == [500, 200]


def test_failing_row_goes_dead_with_masked_error(tmp_path: Path) -> None:
    secret_url = "json://user:s3cretpass@127.0.0.1:9/hook?token=abcdef123456"  # nothing listens
    w = _world(tmp_path, [secret_url], retry_base_seconds=0, max_attempts=2)
    w.add(title="Armenia and Azerbaijan exchange fire on border")
    assert deliver_pending(w.store, w.settings).failed == 1
    assert deliver_pending(w.store, w.settings).dead == 1
    row = alert_rows(w.store)[0]
    assert row["status"] == "dead" and row["attempts"] == 2
    assert "s3cretpass" not in row["last_error"] and "abcdef123456" not in row["last_error"]
    assert mask_url(secret_url) != secret_url


def test_rate_limit_keeps_burst_pending(servers: Any, tmp_path: Path) -> None:
    _inbox, _port, hook = servers
    w = _world(tmp_path, _urls(0, hook)[1:], rate=3)
    for i in range(5):
        w.add(title=f"Separate report {i}", text=" ".join(f"r{i}w{k}" for k in range(40)))
    rep = deliver_pending(w.store, w.settings, max_wait_seconds=0)
    assert (rep.sent, rep.failed, rep.deferred) == (3, 0, 2)
    rows = alert_rows(w.store)
    assert sorted(r["status"] for r in rows) == ["pending"] * 2 + ["sent"] * 3
    assert all(r["attempts"] == 0 for r in rows if r["status"] == "pending")
    assert len(hook.delivered()) == 3


def test_headline_injection_is_escaped(servers: Any, tmp_path: Path) -> None:
    inbox, port, hook = servers
    w = _world(tmp_path, _urls(port, hook))
    evil = "Clash <script>alert(1)</script> [click](http://evil.example) *bold* <b>x</b>"
    item_url = "http://127.0.0.1:9/ararat-wire/news/evil.html"
    w.add(title=evil, url=item_url)
    assert deliver_pending(w.store, w.settings).sent == 2
    html_part = _parts(inbox.messages[0])["html"]
    assert "<script>" not in html_part and "&lt;script&gt;" in html_part
    assert "<b>x</b>" not in html_part
    msg = json.loads(hook.delivered()[0].body)["message"]
    assert "<script>" not in msg and "\\[click\\]" in msg and "\\*bold\\*" in msg
    assert f"<{item_url}>" in msg


def test_terminal_channel_prints_and_writes_mailbox(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    box = tmp_path / "alerts.mbox"
    w = _world(tmp_path, [], mailbox=str(box))
    w.add(title="Armenia and Azerbaijan exchange fire on border")
    rep = deliver_pending(w.store, w.settings)
    assert rep.sent == 1 and rep.rows[0]["channel"] == "terminal"
    assert "border_clash" in capsys.readouterr().err
    msgs = list(mailbox.mbox(str(box)))
    assert len(msgs) == 1 and msgs[0]["Subject"].startswith("[border_clash]")
    assert deliver_pending(w.store, w.settings).attempted == 0


def test_send_test_and_digest(servers: Any, tmp_path: Path) -> None:
    inbox, port, hook = servers
    w = _world(tmp_path, _urls(port, hook))
    results = send_test(w.settings)
    assert [ok for _ch, ok, _err in results] == [True, True]
    w.add(title="Armenia and Azerbaijan exchange fire on border")
    deliver_pending(w.store, w.settings)
    w.add(
        title="UPDATE 1-Armenia and Azerbaijan exchange fire on border",
        feed="Vostok Vestnik",
        text="MOSCOW (Vostok Vestnik) — updated. " + BODY,
    )
    digest = build_digest(w.store, w.settings, datetime.now(UTC))
    cd = digest.channels[0]
    assert len(cd.sections["border_clash"]) == 1
    assert cd.counts["border_clash"][-1] == 2
    assert len(cd.grew) == 1 and len(cd.grew[0].outlets) == 2
    assert "▇" in cd.message.markdown
    hook.clear_log()
    inbox.messages.clear()
    rep = send_digest(w.store, w.settings, datetime.now(UTC))
    assert rep.ok and len(inbox.messages) == 1 and len(hook.delivered()) == 1


# ------------------------------------------------------------- delivery never stalls monitoring
def _burst(w: World, n: int) -> None:
    for i in range(n):
        w.add(title=f"Separate border report {i}", text=" ".join(f"b{i}w{k}" for k in range(40)))


def _mail_url(port: int) -> str:
    return f"mailto://127.0.0.1:{port}?mode=insecure&from=rw@example.org&to=desk@example.org"


def test_smtp_down_for_a_pass_then_up_delivers_every_alert_once(tmp_path: Path) -> None:
    port = _free_port()  # nothing listens yet: the relay is down
    w = _world(tmp_path, [_mail_url(port)], retry_base_seconds=0)
    _burst(w, 12)
    down = deliver_pending(w.store, w.settings, budget_seconds=30)
    # one connection attempt, then the channel is set aside: the other rows back off untouched
    assert (down.sent, down.failed, down.backed_off) == (0, 1, 11)
    assert down.set_aside == ["ch0"]
    rows = alert_rows(w.store)
    assert {r["status"] for r in rows} == {"pending"}
    assert sorted(r["attempts"] for r in rows) == [0] * 11 + [1]
    assert all(r["claimed_by"] is None for r in rows)

    inbox = Inbox()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        up = deliver_pending(w.store, w.settings, budget_seconds=30)
        assert (up.sent, up.failed, up.set_aside) == (12, 0, [])
        assert deliver_pending(w.store, w.settings).attempted == 0
    finally:
        ctl.stop()
    subjects = [m["Subject"] for m in inbox.messages]
    assert len(subjects) == 12 and len(set(subjects)) == 12  # every alert, each once
    assert {r["status"] for r in alert_rows(w.store)} == {"sent"}


def test_burst_of_mail_goes_out_in_one_pass_without_apprise_throttle(
    servers: Any, tmp_path: Path
) -> None:
    inbox, port, _hook = servers
    w = _world(tmp_path, [_mail_url(port)])
    _burst(w, 6)
    # Apprise's own pause (5.5 s between two emails) would leave 5 of 6 over a 4 s budget
    rep = deliver_pending(w.store, w.settings, budget_seconds=4)
    assert (rep.sent, rep.over_budget, rep.deferred) == (6, 0, 0)
    assert len(inbox.messages) == 6


def test_dead_channel_does_not_hold_up_a_live_one(servers: Any, tmp_path: Path) -> None:
    _inbox, _port, hook = servers
    dead = _mail_url(_free_port())
    w = _world(tmp_path, [dead, f"json://127.0.0.1:{hook.port}/hook"])
    _burst(w, 5)
    rep = deliver_pending(w.store, w.settings)
    assert rep.sent == 5 and rep.failed == 1 and rep.backed_off == 4
    assert len(hook.delivered()) == 5
    by_channel: dict[str, list[str]] = {}
    for r in alert_rows(w.store):
        by_channel.setdefault(r["channel"], []).append(r["status"])
    assert sorted(len(v) for v in by_channel.values()) == [5, 5]
    assert sorted(sorted(v) for v in by_channel.values()) == [["pending"] * 5, ["sent"] * 5]


def test_pass_out_of_budget_releases_the_rest_for_the_next(servers: Any, tmp_path: Path) -> None:
    _inbox, _port, hook = servers
    w = _world(tmp_path, [f"json://127.0.0.1:{hook.port}/hook"])
    _burst(w, 4)
    rep = deliver_pending(w.store, w.settings, budget_seconds=0)
    assert (rep.attempted, rep.over_budget) == (0, 4)
    rows = alert_rows(w.store)
    assert all(r["status"] == "pending" and r["attempts"] == 0 for r in rows)
    assert all(r["claimed_by"] is None for r in rows)  # released, due again at once
    assert deliver_pending(w.store, w.settings).sent == 4
    assert len(hook.delivered()) == 4
