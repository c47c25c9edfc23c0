"""Prefect tasks for alert delivery (the outbox) and the daily digest.

Delivery has its own retry discipline: failed outbox rows stay pending with a backoff and are
retried on later cycles, so these tasks never retry themselves (a retry could only re-send
what the outbox already tracks). They only bound the time spent.

Flows ask :func:`regionwatch.pipeline.alerts_due` first: most cycles queue no alert, and a task
run that only finds an empty outbox costs the flow its run bookkeeping (three state events and
the API's work on them, at the moment the run's artifacts go out) for nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime

from prefect import task
from prefect.cache_policies import NONE

from regionwatch.alerts.deliver import DeliveryReport
from regionwatch.alerts.digest import SendReport
from regionwatch.pipeline import Context, deliver

__all__ = ["deliver_task", "digest_task"]

logger = logging.getLogger(__name__)


@task(name="deliver-alerts", timeout_seconds=300, cache_policy=NONE, persist_result=False)
def deliver_task(ctx: Context) -> DeliveryReport:
    """Send the due outbox rows through their channels.

    Args:
        ctx: the flow run's pipeline context (pass it through ``by_ref``).

    Returns:
        The library's delivery report (``.sent``, ``.failed``, ``.dead``, ``.rows``).
    """
    report = deliver(ctx)
    logger.info("alerts: %d sent, %d failed, %d dead", report.sent, report.failed, report.dead)
    return report


@task(name="send-digest", timeout_seconds=300, cache_policy=NONE, persist_result=False)
def digest_task(ctx: Context, now: datetime) -> SendReport:
    """Compose and send the digest of the period ending at ``now``.

    Args:
        ctx: the flow run's pipeline context (pass it through ``by_ref``).
        now: the end of the digest period (aware UTC).

    Returns:
        The library's digest report.
    """
    from regionwatch.alerts.digest import send_digest

    return send_digest(ctx.store, ctx.settings, now)
