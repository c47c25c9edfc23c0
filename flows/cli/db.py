"""``regionwatch db upgrade``: bring the store's schema to this release's revision."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from flows.cli.common import ConfigOpt, console, fail, settings_or_exit
from regionwatch.errors import StoreError
from regionwatch.settings import mask_url

__all__ = ["db_upgrade", "register"]


def db_upgrade(
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Upgrade the store's schema to the newest revision (every start does this too).

    A store made before the schema moved to Alembic (its ``schema_version`` table) is stamped
    with the matching revision first. Nothing is rebuilt and no row is lost; several workers
    may run it at once (one migrates, the others wait).
    """
    from regionwatch.store import Store

    settings = settings_or_exit(config)
    try:
        store = Store(settings.storage.url, echo=settings.storage.echo, migrate_now=False)
        try:
            before = store.revision()
            after = store.migrate()
        finally:
            store.close()
    except StoreError as exc:
        raise fail(f"store upgrade failed: {exc}") from exc
    where = mask_url(settings.storage.url)
    if as_json:
        out = {"store": where, "from": before, "to": after, "changed": before != after}
        sys.stdout.write(json.dumps(out) + "\n")
    elif before == after:
        console.print(f"store {where}: already at revision {after}")
    else:
        console.print(f"store {where}: upgraded from {before or 'before Alembic'} to {after}")


def register(app: typer.Typer) -> None:
    """Add the ``db`` group (``db upgrade``) to the CLI."""
    db_app = typer.Typer(help="Manage the store's schema.", no_args_is_help=True)
    db_app.command("upgrade")(db_upgrade)
    app.add_typer(db_app, name="db")
