"""``regionwatch backfill``: archive backfill for a date range, with a progress bar and a table."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

if TYPE_CHECKING:
    from regionwatch.backfill import BackfillProgress, BackfillReport
    from regionwatch.settings import Settings

from flows.cli.common import console, err_console, settings_or_exit  # noqa: E402

__all__ = ["backfill", "print_report", "register", "send_digest"]

FROM_CHOICES = ("sitemaps", "wayback", "urls", "warc")


def _parse_day(value: str, flag: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        err_console.print(
            f"[bold red]error:[/] {flag} must be YYYY-MM-DD, got {value!r}", highlight=False
        )
        raise typer.Exit(2) from exc


def print_report(report: BackfillReport) -> None:
    """The final table: URLs found, fetched, skipped as known, failed, stored, per category."""
    table = Table(title=f"Backfill {report.since}..{report.until} ({report.mode})")
    table.add_column("", overflow="fold")
    table.add_column("count", justify="right")
    for label, value in (
        ("URLs found", report.found),
        ("fetched", report.fetched),
        ("skipped as known", report.skipped_known),
        ("outside the range (by article date)", report.out_of_range),
        ("failed", report.failed),
        ("items stored", report.stored),
    ):
        table.add_row(label, str(value))
    for cat in ("csto", "ceasefire", "border_clash"):
        table.add_row(f"  stored in {cat}", str(report.per_category.get(cat, 0)))
    for cat, n in sorted(report.per_category.items()):
        if cat not in ("csto", "ceasefire", "border_clash"):
            table.add_row(f"  stored in {cat}", str(n))
    table.add_row(
        "chunks (run / resumed / total)",
        f"{report.chunks_run} / {report.chunks_resumed} / {report.chunks_total}",
    )
    console.print(table)
    if report.per_source:
        st = Table(title="Per source")
        for col, just in (
            ("source", "left"),
            ("via", "left"),
            ("found", "right"),
            ("fetched", "right"),
            ("known", "right"),
            ("out of range", "right"),
            ("failed", "right"),
            ("stored", "right"),
            ("note", "left"),
        ):
            st.add_column(col, justify=just, overflow="fold")  # type: ignore[arg-type]
        for r in report.per_source:
            note = r.stopped or (r.errors[0] if r.errors else "")
            st.add_row(
                r.source,
                r.mode,
                str(r.found),
                str(r.fetched),
                str(r.skipped_known),
                str(r.out_of_range),
                str(r.failed),
                str(r.stored),
                note[:120],
                style="yellow" if r.stopped else "",
            )
        console.print(st)
    if report.stopped:
        console.print(f"[yellow]stopped early:[/] {report.stopped}", highlight=False)


def send_digest(settings: Settings, summaries: list[tuple[str, str]]) -> tuple[int, list[str]]:
    """Send one summary per category through every alert channel.

    Returns:
        (deliveries that succeeded, error messages).
    """
    from regionwatch.alerts import send_summary
    from regionwatch.errors import RegionWatchError

    ok, errors = 0, []
    for title, body in summaries:
        try:
            rep = send_summary(settings, title, body)
        except RegionWatchError as exc:
            errors.append(f"{title}: {exc}")
            continue
        for channel, sent, error in rep.results:
            if sent:
                ok += 1
            else:
                errors.append(f"{title} → {channel}: {error}")
    return ok, errors


def _run(settings: Settings, *, progress_bar: bool, **kwargs: Any) -> tuple[BackfillReport, Any]:
    from regionwatch.backfill import run_backfill
    from regionwatch.pipeline import Context

    ctx = Context.open(settings)
    names = kwargs.pop("source_names")
    sources = []
    for name in names:
        s = ctx.source(name)
        if s is None:
            ctx.close()
            known = ", ".join(x.name for x in ctx.sources) or "(none configured)"
            err_console.print(
                f"[bold red]error:[/] unknown source {name!r}; configured: {known}", highlight=False
            )
            raise typer.Exit(2)
        sources.append(s)
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("URLs · stored {task.fields[stored]} · failed {task.fields[failed]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=not progress_bar,
        transient=False,
    )
    task = bar.add_task("discovering", total=None, stored=0, failed=0)

    def on_progress(ev: BackfillProgress) -> None:
        desc = "backfill" if ev.phase != "discovered" else "fetching"
        bar.update(
            task,
            description=desc,
            total=max(ev.urls_total, 1),
            completed=ev.urls_done,
            stored=ev.stored,
            failed=ev.failed,
        )

    try:
        with bar:
            report = asyncio.run(run_backfill(ctx, sources=sources, progress=on_progress, **kwargs))
    except BaseException:
        ctx.close()
        raise
    return report, ctx


def backfill(
    since: Annotated[str, typer.Option("--since", help="First day (YYYY-MM-DD, UTC).")],
    until: Annotated[str, typer.Option("--until", help="Last day (YYYY-MM-DD, inclusive).")],
    source: Annotated[
        list[str] | None,
        typer.Option("--source", "-s", help="Source name (repeatable; default: all)."),
    ] = None,
    from_: Annotated[
        str | None,
        typer.Option("--from", help="Where to find old items: sitemaps, wayback, urls, warc."),
    ] = None,
    urls: Annotated[
        Path | None, typer.Option("--urls", help="URL list: one URL a line, optional TAB date.")
    ] = None,
    warc: Annotated[
        list[Path] | None, typer.Option("--warc", help="WARC file (repeatable).")
    ] = None,
    digest: Annotated[
        bool, typer.Option("--digest", help="Send one summary per category when done.")
    ] = False,
    wayback_fallback: Annotated[
        bool,
        typer.Option(
            "--wayback-fallback",
            help="Use the Wayback Machine for sources whose sitemaps give nothing.",
        ),
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    config: Annotated[str | None, typer.Option("--config", "-c", help="TOML config file.")] = None,
) -> None:
    """Backfill archived items for a date range (quiet: backfilled items never alert)."""
    from regionwatch.backfill import digest_summaries
    from regionwatch.errors import ConfigError, RegionWatchError, StoreError

    day0, day1 = _parse_day(since, "--since"), _parse_day(until, "--until")
    if day1 < day0:
        err_console.print(f"[bold red]error:[/] --until {day1} is before --since {day0}")
        raise typer.Exit(2)
    if from_ is not None and from_ not in FROM_CHOICES:
        err_console.print(
            f"[bold red]error:[/] --from must be one of {', '.join(FROM_CHOICES)}, got {from_!r}",
            highlight=False,
        )
        raise typer.Exit(2)
    settings = settings_or_exit(config)
    ctx = None
    try:
        report, ctx = _run(
            settings,
            progress_bar=not json_out and sys.stderr.isatty(),
            source_names=list(source or []),
            since=day0,
            until=day1,
            mode=from_,
            urls_file=urls,
            warc_files=list(warc or []),
            allow_wayback=wayback_fallback,
        )
        summaries = digest_summaries(ctx, report) if digest else []
    except ConfigError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from exc
    except StoreError as exc:
        err_console.print(f"[bold red]error:[/] store unreachable: {exc}", highlight=False)
        raise typer.Exit(1) from exc
    except RegionWatchError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1) from exc
    finally:
        if ctx is not None:
            ctx.close()
    if json_out:
        sys.stdout.write(json.dumps(report.to_dict(), default=str) + "\n")
    else:
        print_report(report)
    if digest:
        if not summaries:
            console.print("digest: nothing stored in any alert category")
        elif not settings.channels:
            console.print("digest: no channels configured; the summaries:")
            for title, body in summaries:
                console.print(title, style="bold", highlight=False, markup=False)
                console.print(body + "\n", highlight=False, markup=False)
        else:
            ok, errors = send_digest(settings, summaries)
            console.print(f"digest: {len(summaries)} summary(ies), {ok} delivery(ies) ok")
            for e in errors:
                err_console.print(f"[yellow]digest not delivered:[/] {e}", highlight=False)
    if report.status == "failed":
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``backfill`` to the CLI."""
    app.command("backfill")(backfill)
