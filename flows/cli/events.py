"""Events in the store: ``regionwatch events``."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from flows.cli.common import (
    CategoryOpt,
    ConfigOpt,
    JsonLinesOpt,
    LimitOpt,
    console,
    fmt_dt,
    open_store_or_exit,
    settings_or_exit,
)
from flows.cli.store import parse_date

__all__ = ["events", "register"]


def events(
    config: ConfigOpt = None,
    category: CategoryOpt = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only events with an article first seen since YYYY-MM-DD."),
    ] = None,
    limit: LimitOpt = None,
    json_out: JsonLinesOpt = False,
) -> None:
    """List events (one real-world happening across outlets and languages), latest first."""
    from regionwatch.store.events import list_events

    settings = settings_or_exit(config)
    store = open_store_or_exit(settings)
    rows = list_events(store, category=category, since=parse_date(since, "--since"), limit=limit)
    if json_out:
        out = sys.stdout
        for ev in rows:
            out.write(json.dumps(ev.to_dict(), ensure_ascii=False) + "\n")
        return
    table = Table(title=f"Events ({len(rows)})")
    for col in ("id", "categories", "title", "actors", "first seen", "last seen", "articles"):
        table.add_column(col, overflow="fold")
    for col in ("outlets", "languages", "alerted"):
        table.add_column(col, overflow="fold")
    for ev in rows:
        table.add_row(
            str(ev.event_id),
            ", ".join(ev.categories),
            escape(ev.title),
            escape(", ".join(ev.actors[:4])),
            fmt_dt(ev.first_seen),
            fmt_dt(ev.last_seen),
            str(ev.articles),
            str(len(ev.outlets)),
            ", ".join(ev.languages),
            ", ".join(c for c, sent in ev.alerted.items() if sent) or "—",
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``events`` to the CLI."""
    app.command("events")(events)
