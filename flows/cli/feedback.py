"""``regionwatch feedback export``: the desk's verdicts as an ``eval`` dataset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from flows.cli.common import ConfigOpt, console, fail, open_store_or_exit, settings_or_exit

__all__ = ["feedback_export", "register"]


def feedback_export(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="JSONL to write (id, text, title, lang, labels).")
    ],
    config: ConfigOpt = None,
) -> None:
    """Write every item the desk judged, labelled as the desk says, for ``regionwatch eval``."""
    from regionwatch.settings import CATEGORIES
    from regionwatch.store.feedback import export_feedback

    settings = settings_or_exit(config)
    store = open_store_or_exit(settings)
    try:
        rows = export_feedback(store, CATEGORIES)
    finally:
        store.close()
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        with output.open("w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps(r.to_json(), ensure_ascii=False) + "\n")
    except OSError as exc:
        raise fail(f"cannot write {output}: {exc}", 2) from exc
    console.print(f"wrote {len(rows)} judged item(s) to {output}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``feedback`` group (``feedback export``) to the CLI."""
    feedback_app = typer.Typer(help="The desk's feedback on categories.", no_args_is_help=True)
    feedback_app.command("export")(feedback_export)
    app.add_typer(feedback_app, name="feedback")
