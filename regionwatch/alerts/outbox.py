"""The alert outbox: rows written with the items that raise them, claimed and settled by delivery.

A row's key is (event, category, channel, seq): an event that alerted for a category never
alerts it again on that channel (seq 0, the first alert); a new category on the same event is a
new row; material developments of an alerted event are update rows (seq 1, 2, … per event and
channel, capped). Rows move
``pending → sent`` or, after ``max_attempts`` failures, ``pending → dead``. Delivery claims rows
with a lease (``claimed_by``/``claimed_until``) committed before sending — on PostgreSQL with
``SELECT … FOR UPDATE SKIP LOCKED``, on SQLite inside a ``BEGIN IMMEDIATE`` transaction — so
two workers never send one row, and a worker that dies mid-send only delays its rows until the
lease expires.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from regionwatch.alerts.rules import channels, evaluate, is_too_old
from regionwatch.models import Article
from regionwatch.settings import Settings
from regionwatch.store import Store, StoreTx, utcnow
from regionwatch.store.outbox import AllowanceFn, in_flight, sent_since

if TYPE_CHECKING:
    from regionwatch.tagging import TagResult

__all__ = [
    "LEASE_SECONDS",
    "any_due",
    "back_off_channel",
    "backoff_seconds",
    "claim",
    "enqueue_alerts",
    "in_flight",
    "list_alerts",
    "mark_failed",
    "mark_sent",
    "retry_alerts",
    "sent_since",
]

logger = logging.getLogger(__name__)

LEASE_SECONDS = 300.0


def enqueue_alerts(
    tx: StoreTx,
    *,
    settings: Settings,
    item_id: int,
    article: Article,
    first_seen: datetime,
    story_id: int,
    event_id: int,
    tags: TagResult,
    baseline_cutoff: datetime | None,
    now: datetime,
    material: Sequence[str] = (),
) -> int:
    """Write the outbox rows a just-inserted item raises, inside the caller's transaction.

    The first alert of (event, category, channel) goes out as soon as one of the event's
    articles qualifies; later articles of the event add nothing, except an *update* when they
    bring a ``material`` development (casualties rose, a new party, violated, ended) and the
    event's first alert was already sent on that channel: one update at a time (none while an
    earlier one waits to go out), at most ``[alerts] max_updates_per_event`` per event and
    channel, none when ``[alerts] updates = false``.

    Args:
        tx: the transaction that inserted the item.
        settings: rules, channels and age limits.
        item_id: the item's id.
        article: the item.
        first_seen: when the item was first seen.
        story_id: the item's story.
        event_id: the item's event.
        tags: the tagger's result for the item.
        baseline_cutoff: on a feed's first poll, items published before it never alert.
        now: the current time (aware UTC).
        material: the material developments the item brings to its event.

    Returns:
        The number of outbox rows created (first alerts and updates).
    """
    cats = sorted(c for c, r in tags.categories.items() if r.decision)
    if cats:
        tx.add_story_categories(story_id, cats)
    if article.origin == "backfill":
        return 0
    why = is_too_old(
        article.published,
        first_seen,
        max_age_hours=settings.alerts.max_age_hours,
        baseline_cutoff=baseline_cutoff,
        now=now,
    )
    decisions = evaluate(settings, tags)
    if why:
        if decisions or material:
            logger.info("alerts: item %s not alerting (%s)", item_id, why)
        return 0
    # an update follows a first alert the desk has seen: one still queued (e.g. raised by
    # another feed of this same cycle) will show the event as it is when it goes out
    alerted_before = tx.alerted_categories(event_id, sent=True)
    created = 0
    for d in decisions:
        alert_id = tx.add_alert(
            story_id=story_id,
            event_id=event_id,
            item_id=item_id,
            category=d.category,
            rule=d.rule.key,
            channel=d.channel.key,
            severity=d.rule.severity,
            score=d.score,
            now=now,
        )
        if alert_id is not None:
            created += 1
            logger.info(
                "alerts: queued #%d %s for event %d on %s",
                alert_id,
                d.category,
                event_id,
                d.channel.display,
            )
    if created:
        tx.mark_story_alerted(story_id)
        tx.mark_event_alerted(event_id)
    if material and cats and settings.alerts.updates and alerted_before:
        created += _enqueue_updates(
            tx,
            settings=settings,
            item_id=item_id,
            story_id=story_id,
            event_id=event_id,
            tags=tags,
            cats=cats,
            alerted=alerted_before,
            material=material,
            now=now,
        )
    return created


def _enqueue_updates(
    tx: StoreTx,
    *,
    settings: Settings,
    item_id: int,
    story_id: int,
    event_id: int,
    tags: TagResult,
    cats: Sequence[str],
    alerted: dict[str, set[str]],
    material: Sequence[str],
    now: datetime,
) -> int:
    """One update row per channel the event's first alert was sent on (cap per event and
    channel; none while an earlier update of the event waits to go out on that channel)."""
    cap = settings.alerts.max_updates_per_event
    prior = tx.update_rows(event_id)
    created = 0
    for channel, alerted_cats in sorted(alerted.items()):
        done = prior.get(channel, [])
        if len(done) >= cap or any(status == "pending" for status in done):
            continue
        # filed under a category the channel already alerted: the item's own first
        category = next((c for c in cats if c in alerted_cats), sorted(alerted_cats)[0])
        result = tags.categories.get(category)
        alert_id = tx.add_alert(
            story_id=story_id,
            event_id=event_id,
            item_id=item_id,
            category=category,
            rule="update",
            channel=channel,
            severity="warning",
            score=result.score if result is not None else 0.0,
            now=now,
            seq=len(done) + 1,
            material=material,
        )
        if alert_id is not None:
            created += 1
            logger.info(
                "alerts: queued update #%d (%s) for event %d on %s",
                alert_id,
                ", ".join(material),
                event_id,
                channel,
            )
    return created


def backoff_seconds(settings: Settings, attempts: int) -> float:
    """Delay before the next attempt after ``attempts`` failed ones (exponential, capped)."""
    a = settings.alerts
    return float(min(a.retry_base_seconds * 2 ** max(attempts - 1, 0), a.retry_max_seconds))


# ---------------------------------------------------------------------- claiming
def any_due(store: Store, now: datetime | None = None) -> bool:
    """Whether a delivery round would claim a row now (pending, due, not claimed by a live
    worker): the claim condition itself, for a caller that skips an empty round."""
    return store.any_due(now)


def claim(
    store: Store,
    *,
    worker: str,
    allowance: dict[str, int] | None,
    allowance_fn: AllowanceFn | None = None,
    limit: int = 200,
    exclude: Iterable[int] = (),
    now: datetime | None = None,
    lease_seconds: float = LEASE_SECONDS,
) -> tuple[list[dict[str, Any]], int]:
    """Claim due rows for ``worker`` and commit the claim before anything is sent.

    Args:
        store: the store.
        worker: a name unique to this process.
        allowance: rows per channel that may be claimed now (rate limit); None = no limit.
        allowance_fn: alternatively ``fn(conn, channel_key) -> int`` evaluated inside the claim
            transaction (used with several workers so their claims are counted).
        limit: the most rows to claim.
        exclude: row ids not to claim (already attempted in this delivery round).
        now: the current time.
        lease_seconds: how long the claim holds before another worker may take the row.

    Returns:
        ``(claimed rows, rows left pending because of the rate limit)``.
    """
    return store.claim_alerts(
        worker=worker,
        allowance=allowance,
        allowance_fn=allowance_fn,
        limit=limit,
        exclude=exclude,
        now=now or utcnow(),
        lease_seconds=lease_seconds,
    )


def mark_sent(store: Store, alert_id: int, worker: str, now: datetime | None = None) -> bool:
    """Settle a claimed row as sent; False when the claim was lost (another worker took it)."""
    return store.settle_sent(alert_id, worker, now or utcnow())


def mark_failed(
    store: Store,
    alert_id: int,
    worker: str,
    error: str,
    settings: Settings,
    now: datetime | None = None,
    *,
    permanent: bool = False,
) -> str:
    """Record a failed attempt: back off, or park the row as dead; returns the new status.

    A ``permanent`` failure (unusable channel) parks the row as dead at once.
    """
    now = now or utcnow()

    def retry_at(attempts: int) -> datetime | None:
        if permanent or attempts >= settings.alerts.max_attempts:
            return None
        return now + timedelta(seconds=backoff_seconds(settings, attempts))

    return store.settle_failed(alert_id, worker, error, retry_at)


def back_off_channel(
    store: Store,
    channel: str,
    worker: str,
    until: datetime,
    *,
    exclude: Iterable[int] = (),
    now: datetime | None = None,
) -> int:
    """Make every due row of ``channel`` wait until ``until`` without counting an attempt.

    For a channel set aside after a failed connection: its other rows (all but ``exclude``)
    keep their attempts and stay pending (nothing lost); rows another worker holds under a
    live lease are left alone.

    Returns:
        The rows pushed back.
    """
    return store.back_off_alerts(channel, worker, until, exclude=exclude, now=now or utcnow())


def release(store: Store, ids: Sequence[int], worker: str) -> None:
    """Give back claimed rows untouched (e.g. delivery stopped before sending them)."""
    if not ids:
        return
    store.release_alerts(ids, worker)


# ---------------------------------------------------------------------- CLI helpers
def list_alerts(store: Store, status: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """Outbox rows (newest first) with their item's title and URL; ``status`` filters."""
    return store.list_alerts(status, limit)


def retry_alerts(store: Store, ids: Sequence[int] | None = None) -> int:
    """Make dead and pending rows due now (attempts reset for dead ones); returns rows changed."""
    return store.retry_alerts(ids, utcnow())


def known_channels(settings: Settings) -> dict[str, Any]:
    """Channels by outbox key."""
    return {c.key: c for c in channels(settings)}
