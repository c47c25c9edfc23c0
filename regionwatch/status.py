"""What ``regionwatch status`` shows: last runs, feeds in trouble, alert outbox, store size."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from regionwatch.settings import CATEGORIES, Settings, mask_url
from regionwatch.store import Store, utcnow
from regionwatch.store.feedback import feedback_precision

__all__ = ["collect_status", "human_size"]


def human_size(n: int | None) -> str:
    """Bytes as a short human-readable size."""
    if n is None:
        return "size unknown"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def collect_status(store: Store, settings: Settings, *, runs: int = 10) -> dict[str, Any]:
    """Gather the status overview as plain data."""
    configured = {s.name for s in settings.sources()}
    feeds = [f for f in store.feeds() if f["name"] in configured]
    trouble = [f for f in feeds if f["consecutive_failures"] > 0]
    alerts = store.alert_counts()
    return {
        "runs": store.recent_runs(runs),
        "feeds_total": len(feeds),
        "trouble": sorted(trouble, key=lambda f: -f["consecutive_failures"]),
        "alerts": alerts,
        "counts": store.counts(),
        "store": mask_url(store.url),
        "size": human_size(store.size_bytes()),
        # what the desk's verdicts of the last 30 days say of each category's precision
        "feedback": feedback_precision(store, utcnow() - timedelta(days=30), CATEGORIES),
    }
