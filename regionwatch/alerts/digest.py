"""The daily digest per channel, and free-form summaries (e.g. after a backfill).

A digest lists *events* (one real-world happening, however many outlets and languages report
it), not articles: for the categories a channel takes, each event with new articles in the last
24 hours — its headline (the lead article's), parties, first and last seen, outlets, languages
and article count; per category the daily item counts of the last 7 days with a unicode
sparkline (``▁▂▃▅▇``, renders in common mail clients); and the events that grew — articles
added after the event alerted on that channel — which never page on their own.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from regionwatch.alerts.deliver import Message, Sender
from regionwatch.alerts.render import clean, escape_markdown, safe_url
from regionwatch.alerts.rules import Channel, channels
from regionwatch.errors import AlertError
from regionwatch.models import Event
from regionwatch.settings import CATEGORIES, Settings
from regionwatch.store import Store
from regionwatch.store.events import alerted_channels, events_by_id

__all__ = [
    "ChannelDigest",
    "Digest",
    "EventEntry",
    "SendReport",
    "build_digest",
    "send_digest",
    "send_summary",
    "sparkline",
]

logger = logging.getLogger(__name__)

BARS = "▁▂▃▅▇"
MAX_EVENTS_PER_CATEGORY = 25


def sparkline(values: list[int]) -> str:
    """A unicode sparkline of ``values`` (``▁`` for zero, ``▇`` for the maximum)."""
    top = max(values) if values else 0
    if top <= 0:
        return BARS[0] * len(values)
    out = []
    for v in values:
        i = 0 if v <= 0 else 1 + round((len(BARS) - 2) * (v / top))
        out.append(BARS[min(i, len(BARS) - 1)])
    return "".join(out)


@dataclass
class EventEntry:
    """One event in a category section (or among the events that grew)."""

    event_id: int
    headline: str
    url: str
    parties: list[str]
    first_seen: datetime
    last_seen: datetime
    outlets: list[str]
    languages: list[str]
    articles: int
    grew: int = 0


@dataclass
class ChannelDigest:
    """The digest for one channel, rendered."""

    channel: Channel
    sections: dict[str, list[EventEntry]]
    counts: dict[str, list[int]]
    grew: list[EventEntry]
    message: Message

    @property
    def empty(self) -> bool:
        """No event with new articles in the last 24 hours and no grown event."""
        return not any(self.sections.values()) and not self.grew


@dataclass
class Digest:
    """The digest of every channel that takes one."""

    now: datetime
    days: list[str]
    channels: list[ChannelDigest] = field(default_factory=list)


@dataclass
class SendReport:
    """Per channel: (channel display, ok, error)."""

    results: list[tuple[str, bool, str | None]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every channel accepted the message."""
        return all(r[1] for r in self.results)

    @property
    def sent(self) -> int:
        """Channels that accepted the message."""
        return sum(1 for r in self.results if r[1])

    @property
    def failed(self) -> int:
        """Channels that did not."""
        return sum(1 for r in self.results if not r[1])

    def to_dict(self) -> dict[str, Any]:
        """Counts and per-channel results as a plain dict."""
        return {
            "sent": self.sent,
            "failed": self.failed,
            "channels": [{"channel": c, "ok": ok, "error": err} for c, ok, err in self.results],
        }


def _entry(ev: Event, url: str) -> EventEntry:
    return EventEntry(
        event_id=ev.event_id,
        headline=clean(ev.title),
        url=url,
        parties=[clean(p) for p in ev.actors],
        first_seen=ev.first_seen,
        last_seen=ev.last_seen,
        outlets=[clean(o) for o in ev.outlets],
        languages=list(ev.languages),
        articles=ev.articles,
        grew=ev.grew,
    )


def build_digest(store: Store, settings: Settings, now: datetime) -> Digest:
    """Build the digest of the 24 hours (and 7-day counts) ending at ``now`` for every channel.

    Channels with ``digest = false`` are left out. Backfilled articles count in the 7-day
    figures but bring no event into the 24-hour sections.
    """
    items = store.items_since(now - timedelta(days=7))
    days = [(now - timedelta(days=6 - i)).strftime("%m-%d") for i in range(7)]
    since24 = now - timedelta(hours=24)
    counts: dict[str, list[int]] = {c: [0] * 7 for c in CATEGORIES}
    recent: dict[str, set[int]] = {c: set() for c in CATEGORIES}
    lead_url: dict[int, str] = {}
    for it in items:
        cats = [c for c in it.get("categories") or [] if c in counts]
        if not cats:
            continue
        age_days = (now - it["first_seen_at"]).total_seconds() / 86400
        idx = 6 - int(age_days)
        fresh = it["first_seen_at"] >= since24 and it.get("origin") != "backfill"
        for c in cats:
            if 0 <= idx <= 6:
                counts[c][idx] += 1
            if fresh and it.get("event_id") is not None:
                recent[c].add(int(it["event_id"]))
                lead_url.setdefault(int(it["event_id"]), str(it["url"]))
    events = events_by_id(store, sorted(set().union(*recent.values())))
    urls = {ev.event_id: lead_url.get(i, "") for i, ev in events.items()}
    grown = [ev for ev in events.values() if ev.grew > 0]
    alerted = alerted_channels(store, sorted({ev.event_id for ev in grown}))
    digest = Digest(now=now, days=days)
    for ch in channels(settings):
        if ch.config is not None and not ch.config.digest:
            continue
        cats = [c for c in CATEGORIES if ch.accepts(c)]
        sections: dict[str, list[EventEntry]] = {}
        for c in cats:
            seen: dict[int, EventEntry] = {}
            for i in recent[c]:
                ev = events.get(i)
                if ev is not None and c in ev.categories:
                    seen.setdefault(ev.event_id, _entry(ev, urls.get(ev.event_id, "")))
            entries = sorted(
                seen.values(), key=lambda e: (-len(e.outlets), -e.articles, e.headline)
            )
            sections[c] = entries[:MAX_EVENTS_PER_CATEGORY]
        grew_by_id: dict[int, EventEntry] = {}
        for ev in grown:
            if ch.key in alerted.get(ev.event_id, set()) and any(c in ev.categories for c in cats):
                grew_by_id.setdefault(ev.event_id, _entry(ev, urls.get(ev.event_id, "")))
        grew = sorted(grew_by_id.values(), key=lambda e: (-e.grew, -len(e.outlets), e.headline))
        cd_counts = {c: counts[c] for c in cats}
        msg = _render(now, days, sections, cd_counts, grew)
        digest.channels.append(ChannelDigest(ch, sections, cd_counts, grew, msg))
    return digest


def _when(e: EventEntry) -> str:
    return f"{e.first_seen:%m-%d %H:%M}–{e.last_seen:%m-%d %H:%M} UTC"


def _facts(e: EventEntry) -> str:
    """Parties, outlets, languages and articles of an entry (feed text: escape before use)."""
    n_out, n_lang = len(e.outlets), len(e.languages)
    return (
        f"{', '.join(e.parties[:4]) or 'no watched party'} · {n_out} outlet"
        f"{'s' if n_out != 1 else ''} ({', '.join(e.outlets)}) · {n_lang} language"
        f"{'s' if n_lang != 1 else ''} ({', '.join(e.languages)}) · {e.articles} article"
        f"{'s' if e.articles != 1 else ''}"
    )


def _render(
    now: datetime,
    days: list[str],
    sections: dict[str, list[EventEntry]],
    counts: dict[str, list[int]],
    grew: list[EventEntry],
) -> Message:
    n_events = len({e.event_id for v in sections.values() for e in v})
    title = f"[digest] RegionWatch {now:%Y-%m-%d}: {n_events} events in 24 h"

    def md(html_target: bool) -> str:
        def esc(s: str) -> str:
            return escape_markdown(clean(s), html_target=html_target)

        lines = [
            f"**RegionWatch digest** — 24 h to {now:%Y-%m-%d %H:%M} UTC",
            "",
            f"**Last 7 days** ({days[0]} … {days[-1]}):",
            "",
        ]
        for c, vals in counts.items():
            lines.append(f"- {esc(c)}: {sparkline(vals)} {sum(vals)} ({' '.join(map(str, vals))})")
        for c, entries in sections.items():
            noun = "event" if len(entries) == 1 else "events"
            lines += ["", f"**{esc(c)}** — {len(entries)} {noun}", ""]
            for e in entries:
                lines.append(
                    f"- {esc(e.headline)} — {esc(_facts(e))} · {_when(e)} <{safe_url(e.url)}>"
                )
        if grew:
            lines += ["", "**Events that grew since their alert:**", ""]
            for e in grew:
                lines.append(
                    f"- {esc(e.headline)} — +{e.grew} articles, now {esc(_facts(e))} "
                    f"<{safe_url(e.url)}>"
                )
        return "\n".join(lines)

    e = html.escape
    parts = [
        f"<h3>RegionWatch digest — 24 h to {now:%Y-%m-%d %H:%M} UTC</h3>",
        f"<p><b>Last 7 days</b> ({e(days[0])} … {e(days[-1])})</p><table>",
    ]
    for c, vals in counts.items():
        parts.append(
            f'<tr><td>{e(c)}</td><td style="font-size:18px">{sparkline(vals)}</td>'
            f"<td>{sum(vals)}</td><td>{' '.join(map(str, vals))}</td></tr>"
        )
    parts.append("</table>")
    for c, entries in sections.items():
        parts.append(f"<h4>{e(c)} — {len(entries)}</h4><ul>")
        for s in entries:
            u = e(safe_url(s.url))
            parts.append(
                f"<li><b>{e(s.headline)}</b> — {e(_facts(s))} · {e(_when(s))} "
                f'<a href="{u}">{u}</a></li>'
            )
        parts.append("</ul>")
    if grew:
        parts.append("<h4>Events that grew since their alert</h4><ul>")
        for s in grew:
            u = e(safe_url(s.url))
            parts.append(
                f"<li><b>{e(s.headline)}</b> — +{s.grew} articles, now {e(_facts(s))} "
                f'<a href="{u}">{u}</a></li>'
            )
        parts.append("</ul>")
    text_lines = [f"RegionWatch digest — 24 h to {now:%Y-%m-%d %H:%M} UTC", ""]
    for c, vals in counts.items():
        text_lines.append(f"{c}: {sparkline(vals)} {sum(vals)} ({' '.join(map(str, vals))})")
    for c, entries in sections.items():
        text_lines += ["", f"{c} ({len(entries)})"]
        for s in entries:
            text_lines.append(
                f"  - {s.headline}\n    {_facts(s)} · {_when(s)}\n    {safe_url(s.url)}"
            )
    if grew:
        text_lines += ["", "Events that grew since their alert:"]
        for s in grew:
            text_lines.append(
                f"  - {s.headline} — +{s.grew} articles, now {_facts(s)}\n    {safe_url(s.url)}"
            )
    return Message(
        title=title,
        title_markdown=title,
        text="\n".join(text_lines),
        markdown=md(False),
        markdown_html=md(True),
        html="".join(parts),
    )


def send_digest(store: Store, settings: Settings, now: datetime) -> SendReport:
    """Build the digest and send it to every channel that takes one (empty ones too)."""
    digest = build_digest(store, settings, now)
    report = SendReport()
    for cd in digest.channels:
        try:
            Sender(cd.channel, settings).send(cd.message)
            report.results.append((cd.channel.display, True, None))
        except AlertError as exc:
            logger.warning("digest: %s failed: %s", cd.channel.display, exc)
            report.results.append((cd.channel.display, False, str(exc)))
    return report


def send_summary(settings: Settings, title: str, body_markdown: str) -> SendReport:
    """Send a free-form summary (Markdown written by us, e.g. after a backfill) to every channel.

    The caller escapes any feed text inside ``body_markdown``.
    """
    import markdown as md_lib  # type: ignore[import-untyped]

    body_html = md_lib.markdown(body_markdown, extensions=["markdown.extensions.nl2br"])
    msg = Message(
        title=title,
        title_markdown=title,
        text=body_markdown,
        markdown=body_markdown,
        markdown_html=body_markdown,
        html=body_html,
    )
    report = SendReport()
    for ch in channels(settings):
        try:
            Sender(ch, settings).send(msg)
            report.results.append((ch.display, True, None))
        except AlertError as exc:
            report.results.append((ch.display, False, str(exc)))
    return report
