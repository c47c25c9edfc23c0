"""A small news site on loopback for the console's tests: our own articles, three outlets, three
languages, two events, an unrelated story and one hostile headline.

Every text below was written for these tests. :func:`fill_store` runs one real monitor cycle
(HTTP client, feed parser, extractor, tagger, stories, events, outbox) over the site into the
store the written configuration names, with alerts to a loopback webhook.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from tests.loopback import LoopServer, Resource, Webhook

HOSTILE = (
    '"><script>alert(1)</script> Shelling near Sotk <img src=x onerror=alert(2)// '
    "<details open ontoggle=alert(3)>"
)
#: what of it survives the extractor (which drops well-formed known tags such as <script>):
#: markup that would run if a page inserted it unescaped
HOSTILE_STORED = ("<img src=x onerror=alert(2)//", "<details open ontoggle=alert(3)>")
#: a secret placed in a channel URL: it must never appear on a page
SECRET = "s3cr3t-webhook-token-5d41402a"
TOKEN = "console-token-for-tests-0123456789"
#: where alert messages say the console is
BASE_URL = "https://desk.example.org/regionwatch"


@dataclass(frozen=True)
class Piece:
    outlet: str
    slug: str
    title: str
    body: str
    minutes_ago: int
    lang: str


PIECES = [
    Piece(
        "caspian-herald",
        "sotk-clash",
        "Armenian and Azerbaijani troops exchange fire on the border near Sotk",
        "Armenian and Azerbaijani forces exchanged fire overnight on the state border near the "
        "village of Sotk in Armenia's Gegharkunik province, the Armenian Defence Ministry said "
        "on Tuesday. Two Armenian soldiers were wounded in the shelling, the ministry said.\n\n"
        "Azerbaijan's Defence Ministry said its positions near Kalbajar came under fire first "
        "and that its units returned fire. Both sides accused each other of provoking the "
        "border clash, the latest in a series of incidents along the line since the spring.\n\n"
        "The European Union monitoring mission said it was aware of the reports and was in "
        "contact with both sides. Residents of Sotk said the firing lasted for about an hour.",
        50,
        "en",
    ),
    Piece(
        "vestnik-kavkaza",
        "sotk-perestrelka",
        "Армения и Азербайджан обвинили друг друга в перестрелке на границе у Сотка",
        "Армянские и азербайджанские военные ночью обменялись огнём на границе у села Сотк в "
        "Гегаркуникской области, сообщило Минобороны Армении. Двое армянских военнослужащих "
        "получили ранения в результате обстрела.\n\n"
        "Минобороны Азербайджана заявило, что первыми были обстреляны его позиции в "
        "Кельбаджарском районе, и его подразделения открыли ответный огонь. Стороны обвинили "
        "друг друга в провокации на границе.\n\n"
        "Жители Сотка рассказали, что стрельба продолжалась около часа.",
        40,
        "ru",
    ),
    Piece(
        "ferghana-daily",
        "sotk-hostile",
        HOSTILE,
        "Azerbaijani and Armenian troops traded fire on the border near Sotk overnight, both "
        "defence ministries said, each blaming the other for the shelling. Two Armenian "
        "soldiers were wounded in the border clash, according to Yerevan.\n\n"
        "Baku said its positions near Kalbajar were shelled first. Observers of the European "
        "Union mission were in contact with both sides.",
        30,
        "en",
    ),
    Piece(
        "ferghana-daily",
        "batken-ceasefire",
        "Kyrgyz and Tajik border chiefs agree ceasefire near Vorukh",
        "The heads of the border services of Kyrgyzstan and Tajikistan agreed on a ceasefire "
        "and a pullback of troops after a shootout near the Vorukh exclave, the Kyrgyz "
        "security committee said on Tuesday. The ceasefire took effect at 18:00 local time.\n\n"
        "Both sides said they would hold further talks on the disputed border in Batken "
        "region. Tajikistan's border service confirmed the agreement in a statement.",
        120,
        "en",
    ),
    Piece(
        "vestnik-kavkaza",
        "vorukh-peremirie",
        "Киргизия и Таджикистан договорились о прекращении огня у Ворука",
        "Руководители пограничных служб Киргизии и Таджикистана договорились о прекращении "
        "огня и отводе войск после перестрелки у анклава Ворух, сообщил ГКНБ Киргизии. "
        "Перемирие вступило в силу в 18:00 по местному времени.\n\n"
        "Стороны продолжат переговоры о спорных участках границы в Баткенской области.",
        110,
        "ru",
    ),
    Piece(
        "caspian-herald",
        "football",
        "Local club wins the regional football cup after penalties",
        "The home side won the regional football cup on Sunday after a penalty shootout. "
        "The coach praised the players and the fans who travelled to the final.",
        200,
        "en",
    ),
]

ATOM_OUTLET = "ferghana-daily"
OUTLETS = {
    "caspian-herald": ("Caspian Herald", "en", "AZ"),
    "vestnik-kavkaza": ("Vestnik Kavkaza", "ru", "RU"),
    "ferghana-daily": ("Ferghana Daily", "en", "UZ"),
}


def _page(p: Piece, published: datetime) -> bytes:
    paras = "".join(f"<p>{html.escape(x)}</p>" for x in p.body.split("\n\n"))
    return (
        f'<!doctype html><html lang="{p.lang}"><head><meta charset="utf-8">'
        f"<title>{html.escape(p.title)}</title>"
        f'<meta property="article:published_time" content="{published.isoformat()}">'
        f"</head><body><nav>Home · World · Region</nav><article><h1>{html.escape(p.title)}</h1>"
        f"{paras}</article><footer>© test outlet</footer></body></html>"
    ).encode()


def _atom(base: str, outlet: str, now: datetime) -> bytes:
    """An Atom feed whose titles are declared plain text (``type="text"``): a headline that
    talks about markup reaches the store as those characters, not as tags."""
    name, lang, _country = OUTLETS[outlet]
    entries = []
    for p in PIECES:
        if p.outlet != outlet:
            continue
        when = (now - timedelta(minutes=p.minutes_ago)).isoformat()
        link = f"{base}/{outlet}/{p.slug}.html"
        entries.append(
            f'<entry><title type="text">{html.escape(p.title)}</title>'
            f'<link rel="alternate" href="{link}"/><id>{link}</id>'
            f"<published>{when}</published><updated>{when}</updated>"
            f'<summary type="text">{html.escape(p.body.split(chr(10))[0][:200])}</summary>'
            "</entry>"
        )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
        f'xml:lang="{lang}"><title>{name}</title><id>{base}/{outlet}/</id>'
        f"<updated>{now.isoformat()}</updated>" + "".join(entries) + "</feed>"
    ).encode()


def _feed(base: str, outlet: str, now: datetime) -> bytes:
    name, lang, _country = OUTLETS[outlet]
    items = []
    for p in PIECES:
        if p.outlet != outlet:
            continue
        when = now - timedelta(minutes=p.minutes_ago)
        items.append(
            f"<item><title>{html.escape(p.title)}</title>"
            f"<link>{base}/{outlet}/{p.slug}.html</link>"
            f"<guid>{base}/{outlet}/{p.slug}.html</guid>"
            f"<pubDate>{format_datetime(when)}</pubDate>"
            f"<description>{html.escape(p.body.split(chr(10))[0][:200])}</description></item>"
        )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{name}</title><link>{base}/{outlet}/</link><language>{lang}</language>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


class Site:
    """The outlets' feeds and pages on one loopback server, dated relative to now."""

    def __init__(self) -> None:
        self.srv = LoopServer().start()
        now = datetime.now(UTC).replace(microsecond=0)
        for outlet in OUTLETS:
            if outlet == ATOM_OUTLET:
                feed = Resource(_atom(self.srv.base, outlet, now), "application/atom+xml")
            else:
                feed = Resource(_feed(self.srv.base, outlet, now), "application/rss+xml")
            self.srv.set(f"/{outlet}/feed.xml", feed)
        for p in PIECES:
            when = now - timedelta(minutes=p.minutes_ago)
            self.srv.set(f"/{p.outlet}/{p.slug}.html", Resource(_page(p, when)))

    def url(self, p: Piece) -> str:
        return f"{self.srv.base}/{p.outlet}/{p.slug}.html"

    def stop(self) -> None:
        self.srv.stop()


def write_config(folder: Path, site: Site, hook: Webhook, db_url: str | None = None) -> Path:
    """A configuration for the site: the store, the three feeds, the webhook channel."""
    db = db_url or f"sqlite:///{(folder / 'console.db').as_posix()}"
    lines = [
        f'[storage]\nurl = "{db}"\n',
        "[http]\nallow_private_networks = true\nper_host_delay = 0\nretries = 1\n",
        f'[web]\nbase_url = "{BASE_URL}"\n',
        f'[[channels]]\nname = "desk hook"\nurl = "json://127.0.0.1:{hook.port}/hook?token={SECRET}"\n',
    ]
    for slug, (name, lang, country) in OUTLETS.items():
        lines.append(
            f'[[feeds]]\nname = "{name}"\nurl = "{site.srv.url(f"/{slug}/feed.xml")}"\n'
            f'language = "{lang}"\ncountry = "{country}"\n'
        )
    path = folder / "regionwatch.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def fill_store(config: Path) -> dict[str, object]:
    """One real monitor cycle (in-process) over the site; returns its summary."""
    from regionwatch.pipeline import run_cycle
    from regionwatch.settings import load_settings

    return dict(run_cycle(load_settings(config)).to_dict())
