"""The ``digest`` flow: the scheduled summary of recent items and alerts (daily by default)."""

from __future__ import annotations

import logging
from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from regionwatch.models import RunSummary
from regionwatch.pipeline import Context
from regionwatch.settings import load_settings
from regionwatch.store import utcnow
from tasks.alerts import digest_task
from tasks.ingest import by_ref

__all__ = ["digest"]

logger = logging.getLogger(__name__)


def _report_dict(report: Any) -> dict[str, Any]:
    if report is None:
        return {}
    if isinstance(report, dict):
        return dict(report)
    to_dict = getattr(report, "to_dict", None)
    if callable(to_dict):
        return dict(to_dict())
    fields = getattr(report, "__dataclass_fields__", None)
    if fields:
        return {k: getattr(report, k) for k in fields}
    return {"result": str(report)}


@flow(
    name="digest",
    description="Send the digest of recent items and alerts to the channels that want one.",
    persist_result=False,
)
def digest(config_path: str | None = None) -> dict[str, Any]:
    """Compose and send the digest for the period ending now.

    Args:
        config_path: the TOML configuration file; secrets come from the environment.

    Returns:
        The run summary dict (``kind="digest"``), the digest report under ``digest``.
    """
    settings = load_settings(config_path)
    ctx = Context.open(settings)
    summary = RunSummary(kind="digest", started_at=utcnow())
    run_id = ctx.store.start_run("digest")
    try:
        report = _report_dict(digest_task(by_ref(ctx), summary.started_at))
        summary.extra["digest"] = {k: v for k, v in report.items() if _plain(v)}
        summary.alerts_sent = int(report.get("sent", 0) or 0)
        summary.alerts_failed = int(report.get("failed", 0) or 0)
    except BaseException:
        summary.status = "failed"
        raise
    finally:
        summary.finished_at = utcnow()
        ctx.store.finish_run(run_id, summary.status, summary.to_dict())
        ctx.close()
    lines = ["# RegionWatch digest", ""]
    lines += [f"- **{k}**: {v}" for k, v in summary.extra["digest"].items()]
    create_markdown_artifact(
        key="digest-summary", markdown="\n".join(lines) + "\n", description="Digest sent"
    )
    return summary.to_dict()


def _plain(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None
