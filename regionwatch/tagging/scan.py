"""Text scanning: sentences, matches and years of one field (headline or text).

Sentences are split by one regular expression; only the sentences that carry a cue a category
rule reads get a :class:`Sentence`, and the matches stay the matcher's tuples until a rule asks
for one (see :class:`Field`). Years are found with ``str.find``: the article's own year (the
latest) and, per rule sentence, whether a year dates a past event ("the 1990s", "in 2021",
"в сентябре 2022 года", "the 2020 ceasefire").
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Iterator
from itertools import compress
from operator import itemgetter

import numpy as np
from spacy.attrs import IDX
from spacy.tokens import Doc

from regionwatch.tagging.actors import ActorInfo
from regionwatch.tagging.matcher import PatternMatcher
from regionwatch.tagging.results import Match

__all__ = ["RULE_LABELS", "Field", "Scanner", "Sentence"]

_YEARISH = re.compile(r"(?:1[89]|20)\d\d")  # a year (_years finds these with str.find)
# "the 1990s", "90-х"; "in September 2022", "in 2021", "в сентябре 2022 года", "en 2020",
# (not "since 2022": "the first talks since 2022" measures up to now, it does not date the event)
# "im Jahr 2020", "2020 yılında": a dated past reference (reporting dates carry the day)
_DECADE_AFTER = re.compile(r"s\b|'s\b|-е|-х|-ies")
_MONTHS_EN = "january|february|march|april|may|june|july|august|september|october|november|december"
_MONTHS_RU = "январе|феврале|марте|апреле|мае|июне|июле|августе|сентябре|октябре|ноябре|декабре"
_MONTHS_DE = "januar|februar|märz|april|mai|juni|juli|august|september|oktober|november|dezember"
_SEASONS = "autumn|fall|spring|summer|winter|herbst|frühjahr|frühling|sommer"
_PAST_BEFORE = re.compile(
    rf"(?i)(?:(?:\b(?:in|during|of|en|im jahr|im)|(?<!\w)в)\s+"
    rf"(?:(?:early|late|mid-?)\s+)?(?:(?:{_MONTHS_EN}|{_MONTHS_RU}|{_MONTHS_DE}|{_SEASONS})\s+)?"
    r"|(?<!\w)(?:осенью|летом|весной|зимой)\s+)$"
)
# ... and the Turkic and Armenian "in the year" after it: "2021 yılında", "2021-жылы",
# "2021 жылы", "2021-ci ildə", "2021-жылдын май айында", "2021 թվականին", "2021 թ."
_PAST_AFTER = re.compile(
    r"'?(?:de|da|te|ta)\b| yılında|-?\s?жыл(?:ы|дын|дың|ғы)\b|-(?:ci|cı|cu|cü) il"
    r"| թվական(?:ին|ի)\b| թ\."
)
# a year near the start of a line in the text's opening (after a menu line or two) and closed by
# a dash or a slash soon after is its dateline ("Երևան, 2023 թվականի ապրիլի 11 —", "BAKU, Sept
# 13, 2022 —", "Ереван, 28 июля 2021. /Новости-Армения/."): the report's own date, no past event
_DATELINE_CHARS = 60
_DATELINE_OPENING = 400
_DATELINE_END = re.compile(r"[^\n.!?—–]{0,25}?(?:\s[—–-]\s|\.\s*/|\s[—–])")
# a year used as a modifier of an event noun ("the 2020 ceasefire", "the 2008 war", "the 2022
# clashes") names a past event; fresh news dates by day or says "Saturday's truce"
_DATED_EVENT = re.compile(
    r"(?i)\s+(?:[a-z-]+\s+)?(?:ceasefire|cease-fire|truce|armistice|war|wars|clashes|fighting|"
    r"conflict|offensive|escalation|statement|hostilities)\b"
)
# a birth year: "(1980 года рождения", "1980 г.р.", "1980-ci il təvəllüdlü", "1980 doğumlu",
# "born in 1980", "né en 1980", "geboren 1980"
_BIRTH_AFTER = re.compile(
    r"(?i)(?:\s*(?:года рождения|г\.\s?р\.|р\.\s?н\.|року народження|doğumlu)"
    r"|-?(?:ci|cı|cu|cü) il təvəllüdlü)"
)
_BORN_BEFORE = re.compile(r"(?i)(?<!\w)(?:born|b\.|né|née|geboren|нар\.)\s+(?:in\s+|en\s+|im\s+)?$")
# sentence breaks: sentence-final punctuation (Latin, Cyrillic, Armenian, Arabic-script,
# Devanagari, CJK) then space, a line break, or a run of spaces (flattened paragraph breaks);
# the CJK full stops 。！？ end a sentence without a space (Chinese and Japanese use none);
# Armenian text typed with ":" for its full stop "։" (common on news sites) breaks at ": ".
# One C-level pass; spaCy's sentencizer component cost ~40% of the per-article budget. (The
# definition; Scanner.scan runs one of the two equivalent forms below.)
_SENT_BREAK = re.compile(
    r"[.!?։؟۔।。！？…][\"'»”’)\]]*(?:\s+|(?=[A-ZА-ЯЁ][a-zа-яё]))|[。！？][」』\"'»”’)\]]*|\n|  +"
    r"|(?<=[\u0531-\u0587]):\s+"
)
# The same breaks, written to start with one character class so that the regex engine skips to
# the candidates (sentence-final punctuation, a line break, a space) at C speed instead of trying
# every alternative at every position; the lookbehinds restore which alternative may follow.
_SENT_BREAK_FAST = re.compile(
    r"[.!?։؟۔।。！？…\n :](?:(?<=[.!?։؟۔।。！？…])[\"'»”’)\]]*(?:\s+|(?=[A-ZА-ЯЁ][a-zа-яё]))"
    r"|(?<=[。！？])[」』\"'»”’)\]]*|(?<=\n)|(?<= ) +|(?<=[\u0531-\u0587]:)\s+)"
)
# ... and without the run-of-spaces alternative, for texts with no double space (most of them):
# spaces are then no candidates at all
_SENT_BREAK_NO_RUNS = re.compile(
    r"[.!?։؟۔।。！？…\n:](?:(?<=\n)|(?<=[\u0531-\u0587]:)\s+"
    r"|(?<=[.!?։؟۔।。！？…])[\"'»”’)\]]*(?:\s+|(?=[A-ZА-ЯЁ][a-zа-яё]))"
    r"|(?<=[。！？])[」』\"'»”’)\]]*)"
)
_FIRST = itemgetter(0)
# the labels that make a sentence matter to a category rule or to the context (see
# ItemContext.build and the rules): a sentence without any of them is only counted (actors,
# themes, regions)
RULE_LABELS = frozenset(
    {
        "cue:incident",
        "cue:ceasefire",
        "cue:ceasefire_phrase",
        "cue:fire_stopped",
        "cue:csto_anaphor",
        "cue:war",
        "actor:csto",
        "actor:csto_secretary_general",
    }
)


class Field:
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
        "boiler_spans",
    )
    # set when the field has matches (see Tagger._scan)
    doc: Doc
    actor_of: dict[str, ActorInfo]
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
        # character spans of a "related news" / "Читайте также" block: other stories' headlines
        self.boiler_spans: list[tuple[int, int]] = []

    def in_boiler(self, pos: int) -> bool:
        """Whether the character at ``pos`` lies in a block of other stories' headlines."""
        return any(a <= pos < b for a, b in self.boiler_spans)

    def actor_counts(self, actor_of: dict[str, ActorInfo]) -> Iterator[tuple[ActorInfo, int]]:
        """Every actor named in the field with its mentions (one per actor and start)."""
        for label, n in self.dedup_counts.items():
            a = actor_of.get(label)
            if a is not None:
                yield a, n

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


class Sentence:
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

    def __init__(self, fld: Field, sid: int, has_orgs: bool) -> None:
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
        self._mentions: list[ActorInfo] | None = None
        self._by_label: dict[str, list[Match]] | None = None
        self._actor_matches: list[Match] | None = None

    def has(self, label: str) -> bool:
        return (self.index, label) in self._has

    def first(self, label: str) -> Match | None:
        """The first match of ``label``, in pass order."""
        got = self._field.first_in(self.index, label)
        return None if got is None else self._field.match(got[1])

    def mentions(self) -> list[ActorInfo]:
        """The actors named, one per mention (an actor matched twice at one start: once)."""
        if self._mentions is None:
            fld = self._field
            labels, starts, actor_of = fld.labels, fld.tok_starts, fld.actor_of
            seen: set[tuple[str, int]] = set()
            out: list[ActorInfo] = []
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


class Scanner:
    """Scans a field with the compiled matcher into a :class:`Field` and its rule sentences."""

    def __init__(
        self,
        matcher: PatternMatcher,
        actor_of: dict[str, ActorInfo],
        rule_ids: frozenset[int],
        org_ids: frozenset[int],
    ) -> None:
        """Args:
        matcher: the compiled watchlist.
        actor_of: ``actor:<slug>`` -> what the rules know about it.
        rule_ids: match ids that make a text sentence a rule sentence.
        org_ids: match ids of organisations.
        """
        self.matcher = matcher
        self.actor_of = actor_of
        self._rule_ids = rule_ids
        self._org_ids = org_ids

    def scan(self, part: str, text: str) -> tuple[Field, list[Sentence]] | None:
        """Sentences, matches and years of one field (``title`` or ``text``).

        Every match is counted (themes, actors); only the sentences a category rule or the
        context can look at (a label of ``RULE_LABELS`` or an organisation; in the title, any
        match) get a :class:`Sentence`.
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
        fld = Field(part, text, starts, ends)
        doc = self.matcher.nlp.make_doc(text)
        found = self.matcher(doc)
        sents: list[Sentence] = []
        if found:
            ids, tok_starts, tok_ends = zip(*found, strict=True)
            labels = list(map(self.matcher.label_of.__getitem__, ids))
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
            fld.actor_of = self.actor_of
            fld.ids = ids
            fld.labels = labels
            fld.tok_starts = tok_starts
            fld.tok_ends = tok_ends
            fld.sids = sids
            fld.firsts = {}
            fld.has_label = set(zip(sids, labels, strict=True))
            fld.ids_of = self.matcher.ids_of
            fld.origin_of = self.matcher.origin_of
            if part == "text" and "cue:related" in labels:
                fld.boiler_spans = _related_blocks(fld)
            if part == "title":
                wanted = set(sids)
            else:
                wanted = set(compress(sids, map(self._rule_ids.__contains__, ids)))
            if wanted:
                with_orgs = set(compress(sids, map(self._org_ids.__contains__, ids)))
                sents = [Sentence(fld, sid, sid in with_orgs) for sid in sorted(wanted)]
        _years(fld, sents)
        return fld, sents


# a "related news" block runs to the end of the text when at most this much text follows its
# marker and none of it is prose (a list of headlines, share buttons, a subscription line);
# otherwise it is the marker's line (and the next, when the marker stands alone and the next line
# is no prose) — "Read more" before the rest of an article cuts nothing of it
_RELATED_TAIL_CHARS = 1000
_BULLETS = " \t-•·*»>|–—:"
_PROSE_LINE = 250  # a line this long with two sentence ends is a paragraph, not a headline
_SENT_END = re.compile(r"[.!?։。](?:\s|$)")


def _prose(line: str) -> bool:
    """A paragraph of running text (not a headline, a menu or a subscription line)."""
    return len(line) > _PROSE_LINE and len(_SENT_END.findall(line)) >= 2


def _related_blocks(fld: Field) -> list[tuple[int, int]]:
    """The blocks of other stories' headlines that a page appends ("Related news", "Читайте
    также:", "Mehr zum Thema ·", "İlgili Haberler »"): a marker (cue list ``related``) that
    begins a line or a sentence, and the text after it — to the end of the text when little
    follows and none of it is prose (a tail of headlines), else to the end of its line (the next
    line too when the marker stands alone on its own and that line is no prose)."""
    text, n = fld.text, len(fld.text)
    starts = set(fld.starts)
    blocks: list[tuple[int, int]] = []
    for i, label in enumerate(fld.labels):
        if label != "cue:related":
            continue
        m = fld.match(i)
        a = m.start
        line_start = text.rfind("\n", 0, a) + 1
        if text[line_start:a].strip(_BULLETS) and a not in starts:
            continue  # "по теме безопасности" inside a sentence: no marker
        if n - a <= _RELATED_TAIL_CHARS and not any(map(_prose, text[a:].split("\n"))):
            blocks.append((a, n))
            break
        end = text.find("\n", a)
        end = n if end < 0 else end
        if not text[m.end : end].strip(_BULLETS):  # the marker alone on its line
            nxt_start = end + 1
            while nxt_start < n and text[nxt_start] == "\n":  # (blank lines)
                nxt_start += 1
            nxt = text.find("\n", nxt_start)
            nxt = n if nxt < 0 else nxt
            if nxt_start < n and not _prose(text[nxt_start:nxt]):
                end = nxt
        blocks.append((a, end))
    return blocks


def _years(fld: Field, sents: list[Sentence]) -> None:
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
        if _BIRTH_AFTER.match(text, b, b + 20) or _BORN_BEFORE.search(text, max(0, a - 12), a):
            continue  # a birth year ("1980 года рождения", "born in 1980") dates no event
        year = int(text[a:b])
        if year <= 2049:
            fld.all_years.append(year)
        s = by_sid.get(max(0, bisect_right(starts, a) - 1)) if by_sid else None
        if s is None:
            continue  # a sentence no rule looks at
        if year <= 2049:
            s.years.append(year)
        if s.decade or (
            fld.part == "text"
            and a < _DATELINE_OPENING
            and a - text.rfind("\n", 0, a) <= _DATELINE_CHARS
            and _DATELINE_END.match(text, b, b + 40)
        ):
            continue
        after = text[b : b + 10]
        if (
            (year % 10 == 0 and _DECADE_AFTER.match(after))
            or _PAST_AFTER.match(after)
            or _DATED_EVENT.match(text, b, min(n, b + 40))
            or (_PAST_BEFORE.search(text[max(0, a - 30) : a]))
        ):
            s.decade = True
