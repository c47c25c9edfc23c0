"""The alert outbox: rules, age limits, one row per (story, category, channel), crash safety.

Prerequisite rows (feeds, items) are inserted directly, as the pipeline would. The helpers here
are also used by test_delivery.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from regionwatch.alerts import deliver_pending, enqueue_alerts, list_alerts, retry_alerts
from regionwatch.events import EventDecision, EventState
from regionwatch.models import Article
from regionwatch.settings import AlertsConfig, ChannelConfig, Settings, StorageConfig
from regionwatch.store import Store, insert_ignore
from regionwatch.store import schema as t
from regionwatch.store.events import EventLedger, solo_event
from regionwatch.store.items import tag_result_from_json
from regionwatch.stories import StoryIndex
from tests.loopback import Webhook

ROOT = Path(__file__).resolve().parents[2]

BODY = (
    "Armenian and Azerbaijani forces exchanged fire overnight near the village of Sotk on the "
    "border, the defence ministry in Yerevan said on Tuesday. Two servicemen were wounded in the "
    "shelling, which lasted about two hours, according to the statement. Baku accused Armenian "
    "units of opening fire first and said its positions returned fire. The incident is the most "
    "serious since talks on a peace treaty resumed in the spring, and European Union monitors "
    "said they were aware of the reports and had sent a patrol to the area."
)


def make_settings(db_url: str, channels: list[str] | None = None, **alerts: Any) -> Settings:
    """Settings for a test store with the given Apprise channel URLs."""
    chans = [
        ChannelConfig(url=u, name=f"ch{i}", rate_per_minute=alerts.pop("rate", None))
        for i, u in enumerate(channels or [])
    ]
    return Settings(
        storage=StorageConfig(url=db_url), channels=chans, alerts=AlertsConfig(**alerts)
    )


def tags_for(
    category: str = "border_clash",
    score: float = 0.9,
    sentence: str = "Armenian and Azerbaijani forces exchanged fire near the border.",
    matched: str = "exchanged fire",
) -> dict[str, Any]:
    """A tagger result with one positive category and two actors."""
    cats = {
        c: {"score": 0.0, "decision": False, "evidence": []}
        for c in ("csto", "ceasefire", "border_clash")
    }
    cats[category] = {
        "score": score,
        "decision": True,
        "evidence": [
            {
                "sentence": sentence,
                "start": 0,
                "end": len(sentence),
                "rule": f"{category}.kw",
                "matched": matched,
            }
        ],
    }
    return {
        "actors": [
            {"slug": "armenia", "name": "Armenia", "mentions": 3},
            {"slug": "azerbaijan", "name": "Azerbaijan", "mentions": 2},
        ],
        "categories": cats,
    }


def add_feed(
    store: Store, name: str, country: str | None = "AM", state: bool | None = False
) -> None:
    with store.begin() as conn:
        conn.execute(
            insert_ignore(conn, t.feeds).values(
                name=name,
                url=f"http://127.0.0.1:9/{name}.xml",
                kind="feed",
                country=country,
                state_affiliated=state,
                consecutive_failures=0,
                items_seen=0,
            )
        )


class World:
    """A store, its settings and a story index, filled the way the pipeline does."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.index = StoryIndex(settings.stories)
        self.index.load(store, datetime.now(UTC))
        self.n = 0
        self.ledger = EventLedger(settings.events)
        self.events: dict[int, EventState] = {}  # story -> its event (one per story here)

    def add(
        self,
        *,
        title: str,
        text: str = BODY,
        feed: str = "Ararat Wire",
        url: str | None = None,
        tags: dict[str, Any] | None = None,
        published: datetime | None = None,
        origin: str = "feed",
        baseline_cutoff: datetime | None = None,
        now: datetime | None = None,
    ) -> tuple[int, int, int]:
        """Insert an item, cluster it and enqueue its alerts in one transaction.

        Returns (item_id, story_id, alert rows created).
        """
        now = now or datetime.now(UTC)
        self.n += 1
        url = url or f"http://127.0.0.1:9/{feed.replace(' ', '-').lower()}/news/{self.n}.html"
        tags = tags if tags is not None else tags_for()
        published = published or now - timedelta(minutes=5)
        cats = [c for c, d in tags["categories"].items() if d["decision"]]
        with self.store.transaction() as tx:
            item_id = tx.conn.execute(
                t.items.insert()
                .values(
                    url_hash=f"h{os.getpid()}-{self.n}-{url}"[-64:],
                    url=url,
                    canonical_url=url,
                    feed_name=feed,
                    title=title,
                    text=text,
                    published_at=published,
                    first_seen_at=now,
                    origin=origin,
                    categories=cats,
                    tags=tags,
                )
                .returning(t.items.c.id)
            ).scalar_one()
            story_id, _new = self.index.assign(
                tx, item_id=item_id, title=title, text=text, outlet=feed, now=now
            )
            article = Article(
                url=url,
                canonical_url=url,
                source=feed,
                title=title,
                text=text,
                text_source="page",
                published=published,
                language=None,
                origin="backfill" if origin == "backfill" else "feed",
            )
            tag_result = tag_result_from_json(tags)
            assert tag_result is not None
            state = self.events.get(story_id)
            if state is None:
                state = solo_event(
                    key=url, title=title, time=published, outlet=feed, language="en", cats=cats
                )
                self.events[story_id] = state
            else:  # the story's event grows as the pipeline's grouping would grow it
                state.articles += 1
                state.outlets.add(feed)
            decision = EventDecision(event=state, is_new=state.event_id is None)
            event_id = self.ledger.record(
                tx, decision, item_id=item_id, published=published, now=now
            )
            created = enqueue_alerts(
                tx,
                settings=self.settings,
                item_id=item_id,
                article=article,
                first_seen=now,
                story_id=story_id,
                event_id=event_id,
                tags=tag_result,
                baseline_cutoff=baseline_cutoff,
                now=now,
            )
        return item_id, story_id, created


def alert_rows(store: Store) -> list[dict[str, Any]]:
    with store.connect() as conn:
        return [dict(r) for r in conn.execute(select(t.alerts).order_by(t.alerts.c.id)).mappings()]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'rw.db'}"


@pytest.fixture
def world(sqlite_url: str) -> World:
    settings = make_settings(sqlite_url, ["json://127.0.0.1:9/hook", "json://127.0.0.1:9/other"])
    store = Store(sqlite_url)
    add_feed(store, "Ararat Wire", "AM", False)
    add_feed(store, "Vostok Vestnik", "RU", True)
    yield World(store, settings)
    store.close()


# ---------------------------------------------------------------------------- rules
def test_new_item_alerts_once_per_channel_and_rerun_adds_nothing(world: World) -> None:
    _item, story, created = world.add(title="Armenia and Azerbaijan exchange fire on border")
    assert created == 2
    rows = alert_rows(world.store)
    assert {(r["story_id"], r["category"], r["channel"]) for r in rows} == {
        (story, "border_clash", "ch0"),
        (story, "border_clash", "ch1"),
    }
    assert all(r["status"] == "pending" for r in rows)
    # the same report from a second outlet joins the story and alerts nothing
    _i2, story2, created2 = world.add(
        title="UPDATE 1-Armenia and Azerbaijan exchange fire on border",
        text="YEREVAN (Vostok Vestnik) — Updated by our desk. " + BODY,
        feed="Vostok Vestnik",
    )
    assert story2 == story and created2 == 0
    with world.store.connect() as conn:
        st = conn.execute(select(t.stories).where(t.stories.c.id == story)).mappings().one()
    assert st["item_count"] == 2 and st["outlets"] == ["Ararat Wire", "Vostok Vestnik"]
    assert st["alerted_outlet_count"] == 1


def test_new_category_on_alerted_story_is_a_new_alert(world: World) -> None:
    _i, story, created = world.add(title="Clash on the Armenia-Azerbaijan border")
    assert created == 2
    both = tags_for()
    both["categories"]["ceasefire"] = {
        "score": 0.8,
        "decision": True,
        "evidence": [{"sentence": "Both sides agreed to a ceasefire.", "matched": "ceasefire"}],
    }
    _i2, story2, created2 = world.add(
        title="UPDATE 2-Clash on the Armenia-Azerbaijan border",
        text=BODY + " Both sides later agreed to a ceasefire.",
        tags=both,
        feed="Vostok Vestnik",
    )
    assert story2 == story
    assert created2 == 2
    assert sorted({r["category"] for r in alert_rows(world.store)}) == ["border_clash", "ceasefire"]


def test_gaza_ceasefire_and_untagged_items_alert_nothing(world: World) -> None:
    neg = tags_for("ceasefire")
    neg["categories"]["ceasefire"]["decision"] = False  # the tagger said no (other region)
    assert (
        world.add(title="Gaza ceasefire talks resume in Cairo", text="Gaza " * 50, tags=neg)[2] == 0
    )
    assert alert_rows(world.store) == []


def test_old_baseline_and_backfill_items_never_alert(world: World) -> None:
    now = datetime.now(UTC)
    max_age = world.settings.alerts.max_age_hours
    assert (
        world.add(
            title="Old clash report one",
            text="alpha " * 40,
            published=now - timedelta(hours=max_age + 1),
        )[2]
        == 0
    )
    # no publication date: first-seen counts (now) → may alert
    cutoff = now - timedelta(hours=6)
    assert (
        world.add(
            title="First poll, published 7 h ago",
            text="beta " * 40,
            published=now - timedelta(hours=7),
            baseline_cutoff=cutoff,
        )[2]
        == 0
    )
    assert (
        world.add(
            title="First poll, published 1 h ago",
            text="gamma " * 40,
            published=now - timedelta(hours=1),
            baseline_cutoff=cutoff,
        )[2]
        == 2
    )
    assert world.add(title="Backfilled clash", text="delta " * 40, origin="backfill")[2] == 0
    assert len(alert_rows(world.store)) == 2


def test_rules_min_score_actors_and_channel_categories(sqlite_url: str) -> None:
    from regionwatch.settings import AlertRule

    store = Store(sqlite_url)
    add_feed(store, "Ararat Wire")
    settings = Settings(
        storage=StorageConfig(url=sqlite_url),
        channels=[
            ChannelConfig(url="json://127.0.0.1:9/a", name="clashes", categories=["border_clash"]),
            ChannelConfig(url="json://127.0.0.1:9/b", name="csto-desk", categories=["csto"]),
        ],
        alerts=AlertsConfig(
            rules=[
                AlertRule(
                    category="border_clash",
                    min_score=0.5,
                    require_actors=["armenia"],
                    exclude_actors=["kosovo"],
                    severity="critical",
                ),
                AlertRule(category="csto", channels=["csto-desk"]),
            ]
        ),
    )
    w = World(store, settings)
    assert w.add(title="weak clash", text="one " * 30, tags=tags_for(score=0.3))[2] == 0
    assert w.add(title="strong clash", text="two " * 30, tags=tags_for(score=0.7))[2] == 1
    no_armenia = tags_for(score=0.9)
    no_armenia["actors"] = [{"slug": "kyrgyzstan", "name": "Kyrgyzstan", "mentions": 1}]
    assert w.add(title="kyrgyz clash", text="three " * 30, tags=no_armenia)[2] == 0
    assert w.add(title="csto drill", text="four " * 30, tags=tags_for("csto"))[2] == 1
    assert w.add(title="ceasefire", text="five " * 30, tags=tags_for("ceasefire"))[2] == 0
    rows = alert_rows(store)
    assert [(r["category"], r["channel"], r["severity"]) for r in rows] == [
        ("border_clash", "clashes", "critical"),
        ("csto", "csto-desk", "warning"),
    ]
    store.close()


def test_list_and_retry(world: World) -> None:
    world.add(title="Armenia and Azerbaijan exchange fire on border")
    assert len(list_alerts(world.store, "pending")) == 2
    assert list_alerts(world.store, "dead") == []
    with world.store.begin() as conn:
        conn.execute(t.alerts.update().values(status="dead", attempts=8, last_error="boom"))
    assert len(list_alerts(world.store, "dead")) == 2
    assert retry_alerts(world.store) == 2
    rows = alert_rows(world.store)
    assert {r["status"] for r in rows} == {"pending"} and {r["attempts"] for r in rows} == {0}


def test_alerts_due_is_the_claim_condition(world: World) -> None:
    """The monitor flow runs its delivery task only when a row is due (pipeline.alerts_due)."""
    from regionwatch.pipeline import Context, alerts_due

    ctx = Context(settings=world.settings, store=world.store, sources=[])
    assert not alerts_due(ctx)  # empty outbox
    world.add(title="Armenia and Azerbaijan exchange fire on border")
    assert alerts_due(ctx)
    now = datetime.now(UTC)
    with world.store.begin() as conn:  # claimed by a live worker: not due
        conn.execute(t.alerts.update().values(claimed_until=now + timedelta(minutes=5)))
    assert not alerts_due(ctx)
    with world.store.begin() as conn:  # backing off after a failure: not yet due
        conn.execute(
            t.alerts.update().values(claimed_until=None, next_attempt_at=now + timedelta(minutes=5))
        )
    assert not alerts_due(ctx)
    with world.store.begin() as conn:  # the backoff is over, or the lease expired: due
        conn.execute(
            t.alerts.update().values(
                claimed_until=now - timedelta(seconds=1), next_attempt_at=now - timedelta(seconds=1)
            )
        )
    assert alerts_due(ctx)
    with world.store.begin() as conn:  # settled rows are never due
        conn.execute(t.alerts.update().values(status="sent"))
    assert not alerts_due(ctx)


# ---------------------------------------------------------------------------- crash safety
CRASH_SCRIPT = textwrap.dedent("""
    import os, signal, sys, time
    sys.path.insert(0, {root!r})
    from tests.integration.test_outbox import World, make_settings, add_feed
    from regionwatch.store import Store
    settings = make_settings({url!r}, [{hook!r}])
    store = Store({url!r})
    add_feed(store, "Ararat Wire")
    w = World(store, settings)
    w.add(title="Crash test: Armenia and Azerbaijan exchange fire",
          url={item_url!r})
    print("committed", flush=True)
    time.sleep(60)  # killed here: after commit, before any delivery
""")


def test_killed_after_commit_before_delivery_delivers_once(sqlite_url: str, tmp_path: Path) -> None:
    hook = Webhook().start()
    try:
        hook_url = f"json://127.0.0.1:{hook.port}/hook"
        item_url = "http://127.0.0.1:9/ararat-wire/news/crash.html"
        script = tmp_path / "crash.py"
        script.write_text(
            CRASH_SCRIPT.format(root=str(ROOT), url=sqlite_url, hook=hook_url, item_url=item_url)
        )
        proc = subprocess.Popen(
            [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=str(ROOT)
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "committed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        assert hook.delivered() == []
        store = Store(sqlite_url)
        settings = make_settings(sqlite_url, [hook_url])
        first = deliver_pending(store, settings)
        again = deliver_pending(store, settings)
        assert (first.sent, again.sent, again.attempted) == (1, 0, 0)
        posts = hook.delivered()
        assert len(posts) == 1 and item_url.encode() in posts[0].body
        store.close()
    finally:
        hook.stop()


# ---------------------------------------------------------------------------- Postgres workers
DRAIN_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    from tests.integration.test_outbox import make_settings
    from regionwatch.alerts import deliver_pending
    from regionwatch.store import Store
    settings = make_settings({url!r}, [{hook!r}], rate=100000)
    store = Store({url!r})
    sys.stdin.readline()  # start together
    total = 0
    while True:
        rep = deliver_pending(store, settings, worker={worker!r}, limit=3)
        total += rep.sent
        if not rep.attempted:
            break
    print(total, flush=True)
""")


@pytest.mark.postgres
def test_two_workers_drain_one_postgres_outbox_exactly_once(fresh_pg: str, tmp_path: Path) -> None:
    import time

    from tests.loopback import LoopServer

    hook = Webhook()

    def slow_ok(h: Any, req: Any) -> None:
        time.sleep(0.01)
        h.reply(200, b'{"ok":true}', "application/json", req=req)

    hook.post = slow_ok
    hook.start()
    assert isinstance(hook, LoopServer)
    try:
        hook_url = f"json://127.0.0.1:{hook.port}/hook"
        store = Store(fresh_pg)
        add_feed(store, "Ararat Wire")
        w = World(store, make_settings(fresh_pg, [hook_url]))
        n = 30
        for i in range(n):
            w.add(
                title=f"Distinct report number {i} about the border",
                text=f"report{i} " + " ".join(f"w{i}x{k}" for k in range(40)),
                url=f"http://127.0.0.1:9/a/{i}.html",
            )
        assert len(alert_rows(store)) == n
        procs = []
        for k in range(2):
            script = tmp_path / f"drain{k}.py"
            script.write_text(
                DRAIN_SCRIPT.format(
                    root=str(ROOT), url=fresh_pg, hook=hook_url, worker=f"worker-{k}"
                )
            )
            procs.append(
                subprocess.Popen(
                    [sys.executable, str(script)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    cwd=str(ROOT),
                )
            )
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        totals = [int(p.communicate(timeout=120)[0].strip()) for p in procs]
        assert sum(totals) == n, totals
        print("worker totals", totals)
        posts = hook.delivered()
        urls = [
            b.split(b"http://127.0.0.1:9/a/")[1].split(b".html")[0] for b in (p.body for p in posts)
        ]
        assert sorted(urls) == sorted(str(i).encode() for i in range(n))  # each exactly once
        with store.connect() as conn:
            sent = conn.execute(
                select(func.count()).select_from(t.alerts).where(t.alerts.c.status == "sent")
            ).scalar_one()
        assert sent == n
        store.close()
    finally:
        hook.stop()
