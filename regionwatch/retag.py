"""Re-tag stored items after a watchlist change."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import func, select, update

from regionwatch.settings import Settings
from regionwatch.store import Store
from regionwatch.store import schema as t

__all__ = ["retag_items"]

logger = logging.getLogger(__name__)


def retag_items(
    store: Store,
    settings: Settings,
    *,
    all_items: bool = False,
    batch: int = 200,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Re-tag items whose tags came from another lexicon (or all items).

    Tags and categories are replaced; alerts are not re-sent (old news stays quiet).

    Returns:
        (items re-tagged, items whose categories changed).
    """
    from regionwatch.tagging import get_tagger

    tagger = get_tagger(settings.seeds.dir)
    current = tagger.lexicon_hash
    cond = (
        None
        if all_items
        else ((t.items.c.lexicon_hash.is_(None)) | (t.items.c.lexicon_hash != current))
    )
    with store.connect() as conn:
        q = select(func.count()).select_from(t.items)
        total = int(conn.execute(q.where(cond) if cond is not None else q).scalar_one())
    done = changed = 0
    last_id = 0
    while True:
        q2 = select(
            t.items.c.id, t.items.c.title, t.items.c.text, t.items.c.language, t.items.c.categories
        ).where(t.items.c.id > last_id)
        if cond is not None:
            q2 = q2.where(cond)
        with store.connect() as conn:
            rows = conn.execute(q2.order_by(t.items.c.id).limit(batch)).mappings().all()
        if not rows:
            break
        with store.begin() as conn:
            for r in rows:
                tags = tagger.tag(r["text"] or "", title=r["title"], lang=r["language"]).to_dict()
                cats = sorted(c for c, d in tags["categories"].items() if d.get("decision"))
                if cats != sorted(r["categories"] or []):
                    changed += 1
                conn.execute(
                    update(t.items)
                    .where(t.items.c.id == r["id"])
                    .values(tags=tags, categories=cats, lexicon_hash=current)
                )
                Store.write_tags(conn, r["id"], tags)
        done += len(rows)
        last_id = rows[-1]["id"]
        if progress:
            progress(done, total)
    logger.info("retag: %d items re-tagged, %d changed categories", done, changed)
    return done, changed
