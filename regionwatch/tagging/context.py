"""The cancelling context: what weakens or cancels a rule sentence's evidence.

Historical sentences (an earlier year than the article's own, "last year", "the 1990s", "ended
the war" ...) weigh ``WEIGHTS.historical``; sentences about conflicts outside the region (Gaza,
Sudan, Kashmir, Korea ...) weigh nothing; list-like sentences weigh ``WEIGHTS.listing``; an
article whose out-of-region mentions outweigh its regional ones gets no ceasefire / border-clash
label; a headline about the past halves every sentence.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from regionwatch.lexicon import Lexicon
from regionwatch.tagging.actors import ActorInfo, ActorSets
from regionwatch.tagging.scan import Field, Sentence
from regionwatch.tagging.weights import WEIGHTS

__all__ = ["ItemContext", "SentInfo", "norm_space"]

_WS = re.compile(r"\s+")
_BODY = (WEIGHTS.body, "body")


class SentInfo:
    """A rule sentence with its position weight and context; the actor-based context (out of
    region, list-like, organisations) is worked out when a rule first asks for it."""

    __slots__ = ("sent", "weight", "where", "historical", "_out_cancel", "_listlike", "_orgs")

    def __init__(self, sent: Sentence, weight: float, where: str, historical: bool) -> None:
        self.sent = sent
        self.weight = weight  # position weight
        self.where = where
        self.historical = historical
        self._out_cancel: bool | None = None
        self._listlike = False
        self._orgs: frozenset[str] = frozenset()

    def _regions(self) -> None:
        core = out = 0
        places: set[str] = set()
        orgs: set[str] = set()
        for a in self.sent.mentions():
            if a.core:
                core += 1
            elif a.out:
                out += 1
            if a.place:
                places.add(a.any_country or a.state)  # border sectors of one state: no list
            if a.org:
                orgs.add(a.slug)
        self._out_cancel = out > 0 and out >= core
        self._listlike = (
            len(places) >= 5
            or (len(orgs) >= 3)
            or (self.sent.has("cue:listing") and len(places) >= 4)
        )
        self._orgs = frozenset(orgs)

    @property
    def out_cancel(self) -> bool:
        """More out-of-region than regional mentions."""
        if self._out_cancel is None:
            self._regions()
        return bool(self._out_cancel)

    @property
    def listlike(self) -> bool:
        """A list of places or organisations."""
        if self._out_cancel is None:
            self._regions()
        return self._listlike

    @property
    def orgs(self) -> frozenset[str]:
        """The organisations named."""
        if not self.sent.has_orgs:
            return _NO_ORGS
        if self._out_cancel is None:
            self._regions()
        return self._orgs


_NO_ORGS: frozenset[str] = frozenset()


@dataclass
class ItemContext:
    """The item as the category rules see it: its rule sentences with their weight and context,
    and the article-wide facts (region, states, war reporting, headline)."""

    lexicon: Lexicon
    sets: ActorSets
    infos: list[SentInfo]
    region_ok: bool
    core_mentions: int
    out_mentions: int
    states: set[str]
    karabakh: bool
    ukraine_war: bool
    has_border_zone: bool
    war_sentences: int
    peace_title: bool  # the headline is about a peace deal / delimitation, not fighting
    war_in_lead: bool
    title_cues: set[str]

    @classmethod
    def build(
        cls,
        lexicon: Lexicon,
        sets: ActorSets,
        scans: list[tuple[Field, list[Sentence]]],
        title: str,
        actor_info: dict[str, ActorInfo],
        this_year: int,
    ) -> ItemContext:
        """Work out the context of one item from its scanned fields.

        Args:
            lexicon: the watchlist.
            sets: the actor groups the rules read.
            scans: the scanned headline and text, with their rule sentences.
            title: the headline ("" when none).
            actor_info: ``actor:<slug>`` -> what the rules know about it.
            this_year: the current year (a later year is no article's own year).
        """
        # the article's own year: the latest year mentioned, but never a future one ("by 2030")
        years = [y for f, _ in scans for y in f.all_years if y <= 2040 and y <= this_year]
        max_year = max(years) if years else None
        # article-wide counts: every actor mention (one per actor and start), whatever its sentence
        core_total = out_total = 0
        title_out = title_core = 0
        counts: dict[str, int] = defaultdict(int)
        states: set[str] = set()
        border_zone = False
        title_cues: set[str] = set()
        for fld, _ in scans:
            core = out = 0
            for a, n in fld.actor_counts(actor_info):
                counts[a.state] += n
                if a.core:
                    core += n
                elif a.out:
                    out += n
                if a.country:
                    # the states involved: "Kyrgyz border guards" names Kyrgyzstan as well
                    states.add(a.country)
                if a.border_zone:
                    border_zone = True
            core_total += core
            out_total += out
            if fld.part == "title":
                title_out += out
                title_core += core
                title_cues.update(fld.labels)  # every title sentence with a match is a rule one
        # position of the first text sentences: the lead is up to the 3rd sentence of >= 5 words
        norm_title = norm_space(title) if len(title.strip()) >= 15 else ""
        lead: dict[int, tuple[float, str]] = {}
        for fld, _ in scans:
            if fld.part == "title":
                continue
            lead_left = WEIGHTS.lead_sentences
            text = fld.text
            for sid, (lo, hi) in enumerate(zip(fld.starts, fld.ends, strict=True)):
                if lead_left <= 0:
                    break
                stext = text[lo:hi]
                if norm_title and norm_space(stext) in norm_title:
                    # the headline repeated at the top of the text: counted once, as the title
                    lead[sid] = (0.0, "title-repeat")
                else:
                    lead[sid] = (WEIGHTS.lead, "lead")
                    if len(stext.split()) >= 5:
                        lead_left -= 1
        # the sentences a rule can use (the others carry no cue any rule looks at)
        infos: list[SentInfo] = []
        war_sentences = 0
        war_in_lead = old_title = False
        for fld, sents in scans:
            in_title = fld.part == "title"
            for s in sents:
                if fld.boiler_spans and fld.in_boiler(s.start):
                    continue  # a headline of another story ("Related news: ...")
                if in_title:
                    weight, where = WEIGHTS.title, "title"
                else:
                    weight, where = lead.get(s.index, _BODY)
                historical = s.decade or s.has("cue:historical")
                if not historical and s.has("cue:recap"):
                    # "напомним, ...": a recap of an earlier report is background, unless it
                    # dates what it recaps to the report's own day ("напомним, сегодня ...")
                    historical = not s.has("cue:same_day")
                if not historical and max_year is not None:
                    historical = any(y < max_year for y in s.years)
                if historical and s.has("cue:recency") and not s.has("cue:historical"):
                    historical = False  # "the deadliest clashes since 2020" dates a current event
                infos.append(SentInfo(s, weight, where, historical))
                if not historical and s.has("cue:war"):
                    # war context: sentences about war that are not themselves background
                    war_sentences += 1
                    if where != "body":
                        war_in_lead = True
                if (
                    in_title
                    and s.has("cue:historical")
                    and not (s.has("cue:incident") or s.has("cue:ceasefire"))
                ):
                    old_title = True
        region_ok = core_total > 0 and out_total < core_total and not (title_out and not title_core)
        karabakh = bool(sets.karabakh_conflict & set(counts))
        ua_ru = sum(counts.get(s, 0) for s in sets.ukraine_war)
        others = sum(counts.get(s, 0) for s in sets.other_fronts)
        party = sum(counts.get(s, 0) for s in sets.ukraine_war_party)
        # Russia and Ukraine both named: since 2022 any fire between them is the war
        ukraine_war = (ua_ru >= 2 or (ua_ru and party)) and ua_ru > others
        if ukraine_war:
            karabakh = karabakh and others >= ua_ru
        # a headline about the past (anniversary, history) makes the whole item background
        if old_title:
            for i in infos:
                i.weight *= WEIGHTS.old_headline
        peace_title = "cue:peace_deal" in title_cues
        return cls(
            lexicon=lexicon,
            sets=sets,
            infos=infos,
            region_ok=region_ok,
            core_mentions=core_total,
            out_mentions=out_total,
            states=states,
            karabakh=karabakh,
            ukraine_war=bool(ukraine_war),
            has_border_zone=border_zone,
            war_sentences=war_sentences,
            peace_title=peace_title,
            war_in_lead=war_in_lead,
            title_cues=title_cues,
        )


def norm_space(text: str) -> str:
    """``text`` lower-cased, white space folded to one space."""
    return _WS.sub(" ", text).strip().lower()
