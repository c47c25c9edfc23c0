"""The completion packs of the listed languages (``seeds/languages/``) on cases of our own,
one file per pack set (``lang_cases_<set>.yaml``): each label, two-label reports, the CSTO named
late or by its local full name, background, war and out-of-region negatives. Every case must
come out exactly; most positives fail without the packs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from regionwatch.tagging import CATEGORY_ORDER, Tagger, get_tagger

HERE = Path(__file__).parent
# set -> (its languages and no other, cases per language at least, whether each language must
# cover every label with a two-label report and a negative, classes each language must have)
SPECS: dict[str, tuple[tuple[str, ...], int, bool, tuple[set[str], ...]]] = {
    "fa": (("fa", "tg"), 6, True, ()),
    "ca": (("kk", "ky", "uz", "tk"), 6, False, ()),
    "sl": (("uk", "be", "ka"), 6, True, ()),
    "ak": (("hy", "az", "tr"), 6, True, ({"late_csto"}, {"background"}, {"war", "out_of_region"})),
    "fd": (("fr", "de"), 10, False, ()),
}
CASES: dict[str, list[dict[str, Any]]] = {
    name: yaml.safe_load((HERE / f"lang_cases_{name}.yaml").read_text(encoding="utf-8"))["cases"]
    for name in SPECS
}


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return get_tagger()


@pytest.mark.parametrize("name", SPECS)
def test_cases_cover_their_languages(name: str) -> None:
    cases = CASES[name]
    langs, at_least, full, classes = SPECS[name]
    assert len({c["id"] for c in cases}) == len(cases)
    per_lang = Counter(c["lang"] for c in cases)
    assert set(per_lang) == set(langs), per_lang
    assert all(per_lang[lang] >= at_least for lang in langs), per_lang
    for lang in langs:
        mine = [c for c in cases if c["lang"] == lang]
        if full:
            assert {lab for c in mine for lab in c["labels"]} == set(CATEGORY_ORDER), lang
            assert any(len(c["labels"]) >= 2 for c in mine), lang
            assert any(not c["labels"] for c in mine), lang
        for wanted in classes:  # (one class of each set)
            assert wanted & {c["class"] for c in mine}, (lang, wanted)
    for c in cases:
        assert c["labels"] == [lab for lab in CATEGORY_ORDER if lab in c["labels"]], c["id"]


@pytest.mark.parametrize(
    "case",
    [c for name in SPECS for c in CASES[name]],
    ids=lambda c: f"{c['id']}-{c['class']}-{c['lang']}",
)
def test_case(case: dict[str, Any], tagger: Tagger) -> None:
    got = tagger.tag(case["text"], title=case["title"] or None, lang=case["lang"]).labels
    assert got == case["labels"], case.get("note") or case["text"][:100]
