"""What every category rule shares: an evidence entry, and the decision from the evidence sum."""

from __future__ import annotations

from typing import Any

from regionwatch.tagging.context import SentInfo
from regionwatch.tagging.results import CategoryResult, Match
from regionwatch.tagging.weights import WEIGHTS

__all__ = ["Evidence", "evidence", "finish"]

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


def finish(total: float, gate: bool, ev: Evidence) -> CategoryResult:
    """Score (``total / (total + threshold)``), decision (``total >= threshold`` with the gate
    open) and the strongest evidence entries."""
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
