"""The tagger package's seams: actor groups and border dyads read from ``seeds/actors.yaml``,
their validation, the clock passed in, and the weights in one table."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from regionwatch.errors import ConfigError
from regionwatch.lexicon import ACTOR_GROUPS, load_lexicon
from regionwatch.settings import DEFAULT_SEEDS_DIR
from regionwatch.tagging import WEIGHTS, Tagger, get_tagger
from regionwatch.tagging.actors import ActorSets


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    for name in ("actors.yaml", "themes.yaml"):
        shutil.copy(DEFAULT_SEEDS_DIR / name, tmp_path / name)
    return tmp_path


def _edit_actor(seeds: Path, slug: str, **changes: object) -> None:
    path = seeds / "actors.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    actor = next(a for a in data["actors"] if a["slug"] == slug)
    actor.update(changes)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_groups_and_dyads_come_from_the_watchlist() -> None:
    sets = ActorSets.from_lexicon(load_lexicon(DEFAULT_SEEDS_DIR))
    assert {"armenia", "yerevan", "pashinyan"} <= sets.armenian_side
    assert {"azerbaijan", "baku", "aliyev"} <= sets.azerbaijani_side
    assert not sets.armenian_side & sets.azerbaijani_side
    assert {"ukraine", "donbas", "crimea"} <= sets.ukraine_war
    assert "russia" in sets.ukraine_war_party
    assert "csto" in sets.csto_body
    assert frozenset({"AM", "AZ"}) in sets.border_dyads
    assert frozenset({"KG", "TJ"}) in sets.border_dyads
    assert frozenset({"RU", "UA"}) not in sets.border_dyads  # a war, not a border


def test_unknown_group_is_a_clear_error(seeds_copy: Path) -> None:
    _edit_actor(seeds_copy, "armenia", groups=["armenian_sied"])
    with pytest.raises(ConfigError) as exc:
        load_lexicon(seeds_copy)
    msg = str(exc.value)
    assert "armenia" in msg and "groups" in msg and "armenian_sied" in msg
    assert "armenian_side" in msg  # the known names are listed


def test_bad_neighbour_code_is_a_clear_error(seeds_copy: Path) -> None:
    _edit_actor(seeds_copy, "kyrgyzstan", clash_neighbours=["tajikistan"])
    with pytest.raises(ConfigError, match="clash_neighbours"):
        load_lexicon(seeds_copy)


_NEIGHBOURS_FIRE = (
    "Kyrgyz and Tajik troops exchanged fire near the village of Ak-Sai overnight, and two "
    "soldiers were killed, officials in Kyrgyzstan and Tajikistan said."
)
_TITLE = "Two soldiers killed as Kyrgyz and Tajik troops exchange fire"


def test_a_new_dyad_in_the_data_changes_the_rule(seeds_copy: Path) -> None:
    # without the Kyrgyz-Tajik dyad, firing between them with no border word is no border clash
    assert "border_clash" in get_tagger().tag(_NEIGHBOURS_FIRE, title=_TITLE).labels
    _edit_actor(seeds_copy, "kyrgyzstan", clash_neighbours=["UZ"])
    _edit_actor(seeds_copy, "tajikistan", clash_neighbours=["UZ", "AF"])
    got = Tagger(load_lexicon(seeds_copy)).tag(_NEIGHBOURS_FIRE, title=_TITLE)
    assert "border_clash" not in got.labels
    assert set(ACTOR_GROUPS) >= {"armenian_side", "other_fronts"}


def test_the_clock_is_passed_in() -> None:
    # a year after the clock's is no article's own year: with the clock in 2025 the shooting of
    # 2025 is this year's news; with the clock in 2026, a later year (2026) makes it background
    text = (
        "Kyrgyz border guards said on 12 March 2025 that two soldiers were killed when Tajik "
        "troops opened fire on the border near Batken. Talks are planned for 2026."
    )
    early = datetime(2025, 3, 13, tzinfo=UTC)
    later = datetime(2026, 12, 1, tzinfo=UTC)
    tagger = get_tagger()
    assert "border_clash" in tagger.tag(text, now=early).labels
    assert "border_clash" not in tagger.tag(text, now=later).labels
    clocked = Tagger(tagger.lexicon, clock=lambda: early)
    assert clocked.tag(text).labels == tagger.tag(text, now=early).labels


def test_weights_are_one_frozen_table() -> None:
    assert WEIGHTS.title > WEIGHTS.lead > WEIGHTS.body
    assert 0 < WEIGHTS.historical < 1 and WEIGHTS.threshold > 0
    assert replace(WEIGHTS, threshold=3.0).threshold == 3.0
    with pytest.raises(AttributeError):
        WEIGHTS.threshold = 1.0  # type: ignore[misc]


def test_eval_reports_language_groups_and_confusion_classes(tmp_path: Path) -> None:
    from regionwatch.evaluation import evaluate

    rows = [
        {  # in scope, found
            "id": "a",
            "lang": "en",
            "title": _TITLE,
            "text": _NEIGHBOURS_FIRE,
            "labels": ["border_clash"],
        },
        {  # in scope, the second label missed
            "id": "b",
            "lang": "en",
            "title": _TITLE,
            "text": _NEIGHBOURS_FIRE,
            "labels": ["border_clash", "ceasefire"],
        },
        {  # beyond the listed languages: nothing we know of
            "id": "c",
            "lang": "sw",
            "title": "",
            "text": "Hakuna habari leo.",
            "labels": ["ceasefire"],
        },
        {  # the same clash marked as out of region: a false positive of that class
            "id": "d",
            "lang": "en",
            "title": _TITLE,
            "text": _NEIGHBOURS_FIRE,
            "labels": [],
            "region_relevant": False,
        },
    ]
    path = tmp_path / "ds.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    rep = evaluate(path, get_tagger())
    assert rep.group_items == {"all": 4, "in scope": 3, "beyond": 1}
    scope, beyond = rep.groups["in scope"], rep.groups["beyond"]
    assert (scope["border_clash"].tp, scope["border_clash"].fp) == (2, 1)
    assert (scope["ceasefire"].fn, beyond["ceasefire"].fn) == (1, 1)
    assert rep.stats is rep.groups["all"] and rep.stats["ceasefire"].fn == 2
    classes = {c["id"]: c["classes"] for c in rep.confusions}
    assert classes == {
        "b": {"ceasefire": "missed secondary label"},
        "c": {"ceasefire": "nothing recognised"},
        "d": {"border_clash": "out-of-region false positive"},
    }
    assert rep.confusion_classes["missed secondary label"] == 1
    out = rep.as_dict()
    assert out["groups"]["beyond"]["items"] == 1
    assert out["groups"]["in scope"]["micro"]["tp"] == 2
