"""Upgrading a store made before events (schema version 2) keeps every row and re-sends nothing.

The old database is built from our own DDL as release f006506 created it (tests/fixtures/
legacy_v2_<dialect>.sql), filled with two stories, three items and two alert rows — one already
sent — on SQLite and on PostgreSQL; then today's ``Store`` opens it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from regionwatch.alerts import deliver_pending
from regionwatch.settings import ChannelConfig, Settings, StorageConfig
from regionwatch.store import Store
from regionwatch.store import schema as t
from regionwatch.store.migrations import current_revision, head
from tests.integration.test_migrations import create_legacy_schema
from tests.loopback import Webhook

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)


def _tags(*actors: str, cat: str = "border_clash") -> dict[str, object]:
    cats = {c: {"score": 0.0, "decision": False, "evidence": []} for c in old_cats()}
    cats[cat] = {"score": 0.9, "decision": True, "evidence": []}
    return {
        "actors": [{"slug": a, "name": a.title(), "mentions": 2} for a in actors],
        "categories": cats,
    }


def old_cats() -> tuple[str, ...]:
    return ("csto", "ceasefire", "border_clash")


def _make_old_store(url: str) -> None:
    eng = create_engine(url)
    with eng.begin() as conn:
        old = create_legacy_schema(conn)
        conn.execute(
            old.tables["feeds"].insert(),
            [
                {
                    "id": 1,
                    "name": "Ararat Wire",
                    "url": "http://127.0.0.1:9/a.xml",
                    "kind": "feed",
                    "consecutive_failures": 0,
                    "items_seen": 2,
                },
                {
                    "id": 2,
                    "name": "Kura Daily",
                    "url": "http://127.0.0.1:9/k.xml",
                    "kind": "feed",
                    "consecutive_failures": 0,
                    "items_seen": 1,
                },
            ],
        )
        conn.execute(
            old.tables["stories"].insert(),
            [
                {
                    "id": 1,
                    "first_seen_at": NOW - timedelta(hours=3),
                    "title": "Clash at Sotk",
                    "last_seen_at": NOW - timedelta(hours=2),
                    "lead_item_id": 1,
                    "item_count": 2,
                    "outlets": ["Ararat Wire", "Kura Daily"],
                    "categories": ["border_clash"],
                    "alerted_outlet_count": 1,
                },
                {
                    "id": 2,
                    "first_seen_at": NOW - timedelta(hours=1),
                    "title": "Truce agreed",
                    "last_seen_at": NOW - timedelta(hours=1),
                    "lead_item_id": 3,
                    "item_count": 1,
                    "outlets": ["Ararat Wire"],
                    "categories": ["ceasefire"],
                    "alerted_outlet_count": 1,
                },
            ],
        )
        base = {"text_source": "page", "origin": "feed", "baseline": False, "summary": ""}
        conn.execute(
            old.tables["items"].insert(),
            [
                {
                    **base,
                    "id": 1,
                    "url_hash": "h1",
                    "url": "http://127.0.0.1:9/1",
                    "canonical_url": "http://127.0.0.1:9/1",
                    "feed_id": 1,
                    "feed_name": "Ararat Wire",
                    "title": "Clash at Sotk",
                    "text": "Armenian and Azerbaijani troops fired at Sotk.",
                    "language": "en",
                    "published_at": NOW - timedelta(hours=3, minutes=5),
                    "first_seen_at": NOW - timedelta(hours=3),
                    "story_id": 1,
                    "categories": ["border_clash"],
                    "tags": _tags("armenia", "azerbaijan"),
                },
                {
                    **base,
                    "id": 2,
                    "url_hash": "h2",
                    "url": "http://127.0.0.1:9/2",
                    "canonical_url": "http://127.0.0.1:9/2",
                    "feed_id": 2,
                    "feed_name": "Kura Daily",
                    "title": "Перестрелка у Сотка",
                    "text": "Армянские и азербайджанские войска.",
                    "language": "ru",
                    "published_at": None,
                    "first_seen_at": NOW - timedelta(hours=2),
                    "story_id": 1,
                    "categories": ["border_clash"],
                    "tags": _tags("azerbaijan", "armenia"),
                },
                {
                    **base,
                    "id": 3,
                    "url_hash": "h3",
                    "url": "http://127.0.0.1:9/3",
                    "canonical_url": "http://127.0.0.1:9/3",
                    "feed_id": 1,
                    "feed_name": "Ararat Wire",
                    "title": "Truce agreed",
                    "text": "Kyrgyzstan and Tajikistan agreed a ceasefire.",
                    "language": "en",
                    "published_at": NOW - timedelta(hours=1),
                    "first_seen_at": NOW - timedelta(hours=1),
                    "story_id": 2,
                    "categories": ["ceasefire"],
                    "tags": _tags("kyrgyzstan", "tajikistan", cat="ceasefire"),
                },
            ],
        )
        row = {"rule": "r", "channel": "desk", "severity": "warning", "score": 0.9}
        conn.execute(
            old.tables["alerts"].insert(),
            [
                {
                    **row,
                    "id": 1,
                    "story_id": 1,
                    "item_id": 1,
                    "category": "border_clash",
                    "status": "sent",
                    "attempts": 1,
                    "created_at": NOW - timedelta(hours=3),
                    "next_attempt_at": NOW - timedelta(hours=3),
                    "sent_at": NOW - timedelta(hours=3),
                },
                {
                    **row,
                    "id": 2,
                    "story_id": 2,
                    "item_id": 3,
                    "category": "ceasefire",
                    "status": "pending",
                    "attempts": 0,
                    "created_at": NOW - timedelta(hours=1),
                    "next_attempt_at": NOW - timedelta(hours=1),
                    "sent_at": None,
                },
            ],
        )
        if conn.dialect.name == "postgresql":  # ids were given: move the sequences past them
            for table in ("feeds", "stories", "items", "alerts"):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
    eng.dispose()


def _check_upgraded(url: str) -> None:
    hook = Webhook().start()
    try:
        store = Store(url)  # opening upgrades in place
        try:
            with store.connect() as conn:
                assert current_revision(conn) == head()
                items = conn.execute(select(t.items).order_by(t.items.c.id)).mappings().all()
                events = {r["id"]: r for r in conn.execute(select(t.events)).mappings().all()}
                alerts = conn.execute(select(t.alerts).order_by(t.alerts.c.id)).mappings().all()
                n_feeds = conn.execute(select(func.count()).select_from(t.feeds)).scalar()
            # nothing lost
            assert "backfill_chunks" in store.table_names()
            assert [i["id"] for i in items] == [1, 2, 3] and n_feeds == 2
            assert [i["title"] for i in items][1] == "Перестрелка у Сотка"
            # each story with items became one event
            assert len(events) == 2
            e1, e2 = items[0]["event_id"], items[2]["event_id"]
            assert e1 is not None and e2 is not None and e1 != e2
            assert items[1]["event_id"] == e1
            ev1 = events[e1]
            assert ev1["item_count"] == 2 and ev1["title"] == "Clash at Sotk"
            assert sorted(ev1["outlets"]) == ["Ararat Wire", "Kura Daily"]
            assert sorted(ev1["languages"]) == ["en", "ru"]
            assert set(ev1["actors"]) == {"armenia", "azerbaijan"}
            assert ev1["categories"] == ["border_clash"]
            # alert rows keep their status and now point at their event, as first alerts
            assert [(a["id"], a["status"], a["event_id"], a["seq"], a["kind"]) for a in alerts] == [
                (1, "sent", e1, 0, "alert"),
                (2, "pending", e2, 0, "alert"),
            ]
            # delivery sends the pending row only: the sent one is never re-sent
            settings = Settings(
                storage=StorageConfig(url=url),
                channels=[ChannelConfig(url=f"json://127.0.0.1:{hook.port}/hook", name="desk")],
            )
            report = deliver_pending(store, settings, max_wait_seconds=0)
            assert report.sent == 1
            assert len(hook.delivered()) == 1
            assert "Truce agreed" in hook.delivered()[0].body.decode()
            assert deliver_pending(store, settings, max_wait_seconds=0).sent == 0
            # the old key is gone: a second first alert for an event is refused, an update is not
            with store.begin() as conn:
                base = {k: v for k, v in alerts[0].items() if k != "id"}
                conn.execute(t.alerts.insert().values({**base, "seq": 1, "kind": "update"}))
                with pytest.raises(Exception), conn.begin_nested():  # noqa: B017 - unique key
                    conn.execute(t.alerts.insert().values(base))
            if store.dialect == "sqlite":  # full-text search survived the upgrade
                with store.connect() as conn:
                    hits = conn.exec_driver_sql(
                        "SELECT rowid FROM items_fts WHERE items_fts MATCH 'ceasefire'"
                    ).all()
                assert [h[0] for h in hits] == [3]
        finally:
            store.close()
        # a second open changes nothing
        again = Store(url)
        with again.connect() as conn:
            assert conn.execute(select(func.count()).select_from(t.events)).scalar() == 2
        again.close()
    finally:
        hook.stop()


def test_upgrade_sqlite_store_made_before_events(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _make_old_store(url)
    _check_upgraded(url)


@pytest.mark.postgres
def test_upgrade_postgres_store_made_before_events(fresh_pg: str) -> None:
    _make_old_store(fresh_pg)
    _check_upgraded(fresh_pg)
