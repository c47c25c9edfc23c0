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
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update

from regionwatch.alerts.rules import channels, evaluate, is_too_old
from regionwatch.settings import Settings
from regionwatch.store import Store, as_utc, insert_ignore, utcnow
from regionwatch.store import schema as t

__all__ = [
    "LEASE_SECONDS",
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
    conn: Connection,
    *,
    settings: Settings,
    item: dict[str, Any],
    story_id: int,
    event_id: int,
    tags: dict[str, Any],
    baseline_cutoff: datetime | None,
    now: datetime,
    material: Sequence[str] = (),
) -> int:
    """Write the outbox rows a just-inserted item raises, inside the caller's transaction.

    The first alert of (event, category, channel) goes out as soon as one of the event's
    articles qualifies; later articles of the event add nothing, except an *update* when they
    bring a ``material`` development (casualties rose, a new party, violated, ended) and the
    channel already holds the event's first alert from an earlier cycle: one update row per
    channel per save, at most ``[alerts] max_updates_per_event`` per event and channel, none
    when ``[alerts] updates = false``.

    Args:
        conn: the connection of the transaction that inserted the item.
        settings: rules, channels and age limits.
        item: the item (keys ``id``, ``title``, ``url``, ``feed_name``, ``published_at``,
            ``first_seen_at``, ``origin``).
        story_id: the item's story.
        event_id: the item's event.
        tags: the tagger's result for the item.
        baseline_cutoff: on a feed's first poll, items published before it never alert.
        now: the current time (aware UTC).
        material: the material developments the item brings to its event.

    Returns:
        The number of outbox rows created (first alerts and updates).
    """
    from regionwatch.store.events import alerted_categories, mark_alerted, update_rows

    cats = sorted(
        c
        for c, d in (tags.get("categories") or {}).items()
        if isinstance(d, dict) and d.get("decision")
    )
    if cats:
        _add_story_categories(conn, story_id, cats)
    if item.get("origin") == "backfill":
        return 0
    why = is_too_old(
        item, max_age_hours=settings.alerts.max_age_hours, baseline_cutoff=baseline_cutoff, now=now
    )
    decisions = evaluate(settings, tags)
    if why:
        if decisions or material:
            logger.info("alerts: item %s not alerting (%s)", item.get("id"), why)
        return 0
    before = alerted_categories(conn, event_id, before=now)
    created = 0
    for d in decisions:
        row = conn.execute(
            insert_ignore(conn, t.alerts)
            .values(
                story_id=story_id,
                event_id=event_id,
                item_id=int(item["id"]),
                category=d.category,
                kind="alert",
                seq=0,
                rule=d.rule.key[:100],
                channel=d.channel.key[:100],
                severity=d.rule.severity,
                score=d.score,
                status="pending",
                attempts=0,
                created_at=now,
                next_attempt_at=now,
            )
            .returning(t.alerts.c.id)
        ).first()
        if row is not None:
            created += 1
            logger.info(
                "alerts: queued #%d %s for event %d on %s",
                row[0],
                d.category,
                event_id,
                d.channel.display,
            )
    if created:
        mark_alerted(conn, event_id)
        outlets = conn.execute(
            select(t.stories.c.outlets).where(t.stories.c.id == story_id)
        ).scalar()
        conn.execute(
            update(t.stories)
            .where(t.stories.c.id == story_id)
            .values(alerted_outlet_count=len(outlets or []) or 1)
        )
    if material and cats and settings.alerts.updates and before:
        created += _enqueue_updates(
            conn,
            settings=settings,
            item=item,
            story_id=story_id,
            event_id=event_id,
            tags=tags,
            cats=cats,
            alerted=before,
            prior=update_rows(conn, event_id),
            material=material,
            now=now,
        )
    return created


def _enqueue_updates(
    conn: Connection,
    *,
    settings: Settings,
    item: dict[str, Any],
    story_id: int,
    event_id: int,
    tags: dict[str, Any],
    cats: Sequence[str],
    alerted: dict[str, set[str]],
    prior: dict[str, list[datetime]],
    material: Sequence[str],
    now: datetime,
) -> int:
    """One update row per channel that already alerted the event (cap, one per save)."""
    cap = settings.alerts.max_updates_per_event
    created = 0
    for channel, alerted_cats in sorted(alerted.items()):
        done = prior.get(channel, [])
        if len(done) >= cap or any(x >= now for x in done):
            continue
        # the update is filed under a category the channel already alerted, the item's first
        category = next((c for c in cats if c in alerted_cats), sorted(alerted_cats)[0])
        d = ((tags.get("categories") or {}).get(category)) or {}
        row = conn.execute(
            insert_ignore(conn, t.alerts)
            .values(
                story_id=story_id,
                event_id=event_id,
                item_id=int(item["id"]),
                category=category,
                kind="update",
                seq=len(done) + 1,
                material=list(material),
                rule="update",
                channel=channel,
                severity="warning",
                score=float(d.get("score") or 0.0) if isinstance(d, dict) else 0.0,
                status="pending",
                attempts=0,
                created_at=now,
                next_attempt_at=now,
            )
            .returning(t.alerts.c.id)
        ).first()
        if row is not None:
            created += 1
            logger.info(
                "alerts: queued update #%d (%s) for event %d on %s",
                row[0],
                ", ".join(material),
                event_id,
                channel,
            )
    return created


def _add_story_categories(conn: Connection, story_id: int, cats: Sequence[str]) -> None:
    current = conn.execute(
        select(t.stories.c.categories).where(t.stories.c.id == story_id)
    ).scalar()
    have = list(current or [])
    merged = have + [c for c in cats if c not in have]
    if merged != have:
        conn.execute(update(t.stories).where(t.stories.c.id == story_id).values(categories=merged))


def backoff_seconds(settings: Settings, attempts: int) -> float:
    """Delay before the next attempt after ``attempts`` failed ones (exponential, capped)."""
    a = settings.alerts
    return float(min(a.retry_base_seconds * 2 ** max(attempts - 1, 0), a.retry_max_seconds))


# ---------------------------------------------------------------------- claiming
def _due(now: datetime) -> Any:
    return and_(
        t.alerts.c.status == "pending",
        t.alerts.c.next_attempt_at <= now,
        or_(t.alerts.c.claimed_until.is_(None), t.alerts.c.claimed_until < now),
    )


def any_due(store: Store, now: datetime | None = None) -> bool:
    """Whether a delivery round would claim a row now (pending, due, not claimed by a live
    worker): the claim condition itself, for a caller that skips an empty round."""
    q = select(t.alerts.c.id).where(_due(now or utcnow())).limit(1)
    with store.connect() as conn:
        return conn.execute(q).first() is not None


def sent_since(conn: Connection, channel: str, since: datetime) -> list[datetime]:
    """Send times of rows sent on ``channel`` since ``since`` (for the rate limit)."""
    rows = conn.execute(
        select(t.alerts.c.sent_at).where(
            t.alerts.c.channel == channel, t.alerts.c.status == "sent", t.alerts.c.sent_at >= since
        )
    ).all()
    times = [as_utc(r[0]) for r in rows]
    return sorted(x for x in times if x is not None)


def in_flight(conn: Connection, channel: str, now: datetime, worker: str) -> int:
    """Rows of ``channel`` other workers hold under a live lease."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(t.alerts)
            .where(
                t.alerts.c.channel == channel,
                t.alerts.c.status == "pending",
                t.alerts.c.claimed_until >= now,
                t.alerts.c.claimed_by != worker,
            )
        ).scalar_one()
    )


def claim(
    store: Store,
    *,
    worker: str,
    allowance: dict[str, int] | None,
    allowance_fn: Any = None,
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
    now = now or utcnow()
    exclude = set(exclude)
    deferred = 0
    with store.begin() as conn:
        q = (
            select(t.alerts.c.id, t.alerts.c.channel)
            .where(_due(now))
            .order_by(t.alerts.c.next_attempt_at, t.alerts.c.id)
            .limit(limit + len(exclude))
        )
        if conn.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        rows = conn.execute(q).all()
        budget: dict[str, int] = dict(allowance or {})
        chosen: list[int] = []
        for r in rows:
            if r.id in exclude:
                continue
            if len(chosen) >= limit:
                break
            if allowance is not None or allowance_fn is not None:
                if r.channel not in budget:
                    budget[r.channel] = (
                        allowance_fn(conn, r.channel) if allowance_fn is not None else 10**9
                    )
                if budget[r.channel] <= 0:
                    deferred += 1
                    continue
                budget[r.channel] -= 1
            chosen.append(int(r.id))
        if not chosen:
            return [], deferred
        conn.execute(
            update(t.alerts)
            .where(t.alerts.c.id.in_(chosen))
            .values(claimed_by=worker[:100], claimed_until=now + timedelta(seconds=lease_seconds))
        )
        claimed = [
            dict(r)
            for r in conn.execute(
                select(t.alerts)
                .where(t.alerts.c.id.in_(chosen))
                .order_by(t.alerts.c.next_attempt_at, t.alerts.c.id)
            ).mappings()
        ]
    return claimed, deferred


def mark_sent(store: Store, alert_id: int, worker: str, now: datetime | None = None) -> bool:
    """Settle a claimed row as sent; False when the claim was lost (another worker took it)."""
    now = now or utcnow()
    with store.begin() as conn:
        res = conn.execute(
            update(t.alerts)
            .where(t.alerts.c.id == alert_id, t.alerts.c.claimed_by == worker[:100])
            .values(
                status="sent",
                sent_at=now,
                attempts=t.alerts.c.attempts + 1,
                last_error=None,
                claimed_by=None,
                claimed_until=None,
            )
        )
    return bool(res.rowcount)


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
    with store.begin() as conn:
        row = conn.execute(select(t.alerts.c.attempts).where(t.alerts.c.id == alert_id)).first()
        attempts = (int(row[0]) if row else 0) + 1
        dead = permanent or attempts >= settings.alerts.max_attempts
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_error": error[:2000],
            "claimed_by": None,
            "claimed_until": None,
        }
        if dead:
            values["status"] = "dead"
        else:
            values["next_attempt_at"] = now + timedelta(seconds=backoff_seconds(settings, attempts))
        conn.execute(
            update(t.alerts)
            .where(t.alerts.c.id == alert_id, t.alerts.c.claimed_by == worker[:100])
            .values(**values)
        )
    return "dead" if dead else "pending"


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
    now = now or utcnow()
    with store.begin() as conn:
        res = conn.execute(
            update(t.alerts)
            .where(
                t.alerts.c.channel == channel,
                t.alerts.c.status == "pending",
                t.alerts.c.next_attempt_at < until,
                t.alerts.c.id.not_in(list(exclude)),
                or_(
                    t.alerts.c.claimed_until.is_(None),
                    t.alerts.c.claimed_until < now,
                    t.alerts.c.claimed_by == worker[:100],
                ),
            )
            .values(next_attempt_at=until, claimed_by=None, claimed_until=None)
        )
    return int(res.rowcount or 0)


def release(store: Store, ids: Sequence[int], worker: str) -> None:
    """Give back claimed rows untouched (e.g. delivery stopped before sending them)."""
    if not ids:
        return
    with store.begin() as conn:
        conn.execute(
            update(t.alerts)
            .where(t.alerts.c.id.in_(list(ids)), t.alerts.c.claimed_by == worker[:100])
            .values(claimed_by=None, claimed_until=None)
        )


# ---------------------------------------------------------------------- CLI helpers
def list_alerts(store: Store, status: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """Outbox rows (newest first) with their item's title and URL; ``status`` filters."""
    q = (
        select(t.alerts, t.items.c.title, t.items.c.url, t.items.c.feed_name)
        .join(t.items, t.items.c.id == t.alerts.c.item_id)
        .order_by(t.alerts.c.created_at.desc(), t.alerts.c.id.desc())
        .limit(limit)
    )
    if status:
        q = q.where(t.alerts.c.status == status)
    with store.connect() as conn:
        rows = [dict(r) for r in conn.execute(q).mappings()]
    for r in rows:
        for k, v in r.items():
            if isinstance(v, datetime):
                r[k] = as_utc(v)
    return rows


def retry_alerts(store: Store, ids: Sequence[int] | None = None) -> int:
    """Make dead and pending rows due now (attempts reset for dead ones); returns rows changed."""
    now = utcnow()
    with store.begin() as conn:
        cond: Any = t.alerts.c.status.in_(("dead", "pending"))
        if ids:
            cond = and_(cond, t.alerts.c.id.in_(list(ids)))
        n_dead = conn.execute(
            update(t.alerts)
            .where(cond, t.alerts.c.status == "dead")
            .values(
                status="pending",
                attempts=0,
                next_attempt_at=now,
                claimed_by=None,
                claimed_until=None,
            )
        ).rowcount
        n_pending = conn.execute(
            update(t.alerts)
            .where(cond, t.alerts.c.status == "pending", t.alerts.c.next_attempt_at > now)
            .values(next_attempt_at=now)
        ).rowcount
    return int(n_dead or 0) + int(n_pending or 0)


def known_channels(settings: Settings) -> dict[str, Any]:
    """Channels by outbox key."""
    return {c.key: c for c in channels(settings)}
