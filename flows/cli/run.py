"""``regionwatch run`` (one monitor cycle, its table) and ``serve`` (the schedules)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from flows.cli.common import ConfigOpt, console, err_console, fail, settings_or_exit
from regionwatch.errors import RegionWatchError, StoreError
from regionwatch.models import RunSummary
from regionwatch.settings import load_settings

__all__ = ["print_run_table", "register", "run", "run_monitor_flow", "serve"]


def _short_error(error: str | None) -> str:
    """An error for a table cell: without the exception class prefix and the repeated URL."""
    if not error:
        return ""
    text = error.split(": ", 1)[1] if ": " in error[:40] else error
    return re.sub(r"\s*\(https?://[^)]*\)\s*$", "", text)


def print_run_table(summary: dict[str, Any]) -> None:
    """The per-feed table of one cycle and a total line."""
    wide = console.width >= 120
    table = Table(title="RegionWatch cycle", show_lines=False)
    table.add_column("feed", no_wrap=True, max_width=28 if wide else 22, overflow="ellipsis")
    table.add_column("status", no_wrap=True, min_width=6)
    numbers = ("entries", "new", "304", "pages", "page err") if wide else ("new", "304")
    for col in numbers:
        table.add_column(col, justify="right", no_wrap=True, min_width=len(col))
    fixed = 28 + 8 + sum(len(c) + 3 for c in numbers) + 12 if wide else 22 + 8 + 12 + 10
    table.add_column(
        "error", overflow="ellipsis", no_wrap=True, max_width=max(16, console.width - fixed)
    )
    for f in summary.get("feeds", []):
        style = {"error": "red", "backoff": "yellow"}.get(f["status"], "")
        style = style or ("dim" if f["not_modified"] else "")
        values = {
            "entries": str(f["entries"]),
            "new": str(f["new_items"]),
            "304": "yes" if f["not_modified"] else "",
            "pages": str(f["pages_fetched"]),
            "page err": str(f["page_errors"]),
        }
        table.add_row(
            f["source"],
            f["status"],
            *(values[c] for c in numbers),
            _short_error(f.get("error")),
            style=style,
        )
    console.print(table)
    console.print(
        f"total: {summary.get('feeds_polled', 0)} feeds, "
        f"{summary.get('not_modified', 0)} not modified, "
        f"{summary.get('feed_errors', 0)} errors, {summary.get('feeds_in_backoff', 0)} in backoff, "
        f"{summary.get('items_new', 0)} new items, "
        f"{summary.get('alerts_queued', 0)} alerts queued, {summary.get('alerts_sent', 0)} sent, "
        f"{summary.get('alerts_failed', 0)} failed"
    )


def run_monitor_flow(cfg_path: str | None) -> dict[str, Any]:
    """Run the ``monitor`` flow (embedded Prefect unless PREFECT_API_URL is set)."""
    from flows.monitor import AllFeedsFailed, monitor

    try:
        state = monitor(config_path=cfg_path, return_state=True)
    except RuntimeError as exc:
        if "ephemeral Prefect API server" not in str(exc):
            raise
        # the embedded Prefect server did not come up (a very busy machine): the flow never
        # started, so running the same cycle in-process cannot do anything twice
        err_console.print(
            "[yellow]warning:[/] the embedded Prefect server did not start in time; "
            "running this cycle without Prefect"
        )
        from regionwatch.pipeline import run_cycle

        return run_cycle(load_settings(cfg_path)).to_dict()
    try:
        result: RunSummary = state.result()
    except AllFeedsFailed as exc:
        # every feed failed (e.g. no network): the table says why; the cycle itself ran
        return exc.summary.to_dict()
    return result.to_dict()


def run(
    config: ConfigOpt = None,
    no_prefect: Annotated[
        bool, typer.Option("--no-prefect", help="Run the cycle in-process without Prefect.")
    ] = False,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the run summary as JSON.")
    ] = False,
) -> None:
    """Run one monitor cycle over the configured feeds (the main job)."""
    settings = settings_or_exit(config)
    cfg_path = str(Path(settings.config_path).resolve()) if settings.config_path else None
    try:
        if no_prefect:
            from regionwatch.pipeline import run_cycle

            summary = run_cycle(settings).to_dict()
        else:
            summary = run_monitor_flow(cfg_path)
    except StoreError as exc:
        raise fail(f"store unreachable: {exc}") from exc
    except RegionWatchError as exc:
        raise fail(str(exc)) from exc
    if json_out:
        sys.stdout.write(json.dumps(summary, default=str) + "\n")
    else:
        print_run_table(summary)


def serve(config: ConfigOpt = None) -> None:
    """Run as a service: monitor every service.monitor_interval_seconds, digest daily."""
    settings = settings_or_exit(config)
    from flows.serve import serve_forever

    cfg_path = str(Path(settings.config_path).resolve()) if settings.config_path else None
    serve_forever(settings, cfg_path)


def register(app: typer.Typer) -> None:
    """Add ``run`` and ``serve`` to the CLI."""
    app.command("run")(run)
    app.command("serve")(serve)
