"""``regionwatch web``: serve the analyst console (package ``web/``) from the configured store."""

from __future__ import annotations

from typing import Annotated

import typer

from flows.cli.common import ConfigOpt, err_console, fail, open_store_or_exit, settings_or_exit

__all__ = ["register", "web"]

#: tokens shorter than this get a warning at start
SHORT_TOKEN = 16


def web(
    config: ConfigOpt = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Address to bind (default [web] host, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", help="Port (default [web] port, 8765).", min=1, max=65535),
    ] = None,
) -> None:
    """Serve the analyst console: events, evidence, search, feeds, alerts and feedback."""
    from web.server import serve_console

    settings = settings_or_exit(config)
    open_store_or_exit(settings).close()  # a clear error now, not on the first page
    bind = host or settings.web.host
    where = f"http://{'[' + bind + ']' if ':' in bind else bind}:{port or settings.web.port}/"
    writes = "on (token set)" if settings.web.token else "off (no [web] token)"
    err_console.print(f"RegionWatch console at {where} · writes {writes}", highlight=False)
    if settings.web.token and len(settings.web.token.get_secret_value()) < SHORT_TOKEN:
        err_console.print(
            f"[yellow]warning:[/] the [web] token is shorter than {SHORT_TOKEN} characters; "
            "anyone who can reach the console may guess it (`openssl rand -hex 24`)",
            highlight=False,
        )
    try:
        serve_console(settings, bind, port or settings.web.port)
    except OSError as exc:
        raise fail(f"cannot serve on {bind}: {exc}") from exc


def register(app: typer.Typer) -> None:
    """Add ``web`` to the CLI."""
    app.command("web")(web)
