"""The border-clash rule.

A border clash needs an armed-incident word and a border word (or a known border place, or the
Karabakh line of contact) in one sentence, between two states of the region; full-scale-war
context weakens it. Casualties in a sentence about an accident or a non-combat death (overturned
vehicle, mine explosion, a fellow serviceman) are no incident; one explicit body sentence with
firing, a border word and both neighbours named weighs as a lead sentence (wire copy with the
fact in paragraph 3).
"""

from __future__ import annotations

from regionwatch.tagging.actors import ActorSets
from regionwatch.tagging.context import ItemContext
from regionwatch.tagging.results import CategoryResult, Match
from regionwatch.tagging.rules.common import Evidence, evidence, finish
from regionwatch.tagging.scan import Sentence
from regionwatch.tagging.weights import WEIGHTS

__all__ = ["border_clash"]


def border_clash(ctx: ItemContext) -> CategoryResult:
    """The border-clash decision of one item."""
    total = 0.0
    ev: Evidence = []
    for info in ctx.infos:
        s = info.sent
        if not s.has("cue:incident"):
            continue
        inc: Match | None = None  # the incident word: the first one, unless an accident
        if s.has("cue:accident"):
            # "killed when their vehicle overturned": casualties of a mishap, not of firing
            inc = _armed_word_beyond_casualties(s)
            if inc is None:
                continue
        # the label whose first match in the sentence places the incident on a border
        border: str | None = "cue:border" if s.has("cue:border") else None
        rule = "border_clash.incident+border"
        if border is None:
            border = s.border_place()
            if border is not None:
                rule = "border_clash.incident+border-place"
        contact = False
        if border is None and ctx.karabakh:
            contact = True
            border = "cue:contact_line" if s.has("cue:contact_line") else None
            rule = "border_clash.incident+contact-line"
            if (
                border is None
                and s.has("cue:violation")
                and s.has("cue:ceasefire")
                and not s.has("cue:heavy_weapons")
            ):
                border, rule = "cue:ceasefire", "border_clash.ceasefire-violation-fire"
            if (
                border is None
                and s.has("actor:nagorno_karabakh")
                and s.has("cue:armed_fire")
                and _both_sides(s, ctx.sets)
            ):
                border, rule = "actor:nagorno_karabakh", "border_clash.karabakh-forces"
        dyad = False
        if (
            border is None
            and s.has("cue:armed_fire")
            and not s.has("cue:war")
            and _dyad(s, ctx.sets)
        ):
            # firing with casualties between two states whose only front is their border
            dyad, border, rule = True, "cue:armed_fire", "border_clash.fire-between-neighbours"
        if border is None:
            continue
        # firing between neighbours "at positions / a post" is a line incident: full weight
        w = info.weight * (WEIGHTS.neighbours_fire if dyad and not s.has("cue:position") else 1.0)
        if (
            info.where == "body"
            and rule == "border_clash.incident+border"
            and s.has("cue:armed_fire")
            and not info.historical
            and not s.has("cue:war")
            and _dyad(s, ctx.sets)
        ):
            # one explicit report deep in wire copy ("Separately, a soldier was wounded by
            # Azerbaijani sniper fire on the border"): firing, a border and both neighbours named
            w, rule = WEIGHTS.lead, rule + "+explicit"
        if (contact or dyad) and ctx.war_sentences:
            # inferred borders (contact line, Karabakh, neighbours) in war reporting are the war
            factor = WEIGHTS.war_context_lead if ctx.war_in_lead else WEIGHTS.war_context_body
            border_match = s.first(border)
            if border_match is not None and "front" in border_match.text.lower():
                factor = 0.0
            w, rule = w * factor, rule + "[war-context]"
        if info.out_cancel:
            w, rule = 0.0, rule + "[out-of-region]"
        else:
            if info.historical:
                w, rule = w * WEIGHTS.historical, rule + "[historical]"
            if ctx.ukraine_war:
                w, rule = w * WEIGHTS.ukraine_war, rule + "[russia-ukraine-war]"
            elif s.has("cue:war"):
                w, rule = w * WEIGHTS.war_sentence, rule + "[war]"
            if s.has("cue:peace_deal"):
                w, rule = w * WEIGHTS.clash_peace_deal, rule + "[peace-deal]"
            elif ctx.peace_title and "cue:incident" not in ctx.title_cues:
                w, rule = w * WEIGHTS.peace_headline, rule + "[peace-headline]"
            if info.listlike:
                w, rule = w * WEIGHTS.listing, rule + "[list]"
        if inc is None:
            inc = s.first("cue:incident")
            assert inc is not None
        total += w
        ev.append((w, evidence(info, inc, rule, w)))
    gate = ctx.region_ok and (len(ctx.states) >= 2 or ctx.has_border_zone)
    return finish(total, gate, ev)


def _armed_word_beyond_casualties(s: Sentence) -> Match | None:
    """The first incident word of ``s`` that is not a bare casualty word ("killed", "injured")."""
    casualties = s.by_label.get("cue:casualty", [])
    for m in s.by_label.get("cue:incident", []):
        if not any(c.start < m.end and m.start < c.end for c in casualties):
            return m
    return None


def _both_sides(s: Sentence, sets: ActorSets) -> bool:
    """Both sides of the Armenian-Azerbaijani conflict named (``groups:`` in actors.yaml)."""
    slugs = {a.slug for a in s.mentions()}
    return bool(slugs & sets.armenian_side) and bool(slugs & sets.azerbaijani_side)


def _dyad(s: Sentence, sets: ActorSets) -> bool:
    """Two neighbours named whose armed incidents are border incidents (``clash_neighbours:``)."""
    countries = {a.any_country for a in s.mentions()}
    return any(d <= countries for d in sets.border_dyads)
