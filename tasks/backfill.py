"""Prefect task for a backfill job, reporting per-chunk progress to a Prefect progress artifact.

The library's :func:`regionwatch.backfill.run_backfill` plans the job in chunks (a source-day of
candidate URLs), checkpoints every finished chunk in the store and skips finished chunks when
re-run, so the task is resumable and idempotent: a retry or a re-run redoes only what is left.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import task
from prefect.artifacts import update_progress_artifact
from prefect.cache_policies import NONE

from regionwatch.backfill import BackfillProgress, BackfillReport, run_backfill_sync
from regionwatch.models import Source
from regionwatch.pipeline import Context
from tasks.ingest import retry_transient

__all__ = ["ProgressReporter", "backfill_task"]

logger = logging.getLogger(__name__)


class ProgressReporter:
    """Forwards library progress events to a Prefect progress artifact.

    Events arrive on the backfill's event loop; the artifact is updated from a helper thread
    (Prefect's sync client must not run inside that loop), and only the newest event is sent
    when updates queue up.
    """

    def __init__(self, artifact_id: UUID | None) -> None:
        self.artifact_id = artifact_id
        self.last: BackfillProgress | None = None
        self._lock = threading.Lock()
        self._pending: BackfillProgress | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="backfill-progress")
        # Prefect's settings and run context live in context variables: carry them over
        self._context = contextvars.copy_context()

    def __call__(self, event: BackfillProgress) -> None:
        self.last = event
        if self.artifact_id is None:
            return
        with self._lock:
            first = self._pending is None
            self._pending = event
        if first:
            self._pool.submit(self._context.run, self._push)

    def _push(self) -> None:
        with self._lock:
            event, self._pending = self._pending, None
        if event is None or self.artifact_id is None:
            return
        pct = 100.0 * event.chunks_done / event.chunks_total if event.chunks_total else 0.0
        if event.phase == "done":
            pct = 100.0
        desc = (
            f"{event.phase}: chunk {event.chunks_done}/{event.chunks_total}, "
            f"{event.urls_done}/{event.urls_total} URLs, {event.stored} stored, "
            f"{event.failed} failed, {event.skipped_known} already known"
        )
        try:
            update_progress_artifact(self.artifact_id, progress=pct, description=desc)
        except Exception as exc:  # noqa: BLE001 - progress display must never break the job
            logger.debug("progress artifact update failed: %r", exc)

    def close(self) -> None:
        """Flush the last update."""
        self._pool.shutdown(wait=True)


@task(
    name="backfill-job",
    retries=1,
    retry_delay_seconds=30,
    retry_condition_fn=retry_transient,
    cache_policy=NONE,
    persist_result=False,
)
def backfill_task(
    ctx: Context,
    *,
    since: date,
    until: date,
    sources: list[Source],
    mode: str | None,
    urls_file: Path | None,
    warc_files: list[Path],
    progress_artifact: UUID | None = None,
) -> BackfillReport:
    """Run (or resume) one backfill job; finished chunks are checkpointed in the store.

    Args:
        ctx: the flow run's pipeline context (pass it through ``by_ref``).
        since: first UTC day.
        until: last UTC day.
        sources: sources to backfill (empty: all configured).
        mode: ``sitemaps``, ``wayback``, ``urls`` or ``warc`` (None: inferred).
        urls_file: URL list for ``urls`` mode.
        warc_files: WARC files for ``warc`` mode.
        progress_artifact: id of the progress artifact to update after each chunk.

    Returns:
        The library's backfill report.
    """
    reporter = ProgressReporter(progress_artifact)
    kwargs: dict[str, Any] = dict(
        since=since,
        until=until,
        sources=sources,
        mode=mode,
        urls_file=urls_file,
        warc_files=warc_files,
        progress=reporter,
    )
    try:
        return run_backfill_sync(ctx, **kwargs)
    finally:
        reporter.close()
