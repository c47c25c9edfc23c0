"""Near-duplicate clustering: syndicated copies join, different reports stay apart."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from regionwatch.errors import StoreError
from regionwatch.settings import StoriesConfig
from regionwatch.store import Store
from regionwatch.store import schema as t
from regionwatch.stories import StoryIndex, normalise_title

NOW = datetime(2026, 11, 12, 9, 0, tzinfo=UTC)

REPORT = (
    "Kyrgyz and Tajik border guards exchanged fire on Sunday near the village of Kok-Tash in the "
    "Batken region, the Kyrgyz border service said. One Kyrgyz serviceman was wounded and taken "
    "to hospital in Batken. The Tajik side said the Kyrgyz guards had tried to set up a new post "
    "on a disputed stretch of the road and that its units returned fire. Both sides later agreed "
    "to pull back their reinforcements and to meet at the level of regional commanders on Monday. "
    "Clashes over water and roads along the poorly marked frontier have killed dozens of people "
    "since 2021, and a border treaty signed this year has not yet been demarcated on the ground."
)
OTHER_REPORT = (
    "Kyrgyzstan and Tajikistan accused each other on Thursday of violating the border treaty after "
    "a dispute over irrigation water in the Isfara valley. The Tajik foreign ministry summoned the "
    "Kyrgyz ambassador and handed him a note of protest, while Bishkek said its farmers had been "
    "denied access to a canal. No shots were fired, officials on both sides said, but residents "
    "reported a build-up of troops near the Vorukh enclave. The two governments said a joint "
    "commission would meet next week to discuss the border and the sharing of water."
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'stories.db'}")
    yield s
    s.close()


def _add(
    store: Store,
    idx: StoryIndex,
    title: str,
    text: str,
    outlet: str = "A",
    now: datetime = NOW,
    at: datetime | None = None,
) -> tuple[int, int, bool]:
    with store.transaction() as tx:
        conn = tx.conn
        n = conn.execute(select(t.items.c.id).order_by(t.items.c.id.desc())).scalar() or 0
        url = f"http://127.0.0.1:9/{outlet}/{n + 1}"
        item_id = conn.execute(
            t.items.insert()
            .values(
                url_hash=f"k{n + 1}",
                url=url,
                canonical_url=url,
                feed_name=outlet,
                title=title,
                text=text,
                first_seen_at=now,
            )
            .returning(t.items.c.id)
        ).scalar_one()
        story_id, new = idx.assign(
            tx, item_id=item_id, title=title, text=text, outlet=outlet, now=now, at=at
        )
    return item_id, story_id, new


def test_title_normalisation_drops_wire_prefixes() -> None:
    base = normalise_title("Kyrgyz, Tajik guards exchange fire")
    for prefix in ("UPDATE 1-", "UPDATE 2 - ", "Report: ", "Wire: ", "CORRECTED-", "BREAKING: "):
        assert normalise_title(prefix + "Kyrgyz, Tajik guards exchange fire") == base


def test_syndicated_copy_joins_and_other_report_does_not(store: Store) -> None:
    idx = StoryIndex(StoriesConfig())
    item1, story, new = _add(store, idx, "Kyrgyz, Tajik guards exchange fire", REPORT, "A")
    assert new
    copy = (
        "BISHKEK, Nov 12 (Steppe Observer) — This report was distributed by a partner agency "
        "and updated by our desk.\n" + REPORT
    )
    _i2, story2, new2 = _add(store, idx, "UPDATE 1-Kyrgyz, Tajik guards exchange fire", copy, "B")
    assert (story2, new2) == (story, False)
    _i3, story3, new3 = _add(
        store, idx, "Kyrgyzstan and Tajikistan trade accusations over water", OTHER_REPORT, "C"
    )
    assert new3 and story3 != story
    # same topic, same words in the headline, but a different text: a different story
    _i4, story4, new4 = _add(
        store,
        idx,
        "Kyrgyz, Tajik guards exchange fire again",
        OTHER_REPORT.replace("Thursday", "Friday") + " More later.",
        "D",
    )
    assert story4 != story
    with store.connect() as conn:
        st = conn.execute(select(t.stories).where(t.stories.c.id == story)).mappings().one()
        items = conn.execute(select(t.items.c.id, t.items.c.story_id)).all()
        sigs = conn.execute(select(t.signatures.c.item_id)).all()
    assert st["item_count"] == 2 and st["outlets"] == ["A", "B"] and st["lead_item_id"] == item1
    assert all(sid is not None for _i, sid in items) and len(sigs) == 4


def test_restart_rebuilds_from_signatures_and_window_evicts(store: Store) -> None:
    cfg = StoriesConfig(window_days=2)
    idx = StoryIndex(cfg)
    _i, story, _n = _add(store, idx, "Kyrgyz, Tajik guards exchange fire", REPORT, "A")
    fresh = StoryIndex(cfg)
    assert fresh.load(store, NOW + timedelta(hours=1)) == 1
    _i2, story2, new2 = _add(
        store,
        fresh,
        "Report: Kyrgyz, Tajik guards exchange fire",
        "Updated. " + REPORT,
        "B",
        now=NOW + timedelta(hours=1),
    )
    assert (story2, new2) == (story, False)
    # three days later the window has moved on: the same text starts a new story
    later = NOW + timedelta(days=3)
    _i3, story3, new3 = _add(
        store, fresh, "Kyrgyz, Tajik guards exchange fire", REPORT, "C", now=later
    )
    assert new3 and story3 != story
    assert len(fresh) == 1  # the two old entries were evicted
    assert StoryIndex(cfg).load(store, later) == 1


def test_rolled_back_story_is_forgotten(store: Store) -> None:
    idx = StoryIndex(StoriesConfig())
    with pytest.raises(StoreError), store.transaction() as tx:
        conn = tx.conn
        item_id = conn.execute(
            t.items.insert()
            .values(
                url_hash="gone",
                url="http://x/1",
                canonical_url="http://x/1",
                feed_name="A",
                title="Kyrgyz, Tajik guards exchange fire",
                text=REPORT,
                first_seen_at=NOW,
            )
            .returning(t.items.c.id)
        ).scalar_one()
        idx.assign(
            tx,
            item_id=item_id,
            title="Kyrgyz, Tajik guards exchange fire",
            text=REPORT,
            outlet="A",
            now=NOW,
        )
        conn.execute(
            t.items.insert().values(
                url_hash="gone", url="x", canonical_url="x", feed_name="A", first_seen_at=NOW
            )
        )  # unique clash
    _i, _story, new = _add(store, idx, "UPDATE 1-Kyrgyz, Tajik guards exchange fire", REPORT, "B")
    assert new  # joined nothing: the story of the rolled-back transaction is gone


@pytest.mark.postgres
def test_assign_on_postgres(fresh_pg: str) -> None:
    store = Store(fresh_pg)
    idx = StoryIndex(StoriesConfig())
    _i, story, new = _add(store, idx, "Kyrgyz, Tajik guards exchange fire", REPORT, "A")
    _i2, story2, new2 = _add(
        store,
        idx,
        "Wire: Kyrgyz, Tajik guards exchange fire",
        "DUSHANBE (Wire) — Partner copy.\n" + REPORT,
        "B",
    )
    assert new and (story2, new2) == (story, False)
    fresh = StoryIndex(StoriesConfig())
    assert fresh.load(store, NOW) == 2
    store.close()


def _paragraphs(text: str) -> list[str]:
    text = re.sub(r"^\s*date\s+\d{4}(-\d{2}){0,2}\s+", "", text).strip()
    return [p.strip() for p in re.split(r"\n+", text) if p.strip()]


def test_dev_set_copies_join_and_originals_stay_apart(shared: Path, store: Store) -> None:
    """Every long dev-set item gets a syndicated copy; copies join, originals never merge."""
    rows = [json.loads(line) for line in (shared / "eval" / "dev.jsonl").open(encoding="utf-8")]
    idx = StoryIndex(StoriesConfig())
    story_of: dict[str, int] = {}
    for r in rows:
        title = r.get("title") or _paragraphs(r["text"])[0][:100]
        _i, sid, new = _add(store, idx, title, "\n".join(_paragraphs(r["text"])), "A")
        assert new, f"{r['id']} joined an unrelated story"
        story_of[r["id"]] = sid
    prefixes = ["UPDATE 1-", "Report: ", "Wire: ", "CORRECTED-"]
    long_rows = [r for r in rows if len(r["text"]) >= 600]
    for n, r in enumerate(long_rows):
        title = r.get("title") or _paragraphs(r["text"])[0][:100]
        dateline = (
            "YEREVAN, Nov 12 (Ararat Wire) — This report was distributed by a partner "
            "agency and updated by our desk."
        )
        text = "\n".join([dateline, *_paragraphs(r["text"])])
        _i, sid, _new = _add(store, idx, prefixes[n % 4] + title, text, "B")
        assert sid == story_of[r["id"]], f"copy of {r['id']} did not join its story"


def test_shingle_hashes_match_the_shingle_sets() -> None:
    from regionwatch.stories import normalise_text, shingle_hashes, shingles

    for text in (REPORT, OTHER_REPORT, REPORT + " " + REPORT, "two words"):
        tokens = normalise_text(text)
        hashes = shingle_hashes(tokens, 3)
        assert len(hashes) == len(shingles(tokens, 3))
        assert list(hashes) == sorted(set(hashes.tolist()))
    a = shingle_hashes(normalise_text(REPORT), 3)
    b = shingle_hashes(normalise_text(OTHER_REPORT), 3)
    assert len(set(a.tolist()) & set(b.tolist())) < 5  # different reports share few shingles
    assert shingle_hashes([], 3).size == 0


def test_signatures_of_the_older_hashing_use_the_title_path_only() -> None:
    import struct

    import numpy as np

    idx = StoryIndex(StoriesConfig())
    mh = idx._minhash(np.arange(1, 50, dtype=np.uint64))
    blob = idx._encode(mh, 49)
    decoded, size = idx._decode(blob)
    assert decoded is not None and size == 49
    assert list(decoded.hashvalues) == list(mh.hashvalues)
    magic, code, n = struct.unpack_from("<4sBI", blob)
    old = struct.pack("<4sBI", magic, code & 0x0F, n) + blob[struct.calcsize("<4sBI") :]
    assert idx._decode(old) == (None, 49)


def test_backfilled_items_slide_the_window_along_the_archive(store: Store) -> None:
    """A backfill sits in the index at its publication dates: memory bounded by the window."""
    cfg = StoriesConfig(window_days=3)
    idx = StoryIndex(cfg)
    day0 = NOW - timedelta(days=400)
    stories = []
    words = sorted(set(re.findall(r"[a-z]+", (REPORT + OTHER_REPORT).lower())))

    def report(d: int) -> str:
        rng = random.Random(d)
        return " ".join(rng.choice(words) for _ in range(120)) + "."

    for d in range(20):  # twenty days of archive, oldest first, two copies of each day's report
        text = report(d)
        at = day0 + timedelta(days=d)
        _i, story, new = _add(store, idx, f"Water dispute, day {d}", text, "A", at=at)
        _i2, story2, new2 = _add(
            store,
            idx,
            f"UPDATE 1-Water dispute, day {d}",
            "Updated. " + text,
            "B",
            at=at + timedelta(hours=5),
        )
        assert new and (story2, new2) == (story, False)
        stories.append(story)
        assert len(idx) <= 2 * (cfg.window_days + 1)
    assert len(set(stories)) == 20
    # the live item of today does not join a 400-day-old copy of the same text
    _i, live, new = _add(store, idx, "Water dispute, day 0", report(0), "C")
    assert new and live not in stories
    # a restart loads only what is recent: the backfill's signatures carry their dates
    with store.connect() as conn:
        seen = (
            conn.execute(select(t.signatures.c.seen_at).order_by(t.signatures.c.seen_at))
            .scalars()
            .all()
        )
    assert StoryIndex(cfg).load(store, NOW) == 1
    assert seen[0].replace(tzinfo=UTC) == day0
