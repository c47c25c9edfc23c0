"""What every category rule shares: an evidence entry, and the decision from the evidence sum."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from regionwatch.tagging.context import SentInfo
from regionwatch.tagging.results import CategoryResult, Match
from regionwatch.tagging.weights import WEIGHTS

__all__ = ["Evidence", "Outcome", "evidence", "finish", "outcome"]

Evidence = list[tuple[float, dict[str, Any]]]  # (weight, entry) per rule sentence


def evidence(info: SentInfo, m: Match, rule: str, weight: float) -> dict[str, Any]:
    """The evidence entry of one rule sentence: the sentence, the match, the rule and weight."""
    text = info.sent.text.strip()
    if len(text) > WEIGHTS.max_sentence_chars:
        text = text[: WEIGHTS.max_sentence_chars] + "…"
    return {
        "sentence": text,
        "start": m.start,
        "end": m.end,
        "rule": rule,
        "matched": m.text,
        "where": info.where,
        "field": info.sent.part,
        "weight": round(weight, 3),
    }


@dataclass(slots=True)
class Outcome:
    """What one rule found in an item, before the decision: the evidence sum, whether the
    category's gate is open (region, two states ...), the evidence entries, and the part of the
    sum that may carry the category as the *second topic* of a report (see
    :func:`regionwatch.tagging.rules.decide`)."""

    total: float
    gate: bool
    ev: Evidence = field(default_factory=list)
    second: float = 0.0


def outcome(total: float, gate: bool, ev: Evidence, second: float | None = None) -> Outcome:
    """An :class:`Outcome`; ``second`` defaults to the whole evidence sum."""
    return Outcome(total, gate, ev, total if second is None else second)


def finish(found: Outcome, threshold: float | None = None) -> CategoryResult:
    """Score (``total / (total + threshold)``), decision (``total >= threshold`` with the gate
    open) and the strongest evidence entries; ``threshold`` defaults to ``WEIGHTS.threshold``."""
    total, gate, ev = found.total, found.gate, found.ev
    if threshold is None:
        threshold = WEIGHTS.threshold
    score = total / (total + threshold) if total > 0 else 0.0
    if not gate:
        score *= WEIGHTS.shut_gate
    decision = gate and total >= threshold
    ev.sort(key=lambda p: -p[0])
    return CategoryResult(
        score=min(1.0, score),
        decision=decision,
        evidence=[e for _, e in ev[: WEIGHTS.max_evidence]],
    )
