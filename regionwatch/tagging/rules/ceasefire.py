"""The ceasefire rule.

A ceasefire needs a truce word (or a phrase like "cessation of hostilities"); a peace treaty
alone is not one, and a truce whose named parties ("the Israel-Iran ceasefire", "a truce
between Israel and Hamas") are all outside the region weighs nothing, whoever comments on it.
A year used as an event's modifier ("the 2020 ceasefire") makes its sentence background.
"""

from __future__ import annotations

import re

from regionwatch.lexicon import Lexicon
from regionwatch.tagging.context import ItemContext
from regionwatch.tagging.results import Match
from regionwatch.tagging.rules.common import Evidence, Outcome, evidence, outcome
from regionwatch.tagging.scan import Sentence
from regionwatch.tagging.weights import WEIGHTS

__all__ = ["ceasefire"]


def ceasefire(ctx: ItemContext) -> Outcome:
    """The ceasefire evidence of one item."""
    total = second = 0.0
    ev: Evidence = []
    for info in ctx.infos:
        s = info.sent
        if s.has("cue:ceasefire"):
            strong, m = True, s.first("cue:ceasefire")
        elif s.has("cue:ceasefire_phrase"):
            strong, m = False, s.first("cue:ceasefire_phrase")
        else:
            continue
        assert m is not None
        rule = "ceasefire.term" if strong else "ceasefire.phrase"
        w = info.weight * (1.0 if strong else WEIGHTS.ceasefire_phrase)
        if info.out_cancel or _parties_out_of_region(s, m, ctx.lexicon):
            w, rule = 0.0, rule + "[out-of-region]"
        else:
            if (s.has("cue:ceasefire_status") or s.has("cue:violation")) and not info.historical:
                w, rule = w * WEIGHTS.ceasefire_status, rule + "+status"
            if info.historical and not s.has("cue:violation"):
                w, rule = w * WEIGHTS.historical, rule + "[historical]"
            if s.has("cue:peace_deal") and not s.has("cue:violation"):
                w, rule = w * WEIGHTS.ceasefire_peace_deal, rule + "[peace-deal]"
            if info.listlike:
                w, rule = w * WEIGHTS.listing, rule + "[list]"
            if ctx.peace_title and "cue:ceasefire" not in ctx.title_cues:
                w, rule = w * WEIGHTS.peace_headline, rule + "[peace-headline]"
        total += w
        if "+status" in rule:  # a truce agreed, violated, called for: news beside a clash
            second += w
        ev.append((w, evidence(info, m, rule, w)))
    return outcome(total, ctx.region_ok, ev, second)


# "the Israel-Iran ceasefire", "a truce between Israel and Hamas": the parties named right next to
# the truce word decide its region, whoever else (a Kremlin spokesman ...) comments on it
_BETWEEN = re.compile(r"(?i)\W{0,3}(?:\w+\W+){0,4}?(?:between|между|entre|zwischen|arasında)\b")
_PARTY_AFTER = 60  # reach of "between X and Y" after the truce word


def _parties_out_of_region(s: Sentence, m: Match, lexicon: Lexicon) -> bool:
    """Whether the parties named at the truce word ``m`` are all outside the region."""
    if not any(a.out for a in s.mentions()):
        return False  # the parties are some of the actors named: none is out of the region
    off, text = s.start, s.text
    parties: list[Match] = []
    # before: a chain of actors joined by hyphens, slashes or "and" ending at the truce word
    edge = m.start
    for a in sorted(s.actor_matches, key=lambda x: -x.start):
        if a.end > edge:
            continue
        if not _JOIN.fullmatch(text[a.end - off : edge - off]):
            break
        parties.append(a)
        edge = a.start
    # after: "truce between X and Y"
    between = _BETWEEN.match(text, m.end - off, min(len(text), m.end - off + 40))
    if between is not None:
        lo = between.end() + off
        after = sorted(
            (a for a in s.actor_matches if lo <= a.start <= lo + _PARTY_AFTER),
            key=lambda x: x.start,
        )
        starts = sorted({a.start for a in after})[:2]  # "between X and Y": the first two names
        parties.extend(a for a in after if a.start in starts)
    regions = {lexicon.actors[a.label[6:]].region for a in parties}
    return "out" in regions and "core" not in regions


_JOIN = re.compile(r"(?i)[\s\-–—/'’]{0,3}(?:(?:and|und|et|и|ve)\s+)?|'s\s+|’s\s+")
