"""A mail channel down for a cycle, then up, through real cycles (``regionwatch run``).

The demo's own sample (our writing) is served on loopback; the only channel is email to a
real aiosmtpd server on 127.0.0.1 that is not listening during the first cycle.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from flows.cli.demo import DemoServer, load_sample, write_demo_config
from regionwatch.store import Store
from regionwatch.store import schema as t
from tests.integration.test_cli import cli
from tests.integration.test_delivery import Inbox, _free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _run(config: Path) -> None:
    proc = cli("run", "--no-prefect", "--config", str(config), cwd=config.parent, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _alerts(db: str) -> list[dict[str, Any]]:
    store = Store(db)
    try:
        with store.connect() as conn:
            return [dict(r) for r in conn.execute(select(t.alerts)).mappings()]
    finally:
        store.close()


@pytest.fixture
def demo_site() -> Iterator[DemoServer]:
    with DemoServer(load_sample()) as server:
        yield server


def test_mail_down_for_a_cycle_then_up_delivers_every_alert_once(
    demo_site: DemoServer, tmp_path: Path
) -> None:
    port = _free_port()
    config = write_demo_config(tmp_path, demo_site)
    text = config.read_text("utf-8").replace("[alerts]\n", "[alerts]\nretry_base_seconds = 0\n")
    text += (
        '\n[[channels]]\nname = "desk-mail"\n'
        f'url = "mailto://127.0.0.1:{port}?mode=insecure&from=rw@example.org&to=desk@example.org"\n'
    )
    config.write_text(text, "utf-8")
    db = "sqlite:///" + (tmp_path / "demo.db").as_posix()

    _run(config)  # the relay is down
    rows = _alerts(db)
    assert len(rows) >= 3  # the sample's border clash, ceasefire and CSTO stories
    assert {r["status"] for r in rows} == {"pending"}
    # one connection attempt set the channel aside; the other rows waited, no attempt counted
    assert sum(r["attempts"] for r in rows) == 1

    inbox = Inbox()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        _run(config)  # the relay is back: everything goes out
        _run(config)  # and nothing goes out twice
    finally:
        ctl.stop()
    rows = _alerts(db)
    assert {r["status"] for r in rows} == {"sent"}
    subjects = [m["Subject"] for m in inbox.messages]
    assert len(subjects) == len(rows) and len(set(subjects)) == len(rows)
    assert {s.split("]", 1)[0] + "]" for s in subjects} >= {
        "[border_clash]",
        "[ceasefire]",
        "[csto]",
    }
