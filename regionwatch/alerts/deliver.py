"""Delivery of the alert outbox through Apprise, exactly once per (story, category, channel).

:func:`deliver_pending` claims due rows (lease committed before sending), renders each for its
channel, sends it with one ``Apprise`` object per channel (``notify()`` returns one boolean for
all its targets, so channels are kept apart), then settles the row: sent, or failed with an
exponential backoff, or dead after ``max_attempts``.

Delivery never holds monitoring up:

* the per-channel rate limit (messages per minute, counted from the rows sent in the last minute
  by every worker, see :func:`regionwatch.alerts.rules.rate_per_minute`) is the only throttle —
  Apprise's own per-plugin pause between notifications (``request_rate_per_sec``, 5.5 s for
  email) is switched off, and a send's socket timeouts are capped by what is left of the budget;
* a channel whose send fails is set aside for the rest of the pass after that first failure: its
  other due rows back off as the failed one does, without counting an attempt;
* one pass has a time budget (``[alerts] delivery_budget_seconds``, rate-limit waits included);
  rows it did not reach are released and go out on the next pass.

Nothing left for later is dropped or counted as a failure.

Formats: email (``mailto://``/``mailtos://``) gets HTML, from which Apprise builds the
``multipart/alternative`` message with a plain-text part; chat and webhooks get Markdown (with
entities instead of raw ``<``/``>`` where the service converts Markdown to HTML). With no
channel configured, the ``terminal`` channel prints to the console (rich) and appends to the
``[alerts] mailbox`` file (mbox) when one is set.
"""

from __future__ import annotations

import dataclasses
import logging
import mailbox
import os
import re
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import apprise
from apprise import NotifyFormat

from regionwatch.alerts import outbox
from regionwatch.alerts.render import (
    AlertView,
    console_link,
    load_view,
    render_html,
    render_markdown,
    render_text,
    render_title,
)
from regionwatch.alerts.rules import TERMINAL, Channel, channels, rate_per_minute
from regionwatch.errors import AlertError, PermanentAlertError, TransientAlertError
from regionwatch.settings import Settings, mask_url
from regionwatch.store import Store, utcnow

__all__ = ["DeliveryReport", "Sender", "deliver_pending", "send_test", "worker_name"]

logger = logging.getLogger(__name__)

_URLISH = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
_EMAIL_SCHEMES = ("mailto", "mailtos")


def worker_name() -> str:
    """A name unique to this process (host, pid and a random suffix)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class DeliveryReport:
    """What one delivery round did; ``rows`` feeds run artifacts.

    ``deferred`` counts rows held back by the rate limit, ``over_budget`` rows the pass had no
    time left for, ``backed_off`` rows of channels set aside after a failure (``set_aside``):
    all stay pending for a later pass.
    """

    sent: int = 0
    failed: int = 0
    dead: int = 0
    deferred: int = 0
    over_budget: int = 0
    backed_off: int = 0
    set_aside: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        """Rows a send was attempted for."""
        return self.sent + self.failed + self.dead

    def to_dict(self) -> dict[str, Any]:
        """Counts (and rows) as a plain dict."""
        return {
            "sent": self.sent,
            "failed": self.failed,
            "dead": self.dead,
            "deferred": self.deferred,
            "over_budget": self.over_budget,
            "backed_off": self.backed_off,
            "set_aside": list(self.set_aside),
            "rows": list(self.rows),
        }


@dataclass(frozen=True, slots=True)
class Message:
    """One message in every format a channel might take."""

    title: str
    title_markdown: str
    text: str
    markdown: str
    markdown_html: str
    html: str


def message_for(view: AlertView) -> Message:
    """Render an alert view in every format."""
    return Message(
        title=render_title(view),
        title_markdown=render_title(view, "markdown"),
        text=render_text(view),
        markdown=render_markdown(view),
        markdown_html=render_markdown(view, html_target=True),
        html=render_html(view),
    )


def _sanitize(error: str, url: str | None) -> str:
    """An error message without the channel URL's secrets."""
    out = _URLISH.sub(lambda m: mask_url(m.group(0)), error)
    if url:
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(url)
            secrets = [parts.password or ""]
            if parts.scheme.lower() not in _EMAIL_SCHEMES + ("json", "jsons", "xml", "xmls"):
                secrets += [parts.netloc] + [p for p in parts.path.split("/") if len(p) >= 6]
        except ValueError:
            secrets = []
        for s in secrets:
            if s and len(s) >= 4:
                out = out.replace(s, "***")
    return out[:2000]


#: ``apprise.LogCapture`` is an untyped function; typed here once.
_log_capture: Callable[..., Any] = apprise.LogCapture


#: Apprise plugin attributes holding socket timeouts (seconds).
_TIMEOUT_ATTRS = ("socket_connect_timeout", "socket_read_timeout")
#: The shortest socket timeout a send gets, however little of the pass's budget is left.
MIN_SEND_TIMEOUT = 1.0


class Sender:
    """Sends messages to one channel (one Apprise object, or the terminal)."""

    def __init__(self, channel: Channel, settings: Settings) -> None:
        """Prepare the channel; a malformed Apprise URL raises PermanentAlertError on send.

        Apprise's per-plugin pause between two notifications (``request_rate_per_sec``: 5.5 s
        on most plugins, email included) is switched off: our per-channel rate limit is the
        only throttle.
        """
        self.channel = channel
        self.settings = settings
        self._apprise: apprise.Apprise | None = None
        self._error: str | None = None
        self._timeouts: list[tuple[Any, str, float]] = []
        self.mode = "terminal"
        if channel.config is None:
            return
        a = apprise.Apprise()
        if not a.add(channel.config.url) or len(a) == 0:
            self._error = f"not a usable Apprise URL: {mask_url(channel.config.url)}"
            return
        self._apprise = a
        for plugin in a:
            plugin.request_rate_per_sec = 0.0
            for attr in _TIMEOUT_ATTRS:
                value = getattr(plugin, attr, None)
                if isinstance(value, int | float) and value > 0:
                    self._timeouts.append((plugin, attr, float(value)))
        server = a[0]
        scheme = channel.config.url.split("://", 1)[0].lower()
        if scheme in _EMAIL_SCHEMES or type(server).__name__ == "NotifyEmail":
            self.mode = "email"
        elif server.notify_format == NotifyFormat.HTML:
            self.mode = "markdown_html"
        elif server.notify_format == NotifyFormat.MARKDOWN:
            self.mode = "markdown"
        else:  # text services and webhooks: Markdown body, plain title
            self.mode = "markdown_text"

    def send(self, msg: Message, *, timeout: float | None = None) -> None:
        """Send one message.

        Args:
            msg: the message.
            timeout: cap on the service's socket timeouts for this send (seconds; None keeps
                Apprise's, e.g. 15 s to connect to an SMTP server).

        Raises:
            PermanentAlertError: the channel URL is unusable.
            TransientAlertError: the service refused or could not be reached.
        """
        if self.channel.config is None:
            self._terminal(msg)
            return
        if self._apprise is None:
            raise PermanentAlertError(self._error or "channel not usable")
        for plugin, attr, default in self._timeouts:
            setattr(plugin, attr, default if timeout is None else min(default, timeout))
        if self.mode == "email":
            title, body, fmt = msg.title, msg.html, NotifyFormat.HTML
        elif self.mode == "markdown_html":
            title, body, fmt = msg.title_markdown, msg.markdown_html, NotifyFormat.MARKDOWN
        elif self.mode == "markdown":
            title, body, fmt = msg.title_markdown, msg.markdown, NotifyFormat.MARKDOWN
        else:
            title, body, fmt = msg.title, msg.markdown, NotifyFormat.MARKDOWN
        with _log_capture(level=logging.WARNING) as logs:
            ok = self._apprise.notify(title=title, body=body, body_format=fmt)
            captured = logs.getvalue() if hasattr(logs, "getvalue") else ""
        if not ok:
            detail = " | ".join(
                line.split(" - ", 2)[-1].strip() for line in captured.splitlines() if line.strip()
            )
            raise TransientAlertError(
                _sanitize(
                    f"delivery to {self.channel.display} failed: {detail or 'refused'}",
                    self.channel.url,
                )
            )

    def _terminal(self, msg: Message) -> None:
        from rich.console import Console
        from rich.markup import escape
        from rich.panel import Panel
        from rich.text import Text

        console = Console(stderr=True)
        console.print(
            Panel(Text(msg.text), title=escape(msg.title), title_align="left", expand=False)
        )
        path = self.settings.alerts.mailbox
        if path:
            append_mbox(Path(path), msg.title, msg.text, msg.html)


def append_mbox(path: Path, subject: str, text: str, html_body: str) -> None:
    """Append one HTML + plain-text message to an mbox file.

    Raises:
        TransientAlertError: the mailbox cannot be written.
    """
    em = EmailMessage()
    em["Subject"] = subject
    em["From"] = "RegionWatch <regionwatch@localhost>"
    em["To"] = "desk@localhost"
    em["Date"] = format_datetime(utcnow())
    em["Message-ID"] = make_msgid(domain="regionwatch.local")
    em.set_content(text)
    em.add_alternative(html_body, subtype="html")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        box = mailbox.mbox(str(path))
        box.lock()
        try:
            box.add(em)
            box.flush()
        finally:
            box.unlock()
            box.close()
    except (OSError, mailbox.Error) as exc:
        raise TransientAlertError(f"cannot write mailbox {path}: {exc}") from exc


def deliver_pending(
    store: Store,
    settings: Settings,
    *,
    worker: str | None = None,
    limit: int = 200,
    budget_seconds: float | None = None,
    max_wait_seconds: float | None = None,
) -> DeliveryReport:
    """Send the due outbox rows; each row is sent at most once across all workers.

    Args:
        store: the store holding the outbox.
        settings: channels, retry, rate-limit and budget settings.
        worker: this worker's name (default: host, pid and a random suffix).
        limit: the most rows to attempt in this call.
        budget_seconds: how long this pass may take (default ``alerts.delivery_budget_seconds``);
            rows not reached in time are released for the next pass.
        max_wait_seconds: how long to wait for rate-limit slots (default: the budget; never
            beyond it).

    Returns:
        The counts and the rows attempted (for run artifacts).
    """
    worker = worker or worker_name()
    report = DeliveryReport()
    chans = {c.key: c for c in channels(settings)}
    senders: dict[str, Sender] = {}
    attempted: set[int] = set()
    set_aside: set[str] = set()
    budget = settings.alerts.delivery_budget_seconds if budget_seconds is None else budget_seconds
    budget = max(0.0, budget)
    started = time.monotonic()
    deadline = started + budget
    wait_deadline = deadline
    if max_wait_seconds is not None:
        wait_deadline = min(deadline, started + max(0.0, max_wait_seconds))

    def allowance(conn: Any, key: str) -> int:
        ch = chans.get(key)
        if ch is None:
            return 10**9  # settled below as dead: the channel is gone from the configuration
        if key in set_aside:
            return 0
        rate = rate_per_minute(settings, ch)
        if rate >= 1e8:
            return 10**9
        now_ = utcnow()
        recent = outbox.sent_since(conn, key, now_ - timedelta(seconds=60))
        busy = outbox.in_flight(conn, key, now_, worker)
        return max(0, int(rate) - len(recent) - busy)

    while len(attempted) < limit:
        rows, deferred = outbox.claim(
            store,
            worker=worker,
            allowance=None,
            allowance_fn=allowance,
            limit=limit - len(attempted),
            exclude=attempted,
        )
        for i, row in enumerate(rows):
            if time.monotonic() >= deadline:
                left = [int(r["id"]) for r in rows[i:]]
                outbox.release(store, left, worker)
                report.over_budget += len(left)
                break
            key = str(row["channel"])
            if key in set_aside:
                continue  # backed off with its channel below
            attempted.add(int(row["id"]))
            timeout = max(MIN_SEND_TIMEOUT, deadline - time.monotonic())
            err = _deliver_one(store, settings, row, chans, senders, worker, report, timeout)
            if err is not None and key in chans:
                set_aside.add(key)
                report.set_aside.append(chans[key].display)
                until = utcnow() + timedelta(
                    seconds=outbox.backoff_seconds(settings, int(row["attempts"]) + 1)
                )
                n = outbox.back_off_channel(store, key, worker, until, exclude=[int(row["id"])])
                report.backed_off += n
                logger.warning(
                    "alerts: %s set aside for this pass after a failure; %d more row(s) "
                    "wait until %s",
                    chans[key].display,
                    n,
                    until.isoformat(timespec="seconds"),
                )
        if report.over_budget:
            break
        # rows of a set-aside channel claimed in this batch were pushed back by back_off_channel
        if not deferred:
            report.deferred = 0
            break
        report.deferred = deferred
        wait = _next_slot(store, settings, chans, set_aside)
        if wait is None or time.monotonic() + wait > wait_deadline:
            logger.info("alerts: %d row(s) held back by the rate limit for the next pass", deferred)
            break
        if not rows:
            time.sleep(max(0.2, wait))
    if report.over_budget:
        logger.info(
            "alerts: delivery budget of %.1fs used; %d row(s) left for the next pass",
            budget,
            report.over_budget,
        )
    if report.attempted or report.deferred or report.over_budget:
        logger.info(
            "alerts: sent %d, failed %d, dead %d, deferred %d, over budget %d, backed off %d",
            report.sent,
            report.failed,
            report.dead,
            report.deferred,
            report.over_budget,
            report.backed_off,
        )
    return report


def _next_slot(
    store: Store, settings: Settings, chans: dict[str, Channel], set_aside: set[str]
) -> float | None:
    """Seconds until the earliest rate-limited channel (not set aside) frees a slot."""
    now = utcnow()
    best: float | None = None
    with store.connect() as conn:
        for key, ch in chans.items():
            if key in set_aside:
                continue
            rate = rate_per_minute(settings, ch)
            if rate >= 1e8:
                continue
            recent = outbox.sent_since(conn, key, now - timedelta(seconds=60))
            if len(recent) < rate:
                continue
            oldest = recent[-int(rate)] if int(rate) <= len(recent) else recent[0]
            wait = (oldest + timedelta(seconds=60) - now).total_seconds() + 0.05
            best = wait if best is None else min(best, wait)
    return best


def _deliver_one(
    store: Store,
    settings: Settings,
    row: dict[str, Any],
    chans: dict[str, Channel],
    senders: dict[str, Sender],
    worker: str,
    report: DeliveryReport,
    timeout: float | None = None,
) -> str | None:
    """Send one claimed row and settle it; returns the error of a transient failure, else None."""
    ch = chans.get(row["channel"])
    info: dict[str, Any] = {
        "id": row["id"],
        "category": row["category"],
        "story_id": row["story_id"],
        "item_id": row["item_id"],
        "channel": ch.display if ch else row["channel"],
    }
    try:
        if ch is None:
            raise PermanentAlertError(f"channel {row['channel']} is no longer configured")
        sender = senders.get(ch.key)
        if sender is None:
            sender = senders[ch.key] = Sender(ch, settings)
        with store.connect() as conn:
            view = load_view(conn, row)
        link = console_link(settings.web.base_url, row.get("event_id"))
        if link:
            view = dataclasses.replace(view, console_url=link)
        msg = message_for(view)
        info["title"] = msg.title
        info["url"] = view.url
        sender.send(msg, timeout=timeout)
    except AlertError as exc:
        err = str(exc)
        if isinstance(exc, PermanentAlertError):
            status = _fail_permanently(store, row, worker, err, settings)
        else:
            status = outbox.mark_failed(store, int(row["id"]), worker, err, settings)
        info.update(status=status, error=err)
        if status == "dead":
            report.dead += 1
            logger.warning(
                "alerts: #%s dead after %s attempt(s): %s", row["id"], int(row["attempts"]) + 1, err
            )
        else:
            report.failed += 1
            logger.warning(
                "alerts: #%s to %s failed, will retry: %s", row["id"], info["channel"], err
            )
        report.rows.append(info)
        return None if isinstance(exc, PermanentAlertError) else err
    if not outbox.mark_sent(store, int(row["id"]), worker):
        logger.warning("alerts: #%s was sent but its claim had expired", row["id"])
    report.sent += 1
    info["status"] = "sent"
    report.rows.append(info)
    return None


def _fail_permanently(
    store: Store, row: dict[str, Any], worker: str, err: str, settings: Settings
) -> str:
    """A permanent error: park the row as dead right away."""
    return outbox.mark_failed(store, int(row["id"]), worker, err, settings, permanent=True)


def send_test(settings: Settings) -> list[tuple[str, bool, str | None]]:
    """Send a test message to every channel; returns ``(channel, ok, error)`` per channel."""
    now = utcnow()
    view = AlertView(
        category="test",
        headline="RegionWatch test message — delivery works",
        url="https://example.org/regionwatch-test",
        score=1.0,
        severity="info",
        published_at=now,
        first_seen_at=now,
    )
    msg = message_for(view)
    out: list[tuple[str, bool, str | None]] = []
    for ch in channels(settings):
        try:
            Sender(ch, settings).send(msg)
            out.append((ch.display, True, None))
        except AlertError as exc:
            out.append((ch.display, False, str(exc)))
    return out


__all__ += ["Message", "append_mbox", "message_for", "TERMINAL"]
