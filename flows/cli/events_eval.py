"""``regionwatch eval --events``: event grouping and per-event alerts scored on the dev sets.

The scoring is :func:`regionwatch.evaluation_events.evaluate_events`; this module finds the dev
sets and prints the report (a table per setting, or JSON).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from flows.cli.common import console, fail
from regionwatch.errors import ConfigError

if TYPE_CHECKING:
    from regionwatch.settings import Settings
    from regionwatch.tagging import Tagger

__all__ = ["default_dev_sets", "eval_events"]

DEV_SETS = ("dev.jsonl", "dev2.jsonl")


def default_dev_sets() -> list[Path]:
    """The shared dev sets: ``$REGIONWATCH_SHARED/eval``, else ``../shared/eval``."""
    shared = os.environ.get("REGIONWATCH_SHARED")
    base = Path(shared) / "eval" if shared else Path("..") / "shared" / "eval"
    return [base / name for name in DEV_SETS if (base / name).is_file()]


def eval_events(
    datasets: Sequence[Path], tagger: Tagger, settings: Settings | None, *, as_json: bool
) -> None:
    """Score the dev sets and print the report; exit 2 when a file is missing or malformed."""
    from regionwatch.evaluation_events import evaluate_events
    from regionwatch.settings import EventsConfig

    paths = list(datasets) or default_dev_sets()
    if not paths:
        raise fail("no dev sets given and none under $REGIONWATCH_SHARED/eval or ../shared/eval", 2)
    cfg = settings.events if settings is not None else EventsConfig()
    rules = settings.alerts.effective_rules() if settings is not None else None
    try:
        report = evaluate_events(paths, tagger, cfg, rules)
    except ConfigError as exc:
        raise fail(str(exc), 2) from exc
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        return
    title = f"events: {', '.join(p.name for p in paths)} (lexicon {tagger.lexicon_hash})"
    grouping = Table(title=f"{title}: B-cubed over positive items")
    for col in ("setting", "positives", "P", "R", "F1", "singletons F1", "multi-language"):
        grouping.add_column(col, justify="left" if col == "setting" else "right")
    alerts = Table(
        title="alerts per (event, category) under the alert rules; per article: one alert "
        "per qualifying article (no grouping)"
    )
    cols = ("setting", "alerts", "expected", "recall", "per pair", "precision", "events")
    for col in (*cols, "per article: alerts", "recall", "per pair"):
        alerts.add_column(col, justify="left" if col == "setting" else "right")
    for s in report.scenarios:
        grouping.add_row(
            s.name,
            str(s.positives),
            f"{s.bcubed_p:.3f}",
            f"{s.bcubed_r:.3f}",
            f"{s.bcubed_f1:.3f}",
            f"{s.baseline_f1:.3f}",
            str(s.multi_language_groups),
        )
        alerts.add_row(
            s.name,
            str(s.alerts),
            str(s.expected_pairs),
            f"{s.recall:.2f}",
            f"{s.alerts_per_pair:.2f}",
            f"{s.precision:.2f}",
            f"{s.event_recall:.2f}",
            str(s.ungrouped_alerts),
            f"{s.ungrouped_recall:.2f}",
            f"{s.ungrouped_per_pair:.2f}",
        )
    console.print(grouping)
    console.print(alerts)
    parts = Table(title="B-cubed per language group and slice (held_out: never tuned on)")
    for col in ("setting", "part", "items", "P", "R", "F1"):
        parts.add_column(col, justify="left" if col in ("setting", "part") else "right")
    for s in report.scenarios:
        for name, row in [*s.by_language.items(), *s.slices.items()]:
            cells = (f"{row['p']:.3f}", f"{row['r']:.3f}", f"{row['f1']:.3f}")
            parts.add_row(s.name, name, str(row["items"]), *cells)
    console.print(parts)
