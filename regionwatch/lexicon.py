"""The watchlist as data: load and validate ``seeds/*.yaml`` into a :class:`Lexicon`.

``actors.yaml`` lists actors (states, capitals, people, organisations, forces, places) with
aliases per language; ``themes.yaml`` lists themes, the three alert categories and the named cue
lists the category rules use; ``corpus.yaml`` (optional) describes the seed corpus. Every file is
validated with pydantic at load time; an invalid entry raises :class:`ConfigError` naming the
file, the entry and the field.

Pattern syntax (aliases, theme patterns, cues):

* a plain phrase matches whole tokens, case-insensitively (``line of contact``);
* a word ending in ``*`` is a stem and matches any ending (``перемири*``, ``karabağ*``);
* ``[аеи]`` inside a word is a one-letter choice (``инди[яие]``);
* a short all-capital acronym (at most 4 letters, e.g. ``US``, ``UN``) matches case-sensitively.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from regionwatch.errors import ConfigError

__all__ = [
    "Actor",
    "Category",
    "CorpusDoc",
    "Lexicon",
    "Membership",
    "Pattern",
    "LanguagePack",
    "Theme",
    "load_language_packs",
    "load_lexicon",
    "merge_language_packs",
]

log = logging.getLogger(__name__)

CATEGORY_SLUGS = ("border_clash", "ceasefire", "csto")
REQUIRED_CUES = (
    "ceasefire",
    "ceasefire_phrase",
    "violation",
    "peace_deal",
    "incident",
    "border",
    "contact_line",
    "war",
    "csto_action",
    "historical",
    "listing",
    "ceasefire_status",
    "heavy_weapons",
    "armed_fire",
    "recency",
)
LANGS = frozenset(
    [
        "en",
        "ru",
        "uk",
        "be",
        "hy",
        "az",
        "ka",
        "tr",
        "kk",
        "ky",
        "tg",
        "uz",
        "tk",
        "fr",
        "de",
        "it",
        "fa",
        "es",
        "pt",
        "ar",
    ]
)
_SLUG = r"^[a-z][a-z0-9_]*$"

# named actor groups the category rules read (``groups:`` of an actor in actors.yaml)
ACTOR_GROUPS = frozenset(
    {
        "armenian_side",  # speaks or fights for Armenia in the Armenian-Azerbaijani conflict
        "azerbaijani_side",  # ... for Azerbaijan
        "karabakh_conflict",  # names the Armenian-Azerbaijani conflict
        "inside_karabakh",  # a town inside Karabakh: fire on it is the war there, not the line
        "ukraine_war",  # names the Russia-Ukraine war's theatre (Ukraine, Donbas, Kursk ...)
        "ukraine_war_party",  # the other party of that war (Russia)
        "other_fronts",  # the region's conflicts other than the Russia-Ukraine war
        "csto_body",  # the CSTO itself and its officials
    }
)

Region = Literal["core", "conditional", "out", "neutral"]
Kind = Literal["state", "capital", "institution", "person", "organisation", "armed_force", "place"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_patterns(value: dict[str, list[str]]) -> dict[str, list[str]]:
    for lang, items in value.items():
        if lang not in LANGS:
            raise ValueError(f"unknown language code {lang!r} (known: {', '.join(sorted(LANGS))})")
        _check_items(lang, items)
    return value


def _check_items(lang: str, items: list[str]) -> None:
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"{lang}: empty pattern")
        if any("*" in word[:-1] for word in item.split()):
            raise ValueError(f"{lang}: '*' may only end a word: {item!r}")
        if item.count("[") != item.count("]"):
            raise ValueError(f"{lang}: unbalanced [] in {item!r}")
        pat = Pattern("", item, lang)
        if not (pat.is_stem or pat.case_sensitive) and len(item.lower()) != len(item):
            # "İlgili Haberler": Python lower-cases "İ" to two characters; as a plain phrase it
            # never matches the text's "İ", and its lexeme slowed spaCy's tokenizer 2.4x
            raise ValueError(
                f"{lang}: {item!r} changes length when lower-cased (Turkish 'İ'): write it in "
                "lower case with 'i', or as a stem ('ilgili haber*'), which folds case safely"
            )


class Membership(_Model):
    """A dated membership fact: ``armenia`` in ``csto`` since 1992, frozen since 2024."""

    org: str
    since: dt.date | None = None
    until: dt.date | None = None
    status: Literal["member", "observer", "frozen", "withdrew", "partner"] = "member"
    note: str | None = None


class Actor(_Model):
    """One watchlist actor with its aliases per language."""

    slug: str = Field(pattern=_SLUG)
    name: str = Field(min_length=1)
    kind: Kind
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    region: Region = "neutral"
    metonym_of: str | None = None
    border_zone: bool = False
    aliases: dict[str, list[str]]
    memberships: list[Membership] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    clash_neighbours: list[str] = Field(default_factory=list)

    @field_validator("groups")
    @classmethod
    def _groups(cls, v: list[str]) -> list[str]:
        unknown = sorted(set(v) - ACTOR_GROUPS)
        if unknown:
            raise ValueError(
                f"unknown group {unknown[0]!r} (known: {', '.join(sorted(ACTOR_GROUPS))})"
            )
        return v

    @field_validator("clash_neighbours")
    @classmethod
    def _neighbours(cls, v: list[str]) -> list[str]:
        for code in v:
            if not re.fullmatch(r"[A-Z]{2}", code):
                raise ValueError(f"not an ISO country code: {code!r}")
        return v

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        if not any(v.values()):
            raise ValueError("at least one alias is required")
        return _check_patterns(v)


class Theme(_Model):
    """A theme: own patterns and/or named cue lists."""

    slug: str = Field(pattern=_SLUG)
    name: str = Field(min_length=1)
    patterns: dict[str, list[str]] = Field(default_factory=dict)
    cues: list[str] = Field(default_factory=list)

    @field_validator("patterns")
    @classmethod
    def _patterns(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        return _check_patterns(v)


class Category(_Model):
    """One of the three alert categories."""

    slug: Literal["border_clash", "ceasefire", "csto"]
    name: str
    description: str = ""


class CorpusDoc(_Model):
    """One seed-corpus document, described in our own words."""

    file: str
    headline: str
    outlet: str
    date: dt.date | None = None
    summary: str
    actors: list[str] = Field(default_factory=list)
    themes: list[str] = Field(default_factory=list)


class _ActorsFile(_Model):
    actors: list[Actor]


class _ThemesFile(_Model):
    categories: list[Category]
    cues: dict[str, dict[str, list[str]]]
    themes: list[Theme]

    @field_validator("cues")
    @classmethod
    def _cues(cls, v: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, list[str]]]:
        for name, langs in v.items():
            if not re.match(_SLUG, name):
                raise ValueError(f"bad cue list name {name!r}")
            _check_patterns(langs)
        return v


class _CorpusFile(_Model):
    documents: list[CorpusDoc]


@dataclass(frozen=True)
class Pattern:
    """One pattern; ``label`` is ``actor:<slug>``, ``theme:<slug>`` or ``cue:<name>``."""

    label: str
    text: str
    lang: str

    @property
    def is_stem(self) -> bool:
        """Whether the pattern needs the regex path (stems or letter choices)."""
        return "*" in self.text or "[" in self.text

    @property
    def case_sensitive(self) -> bool:
        """Short all-capital acronyms match case-sensitively."""
        t = self.text.strip()
        return (not self.is_stem) and " " not in t and t.isupper() and len(t) <= 4


@dataclass
class Lexicon:
    """The validated watchlist."""

    seeds_dir: Path
    actors: dict[str, Actor]
    themes: dict[str, Theme]
    categories: dict[str, Category]
    cues: dict[str, dict[str, list[str]]]
    corpus: list[CorpusDoc] = field(default_factory=list)
    hash: str = ""

    def patterns(self) -> Iterator[Pattern]:
        """Every pattern of actors, themes and cues, labelled."""
        for actor in self.actors.values():
            for lang, items in actor.aliases.items():
                for text in items:
                    yield Pattern(f"actor:{actor.slug}", text, lang)
        for theme in self.themes.values():
            for lang, items in theme.patterns.items():
                for text in items:
                    yield Pattern(f"theme:{theme.slug}", text, lang)
        for name, langs in self.cues.items():
            for lang, items in langs.items():
                for text in items:
                    yield Pattern(f"cue:{name}", text, lang)

    def group(self, name: str) -> frozenset[str]:
        """Slugs of the actors in the named group (``groups:`` in actors.yaml).

        Raises:
            KeyError: ``name`` is not one of ``ACTOR_GROUPS``.
        """
        if name not in ACTOR_GROUPS:
            raise KeyError(name)
        return frozenset(slug for slug, a in self.actors.items() if name in a.groups)

    def border_dyads(self) -> frozenset[frozenset[str]]:
        """Pairs of country codes whose armed incidents are border incidents: a state and each
        of its ``clash_neighbours`` (no other front line between them)."""
        return frozenset(
            frozenset({a.country, n})
            for a in self.actors.values()
            if a.country
            for n in a.clash_neighbours
        )

    def actor_alias_index(self) -> dict[str, str]:
        """Lower-cased exact aliases -> actor slug (for the seed builder's diff)."""
        out: dict[str, str] = {}
        for actor in self.actors.values():
            for items in actor.aliases.values():
                for text in items:
                    out[text.lower().rstrip("*")] = actor.slug
        return out


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
        # libyaml's safe loader when PyYAML has it: the watchlist with its language packs is
        # ~7,000 patterns, ~2 s in the pure-Python loader and a tenth of that in libyaml's
        if yaml.__with_libyaml__:
            return yaml.load(text, Loader=yaml.CSafeLoader)
        return yaml.safe_load(text)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}", key="seeds") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}", key="seeds") from exc


def _entry_name(raw: Any, section: str, idx: int) -> str:
    if isinstance(raw, dict):
        for key in ("slug", "file", "name"):
            if raw.get(key):
                return f"{section}[{idx}] ({key} {raw[key]!r})"
    return f"{section}[{idx}]"


def _describe(path: Path, exc: ValidationError, data: Any) -> str:
    parts = []
    for err in exc.errors():
        loc = list(err["loc"])
        where = ""
        if len(loc) >= 2 and isinstance(loc[1], int) and isinstance(data, dict):
            section = str(loc[0])
            entries = data.get(section) or []
            raw = entries[loc[1]] if loc[1] < len(entries) else None
            where = _entry_name(raw, section, loc[1])
            loc = loc[2:]
        elif loc:
            where = str(loc[0])
            loc = loc[1:]
        fld = ".".join(str(p) for p in loc) or "(entry)"
        parts.append(f"{where}: field {fld!r}: {err['msg']}")
    return f"{path}: " + "; ".join(parts)


def _validate(model: type[_Model], path: Path, data: Any) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level", key="seeds")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(path, exc, data), key="seeds") from exc


def load_lexicon(seeds_dir: Path) -> Lexicon:
    """Load and validate ``actors.yaml``, ``themes.yaml``, (if present) ``corpus.yaml`` and the
    language packs ``languages/*.yaml`` (merged into the actors' aliases and the cues' and
    themes' patterns, see :func:`merge_language_packs`).

    Args:
        seeds_dir: the folder holding the YAML files.

    Returns:
        The lexicon, with ``hash`` = SHA-256 over the YAML content, language packs included
        (first 16 hex digits).

    Raises:
        ConfigError: a file is missing, is not YAML, or an entry is invalid (names file, entry
            and field), or a cross-reference (metonym, membership, corpus actor) is unknown.
    """
    seeds_dir = Path(seeds_dir)
    a_path, t_path, c_path = (seeds_dir / n for n in ("actors.yaml", "themes.yaml", "corpus.yaml"))
    for p in (a_path, t_path):
        if not p.is_file():
            raise ConfigError(f"{p}: watchlist file not found", key="seeds")
    digest = hashlib.sha256()
    raw_a, raw_t = _read_yaml(a_path), _read_yaml(t_path)
    digest.update(a_path.read_bytes())
    digest.update(t_path.read_bytes())
    actors_file: _ActorsFile = _validate(_ActorsFile, a_path, raw_a)
    themes_file: _ThemesFile = _validate(_ThemesFile, t_path, raw_t)

    actors: dict[str, Actor] = {}
    for idx, actor in enumerate(actors_file.actors):
        if actor.slug in actors:
            raise ConfigError(
                f"{a_path}: actors[{idx}] (slug {actor.slug!r}): field 'slug': duplicate slug",
                key="seeds",
            )
        actors[actor.slug] = actor
    for idx, actor in enumerate(actors_file.actors):
        if actor.metonym_of and actor.metonym_of not in actors:
            raise ConfigError(
                f"{a_path}: actors[{idx}] (slug {actor.slug!r}): field 'metonym_of': "
                f"unknown actor {actor.metonym_of!r}",
                key="seeds",
            )
        for m_idx, mem in enumerate(actor.memberships):
            if mem.org not in actors:
                raise ConfigError(
                    f"{a_path}: actors[{idx}] (slug {actor.slug!r}): field "
                    f"'memberships.{m_idx}.org': unknown actor {mem.org!r}",
                    key="seeds",
                )
    themes: dict[str, Theme] = {}
    for idx, theme in enumerate(themes_file.themes):
        if theme.slug in themes:
            raise ConfigError(
                f"{t_path}: themes[{idx}] (slug {theme.slug!r}): field 'slug': duplicate slug",
                key="seeds",
            )
        for cue in theme.cues:
            if cue not in themes_file.cues:
                raise ConfigError(
                    f"{t_path}: themes[{idx}] (slug {theme.slug!r}): field 'cues': "
                    f"unknown cue list {cue!r}",
                    key="seeds",
                )
        if not theme.patterns and not theme.cues:
            raise ConfigError(
                f"{t_path}: themes[{idx}] (slug {theme.slug!r}): field 'patterns': "
                "a theme needs patterns or cues",
                key="seeds",
            )
        themes[theme.slug] = theme
    missing = [c for c in REQUIRED_CUES if c not in themes_file.cues]
    if missing:
        raise ConfigError(
            f"{t_path}: cues: missing required cue lists: {', '.join(missing)}", key="seeds"
        )
    cats: dict[str, Category] = {c.slug: c for c in themes_file.categories}
    if set(cats) != set(CATEGORY_SLUGS):
        raise ConfigError(
            f"{t_path}: categories: expected exactly {', '.join(CATEGORY_SLUGS)}", key="seeds"
        )

    corpus: list[CorpusDoc] = []
    if c_path.is_file():
        raw_c = _read_yaml(c_path)
        digest.update(c_path.read_bytes())
        corpus_file: _CorpusFile = _validate(_CorpusFile, c_path, raw_c)
        for idx, doc in enumerate(corpus_file.documents):
            for slug in doc.actors:
                if slug not in actors:
                    raise ConfigError(
                        f"{c_path}: documents[{idx}] (file {doc.file!r}): field "
                        f"'actors': unknown actor {slug!r}",
                        key="seeds",
                    )
            for slug in doc.themes:
                if slug not in themes:
                    raise ConfigError(
                        f"{c_path}: documents[{idx}] (file {doc.file!r}): field "
                        f"'themes': unknown theme {slug!r}",
                        key="seeds",
                    )
        corpus = list(corpus_file.documents)
    cues = dict(themes_file.cues)
    packs = load_language_packs(seeds_dir / "languages")
    actors, themes, cues = merge_language_packs(packs, actors, themes, cues)
    for pack in packs:
        digest.update(pack.path.read_bytes())
    lex = Lexicon(
        seeds_dir=seeds_dir,
        actors=actors,
        themes=themes,
        categories=cats,
        cues=cues,
        corpus=corpus,
        hash=digest.hexdigest()[:16],
    )
    log.debug("lexicon %s: %d actors, %d themes", lex.hash, len(actors), len(themes))
    return lex


# ----------------------------------------------------------------------------- language packs
_LANG_CODE = r"^[a-z]{2,3}$"


class _PackFile(_Model):
    lang: str = Field(pattern=_LANG_CODE)
    source: str = Field(min_length=1)
    actors: dict[str, list[str]] = Field(default_factory=dict)
    cues: dict[str, list[str]] = Field(default_factory=dict)
    themes: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("actors", "cues", "themes")
    @classmethod
    def _items(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for key, items in v.items():
            _check_items(key, items)
        return v


@dataclass(frozen=True)
class LanguagePack:
    """One ``seeds/languages/<code>.yaml``: the watchlist's words in one language.

    ``actors`` maps an actor slug, ``cues`` a cue-list name and ``themes`` a theme slug to the
    aliases / patterns in the language ``lang`` (same syntax as ``actors.yaml``); ``source``
    says where the words come from.
    """

    path: Path
    lang: str
    source: str
    actors: dict[str, list[str]]
    cues: dict[str, list[str]]
    themes: dict[str, list[str]]


def load_language_packs(folder: Path) -> list[LanguagePack]:
    """Load and validate every ``<code>.yaml`` of ``folder`` (none when it does not exist).

    Raises:
        ConfigError: a pack is not YAML, has an invalid field, or its ``lang`` is not its file
            name (names the file and the key).
    """
    if not folder.is_dir():
        return []
    packs: list[LanguagePack] = []
    for path in sorted(folder.glob("*.yaml")):
        data: _PackFile = _validate(_PackFile, path, _read_yaml(path))
        if data.lang != path.stem:
            raise ConfigError(
                f"{path}: field 'lang': {data.lang!r} differs from the file name {path.stem!r}",
                key="seeds",
            )
        packs.append(
            LanguagePack(path, data.lang, data.source, data.actors, data.cues, data.themes)
        )
    return packs


def merge_language_packs(
    packs: list[LanguagePack],
    actors: dict[str, Actor],
    themes: dict[str, Theme],
    cues: dict[str, dict[str, list[str]]],
) -> tuple[dict[str, Actor], dict[str, Theme], dict[str, dict[str, list[str]]]]:
    """The actors, themes and cues with every pack's words added under its language.

    Raises:
        ConfigError: a pack names an actor slug, cue list or theme slug the watchlist does not
            have (names the file and the key).
    """
    actors, themes = dict(actors), dict(themes)
    cues = {name: dict(langs) for name, langs in cues.items()}
    for pack in packs:
        sections = (
            ("actors", "actor", pack.actors, actors),
            ("cues", "cue list", pack.cues, cues),
            ("themes", "theme", pack.themes, themes),
        )
        for section, what, given, known in sections:
            for key in given:
                if key not in known:
                    raise ConfigError(
                        f"{pack.path}: {section}: unknown {what} {key!r}", key="seeds"
                    )
        for slug, items in pack.actors.items():
            actor = actors[slug]
            aliases = {**actor.aliases, pack.lang: _union(actor.aliases.get(pack.lang), items)}
            actors[slug] = actor.model_copy(update={"aliases": aliases})
        for slug, items in pack.themes.items():
            theme = themes[slug]
            pats = {**theme.patterns, pack.lang: _union(theme.patterns.get(pack.lang), items)}
            themes[slug] = theme.model_copy(update={"patterns": pats})
        for name, items in pack.cues.items():
            cues[name][pack.lang] = _union(cues[name].get(pack.lang), items)
    return actors, themes, cues


def _union(old: list[str] | None, new: list[str]) -> list[str]:
    """``old`` then the items of ``new`` it lacks, in order."""
    out = list(old or [])
    seen = set(out)
    for item in new:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out
