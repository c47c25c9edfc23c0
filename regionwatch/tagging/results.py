"""What the tagger returns: matches, per-category results and the item's :class:`TagResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = ["CATEGORY_ORDER", "CategoryResult", "Match", "TagResult"]

CATEGORY_ORDER = ("border_clash", "ceasefire", "csto")


class Match(NamedTuple):
    """One pattern match: label (``actor:x``, ``theme:x``, ``cue:x``), character span, text."""

    label: str
    start: int
    end: int
    text: str


@dataclass
class CategoryResult:
    """Score, decision and evidence of one category."""

    score: float = 0.0
    decision: bool = False
    evidence: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "score": round(self.score, 4),
            "decision": self.decision,
            "evidence": list(self.evidence),
        }


@dataclass
class TagResult:
    """Everything the tagger found in one item."""

    actors: list[dict[str, Any]]
    themes: list[dict[str, Any]]
    categories: dict[str, CategoryResult]
    other_entities: list[dict[str, Any]]
    lexicon_hash: str

    @property
    def labels(self) -> list[str]:
        """Categories decided yes, in the order border_clash, ceasefire, csto."""
        return [c for c in CATEGORY_ORDER if self.categories[c].decision]

    @property
    def actor_slugs(self) -> list[str]:
        """Slugs of the actors found, most mentioned first."""
        return [a["slug"] for a in self.actors]

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``regionwatch tag`` prints."""
        return {
            "actors": self.actors,
            "themes": self.themes,
            "categories": {c: self.categories[c].to_dict() for c in CATEGORY_ORDER},
            "other_entities": self.other_entities,
            "lexicon_hash": self.lexicon_hash,
        }
