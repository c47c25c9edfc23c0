"""``regionwatch config show``: the effective configuration, secrets masked."""

from __future__ import annotations

import json
import sys

import typer

from flows.cli.common import ConfigOpt, settings_or_exit

__all__ = ["config_show", "register"]


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


def register(app: typer.Typer) -> None:
    """Add the ``config`` group (``config show``) to the CLI."""
    config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)
    config_app.command("show")(config_show)
    app.add_typer(config_app, name="config")
