"""The ``backfill`` flow: archive URLs for a date range through the same pipeline, alerts held.

Composition only: :func:`regionwatch.backfill.run_backfill` discovers candidates (sitemaps,
Wayback, a URL list or WARC files), works through them chunk by chunk and checkpoints each
chunk, so a re-run resumes. The UI shows per-chunk progress (a progress artifact) and a summary.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Any, cast
from uuid import UUID

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_progress_artifact

from regionwatch.backfill import BackfillReport, digest_summaries
from regionwatch.errors import ConfigError
from regionwatch.models import Source
from regionwatch.pipeline import Context
from regionwatch.settings import load_settings
from tasks.backfill import backfill_task
from tasks.ingest import by_ref

__all__ = ["backfill", "backfill_markdown"]

logger = logging.getLogger(__name__)


def _day(value: str, key: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"--{key}: expected YYYY-MM-DD, got {value!r}", key=key) from exc


def _sources(ctx: Context, names: list[str] | None) -> list[Source]:
    if not names:
        return []
    out = []
    for name in names:
        src = ctx.source(name)
        if src is None:
            known = ", ".join(s.name for s in ctx.sources[:20])
            raise ConfigError(f"unknown source {name!r} (configured: {known})", key="sources")
        out.append(src)
    return out


def _md(value: Any) -> str:
    return " ".join(str(value if value is not None else "").split()).replace("|", "\\|")


def backfill_markdown(report: BackfillReport) -> str:
    """A markdown summary of a backfill run: totals, per source, per category."""
    d = report.to_dict()
    lines = [
        f"# Backfill {d['since']} … {d['until']} ({d['mode']})",
        "",
        f"Status: **{d['status']}** · chunks {d['chunks_run']} run, {d['chunks_resumed']} resumed "
        f"of {d['chunks_total']}" + (f" · stopped: {_md(d['stopped'])}" if d["stopped"] else ""),
        "",
        "| found | fetched | already known | out of range | failed | stored |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {report.found} | {report.fetched} | {report.skipped_known} | {report.out_of_range} "
        f"| {report.failed} | {report.stored} |",
    ]
    if d["per_source"]:
        lines += [
            "",
            "| source | mode | found | stored | failed | chunks |",
            "|---|---|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {_md(r.get('source'))} | {_md(r.get('mode'))} | {r.get('found', 0)} "
            f"| {r.get('stored', 0)} | {r.get('failed', 0)} | {r.get('chunks', 0)} |"
            for r in d["per_source"][:200]
        ]
    if d["per_category"]:
        lines += [
            "",
            "Stored per category: " + ", ".join(f"{k} {v}" for k, v in d["per_category"].items()),
        ]
    return "\n".join(lines) + "\n"


@flow(
    name="backfill",
    description="Backfill a date range from archives (sitemaps, Wayback, URL list, WARC).",
    persist_result=False,
)
def backfill(
    since: str,
    until: str,
    sources: list[str] | None = None,
    mode: str | None = None,
    urls_file: str | None = None,
    warc_files: list[str] | None = None,
    digest: bool = False,
    config_path: str | None = None,
) -> dict[str, Any]:
    """Backfill ``since``..``until`` (inclusive UTC days); resumable and idempotent.

    Args:
        since: first day, ``YYYY-MM-DD``.
        until: last day, ``YYYY-MM-DD``.
        sources: names of configured sources (default: all).
        mode: ``sitemaps``, ``wayback``, ``urls`` or ``warc`` (default: inferred).
        urls_file: a URL list (``urls`` mode).
        warc_files: WARC files (``warc`` mode).
        digest: send one summary per alert category to the channels when done.
        config_path: the TOML configuration file; secrets come from the environment.

    Returns:
        The backfill report as a dict (``digest_sent`` added when ``digest``).
    """
    settings = load_settings(config_path)
    first, last = _day(since, "since"), _day(until, "until")
    ctx = Context.open(settings)
    try:
        chosen = _sources(ctx, sources)
        artifact_id = cast(
            UUID,
            create_progress_artifact(
                progress=0.0,
                key="backfill-progress",
                description=f"backfill {first}..{last}: discovering candidates",
            ),
        )  # sync call: async_dispatch's union type is not what we get here
        report = backfill_task(
            by_ref(ctx),
            since=first,
            until=last,
            sources=chosen,
            mode=mode,
            urls_file=Path(urls_file) if urls_file else None,
            warc_files=[Path(p) for p in warc_files or []],
            progress_artifact=artifact_id,
        )
        result = report.to_dict()
        create_markdown_artifact(
            key="backfill-summary",
            markdown=backfill_markdown(report),
            description=f"{report.stored} items stored",
        )
        if digest:
            result["digest_sent"] = _send_digest(ctx, report)
    finally:
        ctx.close()
    return result


def _send_digest(ctx: Context, report: BackfillReport) -> int:
    from regionwatch.alerts.digest import send_summary

    sent = 0
    for title, body in digest_summaries(ctx, report):
        res = send_summary(ctx.settings, title, body)
        sent += res.sent
        for channel, ok, error in res.results:
            if not ok:
                logger.warning("backfill digest to %s failed: %s", channel, error)
    return sent
