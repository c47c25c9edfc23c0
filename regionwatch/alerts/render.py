"""Rendering of one alert: a routable title, and a body in HTML, Markdown or plain text.

Title: ``[border_clash] Armenia, Azerbaijan — <headline>`` (category in brackets, up to three
main actors, an em dash, the headline). The body explains the alert: score, headline, outlet(s)
with country and state affiliation, published and first-seen times (UTC), actors, the evidence
sentences with the matched words marked, the link on a line of its own, and how many outlets
carry the story.

Everything that comes from a feed is escaped for the target format (``html.escape`` for HTML,
backslash escapes for Markdown, entities where Markdown is converted to HTML). The link is kept
matchable: only characters that could break out of it are percent-encoded.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy import Connection

from regionwatch.store import as_utc
from regionwatch.store.items import tag_result_from_json
from regionwatch.store.outbox import alert_view_rows

if TYPE_CHECKING:
    from regionwatch.tagging import TagResult

__all__ = [
    "AlertView",
    "Evidence",
    "Outlet",
    "console_link",
    "escape_markdown",
    "load_view",
    "render_html",
    "render_markdown",
    "render_text",
    "render_title",
    "safe_url",
]

_WS = re.compile(r"\s+")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~<>])")
_MD_SPECIAL_HTML = re.compile(r"([\\`*_\[\]|~])")
_URL_SAFE = ":/?#[]@!$&'()*+,;=%-._~"
MAX_EVIDENCE = 3
MAX_TITLE_ACTORS = 3


@dataclass(frozen=True, slots=True)
class Outlet:
    """An outlet carrying the story."""

    name: str
    country: str | None = None
    state_affiliated: bool | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    """One evidence sentence and the (start, end) spans of its matched words."""

    sentence: str
    spans: tuple[tuple[int, int], ...] = ()
    rule: str | None = None


@dataclass(frozen=True, slots=True)
class AlertView:
    """Everything an alert message shows, independent of the format."""

    category: str
    headline: str
    url: str
    score: float = 0.0
    severity: str = "warning"
    outlet: Outlet = field(default_factory=lambda: Outlet(""))
    story_outlets: tuple[Outlet, ...] = ()
    published_at: datetime | None = None
    first_seen_at: datetime | None = None
    actors: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    story_id: int | None = None
    story_items: int = 1
    kind: str = "alert"  # "update": a material development of an event that already alerted
    material: tuple[str, ...] = ()
    event_id: int | None = None
    event_outlets: tuple[str, ...] = ()
    event_languages: tuple[str, ...] = ()
    event_articles: int = 1
    casualties: int | None = None
    #: the event's page on the analyst console (``[web] base_url`` set), else ""
    console_url: str = ""


# ---------------------------------------------------------------------- building
def clean(s: Any) -> str:
    """Feed text on one line (newlines and runs of whitespace collapsed)."""
    return _WS.sub(" ", str(s or "")).strip()


def _spans(sentence: str, ev: dict[str, Any]) -> tuple[tuple[int, int], ...]:
    matched = ev.get("matched")
    words: list[str] = []
    if isinstance(matched, str):
        words = [matched]
    elif isinstance(matched, (list, tuple)):
        words = [str(w) for w in matched if w]
    spans: list[tuple[int, int]] = []
    low = sentence.casefold()
    for w in words:
        w = clean(w)
        if not w:
            continue
        i = low.find(w.casefold())
        while i >= 0:
            spans.append((i, i + len(w)))
            i = low.find(w.casefold(), i + len(w))
    if not spans:
        start, end = ev.get("start"), ev.get("end")
        if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(sentence):
            spans.append((start, end))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return tuple(merged)


def evidence_from_tags(tags: TagResult | None, category: str) -> tuple[Evidence, ...]:
    """The evidence sentences of ``category`` in a tagger result, with matched spans."""
    d = tags.categories.get(category) if tags is not None else None
    out: list[Evidence] = []
    seen: set[str] = set()
    for ev in d.evidence if d is not None else ():
        if not isinstance(ev, dict):
            continue
        raw = str(ev.get("sentence") or "")
        sentence = clean(raw)
        if not sentence or sentence in seen:
            continue
        seen.add(sentence)
        # spans are computed on the cleaned sentence so they stay valid
        out.append(Evidence(sentence, _spans(sentence, ev), ev.get("rule")))
        if len(out) >= MAX_EVIDENCE:
            break
    return tuple(out)


def actors_from_tags(tags: TagResult | None) -> tuple[str, ...]:
    """Actor names, most mentioned first."""
    actors = [a for a in (tags.actors if tags is not None else []) if isinstance(a, dict)]
    actors.sort(key=lambda a: -int(a.get("mentions") or 0))
    names: list[str] = []
    for a in actors:
        n = clean(a.get("name") or a.get("slug"))
        if n and n not in names:
            names.append(n)
    return tuple(names)


def load_view(conn: Connection, alert: dict[str, Any]) -> AlertView:
    """Build the view of one outbox row from its item, feed and story rows."""
    item, feeds, story, event = alert_view_rows(conn, alert)
    return view_of(alert, item, feeds, story, event)


def view_of(
    alert: dict[str, Any],
    item: dict[str, Any],
    feeds: dict[str, dict[str, Any]],
    story: dict[str, Any],
    event: dict[str, Any] | None = None,
) -> AlertView:
    """The view of one outbox row, given its item, the feeds by name, its story and event."""
    event = event or {}

    def outlet(name: str) -> Outlet:
        f = feeds.get(name)
        return Outlet(
            clean(name), f["country"] if f else None, f["state_affiliated"] if f else None
        )

    outlet_names = list(story.get("outlets") or [])
    feed_name = item.get("feed_name") or ""
    if feed_name and feed_name not in outlet_names:
        outlet_names.insert(0, feed_name)
    tags = tag_result_from_json(item.get("tags"))
    cat = alert["category"]
    score = alert.get("score")
    if not score and tags is not None and cat in tags.categories:
        score = tags.categories[cat].score
    return AlertView(
        category=cat,
        headline=clean(item.get("title")) or "(no headline)",
        url=str(item.get("url") or ""),
        score=float(score or 0.0),
        severity=str(alert.get("severity") or "warning"),
        outlet=outlet(feed_name),
        story_outlets=tuple(outlet(n) for n in outlet_names),
        published_at=as_utc(item.get("published_at")),
        first_seen_at=as_utc(item.get("first_seen_at")),
        actors=actors_from_tags(tags),
        evidence=evidence_from_tags(tags, cat),
        story_id=alert.get("story_id"),
        story_items=int(story.get("item_count") or 1),
        kind=str(alert.get("kind") or "alert"),
        material=tuple(alert.get("material") or ()),
        event_id=alert.get("event_id"),
        event_outlets=tuple(clean(o) for o in event.get("outlets") or [feed_name] if o),
        event_languages=tuple(clean(x) for x in event.get("languages") or () if x),
        event_articles=int(event.get("item_count") or 1),
        casualties=event.get("max_casualties"),
    )


def console_link(base_url: str | None, event_id: int | None) -> str:
    """``{base_url}/events/{event_id}``: where the console shows the event ("" without either)."""
    if not base_url or event_id is None:
        return ""
    return f"{base_url.rstrip('/')}/events/{int(event_id)}"


# ---------------------------------------------------------------------- escaping
def escape_markdown(s: str, *, html_target: bool = False) -> str:
    """Escape feed text (already on one line, see :func:`clean`) for Markdown.

    With ``html_target`` (the Markdown is converted to HTML by the channel), ``<``, ``>`` and
    ``&`` become entities so no tag survives the conversion.
    """
    if html_target:
        return _MD_SPECIAL_HTML.sub(r"\\\1", html.escape(s, quote=False))
    return _MD_SPECIAL.sub(r"\\\1", s)


def safe_url(url: str) -> str:
    """The link with characters that could break out of its context percent-encoded."""
    url = clean(url).replace(" ", "%20")
    return quote(url, safe=_URL_SAFE)


def _fmt_time(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M UTC") if dt else "unknown"


def _outlet_text(o: Outlet) -> str:
    bits = []
    if o.country:
        bits.append(o.country.upper())
    if o.state_affiliated:
        bits.append("state-affiliated")
    return f"{o.name} ({', '.join(bits)})" if bits else o.name


def _mark(ev: Evidence, esc: Any, open_: str, close: str) -> str:
    out: list[str] = []
    pos = 0
    for s, e in ev.spans:
        out.append(esc(ev.sentence[pos:s]))
        out.append(open_ + esc(ev.sentence[s:e]) + close)
        pos = e
    out.append(esc(ev.sentence[pos:]))
    return "".join(out)


def _carried(v: AlertView) -> str:
    n = len(v.story_outlets) or 1
    return f"{n} outlet{'s' if n != 1 else ''}"


_MATERIAL_TEXT = {
    "casualties_rose": "casualty figure rose",
    "new_party": "a further party is involved",
    "violated": "reported violated",
    "ended": "reported ended",
}


def _coverage(v: AlertView) -> str:
    """How widely the event is carried: ``Event carried by 3 outlets in 2 languages (en, ru)``."""
    n = len(v.event_outlets) or 1
    langs = v.event_languages
    text = f"Event carried by {n} outlet{'s' if n != 1 else ''}"
    if langs:
        text += f" in {len(langs)} language{'s' if len(langs) != 1 else ''} ({', '.join(langs)})"
    text += f", {v.event_articles} article{'s' if v.event_articles != 1 else ''}"
    if v.casualties:
        text += f"; highest casualty figure reported: {v.casualties}"
    return text


def _what_changed(v: AlertView) -> str:
    """What an update reports (empty for a first alert)."""
    if v.kind != "update":
        return ""
    bits = [_MATERIAL_TEXT.get(m, m.replace("_", " ")) for m in v.material]
    if "casualties_rose" in v.material and v.casualties:
        bits[v.material.index("casualties_rose")] = f"casualty figure now {v.casualties}"
    return "Update: " + ("; ".join(bits) if bits else "new development")


# ---------------------------------------------------------------------- formats
def render_title(v: AlertView, fmt: str = "text") -> str:
    """``[category] Actor, Actor — headline``; feed text escaped for ``fmt`` (text|markdown)."""
    esc = escape_markdown if fmt == "markdown" else (lambda s: s)
    actors = ", ".join(esc(a) for a in v.actors[:MAX_TITLE_ACTORS])
    head = esc(v.headline)
    tag = f"[{v.category}] Update:" if v.kind == "update" else f"[{v.category}]"
    return f"{tag} {actors} — {head}" if actors else f"{tag} {head}"


def render_text(v: AlertView) -> str:
    """The plain-text body."""
    lines = [
        f"{v.category} alert — score {v.score:.2f} ({v.severity})",
        "",
        *([_what_changed(v), ""] if v.kind == "update" else []),
        f"Headline: {v.headline}",
        f"Outlet: {_outlet_text(v.outlet) or '—'}",
        f"Published: {_fmt_time(v.published_at)}; first seen: {_fmt_time(v.first_seen_at)}",
    ]
    if v.actors:
        lines.append(f"Actors: {', '.join(v.actors)}")
    if v.evidence:
        lines.append("Evidence:")
        for ev in v.evidence:
            lines.append("  - " + _mark(ev, lambda s: s, "*", "*"))
    lines.append(f"{_coverage(v)}: " + ", ".join(v.event_outlets))
    lines.append(
        f"Story carried by {_carried(v)}: " + ", ".join(_outlet_text(o) for o in v.story_outlets)
    )
    lines += ["", "Link:", safe_url(v.url), ""]
    if v.console_url:
        lines += ["Event in the console:", safe_url(v.console_url), ""]
    return "\n".join(lines)


def render_markdown(v: AlertView, *, html_target: bool = False) -> str:
    """The Markdown body for chat channels (feed text escaped)."""

    def esc(s: str) -> str:
        return escape_markdown(s, html_target=html_target)

    lines = [
        f"**{esc(v.category)}** alert — score **{v.score:.2f}** ({esc(v.severity)})",
        "",
        *([f"**{esc(_what_changed(v))}**", ""] if v.kind == "update" else []),
        f"**Headline:** {esc(v.headline)}",
        f"**Outlet:** {esc(_outlet_text(v.outlet)) or '—'}",
        f"**Published:** {_fmt_time(v.published_at)} · "
        f"**first seen:** {_fmt_time(v.first_seen_at)}",
    ]
    if v.actors:
        lines.append(f"**Actors:** {esc(', '.join(v.actors))}")
    if v.evidence:
        lines += ["", "**Evidence:**"]
        for ev in v.evidence:
            lines.append("- " + _mark(ev, esc, "**", "**"))
    lines += [
        "",
        f"**Event:** {esc(_coverage(v))} — {esc(', '.join(v.event_outlets))}",
        f"**Story:** carried by {_carried(v)} — "
        + esc(", ".join(_outlet_text(o) for o in v.story_outlets)),
        "",
        f"<{safe_url(v.url)}>",
    ]
    if v.console_url:
        lines += ["", f"**Event in the console:** <{safe_url(v.console_url)}>"]
    return "\n".join(lines)


def render_html(v: AlertView) -> str:
    """The HTML body for email (every feed string escaped with ``html.escape``)."""
    e = html.escape
    url = safe_url(v.url)
    rows = [
        ("Score", f"{v.score:.2f} ({e(v.severity)})"),
        ("Headline", f"<b>{e(v.headline)}</b>"),
        ("Outlet", e(_outlet_text(v.outlet))),
        ("Published", e(_fmt_time(v.published_at))),
        ("First seen", e(_fmt_time(v.first_seen_at))),
    ]
    if v.actors:
        rows.append(("Actors", e(", ".join(v.actors))))
    rows.append(("Event", e(_coverage(v)) + ": " + e(", ".join(v.event_outlets))))
    rows.append(
        (
            "Story",
            f"carried by {_carried(v)}: " + e(", ".join(_outlet_text(o) for o in v.story_outlets)),
        )
    )
    lines = "<br>".join(f"<b>{k}:</b> {val}" for k, val in rows)
    ev_html = ""
    if v.evidence:
        items = "".join(
            "<li>" + _mark(ev, e, '<b style="background:#fff3a3">', "</b>") + "</li>"
            for ev in v.evidence
        )
        ev_html = f"<p><b>Evidence:</b></p><ul>{items}</ul>"
    return (
        f'<div style="font-family:sans-serif">'
        f"<p><b>[{e(v.category)}]</b> alert</p>"
        + (f"<p><b>{e(_what_changed(v))}</b></p>" if v.kind == "update" else "")
        + f"<p>{lines}</p>{ev_html}"
        f'<p>Link:<br><a href="{e(url)}">{e(url)}</a></p>'
        + (
            f'<p>Event in the console:<br><a href="{e(safe_url(v.console_url))}">'
            f"{e(safe_url(v.console_url))}</a></p>"
            if v.console_url
            else ""
        )
        + "</div>"
    )
