"""The Ukrainian, Belarusian and Georgian packs on our own cases (``lang_cases_sl.yaml``): a
clash, a truce, the CSTO named late or by its local name and a two-label report per language
come out exactly, and background, war and out-of-region reports stay unlabelled."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from regionwatch.tagging import CATEGORY_ORDER, Tagger, get_tagger

CASES: list[dict[str, Any]] = yaml.safe_load(
    Path(__file__).with_name("lang_cases_sl.yaml").read_text(encoding="utf-8")
)["cases"]


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return get_tagger()


def test_cases_cover_every_language() -> None:
    assert len({c["id"] for c in CASES}) == len(CASES)
    per_lang = Counter(c["lang"] for c in CASES)
    assert set(per_lang) == {"uk", "be", "ka"} and min(per_lang.values()) >= 6
    for lang in per_lang:
        mine = [c for c in CASES if c["lang"] == lang]
        assert {lab for c in mine for lab in c["labels"]} == set(CATEGORY_ORDER), lang
        assert any(len(c["labels"]) >= 2 for c in mine) and any(not c["labels"] for c in mine)
    for c in CASES:
        assert c["labels"] == [lab for lab in CATEGORY_ORDER if lab in c["labels"]], c["id"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['id']}-{c['class']}-{c['lang']}")
def test_case(case: dict[str, Any], tagger: Tagger) -> None:
    got = tagger.tag(case["text"], title=case["title"] or None, lang=case["lang"]).labels
    assert got == case["labels"], case.get("note") or case["text"][:100]
