"""Event grouping measured on the labelled dev sets (``regionwatch eval --events``).

Every item of a dev set (``dev.jsonl``) has the real-world event it reports in the file beside it
(``dev_events.jsonl``: ``{"id", "event", "date"}``; ``none`` for essays and background). The items
go through the real tagger and :class:`~regionwatch.events.EventIndex` in publication order, in
two settings:

* ``dated``: an item is published on its event's ``date`` plus a deterministic spread of up to
  18 hours (items without a usable date get a deterministic date of their own between 2000 and
  2010, far from every dated event); every dev set alone, then the union of the sets;
* ``waves``: what the acceptance check and a live desk see — the union of the sets in rounds on
  a fresh index, at most one live event per (main label, country pair) per round, every article
  published within the same hour in three waves (40% / 30% / 30% of each event's coverage),
  negatives alongside.

Scores:

* B-cubed precision / recall / F1 over the *positive* items (at least one gold label) with a known
  event. ``none`` items and negatives are not scored (they may join an event or not; their own
  gold cluster is meaningless). An item that belongs to no event is its own cluster (the pipeline
  then shows its ``story_id``, and dev texts are not copies of one another).
* Alerts: the outbox is simulated — one alert per (predicted event, category) the first time an
  article of the event qualifies under the default alert rules (the category decided, score at
  or above ``min_score``); the alert names that article, so it counts for the article's gold
  (event, category). *Expected* pairs are the acceptance check's: a category carried by a third
  of the event's articles, or by three, or by any article of an event of at most two; other
  labelled pairs are *tolerated*. Recall = expected pairs alerted / expected pairs; alerts per
  pair = alerts of the alerted expected pairs / their number (1.0 is ideal); precision = alerts
  on expected or tolerated pairs / all alerts; event recall = events with any expected pair whose
  articles raised any alert / those events.
* Per language group (``en``, ``ru`` = Cyrillic-script languages, ``other``), the mean item-level
  B-cubed precision and recall of that group's positive items against the full clusters.
* The *held-out* slice: every event whose slug hashes to 0 mod 4 (``held_out``), never looked
  at while tuning; its items' B-cubed is reported apart (``tuned`` is the rest).
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from regionwatch.errors import ConfigError
from regionwatch.evaluation import read_jsonl
from regionwatch.events import EventDecision, EventIndex, EventSignal, SignalBuilder
from regionwatch.settings import AlertRule, EventsConfig

if TYPE_CHECKING:
    from regionwatch.tagging import Tagger, TagResult

__all__ = [
    "EventEvalItem",
    "EventEvalReport",
    "ScenarioScore",
    "bcubed",
    "evaluate_events",
    "events_path_for",
    "load_event_items",
]

CYRILLIC_LANGS = frozenset({"ru", "uk", "be", "kk", "ky", "tg", "bg", "mk", "sr", "mn"})
COUNTRIES = (
    "Armenia",
    "Azerbaijan",
    "Kyrgyzstan",
    "Tajikistan",
    "Kazakhstan",
    "Russia",
    "Ukraine",
    "Belarus",
    "Georgia",
    "Turkey",
    "Uzbekistan",
    "Turkmenistan",
    "Iran",
    "Afghanistan",
)
_SPREAD_HOURS = 18
_WAVE_MINUTES = 20


def _hash(text: str) -> int:
    return int(hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:12], 16)


def held_out(event: str) -> bool:
    """Whether an event belongs to the held-out slice (never tuned on)."""
    return _hash("held-out:" + event) % 4 == 0


def lang_group(lang: str) -> str:
    """``en``, ``ru`` (Cyrillic-script languages) or ``other``."""
    if lang == "en":
        return "en"
    return "ru" if lang in CYRILLIC_LANGS else "other"


@dataclass(frozen=True, slots=True)
class EventEvalItem:
    """One labelled item with its gold event."""

    id: str
    url: str
    lang: str
    title: str
    text: str
    labels: tuple[str, ...]  # in the file's order (border_clash, ceasefire, csto)
    actors: tuple[str, ...]
    region_relevant: bool
    event: str  # gold slug; "none:<id>" for essays and background
    date: str
    dataset: str

    @property
    def positive(self) -> bool:
        """Labelled with a category and reporting a known event."""
        return bool(self.labels) and not self.event.startswith("none:")


def events_path_for(dataset: Path) -> Path:
    """The event labels beside a dev set: ``dev.jsonl`` -> ``dev_events.jsonl``."""
    return dataset.with_name(dataset.stem + "_events" + dataset.suffix)


def load_event_items(datasets: Sequence[Path]) -> list[EventEvalItem]:
    """Items of the dev sets with their gold events (a URL seen in an earlier set is skipped).

    Raises:
        ConfigError: a file is missing or unreadable, or an item has no event label.
    """
    seen: set[str] = set()
    out: list[EventEvalItem] = []
    for ds in datasets:
        ev_path = events_path_for(ds)
        events = {str(e.get("id")): e for e in read_jsonl(ev_path)}
        for row in read_jsonl(ds):
            rid = str(row.get("id"))
            url = str(row.get("url") or rid)
            if url in seen:
                continue
            ev = events.get(rid)
            if ev is None:
                raise ConfigError(f"{ev_path}: no event label for item {rid!r}")
            seen.add(url)
            slug = str(ev.get("event") or "none")
            out.append(
                EventEvalItem(
                    id=rid,
                    url=url,
                    lang=str(row.get("lang") or "en"),
                    title=str(row.get("title") or ""),
                    text=str(row.get("text") or ""),
                    labels=tuple(str(x) for x in row.get("labels") or ()),
                    actors=tuple(str(a) for a in row.get("actors") or ()),
                    region_relevant=bool(row.get("region_relevant", True)),
                    event=slug if slug != "none" else f"none:{rid}",
                    date=str(ev.get("date") or ""),
                    dataset=ds.stem,
                )
            )
    return out


def dated_time(item: EventEvalItem) -> datetime:
    """The item's event date plus a deterministic spread (see the module docstring)."""
    spread = timedelta(minutes=_hash("spread:" + item.id) % (_SPREAD_HOURS * 60))
    parts = item.date.split("-")
    try:
        if len(parts) >= 2 and parts[0].isdigit():
            day = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 1
            return datetime(int(parts[0]), int(parts[1]), day, tzinfo=UTC) + spread
    except ValueError:
        pass
    return datetime(2000, 1, 1, tzinfo=UTC) + timedelta(days=_hash("date:" + item.id) % 3650)


# ----------------------------------------------------------------------------- scores
def bcubed(gold: dict[str, str], pred: dict[str, Any]) -> tuple[float, float, float]:
    """B-cubed precision, recall and F1 of ``pred`` (item -> cluster) against ``gold``."""
    if not gold:
        return 0.0, 0.0, 0.0
    p, r = _item_bcubed(gold, pred)
    n = len(gold)
    bp, br = sum(p.values()) / n, sum(r.values()) / n
    return bp, br, _f1(bp, br)


def _item_bcubed(
    gold: dict[str, str], pred: dict[str, Any]
) -> tuple[dict[str, float], dict[str, float]]:
    g_members: dict[str, set[str]] = defaultdict(set)
    p_members: dict[Any, set[str]] = defaultdict(set)
    for a, g in gold.items():
        g_members[g].add(a)
        p_members[pred[a]].add(a)
    prec, rec = {}, {}
    for a, g in gold.items():
        both = len(p_members[pred[a]] & g_members[g])
        prec[a] = both / len(p_members[pred[a]])
        rec[a] = both / len(g_members[g])
    return prec, rec


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class ScenarioScore:
    """The scores of one setting (see the module docstring)."""

    name: str
    items: int = 0
    positives: int = 0
    bcubed_p: float = 0.0
    bcubed_r: float = 0.0
    bcubed_f1: float = 0.0
    baseline_f1: float = 0.0
    multi_language_groups: int = 0
    alerts: int = 0
    expected_pairs: int = 0
    recall: float = 0.0
    alerts_per_pair: float = 0.0
    precision: float = 0.0
    event_recall: float = 0.0
    by_language: dict[str, dict[str, float]] = field(default_factory=dict)
    slices: dict[str, dict[str, float]] = field(default_factory=dict)
    extra_alerts: list[str] = field(default_factory=list)
    ungrouped_alerts: int = 0
    ungrouped_recall: float = 0.0
    ungrouped_per_pair: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (rates rounded to 4 places)."""
        out: dict[str, Any] = {}
        for k, v in self.__dict__.items():
            out[k] = round(v, 4) if isinstance(v, float) else v
        return out


@dataclass
class EventEvalReport:
    """The settings scored, in order."""

    scenarios: list[ScenarioScore]
    datasets: list[str]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"datasets": self.datasets, "scenarios": [s.as_dict() for s in self.scenarios]}


def _qualifies(tags: TagResult, rules: Sequence[AlertRule]) -> set[str]:
    """Categories the default alert rules send for this item (decided, score >= min_score)."""
    out = set()
    for rule in rules:
        res = tags.categories.get(rule.category)
        if res is not None and res.decision and res.score >= rule.min_score:
            out.add(rule.category)
    return out


def _expected(items: Iterable[EventEvalItem]) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    by_ev: dict[str, list[EventEvalItem]] = defaultdict(list)
    for it in items:
        if it.positive:
            by_ev[it.event].append(it)
    exp: set[tuple[str, str]] = set()
    tol: set[tuple[str, str]] = set()
    for ev, its in by_ev.items():
        n = len(its)
        for lab, c in Counter(lab for i in its for lab in i.labels).items():
            (exp if (c * 3 >= n or c >= 3 or n <= 2) else tol).add((ev, lab))
    return exp, tol


class _Run:
    """One stream of items through a fresh index, with the simulated outbox."""

    def __init__(self, cfg: EventsConfig, rules: Sequence[AlertRule]) -> None:
        self.index = EventIndex(cfg)
        self.rules = rules
        self.cluster: dict[str, int] = {}  # item id -> event local id at assignment
        self.alias: dict[int, int] = {}  # absorbed event -> surviving event
        self.sent: set[tuple[int, str]] = set()
        self.alerts: list[tuple[str, str]] = []  # (item id, category)
        self.ungrouped: list[tuple[str, str]] = []  # what one alert per article would send

    def _root(self, lid: int) -> int:
        while lid in self.alias:
            lid = self.alias[lid]
        return lid

    def feed(self, batch: Sequence[tuple[EventEvalItem, EventSignal | None, TagResult]]) -> None:
        sigs = [(it, sig, tags) for it, sig, tags in batch if sig is not None]
        decisions = self.index.assign_batch([s for _, s, _ in sigs])
        order = sorted(
            range(len(sigs)),
            key=lambda i: (not sigs[i][1].categories, sigs[i][1].time),
        )
        for it, sig, tags in batch:
            cats = sorted(_qualifies(tags, self.rules))
            self.ungrouped.extend((it.id, c) for c in cats)
            if sig is None:  # no watched party: the item alerts on its own, as a story would
                self.alerts.extend((it.id, c) for c in cats)
        for i in order:
            it, _sig, tags = sigs[i]
            dec: EventDecision | None = decisions[i]
            if dec is None:
                continue
            for old in dec.merged_from:
                self.alias[old.local_id] = dec.event.local_id
            lid = self._root(dec.event.local_id)
            self.cluster[it.id] = lid
            for cat in sorted(_qualifies(tags, self.rules)):
                if (lid, cat) not in self.sent:
                    self.sent.add((lid, cat))
                    self.alerts.append((it.id, cat))

    def clusters(self, items: Iterable[EventEvalItem], prefix: str) -> dict[str, Any]:
        return {
            it.id: (prefix, self._root(self.cluster[it.id]))
            if it.id in self.cluster
            else ("solo", it.id)
            for it in items
        }


def _score(
    name: str,
    items: Sequence[EventEvalItem],
    pred: dict[str, Any],
    alerts: Sequence[tuple[str, str]],
    ungrouped: Sequence[tuple[str, str]],
) -> ScenarioScore:
    by_id = {it.id: it for it in items}
    pos = [it for it in items if it.positive]
    gold = {it.id: it.event for it in pos}
    pred_pos = {k: pred[k] for k in gold}
    sc = ScenarioScore(name=name, items=len(items), positives=len(pos))
    sc.bcubed_p, sc.bcubed_r, sc.bcubed_f1 = bcubed(gold, pred_pos)
    sc.baseline_f1 = bcubed(gold, {k: k for k in gold})[2]
    langs: dict[Any, set[str]] = defaultdict(set)
    for it in pos:
        langs[pred_pos[it.id]].add(it.lang)
    sc.multi_language_groups = sum(1 for v in langs.values() if len(v) > 1)
    ip, ir = _item_bcubed(gold, pred_pos)
    groups: dict[str, list[str]] = defaultdict(list)
    slices: dict[str, list[str]] = defaultdict(list)
    for it in pos:
        groups[lang_group(it.lang)].append(it.id)
        slices["held_out" if held_out(it.event) else "tuned"].append(it.id)
    for target, parts in ((sc.by_language, groups), (sc.slices, slices)):
        for part, ids in sorted(parts.items()):
            p = sum(ip[i] for i in ids) / len(ids)
            r = sum(ir[i] for i in ids) / len(ids)
            target[part] = {"items": len(ids), "p": round(p, 4), "r": round(r, 4)}
            target[part]["f1"] = round(_f1(p, r), 4)
    exp, tol = _expected(items)
    sc.expected_pairs = len(exp)
    sc.alerts = len(alerts)
    sc.recall, sc.alerts_per_pair, sc.precision, sc.event_recall, sc.extra_alerts = _alert_scores(
        by_id, exp, tol, alerts
    )
    sc.ungrouped_alerts = len(ungrouped)
    sc.ungrouped_recall, sc.ungrouped_per_pair, _p, _e, _x = _alert_scores(
        by_id, exp, tol, ungrouped
    )
    return sc


def _alert_scores(
    by_id: dict[str, EventEvalItem],
    exp: set[tuple[str, str]],
    tol: set[tuple[str, str]],
    alerts: Sequence[tuple[str, str]],
) -> tuple[float, float, float, float, list[str]]:
    """Recall, alerts per alerted expected pair, precision, event recall and the false alerts."""
    count: Counter[tuple[str, str]] = Counter()
    false: list[str] = []
    for iid, cat in alerts:
        key = (by_id[iid].event, cat)
        count[key] += 1
        if key not in exp and key not in tol:
            false.append(f"{cat}: {by_id[iid].event} ({iid})")
    hit = {k for k in count if k in exp}
    recall = len(hit) / len(exp) if exp else 0.0
    per_pair = sum(count[k] for k in hit) / len(hit) if hit else 0.0
    precision = (len(alerts) - len(false)) / len(alerts) if alerts else 0.0
    exp_events = {e for e, _ in exp}
    caught = {by_id[iid].event for iid, _ in alerts} & exp_events
    event_recall = len(caught) / len(exp_events) if exp_events else 0.0
    return recall, per_pair, precision, event_recall, false


def _countries(items: Iterable[EventEvalItem]) -> tuple[str, ...]:
    c: Counter[str] = Counter()
    for it in items:
        blob = (" ".join(it.actors) + " " + it.text[:600]).lower()
        for k in COUNTRIES:
            if k.lower() in blob:
                c[k] += 1
    return tuple(sorted(k for k, _ in c.most_common(2)))


def _rounds(
    items: Sequence[EventEvalItem], rounds: int = 3
) -> tuple[list[list[str]], list[EventEvalItem]]:
    """Live events per round (one per main label and country pair) and the negatives."""
    by_ev: dict[str, list[EventEvalItem]] = defaultdict(list)
    for it in items:
        by_ev[it.event].append(it)
    slots: dict[tuple[str, tuple[str, ...]], list[tuple[str, list[EventEvalItem]]]] = defaultdict(
        list
    )
    for ev, its in by_ev.items():
        if ev.startswith("none:") or not any(i.labels for i in its):
            continue
        if not any(i.region_relevant for i in its):
            continue
        lab = Counter(lab for i in its for lab in i.labels).most_common(1)[0][0]
        slots[(lab, _countries(its))].append((ev, its))
    out: list[list[str]] = []
    for r in range(rounds):
        live = []
        for v in slots.values():
            if len(v) > r:
                live.append(sorted(v, key=lambda e: (-len(e[1]), e[0]))[r][0])
        out.append(sorted(set(live)))
    live_all = {ev for rnd in out for ev in rnd}
    negatives = [
        i
        for i in items
        if not i.labels
        and i.event not in live_all
        and (i.event.startswith("none:") or not any(x.labels for x in by_ev[i.event]))
    ]
    return out, negatives


def evaluate_events(
    datasets: Sequence[Path],
    tagger: Tagger,
    cfg: EventsConfig | None = None,
    rules: Sequence[AlertRule] | None = None,
) -> EventEvalReport:
    """Score event grouping and per-event alerting on the dev sets (module docstring).

    Args:
        datasets: dev sets (``dev.jsonl`` …), each with its ``*_events.jsonl`` beside it.
        tagger: the tagger.
        cfg: the ``[events]`` settings (defaults when ``None``).
        rules: the alert rules (one default rule per category when ``None``).

    Raises:
        ConfigError: a file is missing or malformed.
    """
    cfg = cfg or EventsConfig()
    rules = (
        list(rules)
        if rules is not None
        else [AlertRule(category=c) for c in ("border_clash", "ceasefire", "csto")]
    )
    items = load_event_items(datasets)
    builder = SignalBuilder(tagger.lexicon)
    tags = {it.id: tagger.tag(it.text, title=it.title or None, lang=it.lang) for it in items}

    def signal(it: EventEvalItem, at: datetime) -> EventSignal | None:
        return builder.build(
            key=it.id,
            time=at,
            outlet=it.url.split("/")[2] if it.url.count("/") >= 2 else "",
            language=it.lang,
            title=it.title,
            text=it.text,
            tags=tags[it.id],
        )

    scenarios: list[ScenarioScore] = []
    names = [ds.stem for ds in datasets]
    subsets = [(n, [it for it in items if it.dataset == n]) for n in names]
    if len(names) > 1:
        subsets.append(("+".join(names), list(items)))
    for name, subset in subsets:
        run = _Run(cfg, rules)
        ordered = sorted(subset, key=lambda it: (dated_time(it), it.id))
        for it in ordered:
            run.feed([(it, signal(it, dated_time(it)), tags[it.id])])
        scenarios.append(
            _score(f"dated {name}", subset, run.clusters(subset, "e"), run.alerts, run.ungrouped)
        )

    rounds, negatives = _rounds(items)
    t0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    all_items: list[EventEvalItem] = []
    pred: dict[str, Any] = {}
    alerts: list[tuple[str, str]] = []
    ungrouped: list[tuple[str, str]] = []
    negs = sorted(negatives, key=lambda i: _hash("neg:" + i.id))
    for rn, live in enumerate(rounds):
        run = _Run(cfg, rules)
        waves: list[list[EventEvalItem]] = [[], [], []]
        for ev in live:
            its = sorted((i for i in items if i.event == ev), key=lambda i: _hash("order:" + i.id))
            n = len(its)
            cut1, cut2 = max(1, round(n * 0.4)), max(1, round(n * 0.7))
            for k, it in enumerate(its):
                waves[0 if k < cut1 else 1 if k < cut2 else 2].append(it)
        mine = [n for k, n in enumerate(negs) if k % len(rounds) == rn]
        for k, it in enumerate(mine):
            waves[k % 3].append(it)
        for wn, wave in enumerate(waves):
            start = t0 + timedelta(days=rn, minutes=_WAVE_MINUTES * wn)
            batch = []
            for j, it in enumerate(wave):
                at = start - timedelta(minutes=1 + j % 50)
                batch.append((it, signal(it, at), tags[it.id]))
            run.feed(batch)
        round_items = [it for w in waves for it in w]
        all_items.extend(round_items)
        pred.update(run.clusters(round_items, f"r{rn}"))
        alerts.extend(run.alerts)
        ungrouped.extend(run.ungrouped)
    scenarios.append(_score(f"waves {'+'.join(names)}", all_items, pred, alerts, ungrouped))
    return EventEvalReport(scenarios=scenarios, datasets=[str(d) for d in datasets])
