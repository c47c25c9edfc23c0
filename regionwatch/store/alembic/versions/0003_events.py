"""Events: the ``events`` and ``event_merges`` tables, ``items.event_id``, and the alert outbox
re-keyed from (story, category, channel) to (event, category, channel, seq) with ``kind``
(``alert`` for the first message, seq 0; ``update`` for material developments, seq 1, 2, …) and
``material``.

Existing data moves: every story with items becomes an event (its items and alert rows point at
it); alert rows keep their status, so an alert already sent for a story is never sent again for
its event.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from alembic import op
from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    text,
)

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

logger = logging.getLogger(__name__)

_OLD_KEY = "uq_alerts_story_category_channel"
_NEW_KEY = "uq_alerts_event_category_channel_seq"


def _ts(name: str, nullable: bool = True) -> Column[Any]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create the event tables and re-key the outbox, moving existing data (see module doc)."""
    conn = op.get_bind()
    insp = inspect(conn)
    tables = set(insp.get_table_names())
    if "events" not in tables:
        op.create_table(
            "events",
            Column("id", Integer, primary_key=True, autoincrement=True),
            _ts("first_seen_at", False),
            _ts("last_seen_at", False),
            _ts("published_first"),
            _ts("time_first", False),
            _ts("time_last", False),
            Column("categories", JSON, nullable=False),
            Column("actors", JSON, nullable=False),
            Column("places", JSON, nullable=False),
            Column("title", Text),
            Column("lead_item_id", Integer),
            Column("item_count", Integer, nullable=False),
            Column("outlets", JSON, nullable=False),
            Column("languages", JSON, nullable=False),
            Column("max_casualties", Integer),
            Column("phases", JSON, nullable=False),
            Column("merged_into", Integer, ForeignKey("events.id")),
            Column("updates", JSON, nullable=False),
            Column("alerted_item_count", Integer, nullable=False),
            Column("state", JSON),
            _ts("changed_at", False),
            Column("rev", Integer, nullable=False),
        )
        op.create_index("ix_events_time_last", "events", ["time_last"])
        op.create_index("ix_events_rev", "events", ["rev"])
    if "event_merges" not in tables:
        op.create_table(
            "event_merges",
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("from_event_id", Integer, ForeignKey("events.id"), nullable=False),
            Column("into_event_id", Integer, ForeignKey("events.id"), nullable=False),
            _ts("merged_at", False),
        )
    item_cols = {c["name"] for c in insp.get_columns("items")}
    if "event_id" not in item_cols:
        # a plain ADD COLUMN: rebuilding ``items`` would break its full-text triggers on SQLite
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "ALTER TABLE items ADD COLUMN event_id INTEGER REFERENCES events(id)"
            )
        else:
            op.add_column("items", Column("event_id", Integer, ForeignKey("events.id")))
        op.create_index("ix_items_event", "items", ["event_id"])
    alert_cols = {c["name"] for c in insp.get_columns("alerts")}
    uniques = {u["name"] for u in insp.get_unique_constraints("alerts")}
    if "event_id" not in alert_cols:
        with op.batch_alter_table("alerts") as b:
            b.add_column(Column("event_id", Integer))
            b.create_foreign_key("fk_alerts_event", "events", ["event_id"], ["id"])
            b.add_column(Column("kind", String(16), nullable=False, server_default="alert"))
            b.add_column(Column("seq", Integer, nullable=False, server_default="0"))
            b.add_column(Column("material", JSON))
    moved = _stories_to_events(conn)
    if _OLD_KEY in uniques or _NEW_KEY not in uniques:
        with op.batch_alter_table("alerts") as b:
            if _OLD_KEY in uniques:
                b.drop_constraint(_OLD_KEY, type_="unique")
            if _NEW_KEY not in uniques:
                b.create_unique_constraint(_NEW_KEY, ["event_id", "category", "channel", "seq"])
    if moved:
        logger.info("store: %d stories became events", moved)


def _aware(v: Any) -> datetime | None:
    if v is None:
        return None
    if isinstance(v, str):
        v = datetime.fromisoformat(v)
    if not isinstance(v, datetime):
        return None
    return v.replace(tzinfo=UTC) if v.tzinfo is None else v


def _stories_to_events(conn: Connection) -> int:
    """Every story whose items have no event yet becomes one event; returns how many."""
    story_ids = [
        int(r[0])
        for r in conn.execute(
            text(
                "SELECT DISTINCT story_id FROM items WHERE story_id IS NOT NULL "
                "AND event_id IS NULL ORDER BY story_id"
            )
        )
    ]
    if not story_ids:
        return 0
    md = MetaData()
    events = Table("events", md, autoload_with=conn)
    set_items = text("UPDATE items SET event_id = :e WHERE story_id = :s AND event_id IS NULL")
    set_alerts = text("UPDATE alerts SET event_id = :e WHERE story_id = :s AND event_id IS NULL")
    read_items = text(
        "SELECT id, feed_name, language, published_at, first_seen_at, categories, tags "
        "FROM items WHERE story_id = :s ORDER BY id"
    ).columns()
    alerted = {int(r[0]) for r in conn.execute(text("SELECT DISTINCT story_id FROM alerts"))}
    stories = {
        int(r.id): r
        for r in conn.execute(
            text("SELECT id, title, lead_item_id, first_seen_at, last_seen_at FROM stories")
        )
    }
    insert = events.insert().returning(events.c.id)
    for sid in story_ids:
        rows = conn.execute(read_items, {"s": sid}).mappings().all()
        if not rows:
            continue
        st = stories.get(sid)
        cats: list[str] = []
        actors: Counter[str] = Counter()
        outlets: list[str] = []
        langs: list[str] = []
        for r in rows:
            for c in _json(r["categories"]) or []:
                if c not in cats:
                    cats.append(c)
            for a in (_json(r["tags"]) or {}).get("actors") or []:
                if isinstance(a, dict) and a.get("slug"):
                    actors[str(a["slug"])] += int(a.get("mentions") or 1)
            if r["feed_name"] not in outlets:
                outlets.append(r["feed_name"])
            if r["language"] and r["language"] not in langs:
                langs.append(r["language"])
        seen = [t for t in (_aware(r["first_seen_at"]) for r in rows) if t]
        pubs = [t for t in (_aware(r["published_at"]) for r in rows) if t]
        times = [_aware(r["published_at"]) or _aware(r["first_seen_at"]) for r in rows]
        times_ok = [t for t in times if t]
        now = datetime.now(UTC)
        n = len(rows)
        eid = conn.execute(
            insert,
            {
                "first_seen_at": min(seen, default=now),
                "last_seen_at": max(seen, default=now),
                "published_first": min(pubs, default=None),
                "time_first": min(times_ok, default=now),
                "time_last": max(times_ok, default=now),
                "categories": cats,
                "actors": [a for a, _ in actors.most_common()],
                "places": [],
                "title": st.title if st is not None else None,
                "lead_item_id": (st.lead_item_id if st is not None else None) or rows[0]["id"],
                "item_count": n,
                "outlets": outlets,
                "languages": langs,
                "max_casualties": None,
                "phases": [],
                "merged_into": None,
                "updates": [],
                "alerted_item_count": n if sid in alerted else 0,
                "state": None,
                "changed_at": now,
                "rev": 0,
            },
        ).scalar_one()
        conn.execute(set_items, {"e": eid, "s": sid})
        conn.execute(set_alerts, {"e": eid, "s": sid})
    return len(story_ids)


def _json(v: Any) -> Any:
    if isinstance(v, str):
        return json.loads(v)
    return v


def downgrade() -> None:
    """Back to the story-keyed outbox (update rows dropped, events and merges dropped)."""
    conn = op.get_bind()
    conn.execute(text("DELETE FROM alerts WHERE seq > 0"))
    with op.batch_alter_table("alerts") as b:
        b.drop_constraint(_NEW_KEY, type_="unique")
        b.create_unique_constraint(_OLD_KEY, ["story_id", "category", "channel"])
        for col in ("material", "seq", "kind", "event_id"):
            b.drop_column(col)
    op.drop_index("ix_items_event", "items")
    if conn.dialect.name == "sqlite":
        # no table rebuild of ``items`` (full-text triggers): SQLite >= 3.35 drops in place
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.exec_driver_sql("ALTER TABLE items DROP COLUMN event_id")
    else:
        op.drop_column("items", "event_id")
    op.drop_table("event_merges")
    op.drop_table("events")
