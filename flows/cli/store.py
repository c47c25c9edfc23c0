"""What the store holds: ``feeds``, ``items``, ``retag`` and ``status``."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from flows.cli.common import (
    CategoryOpt,
    ConfigOpt,
    JsonLinesOpt,
    LimitOpt,
    console,
    err_console,
    fail,
    fmt_dt,
    open_store_or_exit,
    settings_or_exit,
)

__all__ = ["feeds", "item_json", "items", "register", "retag", "status"]


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
            fmt_dt(r["last_success_at"]),
            str(r["consecutive_failures"]),
            fmt_dt(r["next_poll_at"]) if r["next_poll_at"] else "",
            str(r["items_seen"]),
            (r["last_error"] or r["bozo_reason"] or "")[:100],
            style="red" if failing else "",
        )
    console.print(table)


def parse_date(value: str | None, name: str) -> datetime | None:
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
    # ``event_id`` on every item that belongs to an event
    event = {"event_id": r["event_id"]} if r.get("event_id") is not None else {}
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
        **event,
        "chars": len(r.get("text") or ""),
        "note": r.get("fetch_note"),
    }


def items(
    config: ConfigOpt = None,
    feed: Annotated[str | None, typer.Option("--feed", help="Only items of this feed.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only items published since YYYY-MM-DD.")
    ] = None,
    category: CategoryOpt = None,
    limit: LimitOpt = None,
    json_out: JsonLinesOpt = False,
) -> None:
    """List stored items, newest first."""
    settings = settings_or_exit(config)
    store = open_store_or_exit(settings)
    rows = store.list_items(
        feed=feed, since=parse_date(since, "--since"), category=category, limit=limit
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
            fmt_dt(r["published_at"]),
            r["feed_name"],
            r["language"] or "",
            r["text_source"],
            ",".join(r.get("categories") or []),
            r["title"][:90],
            r["url"],
        )
    console.print(table)


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
            fmt_dt(r["started_at"]),
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
            fmt_dt(f["last_success_at"]),
            (f["last_error"] or "")[:100],
        )
    console.print(trouble)
    fb = Table(title="Feedback, last 30 days (precision = right / (right + wrong))")
    for col in ("category", "precision", "right", "wrong", "missing"):
        fb.add_column(col, justify="left" if col == "category" else "right")
    for p in st["feedback"]:
        fb.add_row(
            p.category,
            f"{p.precision:.2f}" if p.precision is not None else "—",
            str(p.right),
            str(p.wrong),
            str(p.missing),
        )
    console.print(fb)
    console.print(
        f"alerts: {st['alerts'].get('pending', 0)} pending, {st['alerts'].get('dead', 0)} dead, "
        f"{st['alerts'].get('sent', 0)} sent · items {st['counts']['items']} · stories "
        f"{st['counts']['stories']} · store {st['store']} ({st['size']})"
    )


def register(app: typer.Typer) -> None:
    """Add ``feeds``, ``items``, ``retag`` and ``status`` to the CLI."""
    app.command("feeds")(feeds)
    app.command("items")(items)
    app.command("retag")(retag)
    app.command("status")(status)
