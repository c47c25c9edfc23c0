"""The CSTO rule.

CSTO needs the organisation named with an action (deployment, summit, appeal, freeze ...) more
than in passing; a sentence naming it among other organisations is a list; "the bloc" after the
CSTO was named counts half.
"""

from __future__ import annotations

from regionwatch.tagging.context import ItemContext
from regionwatch.tagging.results import Match
from regionwatch.tagging.rules.common import Evidence, Outcome, evidence, outcome
from regionwatch.tagging.scan import Sentence
from regionwatch.tagging.weights import WEIGHTS

__all__ = ["csto"]


def csto(ctx: ItemContext) -> Outcome:
    """The CSTO evidence of one item."""
    total = second = 0.0
    ev: Evidence = []
    last_org: str | None = None  # the organisation named last: what "the bloc" refers back to
    # "the bloc will send peacekeepers" before any organisation is named: the CSTO's, when it is
    # named later acting (a story that names its subject late)
    ahead: Evidence = []
    for info in ctx.infos:
        s = info.sent
        m_label = (
            "actor:csto"
            if s.has("actor:csto")
            else "actor:csto_secretary_general"
            if s.has("actor:csto_secretary_general")
            else None
        )
        # an action: deploying, meeting, appealed to ...; its secretary general speaking; or the
        # organisation named with a truce ("the CSTO will hold talks to stop the fighting",
        # "ОДКБ призвала к прекращению огня"): it brokers or calls for one
        action = (
            s.has("cue:csto_action")
            or s.has("actor:csto_secretary_general")
            or s.has("cue:ceasefire")
            or s.has("cue:ceasefire_phrase")
        )
        others = info.orgs
        if others:
            others = others - ctx.sets.csto_body
        if m_label is None:
            # "the bloc" / "организация" in a later sentence, when the CSTO was named last
            anaphor = s.first("cue:csto_anaphor") if s.has("cue:csto_anaphor") else None
            if anaphor is not None and action and not others and last_org in ("csto", None):
                w = info.weight * WEIGHTS.csto_anaphor
                if info.historical:
                    w *= WEIGHTS.csto_historical
                if last_org is None:
                    ahead.append((w, evidence(info, anaphor, "csto.named-late", w)))
                else:
                    total += w
                    ev.append((w, evidence(info, anaphor, "csto.anaphor", w)))
            if others:
                last_org = sorted(others)[0]
                ahead.clear()
            continue
        last_org = "csto"
        m = s.first(m_label)
        assert m is not None
        if action and _membership_aside(s, m):
            action = False  # "Armenia, a member of the CSTO, said its forces returned fire"
        w = info.weight * (1.0 if action else WEIGHTS.csto_mention)
        rule = "csto.action" if action else "csto.mention"
        if info.historical:
            w, rule = w * WEIGHTS.csto_historical, rule + "[historical]"
        # a list of organisations ("a member of the EAEU, the SCO, the CSTO"), not member states:
        # a CSTO story names its member states as a matter of course
        if len(others) >= 2 or (others and (s.has("cue:listing") or not action)):
            w, rule = w * WEIGHTS.listing, rule + "[list]"
        total += w
        if action:  # only the CSTO acting carries it as a report's second topic
            second += w
            if ahead and rule == "csto.action":  # what "the bloc" before meant
                total += sum(a for a, _ in ahead)
                ev.extend(ahead)
        ahead.clear()
        ev.append((w, evidence(info, m, rule, w)))
    return outcome(total, True, ev, second)


_ASIDE_REACH = 30  # characters between a membership word and the CSTO's name
# what makes a sentence with a membership aside about the CSTO after all
_NOT_ASIDE = ("cue:csto_membership_change", "cue:csto_anaphor", "cue:csto_engagement")


def _membership_aside(s: Sentence, m: Match) -> bool:
    """Whether the CSTO (match ``m``) is named only as a membership aside ("a member of the
    CSTO", "CSTO member states", "член ОДКБ") in a sentence that neither is about the membership
    itself (freezing, leaving, joining) nor engages the bloc ("asked the bloc", "appealed to its
    allies for help", "the peacekeeping mission of the member states")."""
    if not s.has("cue:csto_membership"):
        return False
    if any(
        s.has(c) for c in ("cue:csto_membership_change", "cue:csto_anaphor", "cue:csto_engagement")
    ):
        return False
    return any(
        -_ASIDE_REACH <= m.start - a.end <= _ASIDE_REACH
        or -_ASIDE_REACH <= a.start - m.end <= _ASIDE_REACH
        for a in s.by_label.get("cue:csto_membership", [])
    )
