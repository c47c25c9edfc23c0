"""What every ``regionwatch`` command shares: consoles, the --config option, loading settings
and opening the store with the documented exit codes (2: bad configuration, 1: store down)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from regionwatch.errors import ConfigError, StoreError
from regionwatch.settings import Settings, load_settings

if TYPE_CHECKING:
    from regionwatch.store import Store

__all__ = [
    "CategoryOpt",
    "ConfigOpt",
    "JsonLinesOpt",
    "LimitOpt",
    "console",
    "err_console",
    "fail",
    "fmt_dt",
    "open_store_or_exit",
    "settings_or_exit",
]

console = Console()
err_console = Console(stderr=True, soft_wrap=True)

ConfigOpt = Annotated[
    str | None,
    typer.Option(
        "--config",
        "-c",
        help="TOML config file (default: $REGIONWATCH_CONFIG or ./regionwatch.toml).",
    ),
]
#: the filters and output switch listings share (``items``, ``events``)
CategoryOpt = Annotated[
    str | None, typer.Option("--category", help="csto, ceasefire or border_clash.")
]
LimitOpt = Annotated[int | None, typer.Option("--limit", help="At most this many rows.")]
JsonLinesOpt = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error (feed text escaped for rich markup) and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)


def settings_or_exit(config: str | None) -> Settings:
    """Load settings; on a bad file or value print the message (naming the key) and exit 2."""
    try:
        return load_settings(config)
    except ConfigError as exc:
        err_console.print(f"[bold red]config error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from exc


def open_store_or_exit(settings: Settings) -> Store:
    """Open the configured store; exit 1 with a clear message when it is unreachable."""
    from regionwatch.store import Store

    try:
        return Store(settings.storage.url, echo=settings.storage.echo)
    except StoreError as exc:
        raise fail(f"store unreachable: {exc}") from exc


def fmt_dt(v: Any) -> str:
    """A time for a table cell: ``YYYY-MM-DD HH:MM`` UTC, or a dash."""
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    if isinstance(v, str) and v:
        return v[:16].replace("T", " ")
    return "—"
