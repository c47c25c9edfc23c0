"""Schema versions under Alembic: a store made before Alembic is stamped and upgraded without
loss; a fresh one reaches the newest revision with exactly the tables the code declares; several
workers starting at once migrate once. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, MetaData, create_engine, func, select, text

from regionwatch.store import Store
from regionwatch.store import schema as t
from regionwatch.store.migrations import current_revision, head, migrate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NOW = datetime(2026, 11, 20, 8, tzinfo=UTC)
#: objects of the full-text revision (SQLite's FTS5 shadow tables among them) that the table
#: declarations do not describe
FTS_PREFIXES = ("items_fts", "ix_items_fts")
#: the tables of schema version 2
LEGACY_TABLES = (
    "feeds",
    "stories",
    "items",
    "item_tags",
    "signatures",
    "alerts",
    "runs",
    "backfill_chunks",
)


def create_legacy_schema(conn: Connection) -> MetaData:
    """The tables, full-text objects and ``schema_version`` of the release before Alembic (our
    frozen DDL), as they were: reflected, since today's declarations have more columns."""
    ddl = (FIXTURES / f"legacy_v2_{conn.dialect.name}.sql").read_text(encoding="utf-8")
    for stmt in ddl.split("\n;\n"):
        body = "\n".join(x for x in stmt.splitlines() if not x.startswith("--")).strip()
        if body:
            conn.exec_driver_sql(body)
    old = MetaData()
    old.reflect(conn)
    return old


def make_legacy_store(url: str) -> None:
    """A store as the release before Alembic left it (schema_version 2), with one of
    everything in it: a feed, an item with tags, its story and signature, a sent alert and a
    pending one, a run and a backfill checkpoint (ids from the database, as the release had)."""
    eng = create_engine(url)
    with eng.begin() as conn:
        old = create_legacy_schema(conn)
        conn.execute(
            old.tables["feeds"]
            .insert()
            .values(
                name="A",
                url="http://127.0.0.1:9/a.xml",
                kind="feed",
                consecutive_failures=0,
                items_seen=2,
            )
        )
        conn.execute(
            old.tables["stories"]
            .insert()
            .values(
                first_seen_at=NOW,
                last_seen_at=NOW,
                lead_item_id=1,
                title="Clash",
                item_count=1,
                outlets=["A"],
                categories=["border_clash"],
                alerted_outlet_count=1,
            )
        )
        for n in (1, 2):
            conn.execute(
                old.tables["items"]
                .insert()
                .values(
                    url_hash=f"k{n}",
                    url=f"http://127.0.0.1:9/{n}",
                    canonical_url=f"http://127.0.0.1:9/{n}",
                    feed_id=1,
                    feed_name="A",
                    title=f"Guards exchange fire near Sotk {n}",
                    summary="",
                    text="Armenian and Azerbaijani guards exchanged fire.",
                    text_source="page",
                    first_seen_at=NOW,
                    origin="feed",
                    story_id=1,
                    categories=["border_clash"],
                    tags={"categories": {"border_clash": {"decision": True, "score": 0.9}}},
                    baseline=False,
                )
            )
        conn.execute(
            old.tables["item_tags"]
            .insert()
            .values(item_id=1, kind="actor", slug="armenia", score=1.0, mentions=2)
        )
        conn.execute(
            old.tables["signatures"]
            .insert()
            .values(item_id=1, story_id=1, seen_at=NOW, title_norm="clash", minhash=b"RWM1")
        )
        for channel, status in (("a", "sent"), ("b", "pending")):
            conn.execute(
                old.tables["alerts"]
                .insert()
                .values(
                    story_id=1,
                    item_id=1,
                    category="border_clash",
                    rule="r",
                    channel=channel,
                    severity="warning",
                    score=0.9,
                    status=status,
                    attempts=1 if status == "sent" else 0,
                    created_at=NOW,
                    next_attempt_at=NOW + timedelta(minutes=5),
                    sent_at=NOW if status == "sent" else None,
                )
            )
        conn.execute(
            old.tables["runs"].insert().values(kind="monitor", started_at=NOW, status="ok")
        )
        conn.execute(
            old.tables["backfill_chunks"]
            .insert()
            .values(job="j", chunk="c", status="done", counts={"stored": 1})
        )
    eng.dispose()


def legacy_columns(store: Store) -> dict[str, list[str]]:
    """The columns of the tables of schema version 2 as the store has them now."""
    legacy = MetaData()
    with store.connect() as conn:
        legacy.reflect(conn, only=LEGACY_TABLES)
    return {name: [c.name for c in legacy.tables[name].columns] for name in LEGACY_TABLES}


def snapshot(store: Store, columns: dict[str, list[str]]) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table of the legacy schema (its columns only: later revisions add
    some and fill them), in key order."""
    out: dict[str, list[tuple[object, ...]]] = {}
    with store.connect() as conn:
        for name in LEGACY_TABLES:
            table = t.metadata.tables[name]
            cols = [table.c[c] for c in columns[name]]
            q = select(*cols).order_by(*table.primary_key.columns)
            out[name] = [tuple(r) for r in conn.execute(q)]
    return out


def test_a_store_made_before_alembic_upgrades_without_loss(store_url: str) -> None:
    url = store_url
    make_legacy_store(url)
    eng = create_engine(url)
    with eng.connect() as conn:
        assert current_revision(conn) is None
    eng.dispose()
    store = Store(url, migrate_now=False)
    columns = legacy_columns(store)
    before = snapshot(store, columns)
    assert store.migrate() == head()
    assert snapshot(store, columns) == before  # nothing lost, nothing changed
    with store.connect() as conn:
        assert current_revision(conn) == head()
        # the old version table is left as it was
        assert conn.execute(text("SELECT max(version) FROM schema_version")).scalar() == 2
    # the sent alert stays sent: it is never due again; the pending one is still pending
    statuses = {r["channel"]: r["status"] for r in store.list_alerts()}
    assert statuses == {"a": "sent", "b": "pending"}
    assert store.known_keys(["k1", "k2", "k3"]) == {"k1", "k2"}
    # full-text search still indexes new items (the FTS objects of version 2 were kept)
    with store.transaction() as tx:
        tx.conn.execute(
            t.items.insert().values(
                url_hash="k3",
                url="u3",
                canonical_url="u3",
                feed_name="A",
                title="Ceasefire holds in Tavush",
                summary="",
                text="",
                text_source="page",
                first_seen_at=NOW,
                origin="feed",
                categories=[],
                baseline=False,
            )
        )
    if store.dialect == "sqlite":
        with store.connect() as conn:
            hits = conn.exec_driver_sql(
                "SELECT rowid FROM items_fts WHERE items_fts MATCH 'Tavush'"
            ).all()
        assert [h[0] for h in hits] == [3]
    # opening it again (every start does) changes nothing
    assert Store(url).migrate() == head()
    assert snapshot(store, columns)["alerts"] == before["alerts"]
    store.close()


def test_a_legacy_store_at_version_1_gets_full_text_search(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/v1.db"
    make_legacy_store(url)
    eng = create_engine(url)
    with eng.begin() as conn:  # as version 1 left it: no full-text objects yet
        conn.exec_driver_sql("DROP TRIGGER items_fts_ai")
        conn.exec_driver_sql("DROP TRIGGER items_fts_ad")
        conn.exec_driver_sql("DROP TABLE items_fts")
        conn.exec_driver_sql("DELETE FROM schema_version WHERE version = 2")
    eng.dispose()
    store = Store(url)
    assert store.counts()["items"] == 2
    assert "items_fts" in store.table_names()
    store.close()


def test_a_fresh_store_has_exactly_the_declared_schema(store_url: str) -> None:
    store = Store(store_url)
    with store.connect() as conn:
        assert current_revision(conn) == head()
        diffs = compare_metadata(MigrationContext.configure(conn), t.metadata)

    def names(diff: object) -> set[str]:
        ops = diff if isinstance(diff, list) else [diff]
        return {getattr(op[1], "name", "") for op in ops if isinstance(op, tuple)}

    unexplained = [d for d in diffs if not all(n.startswith(FTS_PREFIXES) for n in names(d))]
    assert unexplained == []
    store.close()


@pytest.mark.postgres
def test_workers_starting_together_migrate_once(fresh_pg: str) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def worker() -> None:
        try:
            start.wait()
            Store(fresh_pg).close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert errors == []
    eng = create_engine(fresh_pg)
    with eng.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        assert [v[0] for v in versions] == [head()]
        assert conn.execute(select(func.count()).select_from(t.items)).scalar() == 0
    eng.dispose()
    assert migrate(create_engine(fresh_pg)) == head()


def test_db_upgrade_command_upgrades_a_legacy_store(tmp_path: Path) -> None:
    """``regionwatch db upgrade`` on a store made before Alembic, then again (nothing to do)."""
    from tests.integration.test_cli import cli

    db = tmp_path / "legacy.db"
    make_legacy_store(f"sqlite:///{db}")
    cfg = tmp_path / "rw.toml"
    cfg.write_text(f'[storage]\nurl = "sqlite:///{db}"\n', encoding="utf-8")
    first = cli("db", "upgrade", "--json", "--config", str(cfg), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) | {"store": ""} == {
        "store": "",
        "from": None,
        "to": head(),
        "changed": True,
    }
    again = cli("db", "upgrade", "--config", str(cfg), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"already at revision {head()}" in again.stdout
    store = Store(f"sqlite:///{db}")
    assert store.counts()["alerts"] == 2
    store.close()
