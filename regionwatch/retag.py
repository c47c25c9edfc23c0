"""Re-tag stored items after a watchlist change."""

from __future__ import annotations

import logging
from collections.abc import Callable

from regionwatch.settings import Settings
from regionwatch.store import Store
from regionwatch.store.items import decided_categories

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
    stale = None if all_items else current
    total = store.count_to_retag(stale)
    done = changed = 0
    last_id = 0
    while True:
        rows = store.items_to_retag(stale, after_id=last_id, limit=batch)
        if not rows:
            break
        with store.transaction() as tx:
            for r in rows:
                tags = tagger.tag(r["text"] or "", title=r["title"], lang=r["language"])
                if decided_categories(tags) != sorted(r["categories"] or []):
                    changed += 1
                tx.retag_item(r["id"], tags)
        done += len(rows)
        last_id = rows[-1]["id"]
        if progress:
            progress(done, total)
    logger.info("retag: %d items re-tagged, %d changed categories", done, changed)
    return done, changed
