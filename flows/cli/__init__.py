"""``regionwatch`` — the command-line interface (typer).

Every command is a module-level function in the module of its group; :data:`app` registers them:

- :mod:`flows.cli.run`: ``run``, ``serve``
- :mod:`flows.cli.store`: ``feeds``, ``items``, ``retag``, ``status``
- :mod:`flows.cli.events`: ``events``
- :mod:`flows.cli.config`: ``config show``
- :mod:`flows.cli.demo`: ``demo`` (the bundled sample served on loopback)
- :mod:`flows.cli.tagging`: ``tag``, ``classify``, ``eval``, ``seeds build``
- :mod:`flows.cli.alerts`: ``alerts test|list|retry``, ``digest``
- :mod:`flows.cli.backfill`: ``backfill``
- :mod:`flows.cli.db`: ``db upgrade``
- :mod:`flows.cli.web`: ``web`` (the analyst console)
- :mod:`flows.cli.feedback`: ``feedback export``

A new group is a new module with a ``register(app)`` function, listed in :data:`GROUPS`.
"""

from __future__ import annotations

import logging
import os
from typing import Annotated

import typer

from flows.cli import (
    alerts,
    backfill,
    config,
    db,
    demo,
    events,
    feedback,
    run,
    store,
    tagging,
    web,
)

__all__ = ["GROUPS", "app", "main"]

app = typer.Typer(
    name="regionwatch",
    help="News monitoring for the security of Russia's neighbourhood: feeds -> tagged items -> "
    "stories -> alerts on CSTO, ceasefire and border-clash news.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _main(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log progress to stderr.")
    ] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


#: the command groups, in the order ``--help`` lists them
GROUPS = (config, run, store, events, db, demo, tagging, alerts, backfill, web, feedback)
for _group in GROUPS:
    _group.register(app)


def main() -> None:
    """Console-script entry point."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # the embedded server may take longer than Prefect's 20 s default on a loaded 2-core machine
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    app()
