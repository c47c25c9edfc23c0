"""Alert rendering: routable titles, explained bodies, escaping per format."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import markdown

from regionwatch.alerts.digest import sparkline
from regionwatch.alerts.render import (
    AlertView,
    Evidence,
    Outlet,
    escape_markdown,
    evidence_from_tags,
    render_html,
    render_markdown,
    render_text,
    render_title,
    safe_url,
)
from regionwatch.store.items import tag_result_from_json

URL = "http://127.0.0.1:8123/ararat-wire/news/2026/11/12/clash-near-sotk-123456.html"
T0 = datetime(2026, 11, 12, 8, 30, tzinfo=UTC)


HEAD = "Armenia and Azerbaijan exchange fire near Sotk"


def view(headline: str = HEAD, **kw: object) -> AlertView:
    base = dict(
        category="border_clash",
        headline=headline,
        url=URL,
        score=0.87,
        outlet=Outlet("Ararat Wire", "am", False),
        story_outlets=(Outlet("Ararat Wire", "am", False), Outlet("Vostok Vestnik", "ru", True)),
        published_at=T0,
        first_seen_at=T0.replace(minute=34),
        actors=("Armenia", "Azerbaijan", "Russia", "EU"),
        evidence=(Evidence("Troops exchanged fire near Sotk overnight.", ((7, 21),)),),
    )
    base.update(kw)
    return AlertView(**base)  # type: ignore[arg-type]


def test_title_is_routable() -> None:
    assert render_title(view()) == f"[border_clash] Armenia, Azerbaijan, Russia — {HEAD}"
    assert render_title(view(actors=())) == f"[border_clash] {HEAD}"


def test_update_title_and_body_say_what_changed() -> None:
    upd = view(
        kind="update",
        material=("casualties_rose", "new_party"),
        casualties=6,
        event_outlets=("Ararat Wire", "Vostok Vestnik", "Donau Kurier"),
        event_languages=("de", "en", "ru"),
        event_articles=5,
    )
    assert render_title(upd) == f"[border_clash] Update: Armenia, Azerbaijan, Russia — {HEAD}"
    assert render_title(upd, "markdown").startswith("[border_clash] Update: ")
    for body in (render_text(upd), render_markdown(upd), html.unescape(render_html(upd))):
        assert "casualty figure now 6" in body and "a further party is involved" in body
        assert "Event carried by 3 outlets in 3 languages (de, en, ru), 5 articles" in body
    first = render_text(view(event_outlets=("Ararat Wire",), event_languages=("en",)))
    assert "Update" not in first and "Event carried by 1 outlet in 1 language (en)" in first


def test_text_body_explains_the_alert() -> None:
    body = render_text(view())
    for needle in (
        "0.87",
        "Armenia and Azerbaijan exchange fire near Sotk",
        "Ararat Wire (AM)",
        "Vostok Vestnik (RU, state-affiliated)",
        "2026-11-12 08:30 UTC",
        "2026-11-12 08:34 UTC",
        "Armenia, Azerbaijan, Russia, EU",
        "Troops *exchanged fire* near Sotk",
        "carried by 2 outlets",
    ):
        assert needle in body, needle
    assert URL + "\n" in body  # the link on a line of its own


def test_link_stays_matchable_in_every_format() -> None:
    pattern = re.compile(re.escape("http://127.0.0.1:8123") + r"[^\s\"'<>)\]\\|]*")
    for body in (
        render_text(view()),
        render_markdown(view()),
        render_markdown(view(), html_target=True),
        html.unescape(render_html(view())),
    ):
        assert URL in pattern.findall(body)


def test_html_escapes_feed_text() -> None:
    evil = '<img src=x onerror=alert(1)> & "quoted" <a href="http://evil">x</a>'
    out = render_html(
        view(
            evil,
            actors=("<b>Actor</b>",),
            outlet=Outlet("<i>Out</i>"),
            evidence=(Evidence("<script>bad()</script> fire", ((23, 27),)),),
        )
    )
    assert "<img" not in out and "<script>" not in out and "<i>Out" not in out
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quoted&quot;" in out
    assert "<b>Actor</b>" not in out
    assert '<b style="background:#fff3a3">fire</b>' in out


def test_markdown_escapes_feed_text() -> None:
    evil = "**Breaking** [click](http://evil.example) `code` _x_ <b>tag</b> | ~strike~"
    md = render_markdown(view(evil))
    assert "\\*\\*Breaking\\*\\*" in md and "\\[click\\]" in md and "\\`code\\`" in md
    assert "\\<b\\>tag\\</b\\>" in md
    rendered = markdown.markdown(render_markdown(view(evil), html_target=True))
    assert "<b>tag</b>" not in rendered and "&lt;b&gt;tag&lt;/b&gt;" in rendered
    assert 'href="http://evil.example"' not in rendered
    assert "<strong>exchanged fire</strong>" in rendered  # our own marking survives
    assert escape_markdown("a_b*c") == "a\\_b\\*c"


def test_evidence_marks_matched_words_from_tagger_output() -> None:
    tags = {
        "categories": {
            "border_clash": {
                "score": 0.9,
                "decision": True,
                "evidence": [
                    {
                        "sentence": "Azerbaijani  forces shelled\n Armenian positions.",
                        "start": 120,
                        "end": 127,
                        "rule": "clash.verb",
                        "matched": "shelled",
                    },
                    {"sentence": "Shelling continued; shelling resumed.", "matched": ["shelling"]},
                ],
            }
        }
    }
    ev = evidence_from_tags(tag_result_from_json(tags), "border_clash")
    assert ev[0].sentence == "Azerbaijani forces shelled Armenian positions."
    assert [ev[0].sentence[s:e] for s, e in ev[0].spans] == ["shelled"]
    assert [ev[1].sentence[s:e] for s, e in ev[1].spans] == ["Shelling", "shelling"]
    assert evidence_from_tags(None, "csto") == ()
    assert evidence_from_tags(tag_result_from_json({"categories": {}}), "csto") == ()


def test_safe_url_encodes_only_breaking_characters() -> None:
    assert safe_url(URL) == URL
    assert safe_url('http://a/b c<d>"e') == "http://a/b%20c%3Cd%3E%22e"
    assert safe_url("http://a/%D0%B0?x=1&y=(2)") == "http://a/%D0%B0?x=1&y=(2)"


def test_sparkline() -> None:
    assert sparkline([0, 0, 0]) == "▁▁▁"
    line = sparkline([0, 1, 2, 4, 8])
    assert line[0] == "▁" and line[-1] == "▇" and len(line) == 5


def test_console_link_in_every_format() -> None:
    from dataclasses import replace

    from regionwatch.alerts.render import (
        AlertView,
        console_link,
        render_html,
        render_markdown,
        render_text,
    )

    assert console_link(None, 7) == ""
    assert console_link("https://desk.example.org/rw/", None) == ""
    link = console_link("https://desk.example.org/rw/", 7)
    assert link == "https://desk.example.org/rw/events/7"
    v = AlertView(category="ceasefire", headline="Truce <b>agreed</b>", url="https://x.example/a")
    assert "/events/" not in render_text(v)
    v = replace(v, console_url=link)
    assert link in render_text(v)
    assert f"<{link}>" in render_markdown(v)
    assert f'href="{link}"' in render_html(v)
