"""Prefect task for ingesting one batch of feeds (poll → pages → extract → tag → cluster → store).

A task is batch-sized: a handful of feeds with all their new pages, never one article. It runs
the library's ``poll_sources`` on its own event loop inside the task runner's thread, with the
flow run's shared :class:`~regionwatch.pipeline.Context` (the context serialises store writes).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, cast

from prefect import task
from prefect.cache_policies import NONE
from prefect.client.schemas.objects import State, TaskRun
from prefect.tasks import Task
from prefect.utilities.annotations import quote

from regionwatch.errors import StoreError, TransientFetchError
from regionwatch.models import FeedReport, Source
from regionwatch.pipeline import Context, poll_sources

__all__ = ["STOP", "by_ref", "exception_of", "is_transient", "poll_batch", "retry_transient"]

logger = logging.getLogger(__name__)

#: Set when the process was asked to stop: batches not yet started are skipped (reported as
#: ``skipped``); a batch already running finishes, so its items and outbox rows are committed.
STOP = threading.Event()

#: Exceptions worth another attempt: a timeout, a dropped connection, a locked/busy store.
TRANSIENT: tuple[type[BaseException], ...] = (
    TransientFetchError,
    StoreError,
    TimeoutError,
    ConnectionError,
)


def by_ref(ctx: Context) -> Context:
    """Pass the shared context to a task as is: Prefect neither inspects nor copies it."""
    return cast(Context, quote(ctx))


def exception_of(state: State[Any]) -> BaseException | None:
    """The exception a failed Prefect state carries, if any."""
    data = state.data
    if isinstance(data, BaseException):
        return data
    try:
        result = state.result(raise_on_failure=False)
    except Exception:  # noqa: BLE001 - a state whose result cannot be read is not retried
        return None
    return result if isinstance(result, BaseException) else None


def is_transient(exc: BaseException | None) -> bool:
    """True when ``exc`` (or its cause) is a transient error worth retrying."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, TRANSIENT):
            return True
        exc = exc.__cause__
        seen += 1
    return False


def retry_transient(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """``retry_condition_fn``: retry only transient errors (never bugs or permanent errors)."""
    exc = exception_of(state)
    retry = is_transient(exc)
    logger.info("task %s failed with %r: %s", task_run.name, exc,
                "retrying" if retry else "not retried")
    return retry


@task(
    name="poll-batch",
    task_run_name="poll {label}",
    retries=2,
    retry_delay_seconds=[5, 20],
    retry_condition_fn=retry_transient,
    cache_policy=NONE,
    persist_result=False,
    log_prints=False,
)
def poll_batch(
    ctx: Context, sources: list[Source], label: str = "", timeout: float | None = 600.0
) -> list[FeedReport]:
    """Poll one batch of feeds and store what is new (per-feed errors live in the reports).

    Args:
        ctx: the flow run's shared pipeline context (pass it through ``by_ref``).
        sources: the feeds of this batch (about eight).
        label: a short name for the task run (``"1/3: Outlet A … Outlet H"``).
        timeout: seconds the batch may take; on expiry its requests are cancelled and the
            task fails with ``TimeoutError`` (retried once more like any transient error).
            Enforced on the batch's event loop: Prefect's own task timeouts cannot interrupt
            a task running in a worker thread.

    Returns:
        One report per feed; feeds skipped because the process is stopping have status
        ``skipped``.

    Raises:
        StoreError: the store is unreachable (retried, then fails the flow).
    """
    if STOP.is_set():
        logger.info("stopping: batch %s not started", label)
        return [FeedReport(source=s.name, status="skipped", error="service stopping")
                for s in sources]
    return asyncio.run(asyncio.wait_for(poll_sources(ctx, sources), timeout))
