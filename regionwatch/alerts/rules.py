"""Alert rules and channels: which (category, channel) pairs a tagged item may raise.

Rules come from ``[[alerts.rules]]`` (by default one per category). A rule fires for an item
when the tagger decided *yes* for its category, the score reaches ``min_score``, at least one of
``require_actors`` (when given) and none of ``exclude_actors`` are among the item's actors.
It goes to the channels it names (``channels``: channel names; all channels when omitted),
each filtered by its own ``categories``. With no ``[[channels]]`` configured, one implicit
channel, ``terminal``, prints alerts to the console (and to ``[alerts] mailbox`` when set).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from regionwatch.settings import AlertRule, ChannelConfig, Settings
from regionwatch.store import as_utc

if TYPE_CHECKING:
    from regionwatch.tagging import TagResult

__all__ = [
    "SERVICE_RATES_PER_MINUTE",
    "TERMINAL",
    "Channel",
    "Decision",
    "channels",
    "evaluate",
    "is_too_old",
    "rate_per_minute",
]

TERMINAL = "terminal"


@dataclass(frozen=True, slots=True)
class Channel:
    """A delivery channel: its outbox key, display name and config (None for ``terminal``)."""

    key: str
    display: str
    config: ChannelConfig | None

    @property
    def url(self) -> str | None:
        """The Apprise URL (None for the terminal channel)."""
        return self.config.url if self.config else None

    def accepts(self, category: str) -> bool:
        """Whether the channel's ``categories`` filter lets ``category`` through."""
        cats = self.config.categories if self.config else None
        return not cats or category in cats

    def named(self, names: list[str]) -> bool:
        """Whether one of ``names`` designates this channel (name, key or URL)."""
        if self.config is None:
            return TERMINAL in names
        return any(n in (self.config.name, self.key, self.config.url) for n in names)


@dataclass(frozen=True, slots=True)
class Decision:
    """One (rule, category, channel) an item raises."""

    rule: AlertRule
    category: str
    channel: Channel
    score: float


def channels(settings: Settings) -> list[Channel]:
    """The configured channels, or the implicit ``terminal`` channel when none is configured."""
    if not settings.channels:
        return [Channel(TERMINAL, TERMINAL, None)]
    return [Channel(c.key, c.display, c) for c in settings.channels]


#: Published limits of services whose Apprise URL scheme says which they are (messages per
#: minute to one channel): Slack posts at most one message per second to a channel, a Discord
#: webhook 30 a minute. Telegram groups (~20 a minute) use ``alerts.telegram_rate_per_minute``;
#: anything else (SMTP relays, webhooks) ``alerts.default_rate_per_minute`` — set a relay's own
#: quota as the channel's ``rate_per_minute``.
SERVICE_RATES_PER_MINUTE: dict[str, float] = {"slack": 60.0, "discord": 30.0}


def rate_per_minute(settings: Settings, channel: Channel) -> float:
    """The channel's delivery rate limit (messages per minute).

    This is the only throttle on delivery: Apprise's own per-plugin pause between two
    notifications is switched off by :class:`regionwatch.alerts.deliver.Sender`.
    """
    cfg = channel.config
    if cfg is not None and cfg.rate_per_minute:
        return float(cfg.rate_per_minute)
    scheme = cfg.url.split("://", 1)[0].lower() if cfg else ""
    if scheme in ("tgram", "telegram"):
        return float(settings.alerts.telegram_rate_per_minute)
    if scheme in SERVICE_RATES_PER_MINUTE:
        return SERVICE_RATES_PER_MINUTE[scheme]
    if cfg is None:
        return 1e9
    return float(settings.alerts.default_rate_per_minute)


def _actor_keys(tags: TagResult) -> set[str]:
    keys: set[str] = set()
    for a in tags.actors:
        for k in ("slug", "name"):
            v = a.get(k)
            if v:
                keys.add(str(v).casefold())
    return keys


def is_too_old(
    published: datetime | None,
    first_seen: datetime | None,
    *,
    max_age_hours: float,
    baseline_cutoff: datetime | None,
    now: datetime,
) -> str | None:
    """Why an item may not alert because of its age (None when it may).

    The reference time is its publication time, else its first-seen time. On a feed's first
    poll (``baseline_cutoff`` given) only items published after the cutoff may alert; items
    without a date are then part of the baseline.
    """
    published = as_utc(published)
    ref = published or as_utc(first_seen) or now
    if ref < now - timedelta(hours=max_age_hours):
        return f"older than {max_age_hours:g} h"
    if baseline_cutoff is not None and (published is None or published < baseline_cutoff):
        return "baseline of a first poll"
    return None


def evaluate(settings: Settings, tags: TagResult) -> list[Decision]:
    """The (rule, category, channel) triples a tagger result raises, first rule first."""
    actors = _actor_keys(tags)
    chans = channels(settings)
    out: list[Decision] = []
    seen: set[tuple[str, str]] = set()
    for rule in settings.alerts.effective_rules():
        d = tags.categories.get(rule.category)
        if d is None or not d.decision:
            continue
        score = float(d.score or 0.0)
        if score < rule.min_score:
            continue
        if rule.require_actors and not any(a.casefold() in actors for a in rule.require_actors):
            continue
        if any(a.casefold() in actors for a in rule.exclude_actors):
            continue
        for ch in chans:
            if not ch.accepts(rule.category):
                continue
            if rule.channels is not None and not ch.named(rule.channels):
                continue
            key = (rule.category, ch.key)
            if key in seen:
                continue
            seen.add(key)
            out.append(Decision(rule, rule.category, ch, score))
    return out
