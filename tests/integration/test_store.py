"""The store on SQLite and PostgreSQL: idempotent inserts, feed health (migrations: see
test_migrations.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from regionwatch.models import Article, FeedPoll, Source
from regionwatch.store import Store
from regionwatch.store.items import tag_result_from_json


def article(
    url: str = "https://a.example/news/1", body: str = "Border guards exchanged fire."
) -> Article:
    return Article(
        url=url,
        canonical_url=url,
        source="A",
        title="Clash at the border",
        text=body,
        text_source="page",
        published=datetime(2026, 11, 20, 8, tzinfo=UTC),
        language="en",
        content_hash=str(hash(body)),
    )


def test_item_insert_is_idempotent(store_url: str) -> None:
    store = Store(store_url)
    rows = store.sync_sources([Source(name="A", url="https://a.example/feed")])
    fid = rows["A"]["id"]
    tags = {
        "actors": [{"slug": "armenia", "name": "Armenia", "mentions": 2}],
        "themes": [{"slug": "border_clash", "name": "border clash", "mentions": 1}],
        "categories": {
            "border_clash": {"score": 0.9, "decision": True, "evidence": []},
            "csto": {"score": 0.1, "decision": False, "evidence": []},
        },
        "lexicon_hash": "abc",
    }
    result = tag_result_from_json(tags)
    with store.transaction() as tx:
        first = tx.insert_item(article(), feed_id=fid, tags=result, baseline=False)
    with store.transaction() as tx:
        again = tx.insert_item(article(), feed_id=fid, tags=result, baseline=False)
    assert first is not None and again is None
    assert store.counts()["items"] == 1
    assert store.known_keys([article().key, "nope"]) == {article().key}
    assert store.known_content([article().content_hash]) == {article().content_hash}
    listed = store.list_items(category="border_clash")
    assert [r["title"] for r in listed] == ["Clash at the border"]
    assert listed[0]["published_at"].tzinfo is not None
    assert store.list_items(category="csto") == []
    store.close()


def test_feed_health_backoff_and_recovery(store_url: str) -> None:
    store = Store(store_url)
    fid = store.sync_sources([Source(name="A", url="https://a.example/feed")])["A"]["id"]
    store.record_poll_failure(fid, "TransientFetchError: 500")
    store.record_poll_failure(fid, "TransientFetchError: 500")
    row = store.feed("A")
    assert row is not None
    assert row["consecutive_failures"] == 2
    assert row["next_poll_at"] > datetime.now(UTC) + timedelta(seconds=30)
    store.record_poll_success(
        fid, FeedPoll(source="A", status="ok", etag='"e1"', last_modified="x"), 3
    )
    row = store.feed("A")
    assert row is not None
    assert (row["consecutive_failures"], row["next_poll_at"], row["etag"], row["items_seen"]) == (
        0,
        None,
        '"e1"',
        3,
    )
    assert row["baseline_at"] is not None
    # a 304 keeps the validators
    store.record_poll_success(fid, FeedPoll(source="A", status="not_modified"), 0)
    assert store.feed("A")["etag"] == '"e1"'  # type: ignore[index]
    store.close()


def test_changed_feed_url_resets_validators(store_url: str) -> None:
    store = Store(store_url)
    fid = store.sync_sources([Source(name="A", url="https://a.example/feed")])["A"]["id"]
    store.record_poll_success(fid, FeedPoll(source="A", status="ok", etag='"e1"'), 0)
    store.sync_sources([Source(name="A", url="https://a.example/rss")])
    row = store.feed("A")
    assert row is not None and row["url"] == "https://a.example/rss" and row["etag"] is None
    store.close()


def test_runs_are_recorded(store_url: str) -> None:
    store = Store(store_url)
    rid = store.start_run("monitor")
    store.finish_run(rid, "ok", {"items_new": 3})
    (run,) = store.recent_runs(1)
    assert (
        run["status"] == "ok"
        and run["summary"]["items_new"] == 3
        and run["finished_at"] is not None
    )
    store.close()
