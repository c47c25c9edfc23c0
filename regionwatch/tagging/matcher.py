"""The matcher compiler: the watchlist's patterns as one spaCy ``PhraseMatcher`` pass.

The tokenizer is that of ``spacy.blank("xx")`` (elisions and hyphenated compounds split, its
cache kept on across line breaks). Exact aliases match on ``LOWER``, short acronyms on ``ORTH``,
stems (``перемири*``, ``karabağ*``) on a lexeme ``NORM`` that carries the longest stem; the three
run as one ``PhraseMatcher(attr="NORM")`` pass (see :class:`_MergedNorm`), falling back to three
passes when the equivalence does not hold for a watchlist. A match id stands for a label *and*
the pass it comes from (the string hash of ``"<label>\x00<L|O|N>"``).
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Iterable
from operator import itemgetter
from typing import Any

import spacy
from spacy.attrs import NORM, ORTH
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

from regionwatch.lexicon import Lexicon
from regionwatch.unspaced import UNSPACED_INFIX

__all__ = ["PatternMatcher", "add_elision_prefixes", "fold", "keep_tokenizer_cache_on"]

_FIRST = itemgetter(0)
_SECOND = itemgetter(1)
_ELISION = r"(?i:(?:[ldjnmstc]|qu|jusqu|lorsqu|puisqu|dell|all|nell|sull|dall|dell)['’](?=\w))"


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


class PatternMatcher:
    """The compiled watchlist: a tokenizer and the matcher pass(es) over its tokens.

    Calling it on a doc gives every match ``(match_id, start, end)``, by start token, the
    matches of one start in pass order (``LOWER``, ``ORTH``, ``NORM``).
    """

    def __init__(self, lexicon: Lexicon) -> None:
        """Compile the patterns of ``lexicon`` (aliases, theme patterns, cues).

        Args:
            lexicon: the loaded watchlist.
        """
        self.nlp = spacy.blank("xx")
        add_elision_prefixes(self.nlp)
        keep_tokenizer_cache_on(self.nlp)
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
        add_elision_prefixes(scratch)
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
        self.strings = self.nlp.vocab.strings
        # match ids: the string hash of "<label>\x00<pass>", the pass being L (LOWER), O (ORTH)
        # or N (NORM): the rules read a sentence's matches in the order of the three passes
        self.label_of: dict[int, str] = {}  # match id -> label
        self.origin_of: dict[int, int] = {}  # match id -> pass (0 L, 1 O, 2 N)
        ids_of: dict[str, list[int]] = defaultdict(list)  # label -> its match ids, by pass
        for rank, (origin, patterns) in enumerate(by_origin.items()):
            for label in patterns:
                i = self.strings.add(f"{label}\x00{origin}")
                self.label_of[i] = label
                self.origin_of[i] = rank
                ids_of[label].append(i)
        self.ids_of = {label: tuple(ids) for label, ids in ids_of.items()}
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
                    self.strings[i]
                    for i, a, b in probe(self._probe_doc(seq))
                    if a == 0 and b == len(seq)
                ]
                for pos, label in enumerate(order):
                    i = self.strings[f"{label}\x00{origin}"]
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

    def __call__(self, doc: Doc) -> list[tuple[int, int, int]]:
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
        rank, origin_of = self._tie_rank, self.origin_of
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


def add_elision_prefixes(nlp: Any) -> None:
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


def keep_tokenizer_cache_on(nlp: Any) -> None:
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
