"""The completion packs of French and German on cases of our own
(``lang_cases_fd.yaml``): each label, two-label reports, the CSTO by its local full name,
background and out-of-region negatives. Every case must come out exactly."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from regionwatch.tagging import Tagger, get_tagger

CASES: list[dict[str, Any]] = yaml.safe_load(
    Path(__file__).with_name("lang_cases_fd.yaml").read_text(encoding="utf-8")
)["cases"]


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return get_tagger()


def test_cases_cover_every_language() -> None:
    assert len({c["id"] for c in CASES}) == len(CASES)
    per_lang = Counter(c["lang"] for c in CASES)
    assert all(per_lang[lang] >= 10 for lang in ("fr", "de")), per_lang


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['id']}-{c['class']}-{c['lang']}")
def test_case(case: dict[str, Any], tagger: Tagger) -> None:
    got = tagger.tag(case["text"], title=case["title"] or None, lang=case["lang"]).labels
    assert got == case["labels"], case.get("note") or case["text"][:100]
