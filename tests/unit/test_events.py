"""Event grouping (regionwatch.events) on snippets of our own, in several languages, through the
real tagger; and its evaluation on the dev sets when they are available (REGIONWATCH_SHARED)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from regionwatch.events import EventDecision, EventIndex, EventSignal, EventState, SignalBuilder
from regionwatch.models import Article
from regionwatch.settings import EventsConfig
from regionwatch.tagging import Tagger, get_tagger

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)

# two happenings on the same morning, reported in several languages (our own wording)
AM_AZ = [
    (
        "en",
        "Armenia and Azerbaijan exchange fire on the border near Sotk",
        "Azerbaijani forces opened fire on Armenian positions near Sotk on the border on Monday; "
        "two Armenian soldiers were wounded, the defence ministry in Yerevan said. Baku said its "
        "troops returned fire after a provocation.",
    ),
    (
        "ru",
        "Перестрелка на армяно-азербайджанской границе у Сотка",
        "Армения и Азербайджан обвинили друг друга в обстреле на границе у Сотка. По данным "
        "Минобороны Армении, ранены 2 военнослужащих.",
    ),
    (
        "fr",
        "Échanges de tirs à la frontière entre l'Arménie et l'Azerbaïdjan",
        "Des tirs ont été échangés lundi à la frontière entre l'Arménie et l'Azerbaïdjan près de "
        "Sotk, selon Erevan; deux soldats arméniens ont été blessés.",
    ),
]
KG_TJ = [
    (
        "en",
        "Kyrgyz and Tajik border guards clash in Batken",
        "Kyrgyz and Tajik border guards exchanged fire near Batken on the disputed border on "
        "Monday. Kyrgyzstan said one of its guards was wounded; Tajikistan blamed the Kyrgyz side.",
    ),
    (
        "ru",
        "Перестрелка на кыргызско-таджикской границе в Баткене",
        "Пограничники Кыргызстана и Таджикистана открыли огонь на границе в Баткенской области. "
        "Таджикистан обвинил кыргызскую сторону.",
    ),
]
AM_AZ_MORE = (
    "en",
    "Armenian and Azerbaijani accounts differ after the Sotk border shooting",
    "Armenia and Azerbaijan gave different accounts of the border shooting near Sotk on Monday, "
    "in which two Armenian soldiers were wounded; both sides said the other fired first.",
)
AM_AZ_WORSE = (
    "en",
    "Four soldiers killed as Armenia-Azerbaijan border fighting flares at Sotk",
    "Four Armenian soldiers were killed and 7 wounded when Azerbaijani forces shelled positions "
    "near Sotk on the border, Armenia's defence ministry said on Tuesday.",
)


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return get_tagger()


@pytest.fixture(scope="module")
def builder(tagger: Tagger) -> SignalBuilder:
    return SignalBuilder(tagger.lexicon)


def signal(
    tagger: Tagger,
    builder: SignalBuilder,
    item: tuple[str, str, str],
    at: datetime,
    key: str,
    outlet: str = "Outlet",
) -> EventSignal:
    lang, title, text = item
    sig = builder.build(
        key=key,
        time=at,
        outlet=outlet,
        language=lang,
        title=title,
        text=text,
        tags=tagger.tag(text, title=title, lang=lang),
    )
    assert sig is not None, title
    return sig


def test_signal_normalises_parties_places_and_casualties(
    tagger: Tagger, builder: SignalBuilder
) -> None:
    sig = signal(tagger, builder, AM_AZ[1], T0, "ru1")
    assert sig.kind == "border_clash"
    assert {"armenia", "azerbaijan"} <= sig.parties
    assert "sotk" in sig.places
    assert sig.casualties == 2
    assert abs(sum(s for _, s in sig.weights) - 1.0) < 0.01
    # a year next to a casualty word is no casualty figure
    assert builder.casualties("In 2022 three soldiers were killed; 5 killed on Monday.") == 5
    assert builder.casualties("Погибли 12 военнослужащих в 2021 году.") == 12
    assert builder.casualties("No one was hurt.") is None


def test_signal_from_article_uses_first_seen_without_a_date(tagger: Tagger) -> None:
    from regionwatch.events import signal_from

    lang, title, text = AM_AZ[0]
    art = Article(
        url="https://example.org/a",
        canonical_url="https://example.org/a",
        source="Outlet",
        title=title,
        text=text,
        text_source="page",
        published=None,
        language=lang,
    )
    sig = signal_from(art, tagger.tag(text, title=title, lang=lang), tagger.lexicon, first_seen=T0)
    assert sig is not None
    assert sig.time == T0 and sig.key == art.key and sig.outlet == "Outlet"


def test_two_simultaneous_happenings_in_three_languages_are_two_events(
    tagger: Tagger, builder: SignalBuilder
) -> None:
    idx = EventIndex(EventsConfig())
    seen: dict[str, int] = {}
    stream = [("am", AM_AZ[0]), ("kg", KG_TJ[0]), ("am", AM_AZ[1]), ("kg", KG_TJ[1])]
    stream.append(("am", AM_AZ[2]))
    for n, (group, item) in enumerate(stream):
        dec = idx.assign(signal(tagger, builder, item, T0 + timedelta(minutes=10 * n), f"k{n}"))
        assert dec is not None
        if group in seen:
            assert not dec.is_new and dec.event.local_id == seen[group], item[1]
        else:
            assert dec.is_new, item[1]
            seen[group] = dec.event.local_id
    assert len(idx) == 2
    am = next(e for e in idx.events() if "armenia" in e.parties)
    assert am.languages == {"en", "ru", "fr"} and am.articles == 3
    assert am.categories >= {"border_clash"}
    assert am.actors[:2] == sorted(am.actors[:2], key=lambda p: -am.weights[p])


def test_the_same_pair_a_month_later_is_a_new_event(tagger: Tagger, builder: SignalBuilder) -> None:
    idx = EventIndex(EventsConfig())
    first = idx.assign(signal(tagger, builder, AM_AZ[0], T0, "a"))
    later = idx.assign(signal(tagger, builder, AM_AZ[1], T0 + timedelta(days=30), "b"))
    assert first is not None and later is not None
    assert later.is_new and later.event is not first.event
    # the month-old event left the window: memory holds only the live one
    assert len(idx) == 1


def test_material_developments_and_more_coverage(tagger: Tagger, builder: SignalBuilder) -> None:
    idx = EventIndex(EventsConfig())
    first = idx.assign(signal(tagger, builder, AM_AZ[0], T0, "a", "Outlet A"))
    assert first is not None and first.is_new and first.material == ()
    # within the first hour a higher figure is part of the first picture, not an update
    early = idx.assign(signal(tagger, builder, AM_AZ[1], T0 + timedelta(minutes=20), "e"))
    assert early is not None and early.event is first.event and early.material == ()
    more = idx.assign(signal(tagger, builder, AM_AZ_MORE, T0 + timedelta(hours=3), "b"))
    assert more is not None and not more.is_new
    assert more.material == (), "more coverage of the same facts is not material"
    worse = idx.assign(signal(tagger, builder, AM_AZ_WORSE, T0 + timedelta(hours=20), "c"))
    assert worse is not None and worse.event is first.event
    assert "casualties_rose" in worse.material
    assert first.event.casualties == 7
    again = idx.assign(signal(tagger, builder, AM_AZ_WORSE, T0 + timedelta(hours=21), "d"))
    assert again is not None and "casualties_rose" not in again.material


def test_violated_truce_is_material(tagger: Tagger, builder: SignalBuilder) -> None:
    idx = EventIndex(EventsConfig())
    truce = (
        "en",
        "Armenia and Azerbaijan agree ceasefire after Sotk border clash",
        "Armenia and Azerbaijan agreed a ceasefire on Monday evening after the clash on the "
        "border near Sotk, the defence ministry in Yerevan said.",
    )
    broken = (
        "en",
        "Ceasefire violated on the Armenia-Azerbaijan border near Sotk",
        "The ceasefire agreed on Monday was violated overnight as Azerbaijani troops fired at "
        "Armenian posts near Sotk on the border, Yerevan said.",
    )
    a = idx.assign(signal(tagger, builder, AM_AZ[0], T0, "a"))
    b = idx.assign(signal(tagger, builder, truce, T0 + timedelta(hours=8), "b"))
    c = idx.assign(signal(tagger, builder, broken, T0 + timedelta(hours=20), "c"))
    assert a is not None and b is not None and c is not None
    assert b.event is a.event and c.event is a.event
    assert "ceasefire" in b.new_categories
    assert "violated" in c.material


def test_uncategorised_article_joins_but_never_opens(
    tagger: Tagger, builder: SignalBuilder
) -> None:
    plain = (
        "en",
        "Armenian and Azerbaijani officials speak by phone",
        "Officials of Armenia and Azerbaijan spoke by phone on Monday about the situation near "
        "Sotk, the foreign ministry in Yerevan said.",
    )
    idx = EventIndex(EventsConfig())
    lone = signal(tagger, builder, plain, T0, "p")
    assert lone.categories == frozenset()
    assert idx.assign(lone) is None and len(idx) == 0
    # in one batch the categorised article goes first, wherever it stands
    clash = signal(tagger, builder, AM_AZ[0], T0 + timedelta(minutes=5), "c")
    decisions = idx.assign_batch([lone, clash])
    assert decisions[0] is not None and decisions[1] is not None
    assert decisions[1].is_new and decisions[0].event is decisions[1].event


def test_a_bridging_article_merges_two_events(tagger: Tagger, builder: SignalBuilder) -> None:
    cfg = EventsConfig(join_gap_hours=24, max_span_days=3)
    idx = EventIndex(cfg)
    a = idx.assign(signal(tagger, builder, AM_AZ[0], T0, "a"))
    b = idx.assign(signal(tagger, builder, AM_AZ[2], T0 + timedelta(hours=40), "b"))
    assert a is not None and b is not None and b.is_new and len(idx) == 2
    a.event.event_id, b.event.event_id = 11, 12
    c = idx.assign(signal(tagger, builder, AM_AZ[1], T0 + timedelta(hours=20), "c"))
    assert c is not None and c.merged_from
    assert len(idx) == 1
    assert set(c.merged_ids) | {c.event.event_id} == {11, 12}
    assert c.event.articles == 3 and c.event.languages == {"en", "ru", "fr"}


def test_restart_rebuilds_from_saved_states(tagger: Tagger, builder: SignalBuilder) -> None:
    idx = EventIndex(EventsConfig())
    first = idx.assign(signal(tagger, builder, AM_AZ[0], T0, "a"))
    assert first is not None
    first.event.event_id = 7
    saved = json.loads(json.dumps([e.to_dict() for e in idx.events()]))
    fresh = EventIndex(EventsConfig())
    fresh.load(EventState.from_dict(d) for d in saved)
    dec = fresh.assign(signal(tagger, builder, AM_AZ[1], T0 + timedelta(hours=2), "b"))
    assert dec is not None and not dec.is_new and dec.event.event_id == 7
    assert dec.event.articles == 2 and dec.event.kind == "border_clash"
    with pytest.raises(ValueError, match="not a saved event state"):
        EventState.from_dict({"event_id": 1})


def test_memory_stays_bounded_over_a_long_stream(tagger: Tagger, builder: SignalBuilder) -> None:
    cfg = EventsConfig(window_days=3)
    idx = EventIndex(cfg)
    base = signal(tagger, builder, AM_AZ[0], T0, "x")
    sizes = []
    for day in range(60):
        for n in range(5):
            # a new happening every day (the pair clashes again each day: the span rules it out)
            sig = EventSignal(
                key=f"{day}-{n}",
                time=T0 + timedelta(days=day * 6, minutes=n),
                outlet="O",
                language="en",
                title=base.title,
                categories=base.categories,
                parties=base.parties,
                places=base.places,
                weights=base.weights,
                kind=base.kind,
            )
            dec = idx.assign(sig)
            assert isinstance(dec, EventDecision)
        sizes.append(len(idx))
    assert max(sizes) <= 1 and idx.evict(T0 + timedelta(days=400)) == 1 and len(idx) == 0


# ----------------------------------------------------------------------------- evaluation
def _write_dev(tmp: Path) -> Path:
    rows = [
        ("x1", *AM_AZ[0], ["border_clash"], "am"),
        ("x2", *AM_AZ[1], ["border_clash"], "am"),
        ("x3", *AM_AZ[2], ["border_clash"], "am"),
        ("x4", *KG_TJ[0], ["border_clash"], "kg"),
        ("x5", *KG_TJ[1], ["border_clash"], "kg"),
    ]
    data, events = tmp / "mini.jsonl", tmp / "mini_events.jsonl"
    with data.open("w", encoding="utf-8") as fh, events.open("w", encoding="utf-8") as fe:
        for rid, lang, title, text, labels, ev in rows:
            obj = {"id": rid, "url": f"https://example.org/{rid}", "lang": lang}
            obj.update({"title": title, "text": text, "labels": labels, "actors": []})
            fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
            fe.write(json.dumps({"id": rid, "event": ev, "date": "2026-03-02"}) + "\n")
    return data


def test_eval_events_cli_on_our_own_mini_set(tmp_path: Path) -> None:
    from flows.cli import app

    data = _write_dev(tmp_path)
    res = CliRunner().invoke(app, ["eval", "--events", "--json", "--seeds", "seeds", str(data)])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output)
    dated = rep["scenarios"][0]
    assert dated["name"] == "dated mini" and dated["positives"] == 5
    assert dated["bcubed_f1"] == 1.0 and dated["multi_language_groups"] == 2
    assert dated["alerts"] == 2 and dated["alerts_per_pair"] == 1.0 and dated["recall"] == 1.0
    # without --events, eval still takes exactly one dataset
    res = CliRunner().invoke(app, ["eval", "--seeds", "seeds"])
    assert res.exit_code == 2 and "one dataset" in res.output
    # a missing events file is a clear error, exit 2
    (tmp_path / "mini_events.jsonl").unlink()
    res = CliRunner().invoke(app, ["eval", "--events", "--seeds", "seeds", str(data)])
    assert res.exit_code == 2 and "mini_events.jsonl" in res.output


def test_eval_events_on_the_dev_sets(shared: Path, tagger: Tagger) -> None:
    from regionwatch.evaluation_events import evaluate_events

    rep = evaluate_events([shared / "eval" / "dev.jsonl", shared / "eval" / "dev2.jsonl"], tagger)
    names = [s.name for s in rep.scenarios]
    assert names == ["dated dev", "dated dev2", "dated dev+dev2", "waves dev+dev2"]
    for s in rep.scenarios:
        # grouping beats what story ids give on texts that are not copies (singletons)
        assert s.bcubed_f1 > s.baseline_f1 + 0.1, s.name
        assert s.multi_language_groups > 0, s.name
        assert s.alerts_per_pair <= 1.25, s.name
        assert set(s.slices) == {"held_out", "tuned"}


def test_a_truce_elsewhere_between_the_same_pair_stays_apart_from_the_clash(
    tagger: Tagger, builder: SignalBuilder
) -> None:
    truce = (
        "en",
        "Putin hosts Aliyev and Pashinyan, ceasefire in Karabakh agreed in Moscow",
        "Azerbaijan and Armenia agreed a ceasefire in Nagorno-Karabakh after talks hosted by "
        "Vladimir Putin in Moscow; Aliyev and Pashinyan signed the statement in the Kremlin.",
    )
    sig = signal(tagger, builder, truce, T0 + timedelta(minutes=20), "t")
    assert sig.kind == "ceasefire" and "border_clash" not in sig.categories
    assert_apart(signal(tagger, builder, AM_AZ[0], T0, "a"), sig)


def assert_apart(first: EventSignal, second: EventSignal) -> None:
    """The second signal opens its own event beside the first's."""
    idx = EventIndex(EventsConfig())
    a, b = idx.assign(first), idx.assign(second)
    assert a is not None and b is not None
    assert b.is_new and b.event is not a.event and len(idx) == 2


def test_signal_needs_a_watched_party_and_reads_phases(
    tagger: Tagger, builder: SignalBuilder
) -> None:
    text = "The city council approved a new budget for road repairs on Tuesday."
    tags = tagger.tag(text, title="Council approves road budget", lang="en")
    none = builder.build(
        key="n", time=T0, outlet="O", language="en", title="Budget", text=text, tags=tags
    )
    assert none is None
    assert builder.phases("The fighting stopped overnight after the ceasefire.") == {"ended"}
    assert builder.phases("The ceasefire was violated within hours.") == {"violated"}
    assert builder.phases("Troops were put on alert.") == frozenset()


def test_casualty_figures_in_number_words(builder: SignalBuilder) -> None:
    assert builder.casualties("Two soldiers were killed in the shelling.") == 2
    assert builder.casualties("На границе погибли двое военнослужащих, трое ранены.") == 3
    assert builder.casualties("Zwei Soldaten wurden getötet.") == 2
    # 'UN', 'due to', 'once' are not numbers; digits still win when larger
    assert builder.casualties("The UN said the soldiers were killed due to shelling.") is None
    assert builder.casualties("Two soldiers were killed and 14 wounded.") == 14


def test_a_third_state_makes_another_pair(tagger: Tagger, builder: SignalBuilder) -> None:
    iran = (
        "en",
        "Azerbaijani and Iranian border guards exchange fire",
        "Azerbaijani and Iranian border guards exchanged fire on the Azerbaijan-Iran border on "
        "Monday; Iran said one of its guards was wounded and blamed Azerbaijan.",
    )
    sig = signal(tagger, builder, iran, T0 + timedelta(minutes=15), "i")
    assert "iran" in sig.parties and "azerbaijan" in sig.parties
    assert_apart(signal(tagger, builder, AM_AZ[0], T0, "a"), sig)


def test_a_csto_summit_and_a_csto_deployment_stay_apart(
    tagger: Tagger, builder: SignalBuilder
) -> None:
    summit = (
        "en",
        "CSTO summit opens in Astana",
        "Leaders of the Collective Security Treaty Organization met in Astana for the CSTO summit "
        "hosted by Kazakhstan's president Tokayev; Russia's Putin attended.",
    )
    deployment = (
        "ru",
        "Миротворцы ОДКБ прибыли в Казахстан",
        "Миротворческий контингент ОДКБ прибыл в Казахстан по просьбе Токаева; основу сил "
        "составляют российские десантники.",
    )
    s1 = signal(tagger, builder, summit, T0, "s")
    s2 = signal(tagger, builder, deployment, T0 + timedelta(minutes=10), "d")
    assert (s1.kind, s1.facet) == ("csto", "meeting")
    assert (s2.kind, s2.facet) == ("csto", "deployment")
    assert_apart(s1, s2)


def _sig(
    key: str,
    kind: str | None,
    cats: set[str],
    at: datetime,
    weights: tuple[tuple[str, float], ...] = (("kyrgyzstan", 0.55), ("tajikistan", 0.45)),
    anchors: frozenset[str] = frozenset({"batken"}),
) -> EventSignal:
    return EventSignal(
        key=key,
        time=at,
        outlet="O",
        language="en",
        title=key,
        categories=frozenset(cats),
        parties=frozenset(p for p, _ in weights),
        weights=weights,
        kind=kind,
        anchors=anchors,
    )


def test_an_event_becomes_a_clash_once_a_clash_report_joins() -> None:
    idx = EventIndex(EventsConfig())
    truce = idx.assign(_sig("t", "ceasefire", {"ceasefire"}, T0))
    clash = idx.assign(_sig("c", "border_clash", {"border_clash", "ceasefire"}, T0))
    assert truce is not None and clash is not None and not clash.is_new
    assert clash.event.kind == "border_clash"
    # a further clash-only report joins the clash event fully
    more = idx.assign(_sig("m", "border_clash", {"border_clash"}, T0 + timedelta(minutes=5)))
    assert more is not None and more.event is truce.event
    assert more.score >= 1.0


def test_a_third_state_with_a_fifth_of_the_mentions_is_another_pair() -> None:
    clash = (("azerbaijan", 0.55), ("armenia", 0.45))
    iran = (("azerbaijan", 0.75), ("iran", 0.25))  # cosine 0.73: the parties alone would join
    cat, none = {"border_clash"}, frozenset[str]()
    assert_apart(
        _sig("a", "border_clash", cat, T0, clash, none),
        _sig("i", "border_clash", cat, T0 + timedelta(minutes=5), iran, none),
    )
    # a mediator under a fifth of the mentions joins the clash
    idx = EventIndex(EventsConfig())
    first = idx.assign(_sig("a", "border_clash", cat, T0, clash, none))
    medi = (("azerbaijan", 0.5), ("armenia", 0.35), ("russia", 0.15))
    second = idx.assign(_sig("r", "border_clash", cat, T0, medi, none))
    assert first is not None and second is not None and second.event is first.event


def test_summits_of_different_years_and_an_exercise_are_different_happenings(
    tagger: Tagger, builder: SignalBuilder
) -> None:
    def csto(title: str, text: str, key: str) -> EventSignal:
        return signal(tagger, builder, ("en", title, text), T0, key)

    summit_2019 = csto(
        "CSTO summit held in Bishkek",
        "Leaders of the CSTO met in Bishkek for the 2019 summit of the Collective Security "
        "Treaty Organization hosted by Kyrgyzstan; Russia's Putin attended.",
        "s19",
    )
    summit_2024 = csto(
        "CSTO summit: Kyrgyzstan to chair the bloc",
        "At the CSTO summit Kyrgyzstan took over the chairmanship of the Collective Security "
        "Treaty Organization for 2025; Russia's Putin attended.",
        "s24",
    )
    drills = csto(
        "CSTO plans exercises in Kyrgyzstan",
        "The Collective Security Treaty Organization plans military exercises of its rapid "
        "reaction forces in Kyrgyzstan; Russia will send troops, the CSTO said.",
        "ex",
    )
    assert (summit_2019.facet, summit_2019.years) == ("meeting", frozenset({2019}))
    assert (summit_2024.facet, drills.facet) == ("meeting", "exercise")
    assert_apart(summit_2019, summit_2024)
    assert_apart(summit_2019, drills)
    # an undated report of the summit joins it
    undated = csto(
        "Putin arrives in Bishkek for the CSTO summit",
        "Russia's Putin arrived in Bishkek for the summit of the Collective Security Treaty "
        "Organization hosted by Kyrgyzstan.",
        "u",
    )
    idx = EventIndex(EventsConfig())
    first, second = idx.assign(summit_2019), idx.assign(undated)
    assert first is not None and second is not None and second.event is first.event


def test_a_copy_joins_its_storys_event_even_where_its_own_signal_would_not() -> None:
    """Syndicated copies are one story: a copy whose extracted text names other parties (a
    wire prefix, another outlet's boilerplate) still joins the event its story is in, also
    after the index is rebuilt from saved states."""
    from dataclasses import replace

    idx = EventIndex(EventsConfig())
    first = idx.assign(replace(_sig("a", "csto", {"csto"}, T0), story_id=7))
    assert first is not None and first.is_new
    other_pair = (("azerbaijan", 0.5), ("turkey", 0.5))
    alone = replace(_sig("b", "csto", {"csto"}, T0, weights=other_pair), story_id=None)
    copy = replace(alone, key="c", story_id=7)
    # without the story the copy's own signal opens an event of its own
    probe = EventIndex(EventsConfig())
    probe.load([EventState.from_dict(first.event.to_dict())])
    assert probe.assign(alone) is not None and len(probe) == 2
    joined = idx.assign(copy)
    assert joined is not None and not joined.is_new and joined.event is first.event
    # rebuilt from what the store saves, the story still leads to its event
    again = EventIndex(EventsConfig())
    again.load([EventState.from_dict(first.event.to_dict())])
    late = again.assign(replace(copy, key="d", time=T0 + timedelta(hours=1)))
    assert late is not None and not late.is_new and len(again) == 1
