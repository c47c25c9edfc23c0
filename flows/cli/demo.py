"""``regionwatch demo``: the whole product on a bundled sample, with no network.

The sample (``flows/cli/demo_data/articles.yaml``) is our own writing: a border clash reported by
two outlets (the second a syndicated rewrite), a ceasefire, a CSTO item in Russian, unrelated
regional news and a Gaza truce. :func:`run_demo` serves it as RSS/Atom feeds and HTML pages on
a threaded HTTP server bound to 127.0.0.1, writes a throw-away configuration (SQLite store,
alerts to the terminal and to a local mbox file), runs one full monitor cycle and shows what
came out: the per-feed table, the alerts, the mailbox and why each article did or did not alert.

It lives beside the CLI, not in the library: a server, terminal tables and changes to the
environment are the CLI's business. :func:`demo` (the command) passes a ``runner`` that runs the
Prefect flow; with no runner the cycle runs in-process through
:func:`regionwatch.pipeline.run_cycle`.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import html
import json
import logging
import mailbox
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape as xml_escape

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from regionwatch.errors import RegionWatchError
from regionwatch.store import Store, utcnow

__all__ = [
    "DemoArticle",
    "DemoOutlet",
    "DemoSample",
    "DemoServer",
    "demo",
    "load_sample",
    "register",
    "run_demo",
    "write_demo_config",
]

logger = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "demo_data"
ARTICLES_FILE = DATA_DIR / "articles.yaml"

Runner = Callable[[str], Mapping[str, Any]]

#: Environment variables that would send the demo's writes or alerts somewhere real.
_REDIRECTING_ENV = ("REGIONWATCH_CONFIG", "REGIONWATCH_DB_URL")
_REDIRECTING_PREFIXES = (
    "REGIONWATCH_STORAGE",
    "REGIONWATCH_CHANNELS",
    "REGIONWATCH_FEEDS",
    "REGIONWATCH_ALERTS",
    "REGIONWATCH_HTTP",
)


# ---------------------------------------------------------------------------- the sample
@dataclass(frozen=True)
class DemoOutlet:
    """One fictional outlet of the sample: one feed."""

    slug: str
    name: str
    format: str
    language: str
    country: str
    description: str = ""

    @property
    def feed_path(self) -> str:
        """Path of the outlet's feed on the demo server."""
        return f"/{self.slug}/feed.xml"


@dataclass(frozen=True)
class DemoArticle:
    """One sample article, resolved (a syndicated copy carries its own title and body)."""

    id: str
    outlet: str
    title: str
    summary: str
    body: str
    author: str
    published: datetime
    expect_alert: tuple[str, ...] = ()
    same_story_as: str | None = None
    why: str = ""

    @property
    def path(self) -> str:
        """Path of the article's page on the demo server."""
        return f"/{self.outlet}/{self.id}.html"

    @property
    def paragraphs(self) -> list[str]:
        """The body split into paragraphs."""
        return [" ".join(p.split()) for p in self.body.split("\n\n") if p.strip()]


@dataclass
class DemoSample:
    """The outlets and articles of the sample, dated relative to ``now``."""

    outlets: list[DemoOutlet]
    articles: list[DemoArticle]
    now: datetime

    def outlet(self, slug: str) -> DemoOutlet:
        """The outlet with this slug."""
        return next(o for o in self.outlets if o.slug == slug)

    def article(self, article_id: str) -> DemoArticle:
        """The article with this id."""
        return next(a for a in self.articles if a.id == article_id)


def load_sample(path: Path = ARTICLES_FILE, *, now: datetime | None = None) -> DemoSample:
    """Read the bundled sample and date each article ``minutes_ago`` before ``now``.

    Args:
        path: the sample file (``flows/cli/demo_data/articles.yaml``).
        now: the reference time (aware UTC); defaults to the current time.

    Returns:
        The sample with syndicated copies resolved into full articles.

    Raises:
        RegionWatchError: the file is missing or malformed.
    """
    now = now or utcnow()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        outlets = [DemoOutlet(**o) for o in raw["outlets"]]
        entries = {a["id"]: a for a in raw["articles"]}
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise RegionWatchError(f"{path}: cannot read the demo sample: {exc}") from exc
    today = f"{now.day} {now:%B}"
    articles = []
    for a in raw["articles"]:
        base = entries[a["copy_of"]] if "copy_of" in a else a
        title = a.get("title_prefix", "") + base["title"]
        body = base["body"].strip()
        if "dateline" in a:
            body = a["dateline"].replace("{date}", today) + body
        articles.append(
            DemoArticle(
                id=a["id"],
                outlet=a["outlet"],
                title=title,
                summary=" ".join(a.get("summary", base.get("summary", "")).split()),
                body=body,
                author=a.get("author", ""),
                published=now - timedelta(minutes=float(a["minutes_ago"])),
                expect_alert=tuple(a.get("expect_alert") or ()),
                same_story_as=a.get("same_story_as"),
                why=" ".join(str(a.get("why", "")).split()),
            )
        )
    return DemoSample(outlets=outlets, articles=articles, now=now)


# ---------------------------------------------------------------------------- rendering
def render_page(article: DemoArticle, outlet: DemoOutlet, url: str) -> bytes:
    """An article page as a news site would serve it (navigation, byline, footer)."""
    e = html.escape
    iso = article.published.isoformat(timespec="seconds")
    paras = "\n".join(f"      <p>{e(p)}</p>" for p in article.paragraphs)
    page = f"""<!DOCTYPE html>
<html lang="{e(outlet.language)}">
<head>
  <meta charset="utf-8">
  <title>{e(article.title)} | {e(outlet.name)}</title>
  <link rel="canonical" href="{e(url)}">
  <meta name="description" content="{e(article.summary)}">
  <meta name="author" content="{e(article.author)}">
  <meta property="og:type" content="article">
  <meta property="og:title" content="{e(article.title)}">
  <meta property="og:site_name" content="{e(outlet.name)}">
  <meta property="og:url" content="{e(url)}">
  <meta property="article:published_time" content="{iso}">
</head>
<body>
  <header>
    <nav><a href="/">{e(outlet.name)}</a> | <a href="/{e(outlet.slug)}/">Latest</a></nav>
  </header>
  <main>
    <article>
      <h1>{e(article.title)}</h1>
      <p class="byline">{e(article.author)} |
        <time datetime="{iso}">{article.published:%d.%m.%Y %H:%M} UTC</time></p>
{paras}
    </article>
  </main>
  <footer>
    <p>{e(outlet.name)}: fictional outlet, sample written for the RegionWatch demo.</p>
  </footer>
</body>
</html>
"""
    return page.encode("utf-8")


def render_feed(outlet: DemoOutlet, articles: list[DemoArticle], base: str) -> bytes:
    """The outlet's feed (RSS 2.0 or Atom 1.0), newest entry first."""
    x = xml_escape
    items = sorted(articles, key=lambda a: a.published, reverse=True)
    home = f"{base}/{outlet.slug}/"
    if outlet.format == "atom":
        updated = max(a.published for a in items).isoformat(timespec="seconds")
        entries = "".join(
            f"""  <entry>
    <id>{x(base + a.path)}</id>
    <title>{x(a.title)}</title>
    <link rel="alternate" type="text/html" href="{x(base + a.path)}"/>
    <published>{a.published.isoformat(timespec="seconds")}</published>
    <updated>{a.published.isoformat(timespec="seconds")}</updated>
    <author><name>{x(a.author)}</name></author>
    <summary>{x(a.summary)}</summary>
  </entry>
"""
            for a in items
        )
        doc = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{x(outlet.language)}">
  <id>{x(home)}</id>
  <title>{x(outlet.name)}</title>
  <subtitle>{x(outlet.description)}</subtitle>
  <link rel="alternate" href="{x(home)}"/>
  <link rel="self" href="{x(base + outlet.feed_path)}"/>
  <updated>{updated}</updated>
{entries}</feed>
"""
    else:
        rss_items = "".join(
            f"""    <item>
      <title>{x(a.title)}</title>
      <link>{x(base + a.path)}</link>
      <guid isPermaLink="true">{x(base + a.path)}</guid>
      <pubDate>{email.utils.format_datetime(a.published)}</pubDate>
      <author>{x(a.author)}</author>
      <description>{x(a.summary)}</description>
    </item>
"""
            for a in items
        )
        doc = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0">
  <channel>
    <title>{x(outlet.name)}</title>
    <link>{x(home)}</link>
    <description>{x(outlet.description)}</description>
    <language>{x(outlet.language)}</language>
{rss_items}  </channel>
</rss>
"""
    return doc.encode("utf-8")


# ---------------------------------------------------------------------------- the server
@dataclass
class _Resource:
    body: bytes
    ctype: str
    etag: str = ""
    last_modified: str = ""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("demo server: " + format, *args)

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib hook name
        self._serve(head=True)

    def do_GET(self) -> None:  # noqa: N802 - stdlib hook name
        self._serve(head=False)

    def _serve(self, *, head: bool) -> None:
        path = urlsplit(self.path).path
        res = self.server.routes.get(path)
        self.server.requests.append(path)
        if res is None:
            body = b"not found\n"
            self.send_response(404)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)
            return
        if res.etag and self.headers.get("If-None-Match") == res.etag:
            self.send_response(304)
            self.send_header("ETag", res.etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", res.ctype)
        self.send_header("Content-Length", str(len(res.body)))
        if res.etag:
            self.send_header("ETag", res.etag)
        if res.last_modified:
            self.send_header("Last-Modified", res.last_modified)
        self.end_headers()
        if not head:
            self.wfile.write(res.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    routes: dict[str, _Resource]
    requests: list[str]

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that hangs up early (cancelled fetch) is not worth a traceback on stderr
        logger.debug("demo server: request from %s failed", client_address, exc_info=True)


class DemoServer:
    """The sample served on 127.0.0.1 (a free port) by a threaded ``http.server``.

    Use as a context manager; :attr:`base` is ``http://127.0.0.1:PORT``.
    """

    def __init__(self, sample: DemoSample) -> None:
        self.sample = sample
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.routes = {}
        self._httpd.requests = []
        self.base = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread: threading.Thread | None = None
        self._build_routes()

    def _add(self, path: str, body: bytes, ctype: str, published: datetime) -> None:
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        self._httpd.routes[path] = _Resource(
            body, ctype, etag, email.utils.format_datetime(published, usegmt=True)
        )

    def _build_routes(self) -> None:
        now = self.sample.now
        self._add("/robots.txt", b"User-agent: *\nAllow: /\n", "text/plain; charset=utf-8", now)
        for outlet in self.sample.outlets:
            arts = [a for a in self.sample.articles if a.outlet == outlet.slug]
            ctype = "application/atom+xml" if outlet.format == "atom" else "application/rss+xml"
            newest = max((a.published for a in arts), default=now)
            self._add(
                outlet.feed_path,
                render_feed(outlet, arts, self.base),
                f"{ctype}; charset=utf-8",
                newest,
            )
            for a in arts:
                self._add(
                    a.path,
                    render_page(a, outlet, self.base + a.path),
                    "text/html; charset=utf-8",
                    a.published,
                )

    @property
    def requests(self) -> list[str]:
        """Paths requested so far, in order."""
        return list(self._httpd.requests)

    def feed_url(self, outlet: DemoOutlet) -> str:
        """Absolute URL of an outlet's feed."""
        return self.base + outlet.feed_path

    def url(self, article: DemoArticle) -> str:
        """Absolute URL of an article's page."""
        return self.base + article.path

    def start(self) -> DemoServer:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="regionwatch-demo-server", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------------- configuration
def _toml_str(value: str) -> str:
    # a JSON string is a valid TOML basic string for the characters we write
    return json.dumps(value, ensure_ascii=False)


def write_demo_config(folder: Path, server: DemoServer) -> Path:
    """Write the throw-away ``regionwatch.toml`` for the demo into ``folder``.

    SQLite store and mbox file in ``folder``, private networks allowed (the feeds are on
    127.0.0.1), no channels (alerts go to the terminal and the mailbox), the demo feeds.

    Returns:
        The path of the written file.
    """
    db = (folder / "demo.db").resolve()
    mbox = (folder / "mailbox.mbox").resolve()
    lines = [
        "# Throw-away configuration written by `regionwatch demo`.",
        "[storage]",
        f"url = {_toml_str('sqlite:///' + db.as_posix())}",
        "",
        "[http]",
        "allow_private_networks = true",
        "per_host_delay = 0.0",
        "per_host_concurrency = 4",
        "retries = 1",
        "",
        "[alerts]",
        f"mailbox = {_toml_str(mbox.as_posix())}",
        "",
    ]
    for outlet in server.sample.outlets:
        lines += [
            "[[feeds]]",
            f"name = {_toml_str(outlet.name)}",
            f"url = {_toml_str(server.feed_url(outlet))}",
            f"language = {_toml_str(outlet.language)}",
            f"country = {_toml_str(outlet.country)}",
            "state_affiliated = false",
            "",
        ]
    path = folder / "regionwatch.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@contextlib.contextmanager
def _isolated_env() -> Iterator[None]:
    """Hide ``REGIONWATCH_*`` variables that would point the demo at a real store or channel."""
    saved = {
        k: v
        for k, v in os.environ.items()
        if k in _REDIRECTING_ENV or k.startswith(_REDIRECTING_PREFIXES)
    }
    for k in saved:
        del os.environ[k]
    try:
        yield
    finally:
        os.environ.update(saved)


def _in_process_runner(config_path: str) -> dict[str, Any]:
    from regionwatch.pipeline import run_cycle
    from regionwatch.settings import load_settings

    return run_cycle(load_settings(config_path)).to_dict()


# ---------------------------------------------------------------------------- results
@dataclass
class _Outcome:
    article: DemoArticle
    item_id: int | None = None
    story_id: int | None = None
    categories: list[str] = field(default_factory=list)
    alerted: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    tags: dict[str, Any] = field(default_factory=dict)


def _item_rows(store: Store, urls: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for r in store.items_by_urls(urls):
        out[r["url"]] = dict(r)
        out.setdefault(r["canonical_url"], dict(r))
    return out


def _alert_rows(store: Store) -> list[dict[str, Any]]:
    """The whole outbox, oldest first, with each alert's item title, URL and outlet."""
    from regionwatch.alerts import list_alerts

    return sorted(list_alerts(store, None), key=lambda r: r["id"])


def _outcomes(store: Store, server: DemoServer, alerts: list[dict[str, Any]]) -> list[_Outcome]:
    sample = server.sample
    urls = [server.url(a) for a in sample.articles]
    rows = _item_rows(store, urls)
    by_story: dict[int, set[str]] = {}
    for al in alerts:
        by_story.setdefault(int(al["story_id"]), set()).add(str(al["category"]))
    outcomes: dict[str, _Outcome] = {}
    for art in sample.articles:
        o = _Outcome(art)
        row = rows.get(server.url(art))
        if row is None:
            o.problems.append("not stored")
        else:
            o.item_id, o.story_id = row["id"], row["story_id"]
            o.categories = list(row["categories"] or [])
            o.tags = dict(row["tags"] or {})
            o.alerted = by_story.get(o.story_id, set()) if o.story_id is not None else set()
        outcomes[art.id] = o
    for o in outcomes.values():
        art = o.article
        if o.item_id is None:
            continue
        missing = set(art.expect_alert) - o.alerted
        if missing:
            o.problems.append(f"expected an alert for {', '.join(sorted(missing))}")
        if not art.expect_alert and o.alerted:
            o.problems.append(f"unexpected alert: {', '.join(sorted(o.alerted))}")
        if art.same_story_as:
            other = outcomes.get(art.same_story_as)
            if other is not None and other.story_id != o.story_id:
                o.problems.append(f"not clustered with {art.same_story_as}")
    return list(outcomes.values())


def count_mailbox(path: Path) -> int:
    """Number of messages in an mbox file (0 when it does not exist)."""
    if not path.is_file():
        return 0
    box = mailbox.mbox(path, create=False)
    try:
        return len(box.keys())
    finally:
        box.close()


# ---------------------------------------------------------------------------- output
def _feeds_table(summary: Mapping[str, Any]) -> Table:
    table = Table(title="Feeds polled", title_justify="left")
    for col, kw in (
        ("feed", {}),
        ("status", {}),
        ("entries", {"justify": "right"}),
        ("new items", {"justify": "right"}),
        ("pages", {"justify": "right"}),
        ("304", {"justify": "right"}),
        ("errors", {}),
    ):
        table.add_column(col, **kw)  # type: ignore[arg-type]
    for f in summary.get("feeds") or []:
        table.add_row(
            escape(str(f.get("source"))),
            str(f.get("status")),
            str(f.get("entries", 0)),
            str(f.get("new_items", 0)),
            str(f.get("pages_fetched", 0)),
            "yes" if f.get("not_modified") else "",
            escape(str(f.get("error") or "")),
        )
    return table


def _alerts_table(alerts: list[dict[str, Any]]) -> Table:
    table = Table(title="Alerts (outbox)", title_justify="left")
    for col in ("#", "category", "headline", "outlet", "channel", "status"):
        table.add_column(col)
    for al in alerts:
        table.add_row(
            str(al.get("id", "")),
            str(al.get("category", "")),
            escape(str(al.get("title", ""))),
            escape(str(al.get("feed_name") or "")),
            escape(str(al.get("channel", ""))),
            str(al.get("status", "")),
        )
    return table


def _outcome_table(outcomes: list[_Outcome]) -> Table:
    table = Table(title="Sample articles", title_justify="left")
    for col in ("article", "tagged", "story", "alerted", "as expected"):
        table.add_column(col)
    for o in outcomes:
        table.add_row(
            escape(o.article.title),
            ", ".join(o.categories) or "-",
            str(o.story_id) if o.story_id is not None else "-",
            ", ".join(sorted(o.alerted)) or "no",
            "yes" if not o.problems else "[red]" + escape("; ".join(o.problems)) + "[/red]",
        )
    return table


def _evidence(tags: Mapping[str, Any], limit: int = 3) -> str:
    """The tagger's reasons in one line: matched terms per category, score, decision, actors."""
    parts = []
    for cat, d in sorted((tags.get("categories") or {}).items()):
        if not isinstance(d, dict) or not d.get("evidence"):
            continue
        seen: list[str] = []
        for ev in d["evidence"]:
            term = f"'{ev.get('matched', '')}' in {ev.get('where', '?')} ({ev.get('rule', '?')})"
            if term not in seen:
                seen.append(term)
        verdict = "yes" if d.get("decision") else "no"
        parts.append(
            f"{cat} {verdict} at score {float(d.get('score') or 0):.2f}: "
            + ", ".join(seen[:limit])
            + (" …" if len(seen) > limit else "")
        )
    actors = [
        str(a.get("slug") or a.get("name")) for a in tags.get("actors") or [] if isinstance(a, dict)
    ]
    if actors:
        parts.append("actors: " + ", ".join(actors[:6]) + (" …" if len(actors) > 6 else ""))
    return "; ".join(parts) or "no watched theme matched"


def _explain(console: Console, outcomes: list[_Outcome], sample: DemoSample) -> None:
    """Say, in plain words, which articles alerted and why the others did not."""
    by_id = {o.article.id: o for o in outcomes}
    console.print("\n[bold]What happened[/bold]")
    alerted = [o for o in outcomes if o.alerted and not o.article.same_story_as]
    copies = [o for o in outcomes if o.article.same_story_as]
    quiet = [o for o in outcomes if not o.alerted and not o.article.same_story_as]
    if alerted:
        console.print("Alerted (one alert per story, category and channel):")
    for o in alerted:
        a = o.article
        console.print(
            f"  * [bold]{', '.join(sorted(o.alerted))}[/bold]: {escape(a.title)} "
            f"({escape(sample.outlet(a.outlet).name)}): {escape(a.why)}."
        )
        console.print(f"    [dim]tagger: {escape(_evidence(o.tags))}[/dim]")
    for o in copies:
        a = o.article
        first = by_id.get(a.same_story_as or "")
        joined = first is not None and first.story_id is not None and first.story_id == o.story_id
        verdict = (
            f"joined story #{o.story_id}, no second alert"
            if joined
            else "[red]was not clustered with the first report[/red]"
        )
        console.print(
            f"  * syndicated copy in {escape(sample.outlet(a.outlet).name)}, "
            f'"{escape(a.title)}": {verdict}; {escape(a.why)}.'
        )
    if quiet:
        console.print("Stored and tagged, but no alert:")
    for o in quiet:
        a = o.article
        tagged = f" (tagged: {', '.join(o.categories)})" if o.categories else ""
        console.print(f"  * {escape(a.title)}{tagged}: {escape(a.why)}.")
        console.print(f"    [dim]tagger: {escape(_evidence(o.tags))}[/dim]")


# ---------------------------------------------------------------------------- entry point
def run_demo(
    *,
    console: Console,
    keep: bool = False,
    use_prefect: bool = True,
    runner: Runner | None = None,
    workdir: Path | None = None,
) -> int:
    """Serve the bundled sample on loopback, run one full cycle on a throw-away store, show it.

    Args:
        console: where everything is printed.
        keep: keep the temporary folder (store, config, mailbox) instead of deleting it.
        use_prefect: informational here; the caller passes a Prefect ``runner`` when wanted.
        runner: ``runner(config_path)`` runs one monitor cycle and returns its summary dict;
            None runs :func:`regionwatch.pipeline.run_cycle` in this process.
        workdir: use this (existing, empty) folder instead of a temporary one; it is kept.

    Returns:
        0 when the cycle ran and every sample article behaved as described, else 1.
    """
    run = runner or _in_process_runner
    if use_prefect and runner is None:
        logger.info("demo: no Prefect runner given, running the cycle in-process")
    if workdir is not None:
        folder, keep = Path(workdir), True
        folder.mkdir(parents=True, exist_ok=True)
    else:
        folder = Path(tempfile.mkdtemp(prefix="regionwatch-demo-"))
    mbox = folder / "mailbox.mbox"
    ok = True
    try:
        sample = load_sample()
        with DemoServer(sample) as server, _isolated_env():
            config = write_demo_config(folder, server)
            console.print(
                f"[bold]RegionWatch demo[/bold]: {len(sample.articles)} sample articles from "
                f"{len(sample.outlets)} fictional outlets served at {server.base}"
            )
            console.print(f"Throw-away folder: {folder}")
            how = "in-process" if runner is None else ("Prefect flow" if use_prefect else "runner")
            console.print(f"Running one monitor cycle ({how}) …")
            summary = dict(run(str(config)))
            console.print(_feeds_table(summary))
            console.print(
                f"Items stored: {summary.get('items_new', 0)}; alerts sent: "
                f"{summary.get('alerts_sent', 0)}, failed: {summary.get('alerts_failed', 0)}; "
                f"cycle status: {summary.get('status')}"
            )
            from regionwatch.settings import load_settings

            settings = load_settings(config)
            store = Store(settings.storage.url)
            try:
                alerts = _alert_rows(store)
                outcomes = _outcomes(store, server, alerts)
            finally:
                store.close()
        console.print(_alerts_table(alerts))
        n_mail = count_mailbox(mbox)
        console.print(f"Mailbox: {mbox} holds {n_mail} message(s).")
        console.print(_outcome_table(outcomes))
        _explain(console, outcomes, sample)
        problems = [p for o in outcomes for p in o.problems]
        if summary.get("status") == "failed":
            problems.append("the cycle failed")
        if alerts and n_mail == 0:
            problems.append("alerts were queued but the mailbox is empty")
        if problems:
            ok = False
            console.print(
                f"[red]The demo did not behave as described: {escape('; '.join(problems))}[/red]"
            )
        else:
            console.print(
                "\n[green]Done.[/green] Alerts went to the terminal (the panels above) and to the "
                "mailbox file; "
                "in production they go to the channels of your configuration (email, chat) "
                "through Apprise."
            )
    except RegionWatchError as exc:
        console.print(f"[red]demo failed: {exc}[/red]")
        ok = False
    finally:
        if keep:
            console.print(f"Kept: {folder} (config regionwatch.toml, store demo.db, {mbox.name})")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 0 if ok else 1


# ---------------------------------------------------------------------------- the command
def demo(
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the throw-away folder afterwards.")
    ] = False,
    no_prefect: Annotated[bool, typer.Option("--no-prefect", help="Run without Prefect.")] = False,
) -> None:
    """Serve a bundled sample on loopback and run a full cycle on a throw-away store."""
    from flows.cli.common import console
    from flows.cli.run import run_monitor_flow

    runner = None if no_prefect else run_monitor_flow
    code = run_demo(console=console, keep=keep, use_prefect=not no_prefect, runner=runner)
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the CLI."""
    app.command("demo")(demo)
