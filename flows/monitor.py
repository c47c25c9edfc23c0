"""The ``monitor`` flow: one cycle — poll every due feed in batches, store, alert, report.

Composition only: the stages live in :mod:`regionwatch.pipeline`; this module arranges them into
batch-sized Prefect tasks, publishes the run's artifacts and returns the run summary as a dict.

Failure policy: one failing feed (or batch) never fails the flow; the flow fails only when the
store is unreachable (``StoreError``) or when every polled feed failed (:class:`AllFeedsFailed`).
On SIGTERM the flow finishes the batches already running, skips the rest, and records the run
as ``interrupted``; committed items and outbox rows are kept, pending alerts go out next cycle.
"""

from __future__ import annotations

import logging
import math
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any

from prefect import flow
from prefect.futures import wait
from prefect.task_runners import ThreadPoolTaskRunner

from flows.artifacts import publish_run_artifacts
from regionwatch.errors import RegionWatchError, StoreError
from regionwatch.models import FeedReport, RunSummary, Source
from regionwatch.pipeline import Context, alert_rows, new_items, poll_plan
from regionwatch.settings import Settings, load_settings
from regionwatch.store import utcnow
from tasks.alerts import deliver_task
from tasks.ingest import STOP, by_ref, poll_batch

__all__ = [
    "BATCH_SIZE",
    "AllFeedsFailed",
    "batches_of",
    "monitor",
    "run_monitor_cycle",
]

logger = logging.getLogger(__name__)

#: Feeds per task: big enough that Prefect's per-task cost is noise, small enough to spread.
BATCH_SIZE = 8
#: Batches polled at the same time (each has its own HTTP client with per-host limits).
MAX_PARALLEL_BATCHES = 4


class AllFeedsFailed(RegionWatchError):  # noqa: N818 - reads as a sentence in flow run states
    """Every feed polled in the cycle failed; ``.summary`` holds the run summary dict."""

    def __init__(self, message: str, summary: dict[str, Any]) -> None:
        super().__init__(message)
        self.summary = summary


def batches_of(sources: Sequence[Source], size: int = BATCH_SIZE) -> list[list[Source]]:
    """Split sources into batches of at most ``size`` (order kept)."""
    return [list(sources[i : i + size]) for i in range(0, len(sources), size)]


def _batch_timeout(settings: Settings) -> float:
    # a batch polls its feeds concurrently; pages of one host queue behind per-host limits
    return max(300.0, settings.http.total_timeout * 8)


@contextmanager
def _finish_batch_on_sigterm() -> Iterator[None]:
    """While the cycle runs, SIGTERM lets running batches finish and skips the others."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        # the service forwards SIGTERM and a process-group kill sends it too: once is enough;
        # whoever must stop us harder uses SIGKILL
        if not STOP.is_set():
            STOP.set()
            logger.warning("SIGTERM: finishing the running batches, then stopping")

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _poll_all(ctx: Context, sources: list[Source]) -> list[FeedReport]:
    """Submit one task per batch, wait for all; failed batches become per-feed errors."""
    # one task per parallel slot (at least BATCH_SIZE feeds each): Prefect's cost per task run
    # is paid a handful of times per cycle, and each batch's HTTP client reuses its connections
    size = max(BATCH_SIZE, math.ceil(len(sources) / MAX_PARALLEL_BATCHES))
    batches = batches_of(sources, size)
    if not batches:
        return []
    _ = ctx.tagger  # build the tagger once, before the threads want it
    timeout = _batch_timeout(ctx.settings)
    futures = [
        poll_batch.submit(by_ref(ctx), batch, label=f"{n}/{len(batches)} {batch[0].name}…"
                          f"{batch[-1].name}", timeout=timeout)
        for n, batch in enumerate(batches, 1)
    ]
    wait(futures)
    reports: list[FeedReport] = []
    store_error: StoreError | None = None
    for fut, batch in zip(futures, batches, strict=True):
        try:
            reports.extend(fut.result())
        except StoreError as exc:
            store_error = store_error or exc
        except Exception as exc:  # noqa: BLE001 - a failed batch is recorded per feed, not fatal
            logger.error("batch %s failed: %r", batch[0].name, exc)
            reports.extend(
                FeedReport(source=s.name, status="error", error=f"batch failed: {exc!r}"[:300])
                for s in batch
            )
    if store_error is not None:
        raise store_error
    return reports


def run_monitor_cycle(ctx: Context) -> RunSummary:
    """One monitor cycle inside a flow run: poll, deliver, publish artifacts, record the run.

    Raises:
        StoreError: the store is unreachable.
        AllFeedsFailed: every polled feed failed (after the run was recorded and published).
    """
    summary = RunSummary(kind="monitor", started_at=utcnow())
    run_id = ctx.store.start_run("monitor")
    try:
        due, waiting = poll_plan(ctx)
        summary.feeds = _poll_all(ctx, due) + waiting
        summary.items_new = sum(f.new_items for f in summary.feeds)
        if STOP.is_set():
            summary.status = "interrupted"
        else:
            report = deliver_task(by_ref(ctx))
            summary.alerts_sent = int(getattr(report, "sent", 0) or 0)
            summary.alerts_failed = int(getattr(report, "failed", 0) or 0)
            dead = int(getattr(report, "dead", 0) or 0)
            if dead:
                summary.extra["alerts_dead"] = dead
        items = new_items(ctx, summary.started_at)
        alerts = alert_rows(ctx, summary.started_at)
        summary.stories_new = len({i["story_id"] for i in items if i.get("story_id") is not None})
        summary.alerts_queued = sum(1 for a in alerts if a.get("status") != "sent")
        polled = [f for f in summary.feeds if f.status != "backoff"]
        if polled and all(f.status == "error" for f in polled):
            summary.status = "failed"
        summary.finished_at = utcnow()
        try:
            publish_run_artifacts(summary, items, alerts, prefix="monitor")
        except Exception as exc:  # noqa: BLE001 - artifacts are a view; the run itself succeeded
            logger.warning("could not publish artifacts: %r", exc)
    except BaseException:
        summary.status = "failed"
        raise
    finally:
        summary.finished_at = summary.finished_at or utcnow()
        ctx.store.finish_run(run_id, summary.status, summary.to_dict())
    if summary.status == "failed":
        raise AllFeedsFailed(f"all {summary.feeds_polled} feeds failed", summary.to_dict())
    return summary


@flow(
    name="monitor",
    description="One monitoring cycle: poll due feeds in batches, store new items, send alerts.",
    task_runner=ThreadPoolTaskRunner(max_workers=MAX_PARALLEL_BATCHES),  # type: ignore[arg-type]
    persist_result=False,
    log_prints=False,
)
def monitor(config_path: str | None = None) -> dict[str, Any]:
    """Run one monitoring cycle.

    Args:
        config_path: the TOML configuration file (absolute path for deployments); secrets come
            from the environment, never from parameters.

    Returns:
        The run summary (``RunSummary.to_dict()``), with one entry per feed under ``feeds``.

    Raises:
        StoreError: the store is unreachable.
        AllFeedsFailed: every polled feed failed.
    """
    STOP.clear()
    settings = load_settings(config_path)
    with _finish_batch_on_sigterm():
        ctx = Context.open(settings)
        try:
            return run_monitor_cycle(ctx).to_dict()
        finally:
            ctx.close()
