"""One module per category rule; each maps an :class:`ItemContext` to a ``CategoryResult``."""

from __future__ import annotations

from regionwatch.tagging.rules.border_clash import border_clash
from regionwatch.tagging.rules.ceasefire import ceasefire
from regionwatch.tagging.rules.csto import csto

__all__ = ["RULES", "border_clash", "ceasefire", "csto"]

RULES = {"border_clash": border_clash, "ceasefire": ceasefire, "csto": csto}
