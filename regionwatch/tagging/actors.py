"""What the rules know about the watchlist's actors, read once from the lexicon."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from regionwatch.lexicon import Lexicon

__all__ = ["ActorInfo", "ActorSets", "actor_infos"]


class ActorInfo(NamedTuple):
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


def actor_infos(lexicon: Lexicon) -> dict[str, ActorInfo]:
    """``actor:<slug>`` -> its :class:`ActorInfo`, for every actor of ``lexicon``."""
    out: dict[str, ActorInfo] = {}
    for slug, actor in lexicon.actors.items():
        out[f"actor:{slug}"] = ActorInfo(
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
    return out


@dataclass(frozen=True, slots=True)
class ActorSets:
    """The actor groups and border dyads of ``seeds/actors.yaml`` the rules read."""

    armenian_side: frozenset[str]
    azerbaijani_side: frozenset[str]
    karabakh_conflict: frozenset[str]
    inside_karabakh: frozenset[str]
    ukraine_war: frozenset[str]
    ukraine_war_party: frozenset[str]
    other_fronts: frozenset[str]
    csto_body: frozenset[str]
    border_dyads: frozenset[frozenset[str]]

    @classmethod
    def from_lexicon(cls, lexicon: Lexicon) -> ActorSets:
        """Read the groups (``groups:``) and dyads (``clash_neighbours:``) of ``lexicon``."""
        return cls(
            armenian_side=lexicon.group("armenian_side"),
            azerbaijani_side=lexicon.group("azerbaijani_side"),
            karabakh_conflict=lexicon.group("karabakh_conflict"),
            inside_karabakh=lexicon.group("inside_karabakh"),
            ukraine_war=lexicon.group("ukraine_war"),
            ukraine_war_party=lexicon.group("ukraine_war_party"),
            other_fronts=lexicon.group("other_fronts"),
            csto_body=lexicon.group("csto_body"),
            border_dyads=lexicon.border_dyads(),
        )
