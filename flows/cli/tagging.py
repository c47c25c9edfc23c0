"""Tagging commands: ``tag``, ``classify``, ``eval`` and ``seeds build``.

Each command is a module-level function; :func:`register` adds them to the app. None of these
commands needs a config file: without one they use the default watchlist (``seeds/`` of the
checkout).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from flows.cli.common import ConfigOpt, console, err_console, fail, settings_or_exit
from regionwatch.errors import ConfigError, FetchError
from regionwatch.settings import DEFAULT_SEEDS_DIR, Settings, load_settings

__all__ = ["classify", "eval_", "register", "seeds_build", "tag"]

SeedsOpt = Annotated[
    Path | None,
    typer.Option(
        "--seeds", help="Watchlist folder (default: [seeds] dir of the config, else seeds/)."
    ),
]


def _seeds_dir(config: str | None, seeds: Path | None) -> tuple[Path, Settings | None]:
    if seeds is not None:
        return seeds, None
    settings = settings_or_exit(config)
    return settings.seeds.dir, settings


def _tagger(seeds_dir: Path, ner: bool = False) -> Any:
    from regionwatch.tagging import get_tagger

    try:
        return get_tagger(seeds_dir, ner=ner)
    except ConfigError as exc:
        err_console.print(f"[bold red]watchlist error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from exc


def _read_source(source: str, settings: Settings | None) -> tuple[str, str | None]:
    """Text and title of FILE, URL or ``-`` (stdin)."""
    if source == "-":
        return sys.stdin.read(), None
    if source.startswith(("http://", "https://")):
        try:
            from regionwatch.extract import extract_article
            from regionwatch.http import fetch_sync
        except ImportError as exc:
            err_console.print(
                "[bold red]error:[/] tagging a URL needs regionwatch.http; "
                "pass a file or '-' instead",
                highlight=False,
            )
            raise typer.Exit(2) from exc
        cfg = (settings or load_settings(None)).http
        try:
            res = fetch_sync(cfg, source)
        except FetchError as exc:
            err_console.print(f"[bold red]fetch error:[/] {exc}", highlight=False)
            raise typer.Exit(1) from exc
        art = extract_article(res.content, url=res.url, headers=res.headers)
        return art.text, art.title or None
    path = Path(source)
    try:
        raw = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        err_console.print(f"[bold red]error:[/] cannot read {path}: {exc}", highlight=False)
        raise typer.Exit(2) from exc
    if path.suffix.lower() in (".html", ".htm"):
        from regionwatch.extract import extract_article

        art = extract_article(
            raw.encode("utf-8"),
            url=path.resolve().as_uri(),
            headers={"content-type": "text/html; charset=utf-8"},
        )
        return art.text, art.title or None
    return raw, None


def tag(
    source: Annotated[
        str, typer.Argument(help="A text/HTML file, an http(s) URL, or - for stdin.")
    ] = "-",
    title: Annotated[str | None, typer.Option("--title", help="Headline of the item.")] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="ISO 639-1 language code.")] = None,
    ner: Annotated[
        bool,
        typer.Option(
            "--ner", help="Report other_entities with a statistical NER model if installed."
        ),
    ] = False,
    config: ConfigOpt = None,
    seeds: SeedsOpt = None,
) -> None:
    """Tag one item and print the JSON (actors, themes, categories with evidence)."""
    is_url = source.startswith(("http://", "https://"))
    settings = settings_or_exit(config) if (is_url or seeds is None) else None
    seeds_dir = seeds or (settings.seeds.dir if settings else DEFAULT_SEEDS_DIR)
    text, found_title = _read_source(source, settings)
    result = _tagger(seeds_dir, ner).tag(text, title=title or found_title, lang=lang)
    out = result.to_dict()
    out["labels"] = result.labels
    typer.echo(json.dumps(out, ensure_ascii=False, indent=2))


def classify(
    input: Annotated[
        Path, typer.Option("--input", "-i", help="JSONL: {id, text, title?, lang?} per line.")
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="JSONL to write: {id, labels, scores, actors, evidence}."
        ),
    ],
    config: ConfigOpt = None,
    seeds: SeedsOpt = None,
) -> None:
    """Classify a JSONL file of items into the three alert categories."""
    from regionwatch.evaluation import classify_jsonl

    seeds_dir, _ = _seeds_dir(config, seeds)
    tagger = _tagger(seeds_dir)
    try:
        n = classify_jsonl(input, output, tagger)
    except ConfigError as exc:
        raise fail(str(exc), 2) from exc
    err_console.print(f"classified {n} items -> {output}", highlight=False)


def eval_(
    datasets: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Labelled JSONL (id, text, title?, lang?, labels); with --events one or more "
            "dev sets, each with its *_events.jsonl beside it (default: the shared dev sets).",
            show_default=False,
        ),
    ] = None,
    show: Annotated[int, typer.Option("--show", help="Confusions to list (0 = none).")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    events: Annotated[
        bool,
        typer.Option("--events", help="Score event grouping and per-event alerts instead."),
    ] = False,
    config: ConfigOpt = None,
    seeds: SeedsOpt = None,
) -> None:
    """Precision, recall and F1 per label, per language group (in scope = the listed languages /
    beyond), and the confusions by class."""
    from regionwatch.evaluation import evaluate

    seeds_dir, settings = _seeds_dir(config, seeds)
    if events:
        from flows.cli.events_eval import eval_events

        eval_events(datasets or [], _tagger(seeds_dir), settings, as_json=as_json)
        return
    if not datasets or len(datasets) != 1:
        raise fail("eval takes one dataset (several only with --events)", 2)
    dataset = datasets[0]
    tagger = _tagger(seeds_dir)
    try:
        report = evaluate(dataset, tagger)
    except ConfigError as exc:
        raise fail(str(exc), 2) from exc
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        return
    _print_report(
        report, f"{dataset.name}: {report.total} items (lexicon {tagger.lexicon_hash})", show
    )


def _print_report(report: Any, title: str, show: int) -> None:
    """Per-label P/R/F1 per language group, the confusions by class, then the wrong items."""
    from regionwatch.evaluation import CONFUSION_CLASSES, micro

    table = Table(title=title)
    for col in ("group", "items", "label", "precision", "recall", "F1", "tp", "fp", "fn"):
        table.add_column(col, justify="left" if col in ("group", "label") else "right")
    for group, by_label in report.groups.items():
        n = report.group_items.get(group, 0)
        if not n:
            continue
        for i, (lab, st) in enumerate([*by_label.items(), ("micro", micro(by_label))]):
            table.add_row(
                group if i == 0 else "",
                str(n) if i == 0 else "",
                lab,
                f"{st.precision:.3f}",
                f"{st.recall:.3f}",
                f"{st.f1:.3f}",
                str(st.tp),
                str(st.fp),
                str(st.fn),
                end_section=lab == "micro",
            )
    console.print(table)
    classes = report.confusion_classes
    if classes:
        kt = Table(title="confusions by class (item x label)")
        for col in ("class", "n", "meaning"):
            kt.add_column(col, overflow="fold")
        for cls, n in classes.most_common():
            kt.add_row(cls, str(n), CONFUSION_CLASSES.get(cls, ""))
        console.print(kt)
    if report.confusions and show:
        ct = Table(title=f"confusions ({len(report.confusions)})")
        for col in ("id", "lang", "FP", "FN", "class", "scores", "title"):
            ct.add_column(col, overflow="fold")
        for c in report.confusions[:show]:
            ct.add_row(
                str(c["id"]),
                str(c["lang"] or ""),
                ",".join(c["fp"]),
                ",".join(c["fn"]),
                "; ".join(f"{k}: {v}" for k, v in c.get("classes", {}).items()),
                " ".join(f"{k[:4]}={v:.2f}" for k, v in c["scores"].items()),
                c["title"][:70],
            )
        console.print(ct)


def seeds_build(
    corpus: Annotated[
        Path | None, typer.Option("--corpus", help="Folder of seed documents (.txt/.html).")
    ] = None,
    min_count: Annotated[
        int, typer.Option("--min-count", help="Minimum mentions of a new candidate.")
    ] = 2,
    limit: Annotated[int, typer.Option("--limit", help="Rows per table.")] = 40,
    as_json: Annotated[bool, typer.Option("--json", help="Print the proposals as JSON.")] = False,
    config: ConfigOpt = None,
    seeds: SeedsOpt = None,
) -> None:
    """Propose actors from a seed corpus and diff them against the watchlist YAML."""
    from regionwatch.evaluation import build_seed_proposals
    from regionwatch.lexicon import load_lexicon

    seeds_dir, settings = _seeds_dir(config, seeds)
    if settings is None:
        settings = settings_or_exit(config)
    corpus_dir = corpus or _default_corpus(settings, seeds_dir)
    if corpus_dir is None:
        err_console.print(
            "[bold red]error:[/] no seed corpus: pass --corpus DIR, set [seeds] "
            "corpus, or set REGIONWATCH_SHARED",
            highlight=False,
        )
        raise typer.Exit(2)
    try:
        lexicon = load_lexicon(seeds_dir)
        props = build_seed_proposals(corpus_dir, lexicon, min_count=min_count)
    except ConfigError as exc:
        raise fail(str(exc), 2) from exc
    if as_json:
        typer.echo(json.dumps(props.as_dict(), ensure_ascii=False, indent=2))
        return
    console.print(
        f"seed corpus {corpus_dir}: {props.documents} documents; statistical NER: "
        f"{'yes' if props.ner_used else 'no (capitalised spans + aliases)'}",
        highlight=False,
    )
    kt = Table(title="watchlist actors found (in YAML)")
    for col in ("slug", "mentions", "docs", "example"):
        kt.add_column(col, overflow="fold")
    for p in props.known[:limit]:
        kt.add_row(p.known_as or "", str(p.count), str(p.docs), (p.examples or [""])[0][:120])
    console.print(kt)
    nt = Table(title="new candidates (not in YAML)")
    for col in ("candidate", "mentions", "docs", "example"):
        nt.add_column(col, overflow="fold")
    for p in props.new[:limit]:
        nt.add_row(p.text, str(p.count), str(p.docs), (p.examples or [""])[0][:120])
    console.print(nt)
    console.print(
        f"in YAML but not seen in this corpus ({len(props.unseen)}): "
        + ", ".join(props.unseen[:80]),
        highlight=False,
    )


def _default_corpus(settings: Settings, seeds_dir: Path) -> Path | None:
    """settings.seeds.corpus, else seeds/corpus/, else $REGIONWATCH_SHARED/seeds."""
    if settings.seeds.corpus is not None:
        return settings.seeds.corpus
    local = seeds_dir / "corpus"
    if local.is_dir():
        return local
    shared = os.environ.get("REGIONWATCH_SHARED")
    if shared and (Path(shared) / "seeds").is_dir():
        return Path(shared) / "seeds"
    return None


def register(app: typer.Typer) -> None:
    """Add ``tag``, ``classify``, ``eval`` and the ``seeds`` group (``seeds build``) to the CLI."""
    app.command("tag")(tag)
    app.command("classify")(classify)
    app.command("eval")(eval_)
    seeds_app = typer.Typer(
        help="Build and check the watchlist from a seed corpus.", no_args_is_help=True
    )
    seeds_app.command("build")(seeds_build)
    app.add_typer(seeds_app, name="seeds")
