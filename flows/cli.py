"""``regionwatch`` — the command-line interface (typer)."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from flows.cli_common import (
    ConfigOpt,
    console,
    err_console,
    fail,
    open_store_or_exit,
    settings_or_exit,
)
from regionwatch.errors import RegionWatchError, StoreError
from regionwatch.models import RunSummary
from regionwatch.settings import load_settings

app = typer.Typer(
    name="regionwatch",
    help="News monitoring for the security of Russia's neighbourhood: feeds -> tagged items -> "
    "stories -> alerts on CSTO, ceasefire and border-clash news.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@app.callback()
def _main(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log progress to stderr.")
    ] = False,
) -> None:
    _setup_logging(verbose)


def _fmt_dt(v: Any) -> str:
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    if isinstance(v, str) and v:
        return v[:16].replace("T", " ")
    return "—"


# ---------------------------------------------------------------------------- run
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


def _run_monitor_flow(cfg_path: str | None) -> dict[str, Any]:
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


@app.command()
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
            summary = _run_monitor_flow(cfg_path)
    except StoreError as exc:
        raise fail(f"store unreachable: {exc}") from exc
    except RegionWatchError as exc:
        raise fail(str(exc)) from exc
    if json_out:
        sys.stdout.write(json.dumps(summary, default=str) + "\n")
    else:
        print_run_table(summary)


# ---------------------------------------------------------------------------- feeds / items
@app.command()
def feeds(config: ConfigOpt = None) -> None:
    """Show feed health: last success, last error, consecutive failures, items seen."""
    settings = settings_or_exit(config)
    store = open_store_or_exit(settings)
    store.sync_sources(settings.sources())
    table = Table(title="Feeds")
    for col in (
        "feed",
        "kind",
        "lang",
        "status",
        "last success",
        "failures",
        "next poll",
        "items",
        "last error",
    ):
        table.add_column(col, overflow="fold")
    configured = {s.name for s in settings.sources()}
    for r in store.feeds():
        if r["name"] not in configured:
            continue
        failing = r["consecutive_failures"] > 0
        table.add_row(
            r["name"],
            r["kind"],
            r["language"] or "",
            r["last_status"] or "never polled",
            _fmt_dt(r["last_success_at"]),
            str(r["consecutive_failures"]),
            _fmt_dt(r["next_poll_at"]) if r["next_poll_at"] else "",
            str(r["items_seen"]),
            (r["last_error"] or r["bozo_reason"] or "")[:100],
            style="red" if failing else "",
        )
    console.print(table)


def _parse_date(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        d = datetime.fromisoformat(value)
    except ValueError as exc:
        raise fail(f"{name}: expected YYYY-MM-DD, got {value!r}", 2) from exc
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def item_json(r: dict[str, Any]) -> dict[str, Any]:
    """The ``items --json`` record of one stored item."""
    tags = r.get("tags") or {}
    return {
        "id": r["id"],
        "url": r["url"],
        "title": r["title"],
        "published": r["published_at"].isoformat() if r.get("published_at") else None,
        "first_seen": r["first_seen_at"].isoformat() if r.get("first_seen_at") else None,
        "language": r.get("language"),
        "feed": r["feed_name"],
        "text_source": r["text_source"],
        "origin": r.get("origin"),
        "categories": r.get("categories") or [],
        "actors": [a.get("slug") for a in tags.get("actors") or []],
        "story_id": r.get("story_id"),
        "chars": len(r.get("text") or ""),
        "note": r.get("fetch_note"),
    }


@app.command()
def items(
    config: ConfigOpt = None,
    feed: Annotated[str | None, typer.Option("--feed", help="Only items of this feed.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only items published since YYYY-MM-DD.")
    ] = None,
    category: Annotated[
        str | None, typer.Option("--category", help="csto, ceasefire or border_clash.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many rows.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List stored items, newest first."""
    settings = settings_or_exit(config)
    store = open_store_or_exit(settings)
    rows = store.list_items(
        feed=feed, since=_parse_date(since, "--since"), category=category, limit=limit
    )
    if json_out:
        out = sys.stdout
        for r in rows:
            out.write(json.dumps(item_json(r), ensure_ascii=False) + "\n")
        return
    table = Table(title=f"Items ({len(rows)})")
    for col in ("published", "feed", "lang", "src", "categories", "title", "url"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            _fmt_dt(r["published_at"]),
            r["feed_name"],
            r["language"] or "",
            r["text_source"],
            ",".join(r.get("categories") or []),
            r["title"][:90],
            r["url"],
        )
    console.print(table)


# ---------------------------------------------------------------------------- config
@config_app.command("show")
def config_show(config: ConfigOpt = None) -> None:
    """Print the effective configuration (file + environment + defaults), secrets masked."""
    settings = settings_or_exit(config)
    data = settings.masked()
    data["config_path"] = settings.config_path
    if not settings.feeds:
        data["feeds"] = (
            f"(none configured: {len(settings.sources())} default sources from seeds/feeds.yaml)"
        )
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


# ---------------------------------------------------------------------------- retag
@app.command()
def retag(
    config: ConfigOpt = None,
    all_items: Annotated[
        bool, typer.Option("--all", help="Re-tag every item, not only stale ones.")
    ] = False,
) -> None:
    """Re-tag stored items after a watchlist change (items tagged with another lexicon hash)."""
    from rich.progress import Progress

    from regionwatch.retag import retag_items

    settings = settings_or_exit(config)
    store = open_store_or_exit(settings)
    with Progress(console=err_console, transient=True) as progress:
        task = progress.add_task("re-tagging", total=None)
        n, changed = retag_items(
            store,
            settings,
            all_items=all_items,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    console.print(f"re-tagged {n} items; categories changed on {changed}")


# ---------------------------------------------------------------------------- status
@app.command()
def status(config: ConfigOpt = None) -> None:
    """Last runs, feeds in trouble, pending and dead alerts, store size — at a glance."""
    from regionwatch.status import collect_status

    settings = settings_or_exit(config)
    store = open_store_or_exit(settings)
    st = collect_status(store, settings)
    runs = Table(title="Last runs")
    for col in ("started", "kind", "status", "feeds", "errors", "new items", "alerts sent", "took"):
        runs.add_column(col)
    for r in st["runs"]:
        s = r.get("summary") or {}
        took = ""
        if r.get("finished_at") and r.get("started_at"):
            took = f"{(r['finished_at'] - r['started_at']).total_seconds():.1f}s"
        runs.add_row(
            _fmt_dt(r["started_at"]),
            r["kind"],
            r["status"],
            str(s.get("feeds_polled", "")),
            str(s.get("feed_errors", "")),
            str(s.get("items_new", "")),
            str(s.get("alerts_sent", "")),
            took,
            style="red" if r["status"] not in ("ok", "running") else "",
        )
    console.print(runs)
    trouble = Table(title=f"Feeds in trouble ({len(st['trouble'])} of {st['feeds_total']})")
    for col in ("feed", "failures", "last success", "last error"):
        trouble.add_column(col, overflow="fold")
    for f in st["trouble"]:
        trouble.add_row(
            f["name"],
            str(f["consecutive_failures"]),
            _fmt_dt(f["last_success_at"]),
            (f["last_error"] or "")[:100],
        )
    console.print(trouble)
    console.print(
        f"alerts: {st['alerts'].get('pending', 0)} pending, {st['alerts'].get('dead', 0)} dead, "
        f"{st['alerts'].get('sent', 0)} sent · items {st['counts']['items']} · stories "
        f"{st['counts']['stories']} · store {st['store']} ({st['size']})"
    )


# ---------------------------------------------------------------------------- serve / demo
@app.command()
def serve(config: ConfigOpt = None) -> None:
    """Run as a service: monitor every service.monitor_interval_seconds, digest daily."""
    settings = settings_or_exit(config)
    from flows.serve import serve_forever

    cfg_path = str(Path(settings.config_path).resolve()) if settings.config_path else None
    serve_forever(settings, cfg_path)


@app.command()
def demo(
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the throw-away folder afterwards.")
    ] = False,
    no_prefect: Annotated[bool, typer.Option("--no-prefect", help="Run without Prefect.")] = False,
) -> None:
    """Serve a bundled sample on loopback and run a full cycle on a throw-away store."""
    from regionwatch.demo import run_demo

    runner = None if no_prefect else _run_monitor_flow
    code = run_demo(console=console, keep=keep, use_prefect=not no_prefect, runner=runner)
    raise typer.Exit(code)


def _register_extensions() -> None:
    from flows import cli_alerts, cli_backfill, cli_tagging

    for mod in (cli_tagging, cli_alerts, cli_backfill):
        mod.register(app)


_register_extensions()


def main() -> None:
    """Console-script entry point."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # the embedded server may take longer than Prefect's 20 s default on a loaded 2-core machine
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    app()


if __name__ == "__main__":
    main()
