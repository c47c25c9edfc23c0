"""CLI commands for alerts and the digest: ``regionwatch alerts test|list|retry`` and ``digest``."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markdown import Markdown
from rich.markup import escape
from rich.table import Table

from flows.cli.common import ConfigOpt, console, err_console, open_store_or_exit, settings_or_exit

__all__ = ["alerts_list", "alerts_retry", "alerts_test", "digest", "register"]


def _dt(v: Any) -> str:
    return v.strftime("%Y-%m-%d %H:%M") if v is not None else "—"


def alerts_test(config: ConfigOpt = None) -> None:
    """Send a test message to every channel and report each result."""
    from regionwatch.alerts import send_test

    settings = settings_or_exit(config)
    results = send_test(settings)
    table = Table(title="Channel test")
    table.add_column("channel")
    table.add_column("result")
    table.add_column("error", overflow="fold")
    for name, ok, err in results:
        table.add_row(escape(name), "[green]ok[/]" if ok else "[red]failed[/]", escape(err or ""))
    console.print(table)
    if not all(ok for _n, ok, _e in results):
        raise typer.Exit(1)


def alerts_list(
    pending: Annotated[
        bool, typer.Option("--pending", help="Only rows waiting to be sent.")
    ] = False,
    dead: Annotated[bool, typer.Option("--dead", help="Only rows that gave up.")] = False,
    limit: Annotated[int, typer.Option("--limit", help="At most this many rows.")] = 100,
    config: ConfigOpt = None,
) -> None:
    """List outbox rows (newest first)."""
    from regionwatch.alerts import channels, list_alerts

    if pending and dead:
        err_console.print("[bold red]error:[/] use --pending or --dead, not both")
        raise typer.Exit(2)
    settings = settings_or_exit(config)
    store = open_store_or_exit(settings)
    names = {c.key: c.display for c in channels(settings)}
    status = "pending" if pending else "dead" if dead else None
    try:
        rows = list_alerts(store, status, limit=limit)
    finally:
        store.close()
    table = Table(title=f"Alerts ({status or 'all'}): {len(rows)}")
    for col in ("id", "category", "status", "tries"):
        table.add_column(col, no_wrap=True)
    table.add_column("channel", max_width=24, overflow="ellipsis", no_wrap=True)
    table.add_column("next/sent (UTC)", no_wrap=True)
    table.add_column("headline", ratio=3, overflow="fold")
    table.add_column("last error", ratio=2, overflow="fold")
    for r in rows:
        when = r.get("sent_at") if r["status"] == "sent" else r.get("next_attempt_at")
        table.add_row(
            str(r["id"]),
            r["category"],
            r["status"],
            str(r["attempts"]),
            escape(names.get(r["channel"], r["channel"])),
            _dt(when),
            escape((r.get("title") or "")[:90]),
            escape((r.get("last_error") or "")[:160]),
        )
    console.print(table)


def alerts_retry(
    ids: Annotated[
        list[int] | None, typer.Argument(help="Row ids (default: all dead and pending rows).")
    ] = None,
    send: Annotated[bool, typer.Option("--send/--no-send", help="Deliver right away.")] = True,
    config: ConfigOpt = None,
) -> None:
    """Make dead and pending rows due now (and deliver them)."""
    from regionwatch.alerts import deliver_pending, retry_alerts

    settings = settings_or_exit(config)
    store = open_store_or_exit(settings)
    try:
        n = retry_alerts(store, ids or None)
        console.print(f"{n} row(s) due now")
        if send and n:
            rep = deliver_pending(store, settings)
            console.print(
                f"sent {rep.sent}, failed {rep.failed}, dead {rep.dead}, "
                f"held back by rate limit {rep.deferred}"
            )
            if rep.failed or rep.dead:
                raise typer.Exit(1)
    finally:
        store.close()


def digest(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print, do not send.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Build the digest (last 24 h, 7-day counts, grown stories) and send it per channel."""
    from regionwatch.alerts import build_digest, send_digest
    from regionwatch.store import utcnow

    settings = settings_or_exit(config)
    store = open_store_or_exit(settings)
    try:
        now = utcnow()
        if dry_run:
            digest = build_digest(store, settings, now)
            for cd in digest.channels:
                console.rule(escape(f"{cd.channel.display}: {cd.message.title}"))
                console.print(Markdown(cd.message.markdown))
            return
        rep = send_digest(store, settings, now)
    finally:
        store.close()
    for name, ok, err in rep.results:
        console.print(
            f"{escape(name)}: "
            + ("[green]sent[/]" if ok else f"[red]failed[/] {escape(err or '')}")
        )
    if not rep.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the ``alerts`` group (``test``, ``list``, ``retry``) and ``digest`` to the CLI."""
    alerts_app = typer.Typer(help="Alert channels and the outbox.", no_args_is_help=True)
    alerts_app.command("test")(alerts_test)
    alerts_app.command("list")(alerts_list)
    alerts_app.command("retry")(alerts_retry)
    app.add_typer(alerts_app, name="alerts")
    app.command("digest")(digest)
