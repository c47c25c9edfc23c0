"""Pure parts of the console: its settings, the redirect guard, tokens and sessions, filters, the
chart's layout, evidence highlighting."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from regionwatch.settings import Settings, WebConfig
from web.events import EventFilters, layout
from web.security import Guard, safe_next


def test_web_settings_mask_the_token_and_check_the_base_url(monkeypatch) -> None:
    monkeypatch.setenv("REGIONWATCH_WEB__TOKEN", "t0ken-from-the-environment")
    s = Settings()
    assert s.web.token is not None
    assert s.web.token.get_secret_value() == "t0ken-from-the-environment"
    assert "t0ken-from-the-environment" not in str(s.masked())
    assert WebConfig(token="   ").token is None
    assert WebConfig(base_url="https://desk.example.org/rw/").base_url == (
        "https://desk.example.org/rw"
    )
    with pytest.raises(ValidationError):
        WebConfig(base_url="desk.example.org")
    with pytest.raises(ValidationError):
        WebConfig(port=0)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/events/3?x=1", "/events/3?x=1"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("/\\evil.example", "/"),
        (None, "/"),
    ],
)
def test_redirects_stay_on_the_site(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_guard_without_a_token_refuses_everything() -> None:
    g = Guard(None)
    assert not g.writes_enabled
    assert not g.token_ok("")
    assert not g.token_ok("anything")
    g = Guard("the-token-of-this-desk")
    assert g.token_ok("the-token-of-this-desk")
    assert not g.token_ok("the-token-of-this-des")
    a, b = g.new_session(), g.new_session()
    assert a != b and "the-token" not in a


def test_filters_parse_and_refuse_bad_values() -> None:
    f = EventFilters.from_query(
        {"category": "ceasefire", "country": "am", "until": "2026-12-01", "limit": "5"},
        ["csto", "ceasefire", "border_clash"],
    )
    assert f.category == "ceasefire" and f.country == "AM" and f.limit == 5
    assert f.until == datetime(2026, 12, 2, tzinfo=UTC)  # the whole day given is included
    assert f.query()["until"] == "2026-12-01"
    for bad in ({"category": "weather"}, {"since": "soon"}, {"limit": "0"}, {"limit": "x"}):
        with pytest.raises(ValueError):
            EventFilters.from_query(bad, ["csto"])


def test_chart_stacks_categories_per_day() -> None:
    now = datetime(2026, 12, 5, 12, tzinfo=UTC)
    chart = layout(
        {("csto", "2026-12-05"): 2, ("ceasefire", "2026-12-05"): 1, ("csto", "2026-11-20"): 1},
        ["csto", "ceasefire"],
        days=30,
        now=now,
    )
    assert chart.days[-1] == "2026-12-05" and len(chart.days) == 30
    assert chart.max_count == 3
    assert chart.totals == {"csto": 3, "ceasefire": 1}
    today = [b for b in chart.bars if b.day == "2026-12-05"]
    assert [b.category for b in today] == ["csto", "ceasefire"]
    assert today[1].y + today[1].height == pytest.approx(today[0].y)  # stacked
    assert all(b.height > 0 for b in chart.bars)


def test_evidence_is_cut_around_the_matched_words() -> None:
    from regionwatch.tagging import CategoryResult, TagResult
    from web.reads import highlight

    tags = TagResult(
        actors=[],
        themes=[],
        categories={
            "border_clash": CategoryResult(
                score=0.8,
                decision=True,
                evidence=[
                    {
                        "sentence": "Troops exchanged fire near <b>Sotk</b>.",
                        "matched": "exchanged fire",
                    }
                ],
            )
        },
        other_entities=[],
        lexicon_hash="x",
    )
    (h,) = highlight(tags, ["border_clash"])
    assert h.matched == ["exchanged fire"]
    assert h.sentence == "Troops exchanged fire near <b>Sotk</b>."
    assert [s.hit for s in h.segments] == [False, True, False]


def test_event_template_shows_updates_and_escapes_feed_text() -> None:
    from pathlib import Path

    from jinja2 import Environment, FileSystemLoader

    from regionwatch.models import Event
    from web.events import ActorInfo, EventPage

    env = Environment(
        loader=FileSystemLoader(Path(__file__).resolve().parents[2] / "web" / "templates"),
        autoescape=True,
    )
    env.globals.update(
        categories=("border_clash",),
        fmt_dt=lambda v: v.isoformat() if v else "—",
        url_for=lambda name, path: f"/static/{path}",
    )
    from web.app import _href

    env.filters["href"] = _href
    when = datetime(2026, 12, 5, 9, tzinfo=UTC)
    event = Event(
        event_id=7,
        categories=("border_clash",),
        title='<img src=x onerror="alert(1)"> Clash near Sotk',
        actors=("armenia",),
        first_seen=when,
        last_seen=when,
        published_first=when,
        articles=1,
        outlets=("Outlet",),
        languages=("en",),
        alerted={"border_clash": True},
    )
    page = EventPage(
        event=event,
        summary="Two soldiers <b>wounded</b>.",
        articles=[],
        actors=[(ActorInfo("armenia", "Armenia", "state", "AM"), 1)],
        alerts=[],
        updates=[{"at": "2026-12-05T10:30:00+00:00", "item_id": 9, "material": ["casualties"]}],
    )
    html = env.get_template("event.html").render(
        e=page,
        feedback=[],
        verdicts=("wrong",),
        writes_enabled=False,
        csrf=None,
        path="/events/7",
        here="/events/7",
    )
    assert "2026-12-05 10:30 · casualties (article 9)" in html
    assert "<img" not in html and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
    assert "&lt;b&gt;wounded&lt;/b&gt;" in html
    assert "Writes are off" in html


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://news.example.am/a?b=1", "https://news.example.am/a?b=1"),
        ("javascript:alert(1)", "#"),
        (" JavaScript:alert(1)", "#"),
        ("data:text/html,<script>alert(1)</script>", "#"),
        ("", "#"),
    ],
)
def test_feed_links_are_http_only(url: str, expected: str) -> None:
    from web.app import _href

    assert _href(url) == expected
