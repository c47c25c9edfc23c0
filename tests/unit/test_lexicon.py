"""The watchlist YAML: content floor, schema validation with clear errors, hashing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from regionwatch.errors import ConfigError
from regionwatch.lexicon import Pattern, load_lexicon
from regionwatch.settings import DEFAULT_SEEDS_DIR

REQUIRED_THEMES = {
    "ceasefire",
    "border_clash",
    "csto",
    "peacekeeping",
    "military_deployment",
    "protests",
    "sanctions",
    "energy_transport_corridors",
    "territorial_integrity",
    "nato_enlargement",
    "arms_drones",
    "displacement",
    "peace_talks",
    "elections",
}
REQUIRED_PLACES = {
    "nagorno_karabakh",
    "lachin_corridor",
    "syunik",
    "jermuk",
    "tavush",
    "gegharkunik",
    "batken",
    "isfara",
    "vorukh",
    "sughd",
    "abkhazia",
    "south_ossetia",
    "transnistria",
    "crimea",
    "donbas",
}


@pytest.fixture(scope="module")
def lex():
    return load_lexicon(DEFAULT_SEEDS_DIR)


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    for name in ("actors.yaml", "themes.yaml"):
        shutil.copy(DEFAULT_SEEDS_DIR / name, tmp_path / name)
    return tmp_path


def test_watchlist_floor(lex) -> None:
    assert len(lex.actors) >= 80
    assert set(lex.categories) == {"csto", "ceasefire", "border_clash"}
    assert set(lex.themes) >= REQUIRED_THEMES
    assert set(lex.actors) >= REQUIRED_PLACES
    kinds = {a.kind for a in lex.actors.values()}
    assert {"state", "capital", "person", "organisation", "armed_force", "place"} <= kinds
    for actor in lex.actors.values():
        assert actor.aliases.get("en"), f"{actor.slug} has no English alias"


def test_core_states_have_russian_forms(lex) -> None:
    for slug in (
        "russia",
        "ukraine",
        "armenia",
        "azerbaijan",
        "georgia",
        "kazakhstan",
        "kyrgyzstan",
        "tajikistan",
        "uzbekistan",
        "belarus",
        "moldova",
    ):
        ru = lex.actors[slug].aliases.get("ru") or []
        # a stem or several inflected forms: Азербайджан, Азербайджана, Азербайджаном ...
        assert any(a.endswith("*") for a in ru) or len(ru) >= 3, slug


def test_csto_alias_family(lex) -> None:
    aliases = {a.lower().rstrip("*") for v in lex.actors["csto"].aliases.values() for a in v}
    for alias in ("csto", "odkb", "одкб", "հապկ", "ktmt", "ұқшұ", "otsc", "ovks"):
        assert alias in aliases


def test_metonyms_and_memberships(lex) -> None:
    assert lex.actors["kremlin"].metonym_of == "russia"
    assert lex.actors["moscow"].metonym_of == "russia"
    assert lex.actors["baku"].metonym_of == "azerbaijan"
    assert lex.actors["yerevan"].metonym_of == "armenia"
    assert lex.actors["ankara"].metonym_of == "turkey"
    frozen = [
        m for m in lex.actors["armenia"].memberships if m.org == "csto" and m.status == "frozen"
    ]
    assert frozen and frozen[0].since is not None and frozen[0].since.year == 2024


def test_corpus_description_is_valid(lex) -> None:
    assert len(lex.corpus) == 5
    for doc in lex.corpus:
        assert doc.actors and doc.summary and doc.headline


def test_pattern_kinds() -> None:
    assert Pattern("actor:x", "перемири*", "ru").is_stem
    assert Pattern("actor:x", "инди[яи]", "ru").is_stem
    assert not Pattern("actor:x", "line of contact", "en").is_stem
    assert Pattern("actor:x", "UN", "en").case_sensitive
    assert not Pattern("actor:x", "Kremlin", "en").case_sensitive


def _edit_actors(seeds: Path, fn) -> None:
    data = yaml.safe_load((seeds / "actors.yaml").read_text(encoding="utf-8"))
    fn(data["actors"])
    (seeds / "actors.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_missing_field_names_file_entry_and_field(seeds_copy: Path) -> None:
    _edit_actors(seeds_copy, lambda actors: actors[3].pop("kind"))
    with pytest.raises(ConfigError) as ei:
        load_lexicon(seeds_copy)
    msg = str(ei.value)
    assert "actors.yaml" in msg and "actors[3]" in msg and "'kind'" in msg
    assert "slug" in msg  # the entry is named by its slug too


def test_bad_language_and_stem_are_rejected(seeds_copy: Path) -> None:
    _edit_actors(seeds_copy, lambda actors: actors[0]["aliases"].update({"xx": ["Foo"]}))
    with pytest.raises(ConfigError, match=r"actors\[0\].*aliases.*unknown language"):
        load_lexicon(seeds_copy)


def test_bad_stem_position(seeds_copy: Path) -> None:
    _edit_actors(seeds_copy, lambda actors: actors[1]["aliases"]["en"].append("Uk*raine"))
    with pytest.raises(ConfigError, match=r"may only end a word"):
        load_lexicon(seeds_copy)


def test_plain_phrase_that_lower_cases_longer_is_refused(seeds_copy: Path) -> None:
    # "İ" lower-cases to "i" + a combining dot: as a plain phrase it matched nothing and slowed
    # the tokenizer; stems (folded) and acronyms (case-sensitive) with "İ" stay allowed
    _edit_actors(seeds_copy, lambda actors: actors[1]["aliases"]["en"].append("İlgili Haberler"))
    with pytest.raises(ConfigError, match=r"changes length when lower-cased"):
        load_lexicon(seeds_copy)


def test_duplicate_slug_and_unknown_reference(seeds_copy: Path, tmp_path: Path) -> None:
    _edit_actors(seeds_copy, lambda actors: actors.append(dict(actors[0])))
    with pytest.raises(ConfigError, match="duplicate slug"):
        load_lexicon(seeds_copy)
    other = tmp_path / "other"
    other.mkdir()
    for name in ("actors.yaml", "themes.yaml"):
        shutil.copy(DEFAULT_SEEDS_DIR / name, other / name)
    _edit_actors(other, lambda actors: actors[0].update({"metonym_of": "atlantis"}))
    with pytest.raises(ConfigError, match="metonym_of.*atlantis"):
        load_lexicon(other)


def test_missing_cue_list_and_bad_yaml(seeds_copy: Path) -> None:
    data = yaml.safe_load((seeds_copy / "themes.yaml").read_text(encoding="utf-8"))
    del data["cues"]["border"]
    (seeds_copy / "themes.yaml").write_text(
        yaml.safe_dump(data, allow_unicode=True), encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="themes.yaml.*border"):
        load_lexicon(seeds_copy)
    (seeds_copy / "themes.yaml").write_text("cues: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_lexicon(seeds_copy)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="actors.yaml"):
        load_lexicon(tmp_path)


def test_hash_follows_content(seeds_copy: Path) -> None:
    before = load_lexicon(seeds_copy).hash
    assert load_lexicon(seeds_copy).hash == before
    _edit_actors(seeds_copy, lambda actors: actors[0]["aliases"]["en"].append("Rossiya"))
    assert load_lexicon(seeds_copy).hash != before
