"""The weights of the category rules, in one named table.

Every number a rule multiplies or compares evidence with lives here; a rule reads
``WEIGHTS.<name>``. Evidence is added up per sentence: a sentence's position weight (headline,
lead, body) times the factors of its context, and a category is decided when the sum reaches
``threshold``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["WEIGHTS", "Weights"]


@dataclass(frozen=True, slots=True)
class Weights:
    """Position weights, the decision threshold and the context factors of the rules."""

    # position of the sentence
    title: float = 3.0  # a match in the headline
    lead: float = 2.0  # ... in the lead (the first ``lead_sentences`` sentences of >= 5 words)
    body: float = 1.0  # ... further down
    lead_sentences: int = 3
    threshold: float = 2.0  # evidence sum at which a category is decided (score 0.5)
    second_topic: float = 1.0  # evidence that decides a category beside a decided one
    shut_gate: float = 0.2  # score factor of a category whose gate (region, two states) is shut
    max_evidence: int = 5  # evidence entries kept per category
    max_sentence_chars: int = 400  # an evidence sentence is cut there
    # context that cancels or weakens evidence, for every rule
    historical: float = 0.3  # background: an earlier year, "the 1990s", "ended the war"
    listing: float = 0.3  # a list of places or organisations
    old_headline: float = 0.5  # a headline about the past (anniversary, history): every sentence
    # ceasefire
    ceasefire_phrase: float = 0.7  # "cessation of hostilities" rather than a truce word
    ceasefire_status: float = 1.5  # a truce agreed, holding, violated (not background)
    ceasefire_peace_deal: float = 0.3  # a truce word beside a peace deal
    peace_headline: float = 0.5  # a headline about a peace deal or delimitation
    # border_clash
    ukraine_war: float = 0.2  # Russia-Ukraine war reporting: border shelling is the war (0.35 let
    # a border-village shelling report with three mentions through)
    neighbours_fire: float = 0.75  # firing between neighbours, no "border", no "positions"
    war_context_lead: float = 0.25  # an inferred border in war reporting, war in the lead
    war_context_body: float = 0.5  # ... war further down
    war_sentence: float = 0.5  # a war word in the sentence itself
    clash_peace_deal: float = 0.5  # an incident beside a peace deal
    violation_on_border: float = 0.5  # "violated the ceasefire on the border", no firing word
    exercise_context: float = 0.3  # incident words under an exercise headline / lead, no casualties
    # csto
    csto_mention: float = 0.5  # the CSTO named without an action
    csto_historical: float = 0.5  # ... in a background sentence
    csto_anaphor: float = 0.5  # "the bloc" after the CSTO was named
    csto_forces_reach: int = 40  # characters between "troops" and the CSTO's name: its own forces


WEIGHTS = Weights()
