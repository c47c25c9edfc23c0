"""The tagger on our own Persian (fa) and Tajik (tg) cases (``lang_cases_fa.yaml``): each label,
a two-label report, the CSTO named late or by its local full name, background and war or
out-of-region negatives. Every case must come out exactly."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from regionwatch.tagging import CATEGORY_ORDER, Tagger, get_tagger

CASES: list[dict[str, Any]] = yaml.safe_load(
    Path(__file__).with_name("lang_cases_fa.yaml").read_text(encoding="utf-8")
)["cases"]


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return get_tagger()


def test_cases_cover_both_languages() -> None:
    assert len({c["id"] for c in CASES}) == len(CASES)
    per_lang = Counter(c["lang"] for c in CASES)
    assert set(per_lang) == {"fa", "tg"} and min(per_lang.values()) >= 6
    for lang in per_lang:
        mine = [c for c in CASES if c["lang"] == lang]
        assert {lab for c in mine for lab in c["labels"]} == set(CATEGORY_ORDER), lang
        assert any(len(c["labels"]) >= 2 for c in mine) and any(not c["labels"] for c in mine)
    for c in CASES:
        assert c["labels"] == [lab for lab in CATEGORY_ORDER if lab in c["labels"]], c["id"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['id']}-{c['class']}")
def test_case(case: dict[str, Any], tagger: Tagger) -> None:
    got = tagger.tag(case["text"], title=case["title"] or None, lang=case["lang"]).labels
    assert got == case["labels"], case.get("note") or case["text"][:100]
