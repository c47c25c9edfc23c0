"""The daily digest per channel, and free-form summaries (e.g. after a backfill).

A digest shows, for the categories a channel takes: the tagged items first seen in the last
24 hours grouped by category and story; per category the daily item counts of the last 7 days
with a unicode sparkline (``▁▂▃▅▇``, renders in common mail clients); and the stories that
grew — outlets added after the story alerted — which never page on their own.
"""

from __future__ import annotations

import html
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from regionwatch.alerts.deliver import Message, Sender
from regionwatch.alerts.render import clean, escape_markdown, safe_url
from regionwatch.alerts.rules import Channel, channels
from regionwatch.errors import AlertError
from regionwatch.models import Story
from regionwatch.settings import CATEGORIES, Settings
from regionwatch.store import Store

__all__ = [
    "ChannelDigest",
    "Digest",
    "SendReport",
    "build_digest",
    "send_digest",
    "send_summary",
    "sparkline",
]

logger = logging.getLogger(__name__)

BARS = "▁▂▃▅▇"
MAX_STORIES_PER_CATEGORY = 25


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
class StoryEntry:
    """One story in a category section."""

    story_id: int
    headline: str
    url: str
    outlets: list[str]
    items: int


@dataclass
class ChannelDigest:
    """The digest for one channel, rendered."""

    channel: Channel
    sections: dict[str, list[StoryEntry]]
    counts: dict[str, list[int]]
    grew: list[StoryEntry]
    message: Message

    @property
    def empty(self) -> bool:
        """No tagged item in the last 24 hours and no grown story."""
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


def _collect(
    store: Store, now: datetime
) -> tuple[list[dict[str, Any]], dict[int, Story], dict[int, set[str]]]:
    since7 = now - timedelta(days=7)
    return store.items_since(since7), store.stories_since(since7), store.alerted_channels()


def build_digest(store: Store, settings: Settings, now: datetime) -> Digest:
    """Build the digest of the 24 hours (and 7-day counts) ending at ``now`` for every channel.

    Channels with ``digest = false`` are left out.
    """
    items, stories, alerted = _collect(store, now)
    days = [(now - timedelta(days=6 - i)).strftime("%m-%d") for i in range(7)]
    since24 = now - timedelta(hours=24)
    counts: dict[str, list[int]] = {c: [0] * 7 for c in CATEGORIES}
    recent: dict[str, dict[int, list[dict[str, Any]]]] = {c: defaultdict(list) for c in CATEGORIES}
    for it in items:
        cats = [c for c in it.get("categories") or [] if c in counts]
        if not cats:
            continue
        age_days = (now - it["first_seen_at"]).total_seconds() / 86400
        idx = 6 - int(age_days)
        for c in cats:
            if 0 <= idx <= 6:
                counts[c][idx] += 1
            if it["first_seen_at"] >= since24 and it.get("origin") != "backfill":
                recent[c][int(it["story_id"] or -it["id"])].append(it)
    digest = Digest(now=now, days=days)
    for ch in channels(settings):
        if ch.config is not None and not ch.config.digest:
            continue
        cats = [c for c in CATEGORIES if ch.accepts(c)]
        sections: dict[str, list[StoryEntry]] = {}
        for c in cats:
            entries = []
            for sid, its in recent[c].items():
                st = stories.get(sid)
                lead = its[0]
                entries.append(
                    StoryEntry(
                        story_id=sid,
                        headline=clean((st.title if st else "") or lead["title"]),
                        url=str(lead["url"]),
                        outlets=list((st.outlets if st else ()) or [lead["feed_name"]]),
                        items=st.item_count if st else len(its),
                    )
                )
            entries.sort(key=lambda e: (-len(e.outlets), -e.items, e.headline))
            sections[c] = entries[:MAX_STORIES_PER_CATEGORY]
        grew = []
        for sid, st in stories.items():
            base = st.alerted_outlet_count
            outlets = list(st.outlets)
            if (
                base
                and len(outlets) > base
                and st.last_seen >= since24
                and ch.key in alerted.get(sid, set())
            ):
                lead_url = next((i["url"] for i in items if i["id"] == st.lead_item_id), "")
                grew.append(StoryEntry(sid, clean(st.title), str(lead_url), outlets, st.item_count))
        grew.sort(key=lambda e: -len(e.outlets))
        cd_counts = {c: counts[c] for c in cats}
        msg = _render(now, days, sections, cd_counts, grew)
        digest.channels.append(ChannelDigest(ch, sections, cd_counts, grew, msg))
    return digest


def _render(
    now: datetime,
    days: list[str],
    sections: dict[str, list[StoryEntry]],
    counts: dict[str, list[int]],
    grew: list[StoryEntry],
) -> Message:
    n_items = sum(len(v) for v in sections.values())
    title = f"[digest] RegionWatch {now:%Y-%m-%d}: {n_items} stories in 24 h"

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
            noun = "story" if len(entries) == 1 else "stories"
            lines += ["", f"**{esc(c)}** — {len(entries)} {noun}", ""]
            for e in entries:
                lines.append(
                    f"- {esc(e.headline)} — {esc(', '.join(e.outlets))} <{safe_url(e.url)}>"
                )
        if grew:
            lines += ["", "**Stories that grew since their alert:**", ""]
            for e in grew:
                lines.append(
                    f"- {esc(e.headline)} — now {len(e.outlets)} outlets <{safe_url(e.url)}>"
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
                f'<li>{e(s.headline)} — {e(", ".join(s.outlets))} <a href="{u}">{u}</a></li>'
            )
        parts.append("</ul>")
    if grew:
        parts.append("<h4>Stories that grew since their alert</h4><ul>")
        for s in grew:
            u = e(safe_url(s.url))
            parts.append(
                f'<li>{e(s.headline)} — now {len(s.outlets)} outlets <a href="{u}">{u}</a></li>'
            )
        parts.append("</ul>")
    text_lines = [f"RegionWatch digest — 24 h to {now:%Y-%m-%d %H:%M} UTC", ""]
    for c, vals in counts.items():
        text_lines.append(f"{c}: {sparkline(vals)} {sum(vals)} ({' '.join(map(str, vals))})")
    for c, entries in sections.items():
        text_lines += ["", f"{c} ({len(entries)})"]
        for s in entries:
            text_lines.append(f"  - {s.headline} — {', '.join(s.outlets)}\n    {safe_url(s.url)}")
    if grew:
        text_lines += ["", "Stories that grew since their alert:"]
        for s in grew:
            text_lines.append(
                f"  - {s.headline} — now {len(s.outlets)} outlets\n    {safe_url(s.url)}"
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
