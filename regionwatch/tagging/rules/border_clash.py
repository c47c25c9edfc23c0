"""The border-clash rule.

A border clash needs an armed-incident word and a border word (or a known border place, or the
Karabakh line of contact) in one sentence, between two states of the region; full-scale-war
context weakens it. Casualties in a sentence about an accident or a non-combat death (overturned
vehicle, mine explosion, a fellow serviceman) are no incident; one explicit body sentence with
firing, a border word and both neighbours named weighs as a lead sentence (wire copy with the
fact in paragraph 3).

A military exercise is no incident: an exercise sentence counts only with casualties, and under a
headline or lead about an exercise every incident sentence without casualties weighs
``WEIGHTS.exercise_context`` (the weapons of a drill are named in the sentences after it). Firing
between two neighbours' armies placed on a sector ("positions", "in the direction of X") is a line
incident. A state's own communiqué often names the other side by a unit only ("units of X fired
at the positions of the Separate Army, violating the ceasefire"): firing at positions reported as
a violation of a truce or of the border opens the gate with one state of the region named.
"""

from __future__ import annotations

from typing import Any

from regionwatch.tagging.actors import ActorSets
from regionwatch.tagging.context import ItemContext, SentInfo
from regionwatch.tagging.results import Match
from regionwatch.tagging.rules.common import Evidence, Outcome, evidence, outcome
from regionwatch.tagging.scan import Sentence
from regionwatch.tagging.weights import WEIGHTS

__all__ = ["border_clash"]


def border_clash(ctx: ItemContext) -> Outcome:
    """The border-clash evidence of one item."""
    total = 0.0
    ev: Evidence = []
    border_headline = "cue:border" in ctx.title_cues and not ctx.peace_title
    drill = _exercise_item(ctx)
    line_fire = False  # firing at positions that breaks a truce or the border (see the gate)
    for info in ctx.infos:
        s = info.sent
        truce = s.has("cue:ceasefire") or s.has("cue:ceasefire_phrase")
        if not s.has("cue:incident"):
            # "violated the ceasefire on the state border": the violation is the incident
            found = _violation_on_border(ctx, info) if truce and s.has("cue:violation") else None
            if found is not None:
                total += found[0]
                ev.append(found)
            continue
        inc: Match | None = None  # the incident word: the first one, unless an accident
        armed = s.has("cue:armed_fire")
        casualties = s.has("cue:casualty")
        if _drill(s):
            continue  # "live-fire drills with machine guns near the border": an exercise
        if not armed and _brawl(s):
            continue  # "residents of the two border villages clashed": stones, no armed side
        if _buildup(s):
            continue  # "a build-up of artillery and armour along the border": no firing
        if s.has("cue:accident") or truce:
            # "killed when their vehicle overturned": casualties of a mishap, not of firing;
            # "وقف إطلاق النار", "припинення вогню": the firing word of a truce term is no firing
            inc = _armed_word(s, "cue:incident", truce)
            if inc is None:
                continue
            armed = armed and (not truce or _armed_word(s, "cue:armed_fire", truce) is not None)
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
                and not _inside_karabakh(s, ctx.sets)  # shots in Stepanakert: not the line
            ):
                border, rule = "cue:ceasefire", "border_clash.ceasefire-violation-fire"
            if (
                border is None
                and s.has("actor:nagorno_karabakh")
                and armed
                and _both_sides(s, ctx.sets)
                and not _inside_karabakh(s, ctx.sets)
                and not s.has("cue:heavy_weapons")  # shelling towns, missiles: the war
            ):
                border, rule = "actor:nagorno_karabakh", "border_clash.karabakh-forces"
        dyad = False
        if border is None and armed and not s.has("cue:war") and _dyad(s, ctx.sets):
            # firing with casualties between two states whose only front is their border
            dyad, border, rule = True, "cue:armed_fire", "border_clash.fire-between-neighbours"
        if (
            border is None
            and armed
            and s.has("cue:adversary")
            and s.has("cue:position")
            and not s.has("cue:war")
        ):
            # a ministry's communiqué: "units of the adversary opened fire at our positions in
            # the direction of X" — a line incident with the other state unnamed in the sentence
            # (the gate still wants two states in the item); war reporting weighs it down
            contact, border, rule = True, "cue:adversary", "border_clash.adversary-fire"
        if border is None:
            continue
        # firing between neighbours "at positions / a post" is a line incident: full weight
        located = s.has("cue:position") or border_headline
        # (or under a headline that names the border: "Tension on the Armenian-Azerbaijani border")
        w = info.weight * (WEIGHTS.neighbours_fire if dyad and not located else 1.0)
        if (
            info.where == "body"
            and (rule == "border_clash.incident+border" or (dyad and s.has("cue:position")))
            and armed
            and not info.historical
            and not s.has("cue:war")
            and _dyad(s, ctx.sets)
        ):
            # one explicit report deep in wire copy ("Separately, a soldier was wounded by
            # Azerbaijani sniper fire on the border"): firing, a border (or the positions of one
            # army fired on by the other) and both neighbours named
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
        if drill and not casualties:
            w, rule = w * WEIGHTS.exercise_context, rule + "[exercise]"
        if (
            armed
            and w > 0
            and not info.historical
            and s.has("cue:position")
            and s.has("cue:violation")
            and (truce or s.has("cue:border"))
        ):
            line_fire = True
        if inc is None:
            inc = s.first("cue:incident")
            assert inc is not None
        total += w
        ev.append((w, evidence(info, inc, rule, w)))
    gate = ctx.region_ok and (len(ctx.states) >= 2 or ctx.has_border_zone or line_fire)
    return outcome(total, gate, ev)


def _exercise_item(ctx: ItemContext) -> bool:
    """A headline or lead about a military exercise, with no casualties in it: the weapons and
    firing of the sentences after it are the drill's."""
    if "cue:exercise" in ctx.title_cues and not {"cue:casualty", "cue:armed_fire"} & ctx.title_cues:
        return True
    return any(i.where == "lead" and _drill(i.sent) for i in ctx.infos)


def _drill(s: Sentence) -> bool:
    """An exercise sentence that reports no firing at anyone: no casualties (but those of an
    accident), and no firing word but the drill's weapons ("machine guns", "mortars") unless it
    fires at a notional enemy or practice targets."""
    if not s.has("cue:exercise"):
        return False
    if s.has("cue:casualty") and not s.has("cue:accident"):
        return False
    if s.has("cue:mock_enemy"):
        return True  # "opened fire on the notional enemy": whatever it fires, a drill
    return _weapons_only(s, "cue:armed_fire")


def _brawl(s: Sentence) -> bool:
    """A clash of residents: civilians named, and no serviceman, weapon or firing word (the
    caller checked ``armed``) — a brawl over water or pasture, no armed incident."""
    return s.has("cue:civilians") and not s.has("cue:servicemen") and not s.has("cue:weapon")


def _buildup(s: Sentence) -> bool:
    """Forces and weapons massed or moved ("a build-up of artillery and armour"): every incident
    word of the sentence is a weapon's name, no casualties — nothing was fired."""
    if not s.has("cue:buildup") or (s.has("cue:casualty") and not s.has("cue:accident")):
        return False
    return _weapons_only(s, "cue:incident") and _weapons_only(s, "cue:armed_fire")


def _weapons_only(s: Sentence, label: str) -> bool:
    """Every match of ``label`` in ``s`` overlaps a weapon's name."""
    weapons = s.by_label.get("cue:weapon", [])
    return all(
        any(w.start < m.end and m.start < w.end for w in weapons) for m in s.by_label.get(label, [])
    )


def _violation_on_border(ctx: ItemContext, info: SentInfo) -> tuple[float, dict[str, Any]] | None:
    """A ceasefire violation placed on a border ("units of the armed forces grossly violated the
    ceasefire on the state border"): an armed incident reported in the words of the side that
    reports it. Not in background sentences, war reporting, nor in a sentence that is no news
    of the region."""
    s = info.sent
    if info.historical or info.out_cancel or info.listlike or s.has("cue:war"):
        return None
    if ctx.ukraine_war or s.has("cue:peace_deal"):
        return None
    if not (s.has("cue:border") or s.border_place() is not None):
        return None
    m = s.first("cue:violation")
    assert m is not None
    # a claim in the words of one side, with no firing word: half weight, enough for the
    # second topic of a ceasefire story or beside one reported incident
    w = info.weight * WEIGHTS.violation_on_border
    return w, evidence(info, m, "border_clash.ceasefire-violated-on-border", w)


def _armed_word(s: Sentence, label: str, truce: bool) -> Match | None:
    """The first match of ``label`` in ``s`` that reports firing: not a bare casualty word
    ("killed", "injured") in a sentence about an accident, nor inside a truce term."""
    skip: list[Match] = []
    if s.has("cue:accident"):  # (and the words of the accident itself: "mine explosion")
        skip += s.by_label.get("cue:casualty", []) + s.by_label.get("cue:accident", [])
    if truce:
        skip += s.by_label.get("cue:ceasefire", []) + s.by_label.get("cue:ceasefire_phrase", [])
    for m in s.by_label.get(label, []):
        if not any(c.start < m.end and m.start < c.end for c in skip):
            return m
    return None


def _both_sides(s: Sentence, sets: ActorSets) -> bool:
    """Both sides of the Armenian-Azerbaijani conflict named (``groups:`` in actors.yaml)."""
    slugs = {a.slug for a in s.mentions()}
    return bool(slugs & sets.armenian_side) and bool(slugs & sets.azerbaijani_side)


def _inside_karabakh(s: Sentence, sets: ActorSets) -> bool:
    """A town inside Karabakh named (Stepanakert, Shusha): fire on it is the war or an offensive
    inside Karabakh, not an incident on the line of contact."""
    return any(a.slug in sets.inside_karabakh for a in s.mentions())


def _dyad(s: Sentence, sets: ActorSets) -> bool:
    """Two neighbours named whose armed incidents are border incidents (``clash_neighbours:``)."""
    countries = {a.any_country for a in s.mentions()}
    return any(d <= countries for d in sets.border_dyads)
