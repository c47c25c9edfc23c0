"""The ``monitor`` flow: one cycle — poll every due feed in batches, store, alert, report.

Composition only: the stages live in :mod:`regionwatch.pipeline`; this module arranges them into
batch-sized Prefect tasks, publishes the run's artifacts and returns the run summary as a dict.

Failure policy: one failing feed (or batch) never fails the flow; the flow fails only when the
store is unreachable (``StoreError``) or when every polled feed failed (:class:`AllFeedsFailed`).
On SIGTERM the flow finishes the batches already running, skips the rest, and records the run
as ``interrupted``; committed items and outbox rows are kept, pending alerts go out next cycle.
"""

from __future__ import annotations

import contextvars
import logging
import math
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any

import prefect
import prefect.flow_engine
from prefect import flow
from prefect.futures import wait
from prefect.task_runners import ThreadPoolTaskRunner

from flows.artifacts import RunArtifacts
from regionwatch.errors import RegionWatchError, StoreError
from regionwatch.models import Alert, FeedReport, RunSummary, Source
from regionwatch.pipeline import Context, monitor_cycle
from regionwatch.settings import Settings, load_settings
from tasks.alerts import deliver_task
from tasks.ingest import STOP, BatchLoop, as_is, by_ref, poll_batch

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
#: Batches polled at the same time (their coroutines share the flow run's one event loop and one
#: HTTP client, see :class:`tasks.ingest.BatchLoop`).
MAX_PARALLEL_BATCHES = 4


def _heartbeats_that_stop_at_once() -> bool:
    """Let flow runs end when their work ends, not on the heartbeat thread's next whole second.

    Prefect 3.8 emits a flow-run heartbeat event every ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY``
    seconds (180 by default since 3.8) from a thread that sleeps in one-second steps, and the
    synchronous engine joins that thread when the run ends: every run waited 0-1 s (0.5 s on
    average) after its final state, doing nothing — a monitor run's wall time was its work
    rounded up to the next whole second (an unchanged 300-feed cycle: ~1.4 s of work, 2.1 s of
    flow). This swaps in the same heartbeat loop waiting on its stop event instead, so the join
    returns at once. Heartbeats themselves are unchanged: the same event, at the same frequency,
    from the same kind of thread, for zombie-run detection; ``None`` still disables them.

    Applied only to the Prefect versions this was written against (``prefect>=3.8.8,<3.9``) and
    only when the engine still has the pieces it uses; otherwise Prefect's own loop stays.
    Returns whether the patch is in place.
    """
    fe = prefect.flow_engine
    current = getattr(fe, "_send_heartbeats", None)
    if getattr(current, "__regionwatch__", False):
        return True
    engine_cls = getattr(fe, "FlowRunEngine", None)
    if (
        not prefect.__version__.startswith("3.8.")
        or current is None
        or not isinstance(getattr(fe, "MINIMUM_HEARTBEAT_INTERVAL", None), int)
        or engine_cls is None
        or not all(
            hasattr(engine_cls, name)
            for name in (
                "heartbeat_seconds",
                "_build_heartbeat_event_template",
                "_emit_flow_run_heartbeat",
            )
        )
    ):
        return False

    @contextmanager
    def send_heartbeats(engine: Any, join_on_exit: bool = True) -> Iterator[None]:
        seconds = engine.heartbeat_seconds
        if seconds is None:
            yield
            return
        seconds = max(seconds, fe.MINIMUM_HEARTBEAT_INTERVAL)
        resource, related = engine._build_heartbeat_event_template()
        stop = threading.Event()

        def beat() -> None:
            while not stop.is_set():
                run = engine.flow_run
                if run and run.state and run.state.is_final():
                    return
                try:
                    engine._emit_flow_run_heartbeat(resource, related)
                except Exception:  # noqa: BLE001 - a missed heartbeat is not the run's failure
                    engine.logger.debug("Failed to emit heartbeat", exc_info=True)
                if stop.wait(seconds):
                    return

        # the thread sees the caller's settings context (the API URL), as in Prefect's loop
        thread = threading.Thread(
            target=contextvars.copy_context().run,
            args=(beat,),
            name="flow-run-heartbeat",
            daemon=True,
        )
        thread.start()
        try:
            yield
        finally:
            stop.set()
            if join_on_exit:
                thread.join(timeout=2)

    send_heartbeats.__regionwatch__ = True  # type: ignore[attr-defined]
    fe._send_heartbeats = send_heartbeats
    return True


_heartbeats_that_stop_at_once()


class AllFeedsFailed(RegionWatchError):  # noqa: N818 - reads as a sentence in flow run states
    """Every feed polled in the cycle failed; ``.summary`` holds the run summary."""

    def __init__(self, message: str, summary: RunSummary) -> None:
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
    # one event loop and one HTTP client for all batches: the per-host limits and delays of
    # [http] hold for the cycle (separate clients would each allow them per batch)
    with BatchLoop(ctx.settings.http) as loop:
        futures = [
            # as_is(): Prefect would walk every Source of the batch looking for futures
            # (a few ms of GIL per task, several times per task run); there are none
            poll_batch.submit(
                by_ref(ctx),
                as_is(batch),
                label=f"{n}/{len(batches)} {batch[0].name}…{batch[-1].name}",
                timeout=timeout,
                loop=as_is(loop),
            )
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


def _wait_for_artifacts(artifacts: RunArtifacts) -> None:
    try:
        artifacts.wait()
    except Exception as exc:  # noqa: BLE001 - artifacts are a view; the run is recorded
        logger.warning("could not publish artifacts: %r", exc)


def run_monitor_cycle(ctx: Context, artifacts: RunArtifacts) -> RunSummary:
    """One monitor cycle inside a flow run: poll, deliver, publish artifacts, record the run.

    The cycle itself is the library's (:func:`regionwatch.pipeline.monitor_cycle`); this
    arranges it into tasks. The artifacts go to the API in the background as soon as their data
    is known (the items table while alerts are delivered, the rest while the run is recorded).
    A failed artifact is logged, never fatal. Delivery runs as a task only when the outbox has
    a due row.

    Args:
        ctx: the flow run's pipeline context.
        artifacts: the run's artifacts; the caller waits for them (the ``monitor`` flow does,
            after closing the store, so the store closes while they are in flight).

    Raises:
        StoreError: the store is unreachable.
        AllFeedsFailed: every polled feed failed (after the run was recorded and published).
    """

    def publish(alerts: list[Alert], summary: RunSummary) -> None:
        artifacts.alerts(alerts)
        artifacts.summary(summary)

    summary = monitor_cycle(
        ctx,
        poll=lambda due: _poll_all(ctx, due),
        deliver_due=lambda: deliver_task(by_ref(ctx)),
        on_items=artifacts.items,
        on_events=artifacts.events,
        on_alerts=publish,
        stopping=STOP.is_set,
    )
    if summary.status == "failed":
        raise AllFeedsFailed(f"all {summary.feeds_polled} feeds failed", summary)
    return summary


@flow(
    name="monitor",
    description="One monitoring cycle: poll due feeds in batches, store new items, send alerts.",
    task_runner=ThreadPoolTaskRunner(max_workers=MAX_PARALLEL_BATCHES),  # type: ignore[arg-type]
    persist_result=False,
    log_prints=False,
)
def monitor(config_path: str | None = None) -> RunSummary:
    """Run one monitoring cycle.

    Args:
        config_path: the TOML configuration file (absolute path for deployments); secrets come
            from the environment, never from parameters.

    Returns:
        The run summary, with one report per feed under ``feeds``.

    Raises:
        StoreError: the store is unreachable.
        AllFeedsFailed: every polled feed failed.
    """
    STOP.clear()
    settings = load_settings(config_path)
    artifacts = RunArtifacts(prefix="monitor")
    with _finish_batch_on_sigterm():
        try:
            ctx = Context.open(settings)
            try:
                return run_monitor_cycle(ctx, artifacts)
            finally:
                ctx.close()  # while the artifacts are still on their way to the API
        finally:
            _wait_for_artifacts(artifacts)  # a finished run always shows its artifacts
