"""Prefect tasks for alert delivery (the outbox) and the daily digest.

Delivery has its own retry discipline: failed outbox rows stay pending with a backoff and are
retried on later cycles, so these tasks never retry themselves (a retry could only re-send
what the outbox already tracks). They only bound the time spent.

:func:`alerts_due` tells a flow whether the delivery task has anything to do: most cycles
queue no alert, and a task run that only finds an empty outbox costs the flow its run
bookkeeping (three state events and the API's work on them, at the moment the run's
artifacts go out) for nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from prefect import task
from prefect.cache_policies import NONE
from sqlalchemy import select

from regionwatch.alerts.outbox import _due  # the claim condition itself, not a copy of it
from regionwatch.pipeline import Context, deliver
from regionwatch.store import schema as t
from regionwatch.store import utcnow

__all__ = ["alerts_due", "deliver_task", "digest_task"]

logger = logging.getLogger(__name__)


def alerts_due(ctx: Context) -> bool:
    """Whether the outbox holds a row that delivery would claim now (pending, due, unclaimed).

    The same condition the delivery round claims rows by; a row that becomes due a moment
    later goes out next cycle, as it would if the round had already run.
    """
    q = select(t.alerts.c.id).where(_due(utcnow())).limit(1)
    with ctx.store.connect() as conn:
        return conn.execute(q).first() is not None


@task(name="deliver-alerts", timeout_seconds=300, cache_policy=NONE, persist_result=False)
def deliver_task(ctx: Context) -> Any:
    """Send the due outbox rows through their channels.

    Args:
        ctx: the flow run's pipeline context (pass it through ``by_ref``).

    Returns:
        The library's delivery report (``.sent``, ``.failed``, ``.dead``, ``.rows``).
    """
    report = deliver(ctx)
    logger.info(
        "alerts: %s sent, %s failed, %s dead",
        getattr(report, "sent", "?"), getattr(report, "failed", "?"), getattr(report, "dead", "?"),
    )
    return report


@task(name="send-digest", timeout_seconds=300, cache_policy=NONE, persist_result=False)
def digest_task(ctx: Context, now: datetime) -> Any:
    """Compose and send the digest of the period ending at ``now``.

    Args:
        ctx: the flow run's pipeline context (pass it through ``by_ref``).
        now: the end of the digest period (aware UTC).

    Returns:
        The library's digest report.
    """
    from regionwatch.alerts.digest import send_digest

    return send_digest(ctx.store, ctx.settings, now)
