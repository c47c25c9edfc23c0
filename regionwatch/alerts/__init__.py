"""Alerts: rules → outbox → rendering → delivery through Apprise (email, chat), and digests.

The pipeline calls :func:`enqueue_alerts` inside the transaction that stores an item, and
:func:`deliver_pending` after commit. See :mod:`regionwatch.alerts.outbox` for the exactly-once
contract and :mod:`regionwatch.alerts.deliver` for channels, formats and rate limits.
"""

from __future__ import annotations

from regionwatch.alerts.deliver import DeliveryReport, deliver_pending, send_test
from regionwatch.alerts.digest import Digest, build_digest, send_digest, send_summary
from regionwatch.alerts.outbox import enqueue_alerts, list_alerts, retry_alerts
from regionwatch.alerts.rules import TERMINAL, Channel, channels

__all__ = [
    "TERMINAL",
    "Channel",
    "DeliveryReport",
    "Digest",
    "build_digest",
    "channels",
    "deliver_pending",
    "enqueue_alerts",
    "list_alerts",
    "retry_alerts",
    "send_digest",
    "send_summary",
    "send_test",
]
