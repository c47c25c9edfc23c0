"""Events: group the stories that report one real-world happening, across outlets and languages.

A *story* (``stories.py``) is one text as it travels; an *event* is one happening — one exchange
of fire, one ceasefire, one CSTO decision or summit — whatever outlet or language reports it.
This module is pure: no SQL, no Prefect, no clock. Time is passed in; the store persists what
:meth:`EventIndex.assign` decides and reloads it with :meth:`EventIndex.load` after a restart.

Interface (stable; the pipeline and the store build on it):

* :class:`EventSignal` — what grouping sees of one article: its time (publication, else first
  seen), the tagger's categories, its watched *parties* (normalised state / organisation ids:
  a capital, person, armed force or place counts for its state) with their share of the
  article's mentions, *places*, the highest casualty figure it reports, *phases* (``violated``,
  ``ended``) and a few title/lead tokens for similarity within one language.
  :func:`signal_from` builds one from an :class:`~regionwatch.models.Article` and its
  :class:`~regionwatch.tagging.TagResult` (``None``: no watched party, nothing to group).
* :class:`EventState` — one event as the index holds it and the store persists it
  (:meth:`EventState.to_dict` / :meth:`EventState.from_dict` give a JSON-ready form).
* :class:`EventIndex` — online, incremental, bounded by a sliding window of ``[events]
  window_days`` like the story index: :meth:`~EventIndex.assign` joins a signal to its event,
  opens one, or merges two events the signal shows to be one; :meth:`~EventIndex.assign_batch`
  assigns a cycle's signals in time order, categorised ones first (an uncategorised article can
  join an event but never opens one); :meth:`~EventIndex.evict` drops events that left the window.
* :class:`EventDecision` — the outcome: the event, whether it is new, the events merged into
  it, the categories it gained, and the *material* developments (``casualties_rose``,
  ``new_party``, ``violated``, ``ended``) that make an update message. More coverage alone is
  not material, and neither is what the first ``settle_minutes`` (60) of coverage after the
  event's first report add: that is the first picture, which the first alert already pages.

How a signal is matched (``[events]`` settings in brackets):

1. time: the article lies within ``join_gap_hours`` of the event's first..last article and the
   event would not span more than ``max_span_days`` (the same pair's clash a month later, or next
   week, is a new event);
2. parties: cosine similarity of the party-share vectors (organisations count half) reaches
   ``party_similarity`` (half of it when the two share a watched place such as Sotk or Batken),
   and the main actors match (the article's most mentioned party is one of the event's two most
   mentioned, and the event's most mentioned one of the article's two):
   a Kyrgyz-Tajik and an Armenian-Azerbaijani shootout on one day stay apart, a truce "brokered by
   Russia between Armenia and Azerbaijan" stays with the Armenian-Azerbaijani clash;
3. the pair: a party with a fifth of the mentions on one side (article or event) that has less
   than 5 % on the other takes 0.3 off the score (an Azerbaijani-Iranian firefight is not the
   Armenian-Azerbaijani clash of the same day; a CSTO summit Belarus hosts is not Armenia's
   freeze); a penalty, not a veto, because a commenting capital (the Kremlin) can weigh a fifth;
4. kind: an article's kind is its first decided category in the order border clash, ceasefire,
   CSTO (a clash report that mentions the truce and the appeal to the CSTO is a clash); an event's
   kind is the first in that order among its categorised articles (a clash report the tagger read
   as truce-only and the clash reports after it stay one event). The same kind counts fully, an
   article that carries the event's kind among its categories 0.5, another kind 0.3, an
   uncategorised article 0.8: a clash and a truce between the same pair, live at once, stay two
   events. Within the CSTO the *facet* the headline (else the lead) names first — a meeting
   (summit, session), a deployment, a change of membership — must not differ from the event's:
   a summit in Astana is not the deployment to Kazakhstan it discusses;
5. anchors: the people, capitals, institutions, armed forces and border-zone places named
   (Sotk, Batken, Lukashenko, the Kremlin …) pin down one happening in every language: shared
   ones add up to 0.35 (share of the smaller set), none shared when both name some takes 0.175.
   A territory without the border-zone mark (Karabakh, Crimea …) names a whole conflict, not one
   happening, and is no anchor;
6. score = parties x kind + anchors + ``text_weight`` x (share of the article's title/lead tokens
   the event already carries in that language) - pair penalty; the best event at or above
   ``join_threshold`` wins; any other event of the same kind and facet at or above
   ``merge_threshold`` whose parties match the winner's is merged into it (recorded in
   :attr:`EventDecision.merged_from`).

Casualty figures are the highest number in a sentence with a casualty word, digits or number
words of the main languages ("two soldiers killed", "погибли двое"). Years named in the lead were
tried as a conflict and dropped: the lead names a background year (1988, 2006, 2016) as often as
the happening's own.
"""

from __future__ import annotations

import heapq
import itertools
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from regionwatch.settings import EventsConfig

if TYPE_CHECKING:
    from regionwatch.lexicon import Lexicon
    from regionwatch.models import Article
    from regionwatch.tagging import TagResult

__all__ = [
    "MATERIAL",
    "EventDecision",
    "EventIndex",
    "EventSignal",
    "EventState",
    "SignalBuilder",
    "signal_from",
]

#: The material developments :class:`EventDecision` may report, in this order.
MATERIAL = ("casualties_rose", "new_party", "violated", "ended")

_ORDER = ("border_clash", "ceasefire", "csto")
_UNCATEGORISED = 0.8  # kind factor of an article with no category
_ALSO_KIND = 0.5  # the article's main category differs, but it also carries the event's
_OTHER_KIND = 0.3  # it does not carry the event's main category at all
_ORG_WEIGHT = 0.5  # an organisation's mentions count half against the states'
_MAIN_SHARE = 0.15  # a party with at least this share of the mentions is a main party
_PAIR_SHARE = 0.2  # a party with this share on one side ...
_PAIR_MIN = 0.05  # ... must have at least this share on the other (the same pair, not a third)
_PAIR_PENALTY = 0.3  # taken when the pair differs (see EventIndex._same_pair)
_ANCHOR_WEIGHT = 0.35  # shared places/people add up to this; none shared takes half of it
_MAX_TOKENS = 24  # title/lead tokens per signal
_MAX_EVENT_TOKENS = 200  # tokens an event keeps per language
_MAX_CASUALTIES = 5000  # a larger number near "killed" is not a casualty figure of one incident
_LEAD_CHARS = 600
_SCAN_CHARS = 1500  # casualty figures stand in the headline and the first paragraphs
_MAX_NUMBERS = 12  # the largest numbers tried (a bound on the cost of a table of figures)
_SENTENCE_REACH = 200  # characters searched either side of a number for its sentence
#: What sort of CSTO happening the headline and lead report: a meeting (summit, session), a
#: deployment of the bloc's forces, or a change of membership (the lexicon's
#: ``csto_membership_change`` cues).
#: Words in the languages the tagger covers; the first one named decides.
_FACET_WORDS: dict[str, tuple[str, ...]] = {
    "meeting": (
        "summit*",
        "session*",
        "сесси*",
        "заседани*",
        "sessão",
        "sesión",
        "sessione",
        "sitzung*",
        "tagung*",
        "oturum*",
        "նիստ*",
        "iclas*",
        "саммит*",
        "саміт*",
        "самит*",
        "գագաթնաժողով*",
        "sammit*",
        "zirve*",
        "sommet*",
        "gipfel*",
        "cumbre*",
        "cúpula*",
        "cimeira*",
        "vertice*",
        "szczyt*",
        "samit*",
    ),
    "deployment": (
        "peacekeep*",
        "deploy*",
        "contingent*",
        "paratroop*",
        "миротвор*",
        "ввод войск*",
        "ввод* миротвор*",
        "контингент*",
        "десант*",
        "խաղաղապահ*",
        "sülhməramlı*",
        "barış gücü*",
        "бітімгер*",
        "тынчтык орнотуучу*",
        "сулҳбон*",
        "déploi*",
        "friedenstruppe*",
        "despliegue*",
        "dispiegamento*",
        "destacamento*",
        "contingente*",
        "контингент*",
        "миротворц*",
        "mirotvor*",
    ),
}
_EXERCISE_WORDS = ("militärübung*", "militärmanöver*", "kommandostabsübung*", "stabsübung*")
#: Number words for casualty figures in the main languages ("two soldiers killed").
_NUMBER_WORDS: dict[str, int] = {
    w: n
    for n, words in {
        1: "one один одна одного одной",
        2: "two два две двух двое двоих дві двоє zwei deux dos dois duas",
        3: "three три трех трёх трое троих троє drei trois tres tre três",
        4: "four четыре четырех четырёх четверо vier quatre cuatro quattro quatro",
        5: "five пять пяти пятеро fünf cinq cinco cinque",
        6: "six шесть шести шестеро sechs seis",
        7: "seven семь семи семеро sieben siete sette sete",
        8: "eight восемь восьми acht huit ocho otto oito",
        9: "nine девять девяти neun neuf nueve nove",
        10: "ten десять десяти zehn dix diez dieci dez",
        11: "eleven одиннадцать одиннадцати elf onze undici",
        12: "twelve dozen двенадцать двенадцати zwölf douze doce dodici",
        15: "fifteen пятнадцать пятнадцати",
        20: "twenty двадцать двадцати zwanzig vingt veinte venti vinte",
        30: "thirty тридцать тридцати",
        50: "fifty пятьдесят пятидесяти",
        100: "hundred сто сотни hundert cien cento",
    }.items()
    for w in words.split()
}
_YEAR_CHARS = 500  # years named in the headline and first lines
_YEAR = re.compile(r"(?<![\w.,])(19[89]\d|20\d\d)(?![\w.,]\d)")
_RECURRING = frozenset({"meeting", "exercise"})  # held every year: told apart by the year named
_WORD = re.compile(r"\w+", re.UNICODE)
_NUMBER = re.compile(r"(?<![\w.,])\d{1,4}(?![\w.,]\d)")
_SENT_END = re.compile(r"[.!?\n;]")


# ----------------------------------------------------------------------------- records
@dataclass(frozen=True, slots=True)
class EventSignal:
    """What event grouping sees of one article.

    Attributes:
        key: the item key (hash of the canonical URL).
        time: publication time, else first-seen time (aware UTC).
        outlet: the outlet (feed) name.
        language: ISO 639-1 code, when known.
        title: the headline.
        categories: the tagger's decided categories.
        parties: the main watched parties: the region's states and organisations with at least
            15 % of the article's party mentions.
        places: watched places named (``sotk``, ``batken`` …).
        weights: ``(party, share)`` pairs, shares of the article's party mentions (sum 1).
        casualties: the highest killed/wounded figure reported, if any.
        phases: ``violated`` / ``ended`` where the headline or lead says so.
        tokens: title and lead tokens, for similarity within one language.
        item_id: the stored item's id, when known.
        story_id: the item's story, when known.
        kind: the main category: the first decided one in the order border clash, ceasefire,
            CSTO (a clash report that mentions the truce and the CSTO is a clash), if any.
        anchors: the specific watched actors named (places, people, capitals, armed forces):
            the same happening names the same ones in every language.
        facet: what sort of happening of its kind the headline and lead report, where the
            words say so: ``meeting`` (a summit or session), ``membership`` (joining, freezing,
            leaving), ``exercise`` or ``deployment`` for the CSTO; ``None`` otherwise.
        years: the years the headline and first lines name (used to tell apart recurring
            happenings of one facet: the 2019 summit is not the 2024 one).
    """

    key: str
    time: datetime
    outlet: str
    language: str | None
    title: str
    categories: frozenset[str]
    parties: frozenset[str]
    places: frozenset[str] = frozenset()
    weights: tuple[tuple[str, float], ...] = ()
    casualties: int | None = None
    phases: frozenset[str] = frozenset()
    tokens: frozenset[str] = frozenset()
    item_id: int | None = None
    story_id: int | None = None
    kind: str | None = None
    anchors: frozenset[str] = frozenset()
    facet: str | None = None
    years: frozenset[int] = frozenset()


@dataclass(slots=True)
class EventState:
    """One event as the index holds it and the store persists it.

    ``event_id`` is ``None`` until the store has saved the event; the store sets it. ``local_id``
    identifies the event inside one index (it is not persisted).
    """

    event_id: int | None
    first_time: datetime
    last_time: datetime
    lead_key: str
    lead_title: str
    categories: set[str] = field(default_factory=set)
    parties: set[str] = field(default_factory=set)
    places: set[str] = field(default_factory=set)
    weights: dict[str, float] = field(default_factory=dict)
    casualties: int | None = None
    phases: set[str] = field(default_factory=set)
    languages: set[str] = field(default_factory=set)
    outlets: set[str] = field(default_factory=set)
    articles: int = 0
    tokens: dict[str, set[str]] = field(default_factory=dict)
    kind: str | None = None
    anchors: set[str] = field(default_factory=set)
    facet: str | None = None
    years: set[int] = field(default_factory=set)
    stories: set[int] = field(default_factory=set)
    local_id: int = 0

    @property
    def actors(self) -> list[str]:
        """The parties, the most mentioned first (for listings and messages)."""
        return sorted(self.parties, key=lambda p: (-self.weights.get(p, 0.0), p))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form for the store (everything but ``local_id``)."""
        return {
            "event_id": self.event_id,
            "first_time": self.first_time.isoformat(),
            "last_time": self.last_time.isoformat(),
            "lead_key": self.lead_key,
            "lead_title": self.lead_title,
            "categories": sorted(self.categories),
            "parties": self.actors,
            "places": sorted(self.places),
            "weights": {k: round(v, 4) for k, v in sorted(self.weights.items())},
            "casualties": self.casualties,
            "phases": sorted(self.phases),
            "languages": sorted(self.languages),
            "outlets": sorted(self.outlets),
            "articles": self.articles,
            "tokens": {k: sorted(v) for k, v in sorted(self.tokens.items())},
            "kind": self.kind,
            "anchors": sorted(self.anchors),
            "facet": self.facet,
            "years": sorted(self.years),
            "stories": sorted(self.stories),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EventState:
        """Rebuild a state saved with :meth:`to_dict`.

        Raises:
            ValueError: a required field is missing or malformed.
        """
        try:
            return cls(
                event_id=int(data["event_id"]) if data.get("event_id") is not None else None,
                first_time=_aware(datetime.fromisoformat(str(data["first_time"]))),
                last_time=_aware(datetime.fromisoformat(str(data["last_time"]))),
                lead_key=str(data.get("lead_key") or ""),
                lead_title=str(data.get("lead_title") or ""),
                categories=set(data.get("categories") or ()),
                parties=set(data.get("parties") or ()),
                places=set(data.get("places") or ()),
                weights={str(k): float(v) for k, v in (data.get("weights") or {}).items()},
                casualties=int(data["casualties"]) if data.get("casualties") is not None else None,
                phases=set(data.get("phases") or ()),
                languages=set(data.get("languages") or ()),
                outlets=set(data.get("outlets") or ()),
                articles=int(data.get("articles") or 0),
                tokens={str(k): set(v) for k, v in (data.get("tokens") or {}).items()},
                kind=str(data["kind"]) if data.get("kind") else None,
                anchors=set(data.get("anchors") or ()),
                facet=str(data["facet"]) if data.get("facet") else None,
                years={int(y) for y in data.get("years") or ()},
                stories={int(x) for x in data.get("stories") or ()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a saved event state: {exc}") from exc


@dataclass(frozen=True, slots=True)
class EventDecision:
    """Where one signal went.

    Attributes:
        event: the event the article now belongs to (updated in place).
        is_new: the article opened the event.
        merged_from: events found to be the same happening and absorbed into ``event``
            (the store re-points their items and records the merge; they leave the index).
        new_categories: categories the event did not have before this article.
        material: material developments this article brings (see :data:`MATERIAL`); empty for
            a new event and for more coverage of the same facts.
        score: the match score (0 for a new event).
    """

    event: EventState
    is_new: bool
    merged_from: tuple[EventState, ...] = ()
    new_categories: frozenset[str] = frozenset()
    material: tuple[str, ...] = ()
    score: float = 0.0

    @property
    def merged_ids(self) -> tuple[int, ...]:
        """Stored ids of the absorbed events."""
        return tuple(e.event_id for e in self.merged_from if e.event_id is not None)


# ----------------------------------------------------------------------------- signals
def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_PATTERN_WORD = re.compile(r"(?:\w|\[[^\]]*\])+\*?")


class _CueWords:
    """Lexicon cue patterns matched on word tokens (NFKC, case-folded, as :func:`_tokens`
    gives them): exact words, stems (``погиб*``), one-letter choices (``инди[яие]``) and phrases
    of them. A dictionary lookup per token instead of a regular expression with hundreds of
    alternatives tried at every character; only stems under two letters and choices in the
    first two letters are tried on every token."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self._exact: dict[str, list[tuple[_Matcher, ...]]] = {}
        self._stems: dict[str, list[tuple[str, tuple[_Matcher, ...]]]] = {}
        # patterns with a letter choice, keyed by the two letters before it when it has them
        self._choices: dict[str, list[tuple[_Matcher, tuple[_Matcher, ...]]]] = {}
        self._other: list[tuple[_Matcher, tuple[_Matcher, ...]]] = []
        for pat in patterns:
            words = _PATTERN_WORD.findall(unicodedata.normalize("NFKC", pat).casefold())
            if not words:
                continue
            first, rest = words[0], tuple(_matcher(w) for w in words[1:])
            if "[" in first and first.index("[") >= 2:
                self._choices.setdefault(first[:2], []).append((_matcher(first), rest))
            elif "[" in first or (first.endswith("*") and len(first) < 3):
                self._other.append((_matcher(first), rest))
            elif first.endswith("*"):
                stem = first[:-1]
                self._stems.setdefault(stem[:2], []).append((stem, rest))
            else:
                self._exact.setdefault(first, []).append(rest)

    def __bool__(self) -> bool:
        return bool(self._exact or self._stems or self._choices or self._other)

    def search(self, tokens: Sequence[str]) -> bool:
        """Whether any pattern matches the tokens."""
        return self.first(tokens) is not None

    def first(self, tokens: Sequence[str]) -> int | None:
        """The index of the first token where a pattern matches, if any."""
        n = len(tokens)
        for i, tok in enumerate(tokens):
            for rest in self._exact.get(tok, ()):
                if _rest_matches(tokens, i + 1, n, rest):
                    return i
            for stem, rest in self._stems.get(tok[:2], ()):
                if tok.startswith(stem) and _rest_matches(tokens, i + 1, n, rest):
                    return i
            for first, rest in self._choices.get(tok[:2], ()):
                if first(tok) and _rest_matches(tokens, i + 1, n, rest):
                    return i
            for first, rest in self._other:
                if first(tok) and _rest_matches(tokens, i + 1, n, rest):
                    return i
        return None


_Matcher = Callable[[str], bool]


def _matcher(word: str) -> _Matcher:
    stem = word.endswith("*")
    body = word.rstrip("*")
    if "[" in body:
        parts = re.split(r"(\[[^\]]+\])", body)
        rx = re.compile(
            "".join(p if p.startswith("[") else re.escape(p) for p in parts if p)
            + (r"\w*" if stem else "")
        )
        return lambda tok: rx.fullmatch(tok) is not None
    if stem:
        return lambda tok: tok.startswith(body)
    return lambda tok: tok == body


def _rest_matches(tokens: Sequence[str], i: int, n: int, rest: tuple[_Matcher, ...]) -> bool:
    if i + len(rest) > n:
        return False
    return all(m(tokens[i + k]) for k, m in enumerate(rest))


def _is_anchor(kind: str, region: str, border_zone: bool) -> bool:
    """Whether a watched actor pins down one happening: a person, a capital or institution, an
    armed force, or a border-zone place of the region. A territory without the border-zone mark
    (Karabakh, Crimea, Donbas …) names a whole conflict and every article about it."""
    if region not in ("core", "conditional") or kind in ("state", "organisation"):
        return False
    return kind != "place" or border_zone


def _tokens(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


class SignalBuilder:
    """Builds :class:`EventSignal` records with one lexicon's party map and cue lists."""

    def __init__(self, lexicon: Lexicon) -> None:
        """Prepare the actor -> party map and the casualty / phase cues of ``lexicon``."""
        self.lexicon_hash = lexicon.hash
        states = {
            a.country: a.slug
            for a in lexicon.actors.values()
            if a.kind == "state" and a.country is not None
        }
        self._party: dict[str, tuple[str, float] | None] = {}
        self._place: set[str] = set()
        self._anchor: set[str] = set()
        # parties that can become a party of an event (and a material "new_party"): the region's
        # states and organisations; outside states and bodies that comment (USA, UN …) only
        # weigh in the similarity
        self._watched = {
            a.slug
            for a in lexicon.actors.values()
            if a.kind in ("state", "organisation") and a.region in ("core", "conditional")
        }
        for a in lexicon.actors.values():
            if _is_anchor(a.kind, a.region, a.border_zone):
                self._anchor.add(a.slug)
            if a.kind == "state":
                self._party[a.slug] = (a.slug, 1.0)
            elif a.metonym_of:
                self._party[a.slug] = None  # the tagger already counts it for its state
            elif a.kind == "organisation":
                self._party[a.slug] = (a.slug, _ORG_WEIGHT)
            elif a.country and a.country in states:
                self._party[a.slug] = (states[a.country], 1.0)
            else:
                self._party[a.slug] = None
            if a.kind == "place":
                self._place.add(a.slug)
        cues = lexicon.cues

        def cue(*names: str) -> _CueWords:
            return _CueWords(p for n in names for ps in cues.get(n, {}).values() for p in ps)

        self._casualty = cue("casualty")
        self._violation = cue("violation")
        self._ended = cue("event_ended")
        self._truce = cue("ceasefire", "ceasefire_phrase")
        exercise = [p for ps in cues.get("exercise", {}).values() for p in ps]
        self._facets = [
            ("membership", cue("csto_membership_change")),
            ("exercise", _CueWords([*exercise, *_EXERCISE_WORDS])),
            *((name, _CueWords(words)) for name, words in _FACET_WORDS.items()),
        ]

    def build(
        self,
        *,
        key: str,
        time: datetime,
        outlet: str,
        language: str | None,
        title: str,
        text: str,
        tags: TagResult,
        item_id: int | None = None,
        story_id: int | None = None,
    ) -> EventSignal | None:
        """The signal of one tagged article, or ``None`` when it names no watched party."""
        counts: dict[str, float] = {}
        places: set[str] = set()
        anchors: set[str] = set()
        for actor in tags.actors:
            slug = str(actor.get("slug") or "")
            n = float(actor.get("mentions") or 1)
            target = self._party.get(slug)
            if target is not None:
                counts[target[0]] = counts.get(target[0], 0.0) + n * target[1]
            if slug in self._place:
                places.add(slug)
            if slug in self._anchor:
                anchors.add(slug)
        total = sum(counts.values())
        if total <= 0:
            return None
        shares = sorted(((p, c / total) for p, c in counts.items()), key=lambda kv: (-kv[1], kv[0]))
        parties = frozenset(p for p, s in shares if s >= _MAIN_SHARE and p in self._watched)
        kind = next((c for c in _ORDER if c in tags.labels), None)
        lead = f"{title}\n{text[:_LEAD_CHARS]}"
        words = _tokens(lead)
        toks = [t for t in words if len(t) >= 5 and not t.isdigit()]
        return EventSignal(
            key=key,
            time=_aware(time),
            outlet=outlet,
            language=language,
            title=title,
            categories=frozenset(tags.labels),
            parties=parties,
            places=frozenset(places),
            weights=tuple((p, round(s, 4)) for p, s in shares),
            casualties=self.casualties(f"{title}\n{text[:_SCAN_CHARS]}"),
            phases=self._phases(words),
            tokens=frozenset(list(dict.fromkeys(toks))[:_MAX_TOKENS]),
            item_id=item_id,
            story_id=story_id,
            kind=kind,
            anchors=frozenset(anchors),
            facet=self.facet(_tokens(title), words) if kind == "csto" else None,
            years=frozenset(int(y) for y in _YEAR.findall(f"{title}\n{text[:_YEAR_CHARS]}")),
        )

    def facet(self, title: Sequence[str], lead: Sequence[str]) -> str | None:
        """The sort of CSTO happening reported: the facet named first in the headline, else in
        the headline and lead (``None`` when neither names one)."""
        for tokens in (title, lead):
            found = [(i, name) for name, cw in self._facets if (i := cw.first(tokens)) is not None]
            if found:
                return min(found)[1]
        return None

    def casualties(self, text: str) -> int | None:
        """The highest number reported in one sentence with a casualty word, if any.

        Numbers are few: they are tried largest first, and each sentence (at most 200
        characters either side of the number) is searched for a casualty word once.
        """
        if not self._casualty:
            return None
        cands: list[tuple[int, int, int]] = []
        for num in _NUMBER.finditer(text):
            value = int(num.group())
            if 1900 <= value <= 2100 or value > _MAX_CASUALTIES or value == 0:
                continue
            tail = text[num.end() : num.end() + 4].lstrip().lower()
            if tail.startswith(("km", "%", "км", "m ", "h ", "ч")):
                continue
            cands.append((value, num.start(), num.end()))
        # number words ("two soldiers killed") in the headline and lead, where a toll in words
        # stands; a lookup per word (an alternation regex of them costs ~1 ms an article)
        for word in _WORD.finditer(text, 0, _LEAD_CHARS):
            n = _NUMBER_WORDS.get(word.group().casefold())
            if n is not None:
                cands.append((n, word.start(), word.end()))
        if not cands:
            return None
        cands.sort(reverse=True)
        seen: dict[int, bool] = {}
        for value, start, end in cands[:_MAX_NUMBERS]:
            lo = max(0, start - _SENTENCE_REACH)
            for x in _SENT_END.finditer(text, lo, start):
                lo = x.end()
            hit = seen.get(lo)
            if hit is None:
                stop = _SENT_END.search(text, end, end + _SENTENCE_REACH)
                hi = stop.start() if stop else min(len(text), end + _SENTENCE_REACH)
                hit = seen[lo] = self._casualty.search(_tokens(text[lo:hi]))
            if hit:
                return value
        return None

    def phases(self, lead: str) -> frozenset[str]:
        """``violated`` / ``ended`` where the headline or lead reports a truce broken / it over."""
        return self._phases(_tokens(lead))

    def _phases(self, tokens: Sequence[str]) -> frozenset[str]:
        out: set[str] = set()
        if self._violation.search(tokens) and self._truce.search(tokens):
            out.add("violated")
        if self._ended.search(tokens):
            out.add("ended")
        return frozenset(out)


_BUILDERS: dict[int, SignalBuilder] = {}


def signal_from(
    article: Article,
    tags: TagResult,
    lexicon: Lexicon,
    *,
    first_seen: datetime,
    item_id: int | None = None,
    story_id: int | None = None,
) -> EventSignal | None:
    """The :class:`EventSignal` of a tagged article (``None``: it names no watched party).

    Args:
        article: the article.
        tags: its tagger result.
        lexicon: the watchlist the tagger used.
        first_seen: when the article was first seen (its time when the feed gave no date).
        item_id: the stored item's id, when known.
        story_id: its story, when known.
    """
    builder = _BUILDERS.get(id(lexicon))
    if builder is None or builder.lexicon_hash != lexicon.hash:
        if len(_BUILDERS) > 8:
            _BUILDERS.clear()
        builder = _BUILDERS[id(lexicon)] = SignalBuilder(lexicon)
    return builder.build(
        key=article.key,
        time=article.published or first_seen,
        outlet=article.source,
        language=article.language,
        title=article.title,
        text=article.text,
        tags=tags,
        item_id=item_id,
        story_id=story_id,
    )


# ----------------------------------------------------------------------------- index
def _norm(values: Iterable[float]) -> float:
    return math.sqrt(sum(v * v for v in values))


_Shape = tuple[float, list[str], float]


def _shape(weights: Mapping[str, float]) -> _Shape:
    """The length of a party vector, its two main parties and its total weight."""
    return (
        _norm(weights.values()),
        heapq.nlargest(2, weights, key=weights.__getitem__),
        sum(weights.values()),
    )


def _cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    dot = sum(v * b.get(k, 0.0) for k, v in a.items())
    if dot <= 0:
        return 0.0
    na = math.sqrt(sum(v * v for v in a.values()))
    nb = math.sqrt(sum(v * v for v in b.values()))
    return dot / (na * nb) if na and nb else 0.0


def _kind(sig: EventSignal, ev: EventState) -> float:
    """How well the article's kind fits the event's (see the module docstring, rule 3)."""
    if sig.kind is None:
        return _UNCATEGORISED
    if ev.kind is None or sig.kind == ev.kind:
        return 1.0
    if ev.kind in sig.categories:
        return _ALSO_KIND
    return _OTHER_KIND


def _same_facet(fa: str | None, ya: Iterable[int], fb: str | None, yb: Iterable[int]) -> bool:
    """Whether two facets can be one happening: unknown on either side, or equal and — for a
    recurring one (a summit, an exercise) — not dated to different years by the leads."""
    if not fa or not fb:
        return True
    if fa != fb:
        return False
    if fa in _RECURRING:
        a, b = set(ya), set(yb)
        return not a or not b or bool(a & b)
    return True


class EventIndex:
    """The live events of the sliding window, matched against each new article."""

    def __init__(self, cfg: EventsConfig) -> None:
        """Create an empty index configured by ``[events]``."""
        self.cfg = cfg
        self.window = timedelta(days=cfg.window_days)
        self.gap = timedelta(hours=cfg.join_gap_hours)
        self.span = timedelta(days=cfg.max_span_days)
        self.settle = timedelta(minutes=cfg.settle_minutes)
        self._events: dict[int, EventState] = {}
        self._by_party: dict[str, set[int]] = {}
        self._heap: list[tuple[datetime, int]] = []
        # per event: the length of its party vector and its two main parties (a cache)
        self._shape: dict[int, _Shape] = {}
        # story id -> the event holding it: a copy of a text joins its story's event
        self._by_story: dict[int, int] = {}
        self._ids = itertools.count(1)

    def __len__(self) -> int:
        return len(self._events)

    def events(self) -> list[EventState]:
        """The events in memory, oldest first."""
        return sorted(self._events.values(), key=lambda e: (e.first_time, e.local_id))

    # ------------------------------------------------------------------ membership
    def _add(self, ev: EventState) -> None:
        if not ev.local_id:
            ev.local_id = next(self._ids)
        self._events[ev.local_id] = ev
        for p in itertools.chain(ev.weights, ev.places):
            self._by_party.setdefault(p, set()).add(ev.local_id)
        for story in ev.stories:
            self._by_story[story] = ev.local_id
        heapq.heappush(self._heap, (ev.last_time, ev.local_id))

    def _index_keys(self, ev: EventState, keys: Iterable[str]) -> None:
        for p in keys:
            self._by_party.setdefault(p, set()).add(ev.local_id)

    def _remove(self, ev: EventState) -> None:
        self._shape.pop(ev.local_id, None)
        if self._events.pop(ev.local_id, None) is None:
            return
        for story in ev.stories:
            if self._by_story.get(story) == ev.local_id:
                del self._by_story[story]
        for p in itertools.chain(ev.weights, ev.places):
            ids = self._by_party.get(p)
            if ids is not None:
                ids.discard(ev.local_id)
                if not ids:
                    del self._by_party[p]

    def load(self, states: Iterable[EventState]) -> None:
        """Add events saved by the store (after a restart); call :meth:`evict` afterwards."""
        for ev in states:
            ev.local_id = 0
            self._add(ev)

    def evict(self, now: datetime) -> int:
        """Drop events whose last article is older than the window before ``now``.

        Returns:
            The number of events dropped.
        """
        cutoff = _aware(now) - self.window
        n = 0
        while self._heap and (self._heap[0][0] < cutoff or len(self._events) > self.cfg.max_events):
            last, lid = heapq.heappop(self._heap)
            ev = self._events.get(lid)
            if ev is None or ev.last_time != last:
                continue  # a stale heap entry: the event moved on or is gone
            self._remove(ev)
            n += 1
        return n

    # ------------------------------------------------------------------ matching
    def _time_fits(self, sig: EventSignal, ev: EventState) -> bool:
        t = sig.time
        if t < ev.first_time - self.gap or t > ev.last_time + self.gap:
            return False
        return max(t, ev.last_time) - min(t, ev.first_time) <= self.span

    def score(self, sig: EventSignal, ev: EventState) -> float:
        """The match score of ``sig`` against ``ev`` (0 when time or parties rule it out)."""
        return self._score(sig, _norm(w for _, w in sig.weights), ev, _shape(ev.weights))

    def _score(self, sig: EventSignal, snorm: float, ev: EventState, shape: _Shape) -> float:
        enorm, etop, etotal = shape
        if not self._time_fits(sig, ev) or not snorm or not enorm:
            return 0.0
        evw = ev.weights
        cos = sum(w * evw.get(p, 0.0) for p, w in sig.weights) / (snorm * enorm)
        place = bool(sig.places & ev.places)
        need = self.cfg.party_similarity * (0.5 if place else 1.0)
        if cos < need:
            return 0.0
        # the main actors match: the article's first party is among the event's first two,
        # and the event's first among the article's (a broad event does not swallow articles
        # about its side actors)
        if sig.weights[0][0] not in etop or etop[0] not in [p for p, _ in sig.weights[:2]]:
            return 0.0
        # the same pair: a party that weighs on one side is named on the other (an
        # Azerbaijani-Iranian firefight is not the Armenian-Azerbaijani clash of the day)
        pair = 0.0
        if not self._same_pair(sig, evw, etotal):
            pair = _PAIR_PENALTY
        text = 0.0
        if sig.language and sig.tokens:
            have = ev.tokens.get(sig.language)
            if have:
                text = len(sig.tokens & have) / len(sig.tokens)
        anchor = 0.0
        if sig.anchors and ev.anchors:
            shared = len(sig.anchors & ev.anchors)
            anchor = _ANCHOR_WEIGHT * (
                shared / min(len(sig.anchors), len(ev.anchors)) if shared else -0.5
            )
        if not _same_facet(sig.facet, sig.years, ev.facet, ev.years):
            return 0.0  # a summit is not the deployment it discusses, whoever attends both
        return cos * _kind(sig, ev) + anchor + self.cfg.text_weight * text - pair

    @staticmethod
    def _same_pair(sig: EventSignal, evw: Mapping[str, float], etotal: float) -> bool:
        """Whether every party with a fifth of the mentions on one side (article or event) has
        at least 5 % on the other: the same pair of states, not a third one."""
        if etotal <= 0:
            return False
        sw = dict(sig.weights)
        for p, w in sig.weights:
            if w < _PAIR_SHARE:
                break
            if evw.get(p, 0.0) / etotal < _PAIR_MIN:
                return False
        return all(w / etotal < _PAIR_SHARE or sw.get(p, 0.0) >= _PAIR_MIN for p, w in evw.items())

    def _candidates(self, sig: EventSignal) -> set[int]:
        out: set[int] = set()
        for p, _s in sig.weights:
            out.update(self._by_party.get(p, ()))
        for p in sig.places:
            out.update(self._by_party.get(p, ()))
        return out

    def assign(self, sig: EventSignal) -> EventDecision | None:
        """Put one article into its event: join the best match, open a new event, or merge.

        Evicts events that left the window before the article's time first (memory stays
        bounded by the window as a backfill slides through the archive).

        Returns:
            The decision, or ``None`` for an uncategorised article no event fits (it opens none).
        """
        self.evict(sig.time)
        held = self._by_story.get(sig.story_id) if sig.story_id is not None else None
        if held is not None and held in self._events:
            # a near-duplicate of an article already grouped: the same text, the same happening
            ev = self._events[held]
            before = set(ev.categories)
            material = self._material(ev, sig)
            self._join(ev, sig)
            return EventDecision(
                event=ev,
                is_new=False,
                new_categories=frozenset(sig.categories - before),
                material=tuple(material),
                score=1.0,
            )
        scored = []
        snorm = _norm(w for _, w in sig.weights)
        shapes = self._shape
        for lid in self._candidates(sig):
            ev = self._events[lid]
            shape = shapes.get(lid)
            if shape is None:
                shape = shapes[lid] = _shape(ev.weights)
            s = self._score(sig, snorm, ev, shape)
            if s > 0:
                scored.append((s, ev.articles, -lid, ev))
        scored.sort(key=lambda x: (x[0], x[1], x[2]), reverse=True)
        if not scored or scored[0][0] < self.cfg.join_threshold:
            if not sig.categories:
                return None
            ev = self._open(sig)
            return EventDecision(event=ev, is_new=True, new_categories=frozenset(sig.categories))
        best_score, _n, _lid, best = scored[0]
        merged: list[EventState] = []
        for s, _n2, _l2, other in scored[1:]:
            if s < self.cfg.merge_threshold:
                break
            if other.kind != best.kind and None not in (other.kind, best.kind):
                continue  # a clash and a truce between one pair stay two events
            if not _same_facet(other.facet, other.years, best.facet, best.years):
                continue  # so do a summit and a deployment, or two years' summits
            if _cosine(best.weights, other.weights) < self.cfg.party_similarity:
                continue
            lo = min(best.first_time, other.first_time)
            hi = max(best.last_time, other.last_time, sig.time)
            if hi - lo > self.span:
                continue
            if (other.articles, -other.local_id) > (best.articles, -best.local_id):
                best, other = other, best
            merged.append(other)
        before_cats = set(best.categories)
        for other in merged:
            self._absorb(best, other)
        material = self._material(best, sig)
        self._join(best, sig)
        return EventDecision(
            event=best,
            is_new=False,
            merged_from=tuple(merged),
            new_categories=frozenset(sig.categories - before_cats),
            material=tuple(material),
            score=round(best_score, 4),
        )

    def assign_batch(self, signals: Sequence[EventSignal]) -> list[EventDecision | None]:
        """Assign a cycle's signals: categorised ones first, each group in time order.

        Returns:
            One decision (or ``None``) per signal, in the order given.
        """
        order = sorted(
            range(len(signals)),
            key=lambda i: (not signals[i].categories, signals[i].time, signals[i].key),
        )
        out: list[EventDecision | None] = [None] * len(signals)
        for i in order:
            out[i] = self.assign(signals[i])
        return out

    # ------------------------------------------------------------------ updates
    def _open(self, sig: EventSignal) -> EventState:
        ev = EventState(
            event_id=None,
            first_time=sig.time,
            last_time=sig.time,
            lead_key=sig.key,
            lead_title=sig.title,
        )
        self._join(ev, sig)
        self._add(ev)
        return ev

    def _material(self, ev: EventState, sig: EventSignal) -> list[str]:
        if sig.time - ev.first_time < self.settle:
            return []  # the first hour's reports are the first picture, not a development
        out: list[str] = []
        if sig.casualties is not None and (ev.casualties is None or sig.casualties > ev.casualties):
            out.append("casualties_rose")
        if sig.parties - ev.parties and sig.categories:
            out.append("new_party")
        for phase in ("violated", "ended"):
            if phase in sig.phases and phase not in ev.phases:
                out.append(phase)
        return out

    def _join(self, ev: EventState, sig: EventSignal) -> None:
        new_keys = [p for p, _ in sig.weights if p not in ev.weights]
        new_keys += [p for p in sig.places if p not in ev.places]
        if sig.time < ev.first_time:
            ev.first_time = sig.time
        if sig.time > ev.last_time:
            ev.last_time = sig.time
            heapq.heappush(self._heap, (ev.last_time, ev.local_id))
        if sig.categories and not ev.categories:
            ev.lead_key, ev.lead_title = sig.key, sig.title  # the first article that qualifies
        if ev.kind is None or (
            sig.kind is not None and _ORDER.index(sig.kind) < _ORDER.index(ev.kind)
        ):
            ev.kind = sig.kind
        if ev.facet is None and sig.kind == ev.kind:
            ev.facet = sig.facet
        ev.years |= sig.years
        ev.categories |= sig.categories
        ev.parties |= sig.parties
        ev.places |= sig.places
        ev.anchors |= sig.anchors
        for p, s in sig.weights:
            ev.weights[p] = ev.weights.get(p, 0.0) + s
        self._shape.pop(ev.local_id, None)
        if sig.casualties is not None:
            ev.casualties = max(ev.casualties or 0, sig.casualties)
        ev.phases |= sig.phases
        if sig.language:
            ev.languages.add(sig.language)
            have = ev.tokens.setdefault(sig.language, set())
            if len(have) < _MAX_EVENT_TOKENS:
                have.update(sig.tokens)
        if sig.outlet:
            ev.outlets.add(sig.outlet)
        if sig.story_id is not None:
            ev.stories.add(sig.story_id)
            if ev.local_id:
                self._by_story[sig.story_id] = ev.local_id
        ev.articles += 1
        if ev.local_id and new_keys:
            self._index_keys(ev, new_keys)

    def _absorb(self, into: EventState, other: EventState) -> None:
        self._remove(other)
        new_keys = [
            p for p in itertools.chain(other.weights, other.places) if p not in into.weights
        ]
        into.first_time = min(into.first_time, other.first_time)
        if other.last_time > into.last_time:
            into.last_time = other.last_time
            heapq.heappush(self._heap, (into.last_time, into.local_id))
        into.categories |= other.categories
        if into.facet is None:
            into.facet = other.facet
        into.years |= other.years
        into.parties |= other.parties
        into.places |= other.places
        into.anchors |= other.anchors
        for p, s in other.weights.items():
            into.weights[p] = into.weights.get(p, 0.0) + s
        self._shape.pop(into.local_id, None)
        if other.casualties is not None:
            into.casualties = max(into.casualties or 0, other.casualties)
        into.phases |= other.phases
        into.languages |= other.languages
        into.outlets |= other.outlets
        into.stories |= other.stories
        for story in other.stories:
            self._by_story[story] = into.local_id
        into.articles += other.articles
        for lang, toks in other.tokens.items():
            have = into.tokens.setdefault(lang, set())
            if len(have) < _MAX_EVENT_TOKENS:
                have.update(toks)
        self._index_keys(into, new_keys)
