"""The tagger on the challenge sets written blind (tests/unit/blind_cases_[a-e].yaml).

Helpers wrote them from the label rules of the shared eval README alone, never seeing the
tagger, its seeds or our other cases. Sets A and D were scored once and then tuned on; sets B
and C are never read by whoever writes rules — only aggregate floors guard them (see SETS);
E (precision-minded) was read but not tuned on. Micro F1 >= 0.70 beyond the listed languages
where a set has such items. Set A's precision floor is 0.90: its one known false positive
(ba041, a CSTO appeal the government "did not discuss") needs negation, which the rules do not
read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from regionwatch.evaluation import evaluate_rows, micro
from regionwatch.tagging import Tagger, get_tagger

HERE = Path(__file__).parent


def _cases(name: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load((HERE / name).read_text(encoding="utf-8"))["cases"])


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return get_tagger()


# (set, cases, precision floor, recall floor) per label in the listed languages. A and D were
# tuned on; B and C never read. C's floors sit below the targets (P >= 0.95, R >= 0.90)
# at what it measured when it was added (bench/TAGGING_EVAL.md): a guard against losing ground,
# not a claim — its French items carry false positives nobody has looked at.
SETS = [
    ("blind_cases_a.yaml", 80, 0.90, 0.90),
    ("blind_cases_b.yaml", 80, 0.95, 0.90),
    ("blind_cases_c.yaml", 60, 0.80, 0.85),
    ("blind_cases_d.yaml", 60, 0.90, 0.85),  # bd037: a BORDERLINE shot at the South Ossetia line
    ("blind_cases_e.yaml", 60, 0.85, 0.90),  # precision-minded, read but not tuned on
]


@pytest.mark.parametrize(("name", "n", "min_p", "min_r"), SETS)
def test_blind_set_meets_the_targets(
    name: str, n: int, min_p: float, min_r: float, tagger: Tagger
) -> None:
    cases = _cases(name)
    assert len(cases) == n and len({c["id"] for c in cases}) == n
    rep = evaluate_rows(cases, tagger)
    for lab, st in rep.groups["in scope"].items():
        assert st.precision >= min_p, (name, lab, st)
        assert st.recall >= min_r, (name, lab, st)
    if rep.group_items.get("beyond"):  # (C and E are all in the listed languages)
        assert micro(rep.groups["beyond"]).f1 >= 0.70, (name, rep.groups["beyond"])
