"""Our own news-page generator for the benchmarks.

Builds realistic article pages — site header and navigation, breadcrumb, share bar, byline,
figure, the article body, an in-article "read also" box, related links, a comment thread,
newsletter box, footer, inline scripts and JSON-LD — from text templates written for this
project, mixed (when ``$REGIONWATCH_SHARED/seeds`` is present) with paragraphs taken from the
seed corpus at run time. Seed texts are read, never written: nothing third-party is committed.

``corpus()`` adds the real pages of ``$REGIONWATCH_SHARED/fixtures/pages`` when present.

Usage::

    from pagegen import corpus
    pages = corpus(500)            # 500 generated + the real fixture pages
    python bench/pagegen.py -n 5 --out bench/out/pages   # write a few to look at
"""

from __future__ import annotations

import argparse
import gzip
import html
import json
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import shared_dir

__all__ = ["Page", "corpus", "fixture_pages", "generate_pages", "seed_paragraphs"]


@dataclass(frozen=True)
class Page:
    """One article page: its URL, HTML, headline, date and where it came from."""

    url: str
    html: str
    title: str
    published: datetime
    kind: str  # "generated" | "fixture"
    words: int  # words of article body we put in (0 for fixtures: unknown)
    lang: str = "en"

    @property
    def content(self) -> bytes:
        """The page as UTF-8 bytes (what an HTTP response would carry)."""
        return self.html.encode("utf-8")


# ---------------------------------------------------------------------------- vocabulary
COUNTRIES = [
    "Armenia",
    "Azerbaijan",
    "Georgia",
    "Kazakhstan",
    "Kyrgyzstan",
    "Tajikistan",
    "Uzbekistan",
    "Turkmenistan",
    "Ukraine",
    "Belarus",
    "Russia",
    "Turkey",
    "Iran",
    "Moldova",
]
CAPITALS = {
    "Armenia": "Yerevan",
    "Azerbaijan": "Baku",
    "Georgia": "Tbilisi",
    "Kazakhstan": "Astana",
    "Kyrgyzstan": "Bishkek",
    "Tajikistan": "Dushanbe",
    "Uzbekistan": "Tashkent",
    "Turkmenistan": "Ashgabat",
    "Ukraine": "Kyiv",
    "Belarus": "Minsk",
    "Russia": "Moscow",
    "Turkey": "Ankara",
    "Iran": "Tehran",
    "Moldova": "Chisinau",
}
PLACES = [
    "Syunik",
    "Tavush",
    "Gegharkunik",
    "Jermuk",
    "the Lachin corridor",
    "Batken",
    "Isfara",
    "Vorukh",
    "Sughd",
    "Abkhazia",
    "South Ossetia",
    "Transnistria",
    "Donbas",
    "Crimea",
    "Kharkiv region",
    "Zaporizhzhia",
    "Nakhchivan",
    "Gyumri",
    "Osh",
    "Khujand",
    "the Fergana Valley",
    "Kherson",
    "Brest region",
    "Gomel",
]
ORGS = [
    "the CSTO",
    "the OSCE",
    "the European Union",
    "NATO",
    "the Shanghai Cooperation Organisation",
    "the Eurasian Economic Union",
    "the CIS",
    "the United Nations",
    "the EU monitoring mission",
    "the Collective Security Treaty Organization",
]
ROLES = [
    "foreign minister",
    "defence minister",
    "prime minister",
    "president",
    "deputy foreign minister",
    "security council secretary",
    "border service chief",
    "presidential envoy",
    "parliament speaker",
    "chief of the general staff",
]
FIRST = [
    "Armen",
    "Ilham",
    "Nikol",
    "Kassym",
    "Sadyr",
    "Emomali",
    "Shavkat",
    "Irakli",
    "Ruslan",
    "Oleksandr",
    "Maria",
    "Dmitry",
    "Aida",
    "Bakyt",
    "Nurlan",
    "Tigran",
    "Leyla",
    "Giorgi",
    "Olga",
    "Jeyhun",
    "Zhanna",
    "Farrukh",
    "Anna",
    "Mirzo",
]
LAST = [
    "Grigoryan",
    "Mammadov",
    "Beridze",
    "Tokayev",
    "Japarov",
    "Rahmonov",
    "Saidov",
    "Kobakhidze",
    "Petrenko",
    "Zakharova",
    "Lavrov",
    "Aliyeva",
    "Bayramov",
    "Mirzoyan",
    "Kasymaliev",
    "Abdullaev",
    "Shevchenko",
    "Kovalenko",
    "Sultanov",
    "Davletov",
]
OUTLETS = [
    ("Caucasus Ledger", "caucasus-ledger"),
    ("Steppe Wire", "steppe-wire"),
    ("Borderland Daily", "borderland-daily"),
    ("Eurasia Desk", "eurasia-desk"),
    ("Black Sea Courier", "blacksea-courier"),
    ("Fergana Report", "fergana-report"),
    ("Dnipro Post", "dnipro-post"),
    ("Minsk Observer", "minsk-observer"),
]
SECTIONS = [
    "Politics",
    "Security",
    "Region",
    "World",
    "Economy",
    "Society",
    "Analysis",
    "Opinion",
    "Energy",
    "Border",
    "Diplomacy",
    "Video",
]
TOPICS = [
    "ceasefire",
    "border",
    "csto",
    "talks",
    "energy",
    "protest",
    "sanctions",
    "election",
    "drones",
    "refugees",
    "corridor",
    "peacekeepers",
]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
UNITS = ["soldiers", "border guards", "civilians", "servicemen", "villagers", "police officers"]
WEAPONS = ["mortars", "drones", "small arms", "artillery", "grenade launchers", "sniper fire"]
GOODS = ["gas", "grain", "oil", "electricity", "fertiliser", "cargo", "steel", "cement"]

# Sentence templates written for this project. Slots: {c1} {c2} countries, {cap1} {cap2}
# capitals, {place}, {org}, {person}, {role}, {n} {m} numbers, {day}, {unit}, {weapon}, {good}.
EN_SENTENCES = {
    "ceasefire": [
        "{c1} and {c2} agreed on {day} to a ceasefire along the line of contact near {place}, "
        "according to a joint statement released in {cap1}.",
        "The truce, brokered with the help of {org}, is due to take effect at midnight local "
        "time and will be monitored by a team of {n} observers.",
        "Officials in {cap2} said the ceasefire had been violated {n} times overnight, an "
        "accusation that {cap1} rejected as a provocation.",
        "{person}, {c1}'s {role}, told reporters that the cessation of hostilities was "
        "holding but warned that the situation around {place} remained fragile.",
        "Under the terms of the deal, both sides are to pull heavy weapons {n} kilometres "
        "back from the front line and exchange prisoners within {m} days.",
        "Residents of {place} said the night had been quiet for the first time in weeks.",
    ],
    "border": [
        "Border guards of {c1} and {c2} exchanged fire near {place} on {day}, leaving {n} "
        "{unit} wounded, the {c1} border service said.",
        "The clash began after a dispute over a water intake and escalated when {weapon} "
        "were used, local officials told our correspondent.",
        "{cap2} accused {c1} of shelling positions near {place}; the claim could not be "
        "independently verified.",
        "At least {n} people were evacuated from villages along the disputed section of the "
        "frontier, which has never been fully demarcated.",
        "The {role} of {c2}, {person}, called his counterpart in {cap1} and the two agreed "
        "to withdraw additional forces from the area.",
        "Skirmishes on this stretch of the border have flared up several times since {m}, "
        "most often over pastures, roads and irrigation channels.",
    ],
    "csto": [
        "Leaders of {org} met in {cap1} on {day} to discuss collective security and the "
        "situation on the bloc's southern borders.",
        "{c1} again stayed away from the summit, continuing the freeze of its participation "
        "in the alliance that it announced last year.",
        "{person}, the {role}, said the organisation's rapid reaction force could be deployed "
        "within {n} hours if a member state asked for help.",
        "The joint exercises, involving about {n} troops from {m} member states, are planned "
        "for the autumn near {place}.",
        "Critics in {cap2} argued that the bloc had failed to respond when a member was "
        "attacked, a complaint that has shaped the debate for several years.",
    ],
    "talks": [
        "Foreign ministers of {c1} and {c2} held a new round of peace talks in {cap1} on "
        "{day}, the {m}th such meeting this year.",
        "The sides discussed the text of a peace treaty, the delimitation of the border and "
        "the reopening of transport links through {place}.",
        "{person} described the talks as constructive but said that several issues remained "
        "open, including the wording on territorial integrity.",
        "Mediators from {org} are expected to present new proposals within {n} weeks.",
        "Observers in {cap2} cautioned that a signed agreement would still need to be "
        "ratified by parliament and could face a referendum.",
    ],
    "energy": [
        "{c1} will increase {good} shipments through {place} by {n} percent next year under "
        "a memorandum signed in {cap1} on {day}.",
        "The route, which bypasses Russian territory, has attracted interest from {org} and "
        "from traders in {cap2}.",
        "Analysts estimate that the corridor could carry {m} million tonnes of {good} a year "
        "once the new rail section is completed.",
        "{person}, the {role}, said financing of {n} million dollars had been secured for "
        "the first stage of the project.",
    ],
    "protest": [
        "Several thousand people rallied in central {cap1} on {day}, demanding the "
        "resignation of the government over its handling of the crisis around {place}.",
        "Police detained at least {n} protesters, according to a local rights group, while "
        "the interior ministry put the figure at {m}.",
        "The opposition said it would continue the demonstrations until its demands were "
        "met and called on supporters to block main roads.",
        "{person}, the {role}, said the authorities respected the right to peaceful assembly "
        "but would not tolerate attempts to seize government buildings.",
    ],
    "sanctions": [
        "{org} added {n} companies from {c1} to its sanctions list on {day}, accusing them of "
        "helping to supply components for {weapon}.",
        "The government in {cap1} said the measures were unjustified and would hurt ordinary "
        "exporters of {good}.",
        "Trade between {c1} and {c2} has grown {m}-fold since the start of the war, customs "
        "data show.",
        "{person} said the ministry was studying the list and would respond within {n} days.",
    ],
    "generic": [
        "{person}, the {role} of {c1}, is expected to visit {cap2} next {day}.",
        "The ministry in {cap1} did not respond to a request for comment.",
        "Local media reported that a delegation of {n} officials had arrived in {place}.",
        "The statement did not say when the next meeting would take place.",
        "Experts interviewed by our newsroom were divided over what the move would mean "
        "for the region.",
        "Earlier this month, {c2} hosted a conference on regional connectivity attended by "
        "representatives of {m} countries.",
        "Public opinion polls in {c1} suggest that security remains the main concern for "
        "about {n} percent of voters.",
        "The announcement came a day after talks between {person} and envoys from {org}.",
        "In {place}, schools reopened on {day} after being closed for {m} days.",
        "Prices of {good} in {cap1} have risen by {n} percent since the beginning of the year.",
    ],
}

RU_SENTENCES = [
    "Пограничники {rc1} и {rc2} открыли огонь в районе {rplace} в {rday}, сообщила "
    "пограничная служба.",
    "Стороны договорились о прекращении огня вдоль линии соприкосновения, говорится в "
    "совместном заявлении.",
    "По данным местных властей, ранены {n} военнослужащих, эвакуированы жители {m} сёл.",
    "Министр иностранных дел заявил, что переговоры о делимитации границы продолжатся в {rcap}.",
    "Генеральный секретарь ОДКБ провёл консультации с представителями государств-членов.",
    "Эксперты считают, что ситуация на границе остаётся напряжённой.",
    "Перемирие было нарушено {n} раз за ночь, утверждают в Минобороны.",
    "В заявлении МИД говорится, что ответственность за обострение несёт противоположная сторона.",
    "Наблюдатели ОБСЕ посетили район {rplace} и встретились с местными жителями.",
    "Цены на {rgood} выросли на {n} процентов с начала года.",
]
RU_COUNTRIES = ["Киргизии", "Таджикистана", "Армении", "Азербайджана", "Казахстана", "Узбекистана"]
RU_PLACES = ["Баткена", "Исфары", "Ворухa", "Сюника", "Тавуша", "Согда"]
RU_CAPS = ["Москве", "Бишкеке", "Душанбе", "Ереване", "Баку", "Астане"]
RU_DAYS = ["понедельник", "вторник", "среду", "четверг", "пятницу", "субботу"]
RU_GOODS = ["газ", "зерно", "электроэнергию", "цемент"]

COMMENT_LINES = [
    "Nobody believes these statements any more.",
    "Good news, finally. Peace is possible.",
    "Same story every spring. Demarcate the border already!",
    "Where is the international community?",
    "Thanks for the detailed report.",
    "My village is 5 km from there, it was loud all night.",
    "Propaganda from both sides, as usual.",
    "Let them sign the treaty and move on.",
    "The bloc is useless, everyone knows it.",
    "Prices keep going up, that is what matters.",
    "Very informative, please keep covering this region.",
    "Who is paying for all this?",
]


# ---------------------------------------------------------------------------- seed corpus
_PARA_SPLIT = re.compile(r"\n\s*\n")


def seed_paragraphs(shared: Path | None = None, *, min_words: int = 25) -> list[str]:
    """Paragraphs of the seed corpus (``$REGIONWATCH_SHARED/seeds``), read at run time.

    Returns an empty list when the corpus is not at hand.
    """
    shared = shared if shared is not None else shared_dir()
    if shared is None or not (shared / "seeds").is_dir():
        return []
    out: list[str] = []
    for path in sorted((shared / "seeds").iterdir()):
        if path.suffix.lower() not in (".txt", ".html", ".htm", ".md"):
            continue
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if path.suffix.lower() in (".html", ".htm"):
            text = re.sub(r"<[^>]+>", "\n", text)
        for para in _PARA_SPLIT.split(text):
            para = " ".join(para.split())
            if len(para.split()) >= min_words:
                out.append(para)
    return out


# ---------------------------------------------------------------------------- text
class _Writer:
    """Fills the templates with one page's random but consistent cast."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        c1, c2 = rng.sample(COUNTRIES, 2)
        self.slots = {
            "c1": c1,
            "c2": c2,
            "cap1": CAPITALS[c1],
            "cap2": CAPITALS[c2],
            "place": rng.choice(PLACES),
            "org": rng.choice(ORGS),
            "person": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            "role": rng.choice(ROLES),
            "day": rng.choice(WEEKDAYS),
            "unit": rng.choice(UNITS),
            "weapon": rng.choice(WEAPONS),
            "good": rng.choice(GOODS),
            "rc1": rng.choice(RU_COUNTRIES),
            "rc2": rng.choice(RU_COUNTRIES),
            "rplace": rng.choice(RU_PLACES),
            "rcap": rng.choice(RU_CAPS),
            "rday": rng.choice(RU_DAYS),
            "rgood": rng.choice(RU_GOODS),
        }

    def sentence(self, template: str) -> str:
        rng = self.rng
        slots = dict(self.slots)
        slots["n"] = str(rng.randint(2, 95))
        slots["m"] = str(rng.randint(2, 30))
        if rng.random() < 0.3:  # a second person or place now and then
            slots["person"] = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        if rng.random() < 0.2:
            slots["place"] = rng.choice(PLACES)
        return template.format(**slots)

    def paragraph(self, topic: str, lang: str) -> str:
        rng = self.rng
        n = rng.randint(4, 6)
        if lang == "ru":
            pool = RU_SENTENCES
        else:
            pool = EN_SENTENCES.get(topic, []) * 2 + EN_SENTENCES["generic"]
        return " ".join(self.sentence(rng.choice(pool)) for _ in range(n))


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _headline(w: _Writer, topic: str, lang: str) -> str:
    s = w.slots
    if lang == "ru":
        return f"{_cap(s['rc1'])} и {s['rc2']}: ситуация в районе {s['rplace']}"
    options = {
        "ceasefire": f"{s['c1']} and {s['c2']} agree ceasefire near {s['place']}",
        "border": f"Border guards of {s['c1']} and {s['c2']} exchange fire near {s['place']}",
        "csto": f"{_cap(s['org'].removeprefix('the '))} leaders meet in {s['cap1']}",
        "talks": f"New round of {s['c1']}-{s['c2']} peace talks opens in {s['cap1']}",
        "energy": f"{s['c1']} to ship more {s['good']} through {s['place']}",
        "protest": f"Thousands rally in {s['cap1']} over {s['place']}",
        "sanctions": f"New sanctions hit {s['c1']} exporters of {s['good']}",
    }
    return options.get(topic, f"{s['person']} to visit {s['cap2']}")


def article_body(
    rng: random.Random, *, words: int, topic: str, lang: str, seeds: list[str]
) -> tuple[str, list[str]]:
    """A headline and paragraphs totalling about ``words`` words."""
    w = _Writer(rng)
    title = _headline(w, topic, lang)
    paras: list[str] = []
    total = 0
    seed_budget = rng.randint(1, 3) if seeds and lang == "en" else 0
    while total < words:
        if seed_budget and rng.random() < 0.35:
            para = rng.choice(seeds)
            seed_budget -= 1
        else:
            t = topic if rng.random() < 0.7 else rng.choice(TOPICS)
            para = w.paragraph(t, lang)
        paras.append(para)
        total += len(para.split())
    return title, paras


# ---------------------------------------------------------------------------- HTML
def _nav(rng: random.Random, slug: str) -> str:
    items = "".join(
        f'<li class="menu-item"><a href="/{slug}/{s.lower()}/">{s}</a>'
        f'<div class="mega"><ul class="sub-menu">{"".join(f"<li><a href=/{slug}/{s.lower()}/{t}/>{t.title()}</a></li>" for t in rng.sample(TOPICS, 8))}</ul>'  # noqa: E501
        f'<div class="mega-teaser"><a href="/{slug}/{s.lower()}/{rng.randint(10**4, 10**5)}">'
        f'<img src="/img/m{rng.randint(1, 999)}.jpg" alt=""><span>{s}: the week in review'
        f"</span></a></div></div></li>"
        for s in SECTIONS
    )
    return (
        f'<header class="site-header"><div class="top-bar"><span class="date">'
        f'{rng.choice(WEEKDAYS)}</span><a href="/login">Log in</a> <a href="/subscribe">'
        f'Subscribe</a><form class="search" action="/search"><input name="q" '
        f'placeholder="Search"><button>Go</button></form></div>'
        f'<nav class="main-nav" role="navigation"><ul class="menu">{items}</ul></nav>'
        f'<div class="lang-switch"><a href="?lang=en">EN</a> <a href="?lang=ru">RU</a> '
        f'<a href="?lang=hy">HY</a> <a href="?lang=az">AZ</a></div></header>'
    )


_ICON = (
    '<svg class="icon" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">'
    '<g fill="currentColor"><path d="M12 2C6.5 2 2 6.5 2 12s4.5 10 10 10 10-4.5 10-10S17.5 2'
    " 12 2zm4.6 6.8-1.6 7.6c-.1.5-.4.7-.9.4l-2.5-1.8-1.2 1.2c-.1.1-.3.2-.5.2l.2-2.6 4.7-4.2c"
    '.2-.2 0-.3-.3-.1l-5.8 3.6-2.5-.8c-.5-.2-.5-.5.1-.8l9.8-3.8c.5-.1.9.1.8.9z"/>'
    '<circle cx="12" cy="12" r="1"/></g></svg>'
)


def _share_bar(url: str) -> str:
    nets = ["Facebook", "X", "Telegram", "WhatsApp", "VK", "Email", "Copy link"]
    links = "".join(
        f'<li><a class="share-{n.lower().replace(" ", "-")}" '
        f'href="https://share.example/{n.lower()}?u={html.escape(url)}">{_ICON}'
        f'<span class="label">{n}</span></a></li>'
        for n in nets
    )
    return f'<div class="share-bar"><span>Share</span><ul>{links}</ul></div>'


def _related(rng: random.Random, slug: str, n: int) -> str:
    w = _Writer(rng)
    lis = "".join(
        f'<li><a href="/{slug}/news/{rng.randint(10000, 99999)}"><img src="/img/t{i}.jpg" '
        f'alt=""><span>{html.escape(_headline(w, rng.choice(TOPICS), "en"))}</span></a></li>'
        for i in range(n)
    )
    return f'<aside class="related"><h3>Related stories</h3><ul>{lis}</ul></aside>'


def _ticker(rng: random.Random, slug: str) -> str:
    w = _Writer(rng)
    lis = "".join(
        f'<li class="ticker-item"><time>{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}'
        f'</time><a href="/{slug}/news/{rng.randint(10**4, 10**5)}">'
        f"{html.escape(_headline(w, rng.choice(TOPICS), 'en'))}</a>"
        f'<span class="badge">{rng.choice(SECTIONS)}</span></li>'
        for _ in range(25)
    )
    return f'<section class="latest"><h3>Latest news</h3><ul class="ticker">{lis}</ul></section>'


def _comments(rng: random.Random) -> str:
    n = rng.randint(3, 14)
    out = []
    for i in range(n):
        text = " ".join(rng.sample(COMMENT_LINES, rng.randint(1, 3)))
        out.append(
            f'<li class="comment" id="c{i}"><div class="comment-author">'
            f"{rng.choice(FIRST).lower()}{rng.randint(1, 999)}</div><time>"
            f'{rng.randint(1, 59)} min ago</time><p class="comment-text">'
            f'{html.escape(text)}</p><a class="reply" href="#reply-{i}">Reply</a></li>'
        )
    return (
        f'<section id="comments" class="comments"><h3>Comments ({n})</h3>'
        f'<ol class="comment-list">{"".join(out)}</ol><form class="comment-form">'
        f'<textarea name="c"></textarea><button>Post comment</button></form></section>'
    )


def _footer(rng: random.Random, name: str, slug: str) -> str:
    cols = "".join(
        f'<div class="col"><h4>{s}</h4><ul>'
        + "".join(
            f'<li><a href="/{slug}/{s.lower()}/{t}">{t.title()}</a></li>'
            for t in rng.sample(TOPICS, 8)
        )
        + "</ul></div>"
        for s in rng.sample(SECTIONS, 6)
    )
    return (
        f'<footer class="site-footer">{cols}<div class="about"><p>{name} is an '
        f"independent newsroom covering the region since {rng.randint(1995, 2015)}.</p>"
        f"<p>&copy; {name}. All rights reserved. Reproduction only with a hyperlink.</p>"
        f'<a href="/privacy">Privacy</a> <a href="/terms">Terms</a> <a href="/contacts">'
        f'Contacts</a> <a href="/advertise">Advertise</a></div></footer>'
    )


_CSS = "".join(
    f".c{i}{{margin:{i % 7}px {i % 5}px;padding:{i % 3}px;color:#{(i * 2654435761) % 0xFFFFFF:06x};"
    f"font:{12 + i % 6}px/1.{i % 9} system-ui,sans-serif}}"
    for i in range(160)
)

_SCRIPT = (
    "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push("
    "arguments)}gtag('js',new Date());gtag('config','G-XXXX');var _cfg={ads:{slots:["
    "'top','side','inread']},lazy:true,consent:{version:3}};</script>"
)


def _state_blob(rng: random.Random, slug: str) -> str:
    """An inline app-state script (menus, teasers, ad config), as many news sites ship."""
    w = _Writer(rng)
    teasers = [
        {
            "id": rng.randint(10**5, 10**6),
            "href": f"/{slug}/news/{rng.randint(10**4, 10**5)}",
            "title": _headline(w, rng.choice(TOPICS), "en"),
            "section": rng.choice(SECTIONS),
            "img": {"src": f"/img/{rng.randint(1, 10**6)}.jpg", "w": 640, "h": 360},
        }
        for _ in range(rng.randint(40, 90))
    ]
    state = {
        "page": {"type": "article", "site": slug},
        "teasers": teasers,
        "ads": {"slots": ["top", "side", "inread"], "refresh": 30},
    }
    return (
        "<script>window.__APP_STATE__="
        + json.dumps(state, ensure_ascii=False).replace("</", "<\\/")
        + ";</script>"
    )


def render_light(
    *,
    url: str,
    title: str,
    paras: list[str],
    published: datetime,
    lang: str,
    outlet: tuple[str, str],
) -> str:
    """A lean article page (title, meta, body, short footer): cheap to serve and extract."""
    e = html.escape
    body = "".join(f"<p>{e(p)}</p>" for p in paras)
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{e(title)}'
        f'</title><meta property="article:published_time" content="{published.isoformat()}">'
        f'<link rel="canonical" href="{e(url)}"></head><body><header><a href="/">'
        f'{e(outlet[0])}</a></header><main><article><h1>{e(title)}</h1><div class="content">'
        f"{body}</div></article></main><footer>&copy; {e(outlet[0])}</footer></body></html>"
    )


def render_page(
    *,
    url: str,
    title: str,
    paras: list[str],
    published: datetime,
    lang: str,
    outlet: tuple[str, str],
    rng: random.Random,
) -> str:
    """The full HTML of one article page."""
    name, slug = outlet
    author = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    section = rng.choice(SECTIONS)
    iso = published.isoformat()
    ld = json.dumps(
        {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": title,
            "datePublished": iso,
            "author": {"@type": "Person", "name": author},
            "publisher": {"@type": "Organization", "name": name},
            "inLanguage": lang,
            "mainEntityOfPage": url,
        },
        ensure_ascii=False,
    )
    body_parts = []
    inread_at = rng.randint(2, max(2, len(paras) - 2))
    for i, p in enumerate(paras):
        if i == inread_at:
            body_parts.append(
                f'<div class="read-also"><strong>Read also:</strong> <a href="/{slug}/news/'
                f'{rng.randint(10000, 99999)}">{html.escape(title[:40])} — what we know</a></div>'
                f'<div class="ad ad-inread" data-slot="inread"></div>'
            )
        if i == 4 and rng.random() < 0.5:
            body_parts.append(f"<h2>{html.escape(p.split('.')[0][:60])}</h2>")
        body_parts.append(f"<p>{html.escape(p)}</p>")
    tags = "".join(f'<a rel="tag" href="/{slug}/tag/{t}">{t}</a> ' for t in rng.sample(TOPICS, 4))
    e = html.escape
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8">
<title>{e(title)} | {e(name)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="{e(paras[0][:150])}">
<meta property="og:type" content="article"><meta property="og:title" content="{e(title)}">
<meta property="og:url" content="{e(url)}"><meta property="og:site_name" content="{e(name)}">
<meta property="article:published_time" content="{iso}">
<meta name="author" content="{e(author)}">
<link rel="canonical" href="{e(url)}">
<link rel="stylesheet" href="/static/css/main.{rng.randint(1000, 9999)}.css">
<style>{_CSS}</style>
<script type="application/ld+json">{ld}</script>
{_SCRIPT}
</head><body class="single-post section-{section.lower()}">
<div class="cookie-banner">We use cookies to improve your experience. <button>Accept</button></div>
{_nav(rng, slug)}
<div class="ad ad-top" data-slot="top"></div>
<main id="main" class="container"><nav class="breadcrumbs"><a href="/">Home</a> &rsaquo;
<a href="/{slug}/{section.lower()}/">{section}</a></nav>
<article class="post">
<h1 class="entry-title">{e(title)}</h1>
<div class="entry-meta"><span class="byline">By
<a href="/author/{author.lower().replace(" ", "-")}">{e(author)}</a></span>
<time class="published" datetime="{iso}">{published.strftime("%d %B %Y, %H:%M")}</time>
<span class="views">{rng.randint(100, 90000)} views</span></div>
{_share_bar(url)}
<figure class="featured"><img src="/img/{rng.randint(1, 10**6)}.jpg" alt="{e(title)}">
<figcaption>Photo: {e(name)} / {e(author)}</figcaption></figure>
<div class="entry-content">
{"".join(body_parts)}
</div>
<div class="tags">Tags: {tags}</div>
{_share_bar(url)}
</article>
{_related(rng, slug, rng.randint(4, 8))}
<div class="newsletter"><h3>Get the morning briefing</h3>
<p>The region's news in your inbox every day at 7.</p>
<form><input type="email" placeholder="Email"><button>Sign up</button></form></div>
{_comments(rng)}
</main>
<aside class="sidebar"><h3>Most read</h3>{_related(rng, slug, 8)}{_ticker(rng, slug)}
<div class="ad ad-side"></div></aside>
{_footer(rng, name, slug)}
{_state_blob(rng, slug)}
<script src="/static/js/app.{rng.randint(1000, 9999)}.js" defer></script>
</body></html>"""


# ---------------------------------------------------------------------------- corpus
BASE_DATE = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


def generate_pages(
    n: int = 500,
    *,
    seed: int = 7,
    words: int = 800,
    base_url: str = "http://news.example",
    shared: Path | None = None,
    ru_share: float = 0.1,
    syndicated_share: float = 0.04,
    id_offset: int = 0,
    base_date: datetime | None = None,
    step: timedelta = timedelta(minutes=7),
    light: bool = False,
) -> list[Page]:
    """Generate ``n`` distinct article pages of about ``words`` words each (deterministic).

    Args:
        n: number of pages.
        seed: random seed (same seed, same pages).
        words: target words of article body per page.
        base_url: scheme and host of the page URLs.
        shared: the shared data folder (seed corpus); default ``$REGIONWATCH_SHARED``.
        ru_share: fraction of pages written in Russian.
        syndicated_share: fraction of pages that are light rewrites of an earlier page
            (the same story at another outlet), so clustering has work to do.
        id_offset: first page number (to make disjoint page sets).
        base_date: publication date of page number 0 (default 2026-11-01 06:00 UTC).
        step: time between two consecutive pages' dates.
        light: lean pages without site furniture (cheap to serve and extract).
    """
    base = base_date or BASE_DATE
    rng = random.Random(seed)
    seeds = seed_paragraphs(shared)
    # lean pages: bodies drawn from the seed corpus's sentences when at hand (less template
    # overlap between pages than our templates give on short texts)
    seed_sents = (
        [x for para in seeds for x in re.split(r"(?<=[.!?])\s+", para) if len(x.split()) >= 6]
        if light
        else []
    )
    pages: list[Page] = []
    bodies: list[tuple[str, list[str], str]] = []
    for i in range(n):
        k = id_offset + i
        outlet = OUTLETS[k % len(OUTLETS)]
        lang = "ru" if rng.random() < ru_share else "en"
        if bodies and rng.random() < syndicated_share:
            title, paras, lang = rng.choice(bodies)
            paras = list(paras)
            paras[-1] = paras[-1] + f" ({outlet[0]} contributed to this report.)"
            title = f"{title} — update"
        else:
            topic = rng.choice(TOPICS)
            title, paras = article_body(rng, words=words, topic=topic, lang=lang, seeds=seeds)
            if seed_sents and lang == "en":
                picked: list[str] = []
                while sum(len(x.split()) for x in picked) < words:
                    picked.append(rng.choice(seed_sents))
                paras = [" ".join(picked)]
            bodies.append((title, paras, lang))
        published = base + step * k
        url = f"{base_url}/{outlet[1]}/news/{published:%Y/%m/%d}/{k:06d}-story"
        if light:
            page_html = render_light(
                url=url, title=title, paras=paras, published=published, lang=lang, outlet=outlet
            )
        else:
            page_html = render_page(
                url=url,
                title=title,
                paras=paras,
                published=published,
                lang=lang,
                outlet=outlet,
                rng=rng,
            )
        pages.append(
            Page(
                url=url,
                html=page_html,
                title=title,
                published=published,
                kind="generated",
                words=sum(len(p.split()) for p in paras),
                lang=lang,
            )
        )
    return pages


def fixture_pages(shared: Path | None = None) -> list[Page]:
    """The real article pages of ``$REGIONWATCH_SHARED/fixtures/pages`` (empty when absent)."""
    shared = shared if shared is not None else shared_dir()
    folder = shared / "fixtures" / "pages" if shared else None
    if folder is None or not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.iterdir()):
        if path.name.endswith(".html.gz"):
            with gzip.open(path, "rb") as fh:
                raw = fh.read()
        elif path.suffix == ".html":
            raw = path.read_bytes()
        else:
            continue
        text = _decode(raw)
        stem = path.name.split(".html")[0]
        out.append(
            Page(
                url=f"http://fixtures.example/{stem}",
                html=text,
                title=stem,
                published=BASE_DATE,
                kind="fixture",
                words=0,
            )
        )
    return out


def _decode(raw: bytes) -> str:
    m = re.search(rb'charset=["\']?([A-Za-z0-9_\-]+)', raw[:4096])
    for enc in ([m.group(1).decode("ascii")] if m else []) + ["utf-8"]:
        try:
            return raw.decode(enc)
        except (LookupError, UnicodeDecodeError):
            continue
    return raw.decode("utf-8", errors="replace")


def corpus(
    n_generated: int = 500, *, with_fixtures: bool = True, seed: int = 7, words: int = 800
) -> list[Page]:
    """The benchmark corpus: ``n_generated`` generated pages plus the real fixture pages."""
    pages = generate_pages(n_generated, seed=seed, words=words)
    if with_fixtures:
        pages += fixture_pages()
    return pages


def main() -> None:
    """Write a few generated pages to a folder to look at."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "pages")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    pages = generate_pages(args.n)
    for i, p in enumerate(pages):
        (args.out / f"page-{i:03d}.html").write_text(p.html, encoding="utf-8")
    print(
        f"wrote {len(pages)} pages to {args.out}; mean words "
        f"{sum(p.words for p in pages) / max(1, len(pages)):.0f}, mean bytes "
        f"{sum(len(p.content) for p in pages) / max(1, len(pages)):.0f}"
    )


if __name__ == "__main__":
    main()
