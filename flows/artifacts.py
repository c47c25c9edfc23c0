"""Run artifacts shown in the Prefect UI: new tagged items, the events they opened or grew,
alerts, and a markdown summary.

Artifact keys are stable per flow (``monitor-items``, ``monitor-events``, ``monitor-alerts``,
``monitor-summary``),
so the UI keeps one versioned artifact per kind with a history of runs.
"""

from __future__ import annotations

import contextvars
import functools
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from regionwatch.models import Alert, Event, RunSummary

__all__ = [
    "RunArtifacts",
    "alert_table",
    "event_table",
    "item_table",
    "publish_run_artifacts",
    "summary_markdown",
]

logger = logging.getLogger(__name__)

#: Tables are capped: the UI is for glancing, the store keeps everything.
MAX_ROWS = 500


def _cell(value: Any, limit: int = 200) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, list | tuple | set):
        return ", ".join(_cell(v, limit) for v in value if v)
    if isinstance(value, dict):
        return ", ".join(str(k) for k, v in value.items() if v)
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _md(value: Any) -> str:
    return _cell(value).replace("|", "\\|")


def item_table(items: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """Rows for the new-items table: headline, outlet, categories, actors, link."""
    return [
        {
            "headline": _cell(it.get("title")),
            "outlet": _cell(it.get("feed_name")),
            "categories": _cell(it.get("categories")),
            "actors": _cell(it.get("actors")),
            "link": _cell(it.get("url"), 500),
        }
        for it in items[:MAX_ROWS]
    ]


def event_table(events: Sequence[Event], since: datetime) -> list[dict[str, str]]:
    """Rows for the events table: the events opened (new) or grown in the run, with their
    headline, parties, articles, outlets, languages and the categories alerted (sent)."""
    return [
        {
            "event": str(e.event_id),
            "change": "new" if e.first_seen >= since else "grown",
            "categories": _cell(e.categories),
            "headline": _cell(e.title),
            "parties": _cell(e.actors[:6]),
            "articles": str(e.articles),
            "outlets": str(len(e.outlets)),
            "languages": _cell(e.languages),
            "alerted": _cell([c for c, sent in e.alerted.items() if sent]),
        }
        for e in events[:MAX_ROWS]
    ]


def alert_table(alerts: Sequence[Alert]) -> list[dict[str, str]]:
    """Rows for the alerts table: category, kind (alert/update), event, status, channel,
    headline, link, attempts, error."""
    return [
        {
            "category": _cell(a.category),
            "kind": _cell(a.kind),
            "event": _cell(a.event_id),
            "status": _cell(a.status),
            "channel": _cell(a.channel),
            "headline": _cell(a.title),
            "link": _cell(a.url, 500),
            "attempts": _cell(a.attempts),
            "sent_at": _cell(a.sent_at),
            "last_error": _cell(a.last_error),
        }
        for a in alerts[:MAX_ROWS]
    ]


def summary_markdown(summary: RunSummary, *, title: str = "RegionWatch monitor run") -> str:
    """A markdown summary: feeds polled, 304s, errors, items, stories, events (new, grown),
    alerts, feeds in trouble."""
    lines = [
        f"# {title}",
        "",
        f"Status: **{summary.status}** · started {_cell(summary.started_at)}"
        + (f" · finished {_cell(summary.finished_at)}" if summary.finished_at else ""),
        "",
        "| feeds polled | 304 not modified | feed errors | new items | stories | new events "
        "| grown events | alerts queued | alerts sent | alerts failed |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {summary.feeds_polled} | {summary.not_modified} | {summary.feed_errors} "
        f"| {summary.items_new} | {summary.stories_new} "
        f"| {summary.extra.get('events_new', 0)} | {summary.extra.get('events_grown', 0)} "
        f"| {summary.alerts_queued} | {summary.alerts_sent} | {summary.alerts_failed} |",
    ]
    trouble = [f for f in summary.feeds if f.status in ("error", "skipped") or f.page_errors]
    if trouble:
        lines += [
            "",
            "## Feeds in trouble",
            "",
            "| feed | status | page errors | error |",
            "|---|---|---:|---|",
        ]
        lines += [
            f"| {_md(f.source)} | {f.status} | {f.page_errors} | {_md(f.error)} |"
            for f in trouble[:100]
        ]
    return "\n".join(lines) + "\n"


class RunArtifacts:
    """A run's three artifacts, each sent to the Prefect API in the background once it is known.

    Each artifact is one POST, and the server handles them one at a time (~20-30 ms each on a
    local server): sent one after the other at the end of a run they were a tenth of an
    unchanged cycle. Here the new-items table can go out as soon as polling is done (while
    alerts are delivered) and the alerts table and summary while the run is recorded; the flow
    calls :meth:`wait` before it returns, so a finished run always shows its artifacts.

    Tables and markdown are built in the calling thread (the summary may change afterwards);
    only the requests run in worker threads, each in a copy of the caller's context so the
    artifacts are attached to the calling flow (or task) run.
    """

    def __init__(self, prefix: str = "monitor") -> None:
        self.prefix = prefix
        self._pool: ThreadPoolExecutor | None = None
        self._futures: list[Future[Any]] = []

    def _send(self, create: Callable[..., Any], **kwargs: Any) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=3, thread_name_prefix=f"{self.prefix}-artifacts"
            )
        request = functools.partial(create, **kwargs)
        self._futures.append(self._pool.submit(contextvars.copy_context().run, request))

    def items(self, items: Sequence[dict[str, Any]]) -> None:
        """Send the new-items table (``<prefix>-items``)."""
        more = f" (first {MAX_ROWS} of {len(items)})" if len(items) > MAX_ROWS else ""
        self._send(
            create_table_artifact,
            key=f"{self.prefix}-items",
            table=item_table(items)
            or [
                {
                    "headline": "(no new items)",
                    "outlet": "",
                    "categories": "",
                    "actors": "",
                    "link": "",
                }
            ],
            description=f"New tagged items: {len(items)}{more}",
        )

    def events(self, events: Sequence[Event], summary: RunSummary) -> None:
        """Send the events table (``<prefix>-events``): events opened or grown in the run."""
        new = sum(1 for e in events if e.first_seen >= summary.started_at)
        empty = {k: "" for k in ("event", "change", "categories", "headline", "parties")}
        empty.update(articles="", outlets="", languages="", alerted="", event="(no events)")
        self._send(
            create_table_artifact,
            key=f"{self.prefix}-events",
            table=event_table(events, summary.started_at) or [empty],
            description=f"Events: {new} new, {len(events) - new} grown, "
            f"{sum(1 for e in events if any(e.alerted.values()))} alerted",
        )

    def alerts(self, alerts: Sequence[Alert]) -> None:
        """Send the alerts table (``<prefix>-alerts``)."""
        sent = sum(1 for a in alerts if a.status == "sent")
        self._send(
            create_table_artifact,
            key=f"{self.prefix}-alerts",
            table=alert_table(alerts)
            or [
                {
                    "category": "(no alerts)",
                    "kind": "",
                    "event": "",
                    "status": "",
                    "channel": "",
                    "headline": "",
                    "link": "",
                    "attempts": "",
                    "sent_at": "",
                    "last_error": "",
                }
            ],
            description=f"Alerts: {sent} sent, {len(alerts) - sent} pending or failed",
        )

    def summary(self, summary: RunSummary) -> None:
        """Send the markdown summary (``<prefix>-summary``)."""
        self._send(
            create_markdown_artifact,
            key=f"{self.prefix}-summary",
            markdown=summary_markdown(summary, title=f"RegionWatch {self.prefix} run"),
            description=f"{summary.items_new} new items, {summary.alerts_sent} alerts sent",
        )

    def wait(self) -> None:
        """Wait for every artifact sent so far.

        Raises:
            Exception: the first failure of an artifact request (after all have finished).
        """
        futures, self._futures = self._futures, []
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        for fut in futures:
            if (exc := fut.exception()) is not None:
                raise exc


def publish_run_artifacts(
    summary: RunSummary,
    items: Sequence[dict[str, Any]],
    alerts: Sequence[Alert],
    *,
    prefix: str = "monitor",
) -> None:
    """Publish the three artifacts of a run (items table, alerts table, markdown summary).

    The three requests go out at the same time; returns when all are done.

    Args:
        summary: the run's summary.
        items: new items (``regionwatch.pipeline.new_items``).
        alerts: outbox rows created or sent during the run (``alert_rows``).
        prefix: artifact key prefix (the flow's name).

    Raises:
        Exception: the first failed artifact request.
    """
    arts = RunArtifacts(prefix)
    arts.items(items)
    arts.alerts(alerts)
    arts.summary(summary)
    arts.wait()
