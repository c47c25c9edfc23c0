"""The ``digest`` flow: the scheduled summary of recent items and alerts (daily by default)."""

from __future__ import annotations

import logging
from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from regionwatch.models import RunSummary
from regionwatch.pipeline import Context, recorded_run
from regionwatch.settings import load_settings
from regionwatch.store import utcnow
from tasks.alerts import digest_task
from tasks.ingest import by_ref

__all__ = ["digest"]

logger = logging.getLogger(__name__)


@flow(
    name="digest",
    description="Send the digest of recent items and alerts to the channels that want one.",
    persist_result=False,
)
def digest(config_path: str | None = None) -> RunSummary:
    """Compose and send the digest for the period ending now.

    Args:
        config_path: the TOML configuration file; secrets come from the environment.

    Returns:
        The run summary (``kind="digest"``), the digest report under ``extra["digest"]``.
    """
    settings = load_settings(config_path)
    ctx = Context.open(settings)
    summary = RunSummary(kind="digest", started_at=utcnow())
    try:
        with recorded_run(ctx.store, "digest") as rec:
            try:
                report = digest_task(by_ref(ctx), summary.started_at)
                summary.extra["digest"] = {k: v for k, v in report.to_dict().items() if _plain(v)}
                summary.alerts_sent = report.sent
                summary.alerts_failed = report.failed
            except BaseException:
                summary.status = "failed"
                raise
            finally:
                summary.finished_at = utcnow()
                rec.status, rec.summary = summary.status, summary.to_dict()
    finally:
        ctx.close()
    lines = ["# RegionWatch digest", ""]
    lines += [f"- **{k}**: {v}" for k, v in summary.extra["digest"].items()]
    create_markdown_artifact(
        key="digest-summary", markdown="\n".join(lines) + "\n", description="Digest sent"
    )
    return summary


def _plain(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None
