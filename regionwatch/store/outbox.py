"""The alert outbox table: rows written with the items that raise them, claimed and settled by
delivery (the rules live in :mod:`regionwatch.alerts.outbox`; this module only persists)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update

from regionwatch.models import Alert
from regionwatch.store import schema as t
from regionwatch.store._base import Door, TxBase, as_utc, insert_ignore, row_dict, utcnow

__all__ = [
    "AlertWrites",
    "OutboxRows",
    "alert_from_row",
    "alert_view_rows",
    "in_flight",
    "sent_since",
]

#: ``fn(conn, channel_key) -> rows that channel may still take now`` (the rate limit).
AllowanceFn = Callable[[Connection, str], int]


def alert_from_row(row: Any) -> Alert:
    """An :class:`~regionwatch.models.Alert` from an outbox row joined with its item."""
    created = as_utc(row["created_at"])
    assert created is not None
    return Alert(
        alert_id=int(row["id"]),
        story_id=int(row["story_id"]),
        item_id=int(row["item_id"]),
        category=row["category"],
        rule=row["rule"],
        channel=row["channel"],
        status=row["status"],
        attempts=int(row["attempts"] or 0),
        created_at=created,
        severity=row["severity"] or "warning",
        score=float(row["score"] or 0.0),
        sent_at=as_utc(row["sent_at"]),
        next_attempt_at=as_utc(row["next_attempt_at"]),
        last_error=row["last_error"],
        title=row.get("title") or "",
        url=row.get("url") or "",
        feed_name=row.get("feed_name") or "",
        event_id=row.get("event_id"),
        kind=row.get("kind") or "alert",
        seq=int(row.get("seq") or 0),
        material=tuple(row.get("material") or ()),
    )


def _due(now: datetime) -> Any:
    return and_(
        t.alerts.c.status == "pending",
        t.alerts.c.next_attempt_at <= now,
        or_(t.alerts.c.claimed_until.is_(None), t.alerts.c.claimed_until < now),
    )


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


def alert_view_rows(
    conn: Connection, alert: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """What rendering an outbox row needs: its item, the feeds (country, state affiliation) by
    name, its story and its event, each as a dict (empty when missing)."""
    item = conn.execute(select(t.items).where(t.items.c.id == alert["item_id"])).mappings()
    item_row = item.first()
    feeds = {
        r["name"]: dict(r)
        for r in conn.execute(
            select(t.feeds.c.name, t.feeds.c.country, t.feeds.c.state_affiliated)
        ).mappings()
    }
    story = conn.execute(select(t.stories).where(t.stories.c.id == alert["story_id"]))
    story_row = story.mappings().first()
    event_row = None
    if alert.get("event_id") is not None:
        event = conn.execute(select(t.events).where(t.events.c.id == alert["event_id"]))
        event_row = event.mappings().first()
    return (
        row_dict(item_row) if item_row else {},
        feeds,
        row_dict(story_row) if story_row else {},
        row_dict(event_row) if event_row else {},
    )


class AlertWrites(TxBase):
    """Outbox writes inside the transaction that stores the items raising them."""

    def add_alert(
        self,
        *,
        story_id: int,
        event_id: int,
        item_id: int,
        category: str,
        rule: str,
        channel: str,
        severity: str,
        score: float,
        now: datetime,
        seq: int = 0,
        material: Sequence[str] = (),
    ) -> int | None:
        """Queue one outbox row: the first alert of (event, category, channel) with ``seq`` 0,
        else an update; None when that key already has a row."""
        row = self.conn.execute(
            insert_ignore(self.conn, t.alerts)
            .values(
                story_id=story_id,
                event_id=event_id,
                item_id=item_id,
                category=category,
                kind="update" if seq else "alert",
                seq=seq,
                material=list(material) if material else None,
                rule=rule[:100],
                channel=channel[:100],
                severity=severity,
                score=score,
                status="pending",
                attempts=0,
                created_at=now,
                next_attempt_at=now,
            )
            .returning(t.alerts.c.id)
        ).first()
        return int(row[0]) if row is not None else None


class OutboxRows(Door):
    """Claiming, settling and listing outbox rows."""

    def any_due(self, now: datetime | None = None) -> bool:
        """Whether a delivery round would claim a row now (pending, due, not claimed by a live
        worker): the claim condition itself, for a caller that skips an empty round."""
        q = select(t.alerts.c.id).where(_due(now or utcnow())).limit(1)
        with self.connect() as conn:
            return conn.execute(q).first() is not None

    def claim_alerts(
        self,
        *,
        worker: str,
        allowance: dict[str, int] | None,
        allowance_fn: AllowanceFn | None,
        limit: int,
        exclude: Iterable[int],
        now: datetime,
        lease_seconds: float,
    ) -> tuple[list[dict[str, Any]], int]:
        """Claim due rows for ``worker``, committed before anything is sent (see
        :func:`regionwatch.alerts.outbox.claim`); returns (rows, rows deferred by the limit)."""
        exclude = set(exclude)
        deferred = 0
        with self.begin() as conn:
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
                .values(
                    claimed_by=worker[:100], claimed_until=now + timedelta(seconds=lease_seconds)
                )
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

    def settle_sent(self, alert_id: int, worker: str, now: datetime) -> bool:
        """Settle a claimed row as sent; False when the claim was lost."""
        with self.begin() as conn:
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

    def settle_failed(
        self, alert_id: int, worker: str, error: str, retry_at: Callable[[int], datetime | None]
    ) -> str:
        """Record a failed attempt; ``retry_at(attempts)`` gives the next attempt's time, or
        None to park the row as dead. Returns the row's new status."""
        with self.begin() as conn:
            row = conn.execute(select(t.alerts.c.attempts).where(t.alerts.c.id == alert_id)).first()
            attempts = (int(row[0]) if row else 0) + 1
            when = retry_at(attempts)
            values: dict[str, Any] = {
                "attempts": attempts,
                "last_error": error[:2000],
                "claimed_by": None,
                "claimed_until": None,
            }
            if when is None:
                values["status"] = "dead"
            else:
                values["next_attempt_at"] = when
            conn.execute(
                update(t.alerts)
                .where(t.alerts.c.id == alert_id, t.alerts.c.claimed_by == worker[:100])
                .values(**values)
            )
        return "dead" if when is None else "pending"

    def back_off_alerts(
        self,
        channel: str,
        worker: str,
        until: datetime,
        *,
        exclude: Iterable[int],
        now: datetime,
    ) -> int:
        """Push the due rows of ``channel`` (all but ``exclude``) back to ``until`` without
        counting an attempt; rows another worker holds under a live lease are left alone.
        Returns the rows pushed back."""
        a = t.alerts.c
        with self.begin() as conn:
            res = conn.execute(
                update(t.alerts)
                .where(
                    a.channel == channel,
                    a.status == "pending",
                    a.next_attempt_at < until,
                    a.id.not_in(list(exclude)),
                    or_(
                        a.claimed_until.is_(None),
                        a.claimed_until < now,
                        a.claimed_by == worker[:100],
                    ),
                )
                .values(next_attempt_at=until, claimed_by=None, claimed_until=None)
            )
        return int(res.rowcount or 0)

    def release_alerts(self, ids: Sequence[int], worker: str) -> None:
        """Give back claimed rows untouched."""
        with self.begin() as conn:
            conn.execute(
                update(t.alerts)
                .where(t.alerts.c.id.in_(list(ids)), t.alerts.c.claimed_by == worker[:100])
                .values(claimed_by=None, claimed_until=None)
            )

    def list_alerts(self, status: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        """Outbox rows (newest first) with their item's title, URL and outlet."""
        q = (
            select(t.alerts, t.items.c.title, t.items.c.url, t.items.c.feed_name)
            .join(t.items, t.items.c.id == t.alerts.c.item_id)
            .order_by(t.alerts.c.created_at.desc(), t.alerts.c.id.desc())
            .limit(limit)
        )
        if status:
            q = q.where(t.alerts.c.status == status)
        with self.connect() as conn:
            return [row_dict(r) for r in conn.execute(q).mappings()]

    def alerts_since(self, since: datetime) -> list[Alert]:
        """Outbox rows created or sent since ``since``, with their item's headline and link
        (for run artifacts)."""
        q = (
            select(t.alerts, t.items.c.title, t.items.c.url, t.items.c.feed_name)
            .join(t.items, t.items.c.id == t.alerts.c.item_id)
            .where((t.alerts.c.created_at >= since) | (t.alerts.c.sent_at >= since))
            .order_by(t.alerts.c.id)
        )
        with self.connect() as conn:
            return [alert_from_row(r) for r in conn.execute(q).mappings()]

    def retry_alerts(self, ids: Sequence[int] | None, now: datetime) -> int:
        """Make dead and pending rows due now (attempts reset for dead ones); rows changed."""
        with self.begin() as conn:
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

    def alert_counts(self) -> dict[str, int]:
        """Outbox rows by status."""
        with self.connect() as conn:
            rows = conn.execute(
                select(t.alerts.c.status, func.count()).group_by(t.alerts.c.status)
            ).all()
        return {str(r[0]): int(r[1]) for r in rows}

    def alerted_channels(self) -> dict[int, set[str]]:
        """Channels each story alerted on, by story id."""
        out: dict[int, set[str]] = {}
        with self.connect() as conn:
            for r in conn.execute(select(t.alerts.c.story_id, t.alerts.c.channel)):
                out.setdefault(int(r.story_id), set()).add(r.channel)
        return out
