"""One module per category rule; :func:`decide` turns their evidence into the decisions.

A rule maps an :class:`~regionwatch.tagging.context.ItemContext` to an
:class:`~regionwatch.tagging.rules.common.Outcome` (evidence sum, gate, evidence entries). A
category is decided when its sum reaches ``WEIGHTS.threshold``. Reports are often about two
things: a ceasefire story reports the fighting it ends, a clash story the truce agreed or called
for, or a member's appeal to the CSTO. So a category whose evidence reaches only
``WEIGHTS.second_topic`` is decided too when another category of the item is decided (*second
topic*); and a clash and a truce each reported with that much evidence decide each other
(*corroboration*: fighting and a truce between the same parties in one report). Neither
applies under a peace-deal or delimitation headline, whose fighting and truces are background.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from regionwatch.tagging.context import ItemContext
from regionwatch.tagging.results import CATEGORY_ORDER, CategoryResult
from regionwatch.tagging.rules.border_clash import border_clash
from regionwatch.tagging.rules.ceasefire import ceasefire
from regionwatch.tagging.rules.common import Outcome, finish
from regionwatch.tagging.rules.csto import csto
from regionwatch.tagging.weights import WEIGHTS

__all__ = ["RULES", "border_clash", "ceasefire", "csto", "decide"]

RULES: dict[str, Callable[[ItemContext], Outcome]] = {
    "border_clash": border_clash,
    "ceasefire": ceasefire,
    "csto": csto,
}


def _bare_headline(e: dict[str, Any]) -> bool:
    """A headline entry with weight that reports no news of its own: no truce status ("agreed",
    "violated"), no CSTO action ("deployment", "summit")."""
    return (
        e["field"] == "title"
        and e["weight"] > 0
        and "+status" not in e["rule"]
        and not e["rule"].startswith("csto.action")
    )


def _headline_over_history(o: Outcome) -> Outcome:
    """A bare headline term over a text whose every evidence sentence is background ("Thirty
    years since the 1994 truce" over a history piece) is background too: its weight is scaled
    down like theirs. A headline that reports news itself (a truce agreed, a CSTO deployment)
    keeps its weight."""
    title = [w for w, e in o.ev if _bare_headline(e)]
    text = [e for w, e in o.ev if e["field"] == "text" and e["where"] != "title-repeat"]
    if not title or not text or not all("[historical]" in e["rule"] for e in text):
        return o
    cut = sum(title) * (1.0 - WEIGHTS.historical)
    for i, (w, e) in enumerate(o.ev):
        if _bare_headline(e):
            w *= WEIGHTS.historical
            o.ev[i] = (w, {**e, "rule": e["rule"] + "[history-piece]", "weight": round(w, 3)})
    o.total -= cut
    o.second = min(o.second, o.total)
    return o


def decide(ctx: ItemContext) -> dict[str, CategoryResult]:
    """Every category's result for one item, second topics and corroboration included."""
    found = {name: _headline_over_history(rule(ctx)) for name, rule in RULES.items()}
    results = {name: finish(o) for name, o in found.items()}
    second = WEIGHTS.second_topic
    primary = {name for name, r in results.items() if r.decision}
    if ctx.peace_title:
        # under a peace-deal or delimitation headline, fighting and truces are its background
        return results
    for name in CATEGORY_ORDER:
        o = found[name]
        if name in primary or not o.gate or o.second < second:
            continue
        if primary - {name}:
            results[name] = finish(o, second)
    clash, truce = found["border_clash"], found["ceasefire"]
    if not primary and clash.gate and truce.gate and min(clash.second, truce.second) >= second:
        results["border_clash"] = finish(clash, second)
        results["ceasefire"] = finish(truce, second)
    return results
