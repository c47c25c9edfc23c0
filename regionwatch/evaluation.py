"""Batch classification, evaluation against a labelled set, and seed-watchlist proposals.

* :func:`classify_jsonl` — the ``regionwatch classify`` interface: reads ``{"id", "text",
  "title"?, "lang"?}`` lines and writes ``{"id", "labels", "scores", "actors", "evidence"}`` lines.
* :func:`evaluate` — precision / recall / F1 per label against a dataset's ``labels`` field, for
  the whole set and per language group (``in scope``: the sixteen languages the tagging issue
  lists, :data:`LISTED_LANGUAGES`; ``beyond``: every other one), and each wrong item's confusion
  classes (missed secondary label, late-named CSTO, CSTO not named, nothing recognised,
  background or out-of-region false positive ...).
* :func:`build_seed_proposals` — ``regionwatch seeds build``: proposes actors from a seed corpus
  (alias hits, capitalised spans, optional statistical NER) with counts and example sentences, and
  diffs them against the watchlist.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from regionwatch.errors import ConfigError

if TYPE_CHECKING:
    from regionwatch.lexicon import Lexicon
    from regionwatch.tagging import Tagger

__all__ = [
    "CONFUSION_CLASSES",
    "LISTED_LANGUAGES",
    "EvalReport",
    "LabelStats",
    "SeedProposals",
    "build_seed_proposals",
    "classify_jsonl",
    "evaluate",
    "evaluate_rows",
]

log = logging.getLogger(__name__)

LABELS = ("border_clash", "ceasefire", "csto")
# the languages the tagging targets name (the region's languages plus English, French, German,
# Persian): "in scope"; every other language is "beyond"
LISTED_LANGUAGES = frozenset(
    ["en", "ru", "uk", "be", "hy", "az", "ka", "tr", "kk", "ky", "tg", "uz", "tk", "fr", "de", "fa"]
)
GROUPS = ("all", "in scope", "beyond")
# why a label was missed or wrongly given, from the item and the tagger's output
CONFUSION_CLASSES = {
    "nothing recognised": "missed: no watched actor found at all (language or names unknown)",
    "missed secondary label": "missed: another of the item's labels was found",
    "CSTO not named": "missed csto: the organisation's name (OVKS, KGAÖ, a local full name ...) "
    "was not recognised",
    "late-named CSTO": "missed csto: named, but late, in passing or without an action",
    "missed only label": "missed: none of the item's labels was found",
    "out-of-region false positive": "given to an item outside the region",
    "background false positive": "given on background (history, another topic) in the region",
}


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    try:
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{path}:{n}: not a JSON object: {exc}") from exc
                if not isinstance(row, dict):
                    raise ConfigError(f"{path}:{n}: not a JSON object")
                rows.append(row)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    return rows


#: The JSONL reader of the dev sets, for the event evaluation (``evaluation_events``).
read_jsonl = _read_jsonl


def classify_row(row: dict[str, Any], tagger: Tagger) -> dict[str, Any]:
    """Classify one ``{"id", "text", "title"?, "lang"?}`` object into the output object."""
    title = row.get("title")
    res = tagger.tag(
        str(row.get("text") or ""),
        title=str(title) if title else None,
        lang=str(row["lang"]) if row.get("lang") else None,
    )
    return {
        "id": row.get("id"),
        "labels": res.labels,
        "scores": {c: round(res.categories[c].score, 4) for c in LABELS},
        "actors": res.actor_slugs,
        "evidence": {c: res.categories[c].evidence for c in LABELS if res.categories[c].evidence},
    }


def classify_jsonl(inp: Path, out: Path, tagger: Tagger) -> int:
    """Classify every line of ``inp`` and write one result line per input line to ``out``.

    Args:
        inp: JSONL with ``{"id", "text", "title"?, "lang"?}`` objects.
        out: where to write ``{"id", "labels", "scores", "actors", "evidence"}`` lines.
        tagger: the tagger to use.

    Returns:
        The number of lines written.

    Raises:
        ConfigError: the input cannot be read or a line is not a JSON object.
    """
    rows = _read_jsonl(Path(inp))
    n = 0
    with open(out, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(classify_row(row, tagger), ensure_ascii=False) + "\n")
            n += 1
    log.info("classified %d items from %s into %s", n, inp, out)
    return n


@dataclass
class LabelStats:
    """Counts and rates of one label."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, predicted: bool, gold: bool) -> None:
        """Count one item."""
        if predicted and gold:
            self.tp += 1
        elif predicted:
            self.fp += 1
        elif gold:
            self.fn += 1

    @property
    def precision(self) -> float:
        """tp / (tp + fp); 1.0 when nothing was predicted and nothing missed."""
        if self.tp + self.fp:
            return self.tp / (self.tp + self.fp)
        return 1.0 if self.fn == 0 else 0.0

    @property
    def recall(self) -> float:
        """tp / (tp + fn); 1.0 when there was nothing to find."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def _stats_dict(st: LabelStats) -> dict[str, Any]:
    return {
        "precision": round(st.precision, 4),
        "recall": round(st.recall, 4),
        "f1": round(st.f1, 4),
        "tp": st.tp,
        "fp": st.fp,
        "fn": st.fn,
    }


def micro(stats: dict[str, LabelStats]) -> LabelStats:
    """The counts of every label added up (micro-averaged P/R/F1)."""
    out = LabelStats()
    for st in stats.values():
        out.tp += st.tp
        out.fp += st.fp
        out.fn += st.fn
    return out


@dataclass
class EvalReport:
    """Per-label statistics (all items and per language group) and the per-item confusions."""

    total: int
    stats: dict[str, LabelStats]
    confusions: list[dict[str, Any]] = field(default_factory=list)
    groups: dict[str, dict[str, LabelStats]] = field(default_factory=dict)
    group_items: dict[str, int] = field(default_factory=dict)

    @property
    def confusion_classes(self) -> Counter[str]:
        """How many (item, label) confusions fall in each class of :data:`CONFUSION_CLASSES`."""
        return Counter(cls for c in self.confusions for cls in c.get("classes", {}).values())

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "total": self.total,
            "labels": {k: _stats_dict(v) for k, v in self.stats.items()},
            "groups": {
                g: {
                    "items": self.group_items.get(g, 0),
                    "labels": {k: _stats_dict(v) for k, v in by_label.items()},
                    "micro": _stats_dict(micro(by_label)),
                }
                for g, by_label in self.groups.items()
            },
            "confusion_classes": dict(self.confusion_classes.most_common()),
            "confusions": self.confusions,
        }


def language_group(lang: str | None) -> str:
    """``"in scope"`` for a language of :data:`LISTED_LANGUAGES`, else ``"beyond"``."""
    return "in scope" if (lang or "").lower() in LISTED_LANGUAGES else "beyond"


def _confusion_class(
    label: str, gold: set[str], pred: set[str], out: dict[str, Any], row: dict[str, Any]
) -> str:
    """The class of one wrong (item, label), see :data:`CONFUSION_CLASSES`."""
    if label in pred:  # a false positive
        if row.get("region_relevant") is False:
            return "out-of-region false positive"
        return "background false positive"
    if not out["actors"]:
        return "nothing recognised"
    if label == "csto":
        return "late-named CSTO" if "csto" in out["actors"] else "CSTO not named"
    if gold & pred:
        return "missed secondary label"
    return "missed only label"


def evaluate(dataset: Path, tagger: Tagger) -> EvalReport:
    """Score the tagger against a labelled JSONL (``labels`` = subset of the three categories).

    Args:
        dataset: JSONL with ``id``, ``text``, ``title``?, ``lang``? and ``labels``.
        tagger: the tagger to use.

    Returns:
        An :class:`EvalReport` with P/R/F1 per label, for all items and per language group
        (``in scope`` / ``beyond``), and every wrong item (id, language group, gold, predicted,
        false positives / negatives, the class of each, scores and the evidence of the wrong
        labels).
    """
    return evaluate_rows(_read_jsonl(Path(dataset)), tagger)


def evaluate_rows(rows: list[dict[str, Any]], tagger: Tagger) -> EvalReport:
    """:func:`evaluate` on labelled items already in memory (the rows of a JSONL or a YAML
    challenge set: ``id``, ``text``, ``title``?, ``lang``?, ``labels``)."""
    groups = {g: {lab: LabelStats() for lab in LABELS} for g in GROUPS}
    group_items: Counter[str] = Counter()
    confusions: list[dict[str, Any]] = []
    for row in rows:
        out = classify_row(row, tagger)
        gold = set(row.get("labels") or []) & set(LABELS)
        pred = set(out["labels"])
        group = language_group(row.get("lang"))
        group_items.update(("all", group))
        for lab in LABELS:
            for g in ("all", group):
                groups[g][lab].add(lab in pred, lab in gold)
        if gold != pred:
            confusions.append(
                {
                    "id": row.get("id"),
                    "lang": row.get("lang"),
                    "group": group,
                    "title": (row.get("title") or str(row.get("text") or "")[:80]).strip(),
                    "gold": sorted(gold),
                    "pred": sorted(pred),
                    "fp": sorted(pred - gold),
                    "fn": sorted(gold - pred),
                    "classes": {
                        lab: _confusion_class(lab, gold, pred, out, row)
                        for lab in sorted(pred ^ gold)
                    },
                    "scores": out["scores"],
                    "evidence": {lab: out["evidence"].get(lab, []) for lab in sorted(pred ^ gold)},
                }
            )
    return EvalReport(
        total=len(rows),
        stats=groups["all"],
        confusions=confusions,
        groups=groups,
        group_items=dict(group_items),
    )


# ----------------------------------------------------------------------------- seeds build
_TAG = re.compile(r"<[^>]+>")
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1>", re.S | re.I)
_CAPSPAN = re.compile(
    r"(?<![\w.])((?:[A-ZА-ЯЁ][\w’'\-]+|[A-ZА-ЯЁ]{2,})(?:[ \t]+(?:of[ \t]+the[ \t]+|of[ \t]+)?"
    r"(?:[A-ZА-ЯЁ][\w’'\-]+|[A-ZА-ЯЁ]{2,})){0,4})"
)
_SENT_SPLIT = re.compile(r"(?<=[.!?])\s+")
_STOP = frozenset(
    [
        "The",
        "A",
        "An",
        "In",
        "On",
        "At",
        "By",
        "For",
        "With",
        "And",
        "But",
        "Or",
        "If",
        "As",
        "It",
        "Its",
        "This",
        "That",
        "These",
        "Those",
        "He",
        "She",
        "They",
        "We",
        "His",
        "Her",
        "Their",
        "Our",
        "Mr",
        "Mrs",
        "Ms",
        "Dr",
        "Last",
        "Next",
        "First",
        "Second",
        "Third",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
        "However",
        "Meanwhile",
        "According",
        "After",
        "Before",
        "Since",
        "While",
        "When",
        "Where",
        "What",
        "Who",
        "Why",
        "How",
        "Read",
        "More",
        "Share",
        "Home",
        "News",
    ]
)
_STOP = _STOP | frozenset(
    [
        "There",
        "Here",
        "Western",
        "Eastern",
        "Northern",
        "Southern",
        "Today",
        "Yesterday",
        "Also",
        "Still",
        "Such",
        "Some",
        "Many",
        "Most",
        "Both",
        "Each",
        "Despite",
        "Although",
        "Opinion",
        "Author",
        "Published",
        "Updated",
        "Subscribe",
        "Donate",
        "View",
        "All",
        "Result",
        "Former",
        "President",
        "Prime",
        "Minister",
        "Foreign",
    ]
)


@dataclass
class Proposal:
    """One proposed actor (or alias) with its evidence in the corpus."""

    text: str
    count: int
    docs: int
    examples: list[str]
    known_as: str | None = None  # the watchlist slug it already maps to


@dataclass
class SeedProposals:
    """What ``seeds build`` found: known actors seen, new candidates, actors never seen."""

    corpus_dir: Path
    documents: int
    known: list[Proposal]
    new: list[Proposal]
    unseen: list[str]
    ner_used: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""

        def conv(p: Proposal) -> dict[str, Any]:
            return {
                "text": p.text,
                "count": p.count,
                "docs": p.docs,
                "examples": p.examples,
                "known_as": p.known_as,
            }

        return {
            "corpus_dir": str(self.corpus_dir),
            "documents": self.documents,
            "ner_used": self.ner_used,
            "known": [conv(p) for p in self.known],
            "new": [conv(p) for p in self.new],
            "unseen": self.unseen,
        }


def _read_corpus_file(path: Path) -> str:
    raw = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() in (".html", ".htm") or raw.lstrip().startswith("<"):
        raw = _SCRIPT.sub(" ", raw)
        raw = html.unescape(_TAG.sub(" ", raw))
    return raw


def build_seed_proposals(
    corpus_dir: Path,
    lexicon: Lexicon,
    *,
    min_count: int = 2,
    use_ner: bool = True,
    max_examples: int = 2,
) -> SeedProposals:
    """Propose watchlist actors from a folder of text/HTML seed documents.

    Known actors are found with the tagger's own matchers; new candidates are capitalised
    spans (and, when a statistical NER model is installed, its PERSON/ORG/GPE/LOC entities) that no
    alias covers, kept when seen at least ``min_count`` times.

    Args:
        corpus_dir: folder of ``*.txt`` / ``*.html`` files.
        lexicon: the current watchlist, for the diff.
        min_count: minimum mentions for a new candidate.
        use_ner: try the statistical NER model when installed.
        max_examples: example sentences kept per proposal.

    Returns:
        :class:`SeedProposals` (known actors with counts, new candidates, watchlist actors never
        seen in the corpus).

    Raises:
        ConfigError: the folder does not exist or holds no documents.
    """
    from regionwatch.tagging import Tagger

    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise ConfigError(f"seed corpus folder not found: {corpus_dir}", key="seeds.corpus")
    files = sorted(
        p
        for p in corpus_dir.iterdir()
        if p.is_file() and p.suffix.lower() in (".txt", ".html", ".htm", ".md")
    )
    if not files:
        raise ConfigError(f"{corpus_dir}: no .txt/.html documents", key="seeds.corpus")
    tagger = Tagger(lexicon, ner=use_ner)
    alias_index = lexicon.actor_alias_index()
    known_count: Counter[str] = Counter()
    known_docs: Counter[str] = Counter()
    known_ex: dict[str, list[str]] = defaultdict(list)
    cand_count: Counter[str] = Counter()
    cand_docs: Counter[str] = Counter()
    cand_ex: dict[str, list[str]] = defaultdict(list)
    for path in files:
        text = _read_corpus_file(path)
        res = tagger.tag(text)
        for a in res.actors:
            known_count[a["slug"]] += a["mentions"]
            known_docs[a["slug"]] += 1
        sentences = [" ".join(s.split()) for s in _SENT_SPLIT.split(text) if s.strip()]
        seen_here: set[str] = set()
        for sent in sentences:
            spans = [m.group(1) for m in _CAPSPAN.finditer(sent)]
            spans += [e["text"] for e in (tagger.other_entities(sent) if tagger.has_ner else [])]
            for span in spans:
                span = span.strip(" -’'")
                words = span.split()
                while words and words[0] in _STOP:
                    words = words[1:]
                span = " ".join(words)
                if len(span) < 3 or span in _STOP:
                    continue
                low = span.lower()
                slug = alias_index.get(low) or next(
                    (
                        alias_index[k]
                        for k in (low.rstrip("s"), low.removesuffix("’s"))
                        if k in alias_index
                    ),
                    None,
                )
                if slug:
                    if len(known_ex[slug]) < max_examples:
                        known_ex[slug].append(sent[:240])
                    continue
                cand_count[span] += 1
                if span not in seen_here:
                    cand_docs[span] += 1
                    seen_here.add(span)
                if len(cand_ex[span]) < max_examples:
                    cand_ex[span].append(sent[:240])
    known = [
        Proposal(lexicon.actors[s].name, c, known_docs[s], known_ex.get(s, []), known_as=s)
        for s, c in known_count.most_common()
    ]
    new = [
        Proposal(t, c, cand_docs[t], cand_ex[t])
        for t, c in cand_count.most_common()
        if c >= min_count
    ]
    unseen = sorted(s for s in lexicon.actors if s not in known_count)
    return SeedProposals(corpus_dir, len(files), known, new, unseen, tagger.has_ner)
