"""Language packs (``seeds/languages/<code>.yaml``): loading, validation, and the tagger on short
news-like sentences of our own in languages beyond the sixteen listed for tagging.

Every challenge case below fails without the packs (``test_cases_need_the_packs`` proves it on a
copy of the watchlist without its ``languages`` folder), so a case that passes says something
about the pack of its language.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from regionwatch.errors import ConfigError
from regionwatch.extract import detect_language
from regionwatch.lexicon import load_language_packs, load_lexicon
from regionwatch.settings import DEFAULT_SEEDS_DIR
from regionwatch.tagging import Tagger, get_tagger

BC, CF, CSTO = "border_clash", "ceasefire", "csto"

# (language, title, text, expected labels): our own sentences, written for these tests
CASES: list[tuple[str, str, str, list[str]]] = [
    (
        "pl",
        "Strzelanina na granicy Kirgistanu i Tadżykistanu",
        "Kirgiscy i tadżyccy pogranicznicy wymienili ogień w pobliżu spornej wioski. "
        "Zginęło dwóch żołnierzy, a czterech zostało rannych.",
        [BC],
    ),
    (
        "cs",
        "Arménie a Ázerbájdžán se dohodly na příměří",
        "Po dvou dnech bojů na arménsko-ázerbájdžánské hranici, při nichž zahynulo přes sto "
        "vojáků, se obě země dohodly na příměří. Příměří platí od úterního večera.",
        [BC, CF],
    ),
    (
        "hu",
        "Örményország befagyasztja részvételét a szövetségben",
        "Örményország miniszterelnöke bejelentette, hogy országa befagyasztja részvételét a "
        "Kollektív Biztonsági Szerződés Szervezetében. Jereván szerint a szövetség nem segített.",
        [CSTO],
    ),
    (
        "ro",
        "Încetarea focului la frontiera kârgâzo-tadjică",
        "Kârgâzstanul și Tadjikistanul au anunțat încetarea focului la frontieră după schimburi "
        "de focuri în care au fost uciși trei militari.",
        [BC, CF],
    ),
    (
        "bg",
        "Престрелка на границата",
        "Престрелка на армено-азербайджанската граница: загинаха двама арменски войници, "
        "съобщиха от Ереван.",
        [BC],
    ),
    (
        "bg",
        "Путин обяви великденско примирие",
        "Руският президент Владимир Путин обяви великденско примирие в Украйна, което ще "
        "продължи до полунощ в неделя.",
        [CF],
    ),
    (
        "el",
        "Εκεχειρία στα σύνορα Αρμενίας και Αζερμπαϊτζάν",
        "Η Αρμενία και το Αζερμπαϊτζάν συμφώνησαν σε εκεχειρία μετά από δύο ημέρες συγκρούσεων "
        "στα σύνορα. Τουλάχιστον δέκα στρατιώτες σκοτώθηκαν στις συγκρούσεις στα σύνορα.",
        [BC, CF],
    ),
    (
        "he",
        "חילופי אש בגבול ארמניה-אזרבייג'ן",
        "חילופי אש בגבול ארמניה-אזרבייג'ן: שני חיילים ארמנים נהרגו ושלושה נפצעו.",
        [BC],
    ),
    (
        "ar",
        "مقتل جنديين طاجيكيين في اشتباكات حدودية",
        "قتل جنديان طاجيكيان في اشتباكات على الحدود مع قيرغيزستان، وأصيب ثلاثة آخرون.",
        [BC],
    ),
    (
        "ar",
        "أرمينيا تطلب مساعدة حلفائها",
        "طلبت أرمينيا مساعدة حلفائها في معاهدة الأمن الجماعي بعد الهجوم على أراضيها، "
        "وقالت المنظمة إنها سترسل بعثة.",
        [CSTO],
    ),
    (
        "zh",
        "吉尔吉斯斯坦与塔吉克斯坦边境交火",
        "吉尔吉斯斯坦和塔吉克斯坦边境发生交火，造成两名士兵死亡。双方随后同意停火。",
        [BC, CF],
    ),
    (
        "ja",
        "アルメニアとアゼルバイジャンの国境で銃撃",
        "アルメニアとアゼルバイジャンの国境で銃撃戦があり、兵士3人が死亡した。",
        [BC],
    ),
    (
        "ko",
        "아르메니아-아제르바이잔 국경 교전",
        "아르메니아와 아제르바이잔 국경에서 교전이 발생해 군인 2명이 숨졌다.",
        [BC],
    ),
    (
        "ko",
        "바트켄 교전",
        "바트켄 주에서 키르기스스탄군과 타지키스탄군이 교전을 벌여 군인 3명이 숨졌다.",
        [BC],
    ),
    (
        "th",
        "ปะทะกันที่ชายแดนคีร์กีซสถาน",
        "ทหารคีร์กีซสถานและทาจิกิสถานปะทะกันที่ชายแดน มีผู้เสียชีวิตสองราย",
        [BC],
    ),
    (
        "vi",
        "Armenia và Azerbaijan ngừng bắn",
        "Armenia và Azerbaijan đồng ý ngừng bắn sau các cuộc đụng độ ở biên giới khiến hàng "
        "chục binh sĩ thiệt mạng.",
        [BC, CF],
    ),
    (
        "id",
        "Pasukan penjaga perdamaian dikirim ke Kazakhstan",
        "Rusia mengerahkan pasukan penjaga perdamaian Organisasi Perjanjian Keamanan Kolektif "
        "ke Kazakhstan atas permintaan Presiden Tokayev.",
        [CSTO],
    ),
    (
        "sv",
        "Vapenvila mellan Armenien och Azerbajdzjan",
        "Ryssland meddelade att Armenien och Azerbajdzjan har enats om en vapenvila som träder "
        "i kraft vid midnatt.",
        [CF],
    ),
    (
        "fi",
        "Ammuskelu Kirgisian ja Tadžikistanin rajalla",
        "Kirgisian ja Tadžikistanin rajalla puhkesi ammuskelu, jossa kuoli kolme rajavartijaa.",
        [BC],
    ),
    (
        "sq",
        "Armëpushim në kufirin armeno-azerbajxhanas",
        "Armenia dhe Azerbajxhani ranë dakord për një armëpushim pas përleshjeve në kufi, "
        "ku u vranë dhjetëra ushtarë.",
        [BC, CF],
    ),
    (
        "is",
        "Vopnahlé á landamærunum",
        "Vopnahlé tók gildi á landamærum Armeníu og Aserbaísjans eftir átök þar sem tugir "
        "hermanna féllu.",
        [BC, CF],
    ),
    (
        "hi",
        "सीमा पर गोलीबारी",
        "आर्मेनिया और अज़रबैजान की सीमा पर गोलीबारी में दो सैनिक मारे गए।",
        [BC],
    ),
    (
        "sw",
        "Mapigano mpakani",
        "Wanajeshi wawili wa Kyrgyzstan waliuawa katika mapigano mpakani na Tajikistan.",
        [BC],
    ),
    (
        "nl",
        "Armenië bevriest deelname aan bondgenootschap",
        "Armenië bevriest zijn deelname aan de Organisatie van het Verdrag inzake Collectieve "
        "Veiligheid, het door Rusland geleide bondgenootschap, zei de premier.",
        [CSTO],
    ),
    (
        "sr",
        "Прекршено примирје",
        "Примирје између Јерменије и Азербејџана прекршено је пуцњавом на граници, "
        "погинула су два војника.",
        [BC, CF],
    ),
]

# out-of-region truces and clashes in the same languages: no label
NEGATIVES: list[tuple[str, str]] = [
    ("he", "ישראל וחמאס הסכימו על הפסקת אש בעזה, כך נמסר הערב."),
    ("zh", "以色列与哈马斯在加沙达成停火协议。"),
    ("ar", "أعلنت إسرائيل وحماس وقف إطلاق النار في غزة بوساطة مصرية."),
    ("hi", "भारत और पाकिस्तान ने कश्मीर में संघर्ष विराम पर सहमति जताई।"),
    ("th", "ทหารไทยและกัมพูชาปะทะกันที่ชายแดน มีผู้เสียชีวิตสองราย"),
    # a regional state commenting on an out-of-region truce
    (
        "pl",
        "Rosja z zadowoleniem przyjęła zawieszenie broni między Izraelem a Hamasem. "
        "Kreml wezwał do przestrzegania rozejmu.",
    ),
    (
        "el",
        "Η Ρωσία χαιρέτισε την εκεχειρία μεταξύ Ισραήλ και Χαμάς. "
        "Το Κρεμλίνο κάλεσε να τηρηθεί η εκεχειρία.",
    ),
    ("ar", "رحبت روسيا بوقف إطلاق النار بين إسرائيل وحماس. وقال الكرملين إن الهدنة يجب أن تستمر."),
    # war reporting is no border clash; a peace deal without fighting is no ceasefire
    (
        "pl",
        "Rosyjskie wojska ostrzelały w nocy Charków rakietami; zginęło pięć osób, a kilkanaście "
        "zostało rannych, poinformowały ukraińskie władze.",
    ),
    (
        "cs",
        "Arménie a Ázerbájdžán podepsaly v Bílém domě mírovou dohodu, která ukončuje desetiletí "
        "konfliktu o Náhorní Karabach.",
    ),
]


def _ids(cases: list[tuple[str, str, str, list[str]]]) -> list[str]:
    return [f"{c[0]}-{n}" for n, c in enumerate(cases)]


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return get_tagger()


@pytest.fixture(scope="module")
def bare_tagger(tmp_path_factory: pytest.TempPathFactory) -> Tagger:
    """The tagger of the same watchlist without its language packs."""
    seeds = tmp_path_factory.mktemp("seeds-bare")
    for name in ("actors.yaml", "themes.yaml"):
        shutil.copy(DEFAULT_SEEDS_DIR / name, seeds / name)
    return Tagger(load_lexicon(seeds))


@pytest.mark.parametrize(("lang", "title", "text", "expected"), CASES, ids=_ids(CASES))
def test_challenge_case(
    tagger: Tagger, lang: str, title: str, text: str, expected: list[str]
) -> None:
    assert tagger.tag(text, title=title, lang=lang).labels == expected


def test_cases_need_the_packs(bare_tagger: Tagger) -> None:
    langs = {c[0] for c in CASES}
    assert len(langs) >= 10
    passing = [
        (c[0], c[2][:30])
        for c in CASES
        if bare_tagger.tag(c[2], title=c[1], lang=c[0]).labels == c[3]
    ]
    assert passing == []


@pytest.mark.parametrize(("lang", "text"), NEGATIVES, ids=[n[0] for n in NEGATIVES])
def test_out_of_region_stays_unlabelled(tagger: Tagger, lang: str, text: str) -> None:
    assert tagger.tag(text, lang=lang).labels == []


def test_unspaced_scripts_are_split_into_characters(tagger: Tagger) -> None:
    res = tagger.tag("双方同意停火。", lang="zh")
    themes = {t["slug"] for t in res.themes}
    assert "ceasefire" in themes


def test_cjk_full_stops_end_sentences_without_a_space(tagger: Tagger) -> None:
    text = "吉尔吉斯斯坦总统访问了首都。双方随后同意停火。会谈将于下周继续。"
    ev = tagger.tag(text, lang="zh").categories["ceasefire"].evidence
    assert ev and ev[0]["sentence"] == "双方随后同意停火。"


# ----------------------------------------------------------------------------- the packs
def test_every_pack_names_its_source_and_covers_the_watched_states() -> None:
    packs = load_language_packs(DEFAULT_SEEDS_DIR / "languages")
    assert len(packs) >= 30
    lex = load_lexicon(DEFAULT_SEEDS_DIR)
    states = ["russia", "ukraine", "belarus", "georgia", "armenia", "azerbaijan", "kazakhstan"]
    states += ["kyrgyzstan", "tajikistan", "uzbekistan", "turkey", "iran", "afghanistan"]
    for pack in packs:
        assert pack.source.strip(), pack.lang
        for slug in [*states, "csto"]:
            assert lex.actors[slug].aliases.get(pack.lang), (pack.lang, slug)
        for cue in ("ceasefire", "incident", "armed_fire", "border", "war", "csto_action"):
            assert lex.cues[cue].get(pack.lang), (pack.lang, cue)


def test_packs_merge_into_the_lexicon() -> None:
    lex = load_lexicon(DEFAULT_SEEDS_DIR)
    assert "Azerbejdżan*" in lex.actors["azerbaijan"].aliases["pl"]
    assert "停火" in lex.cues["ceasefire"]["zh"]
    # a pack adds to a language actors.yaml already has, without repeating its aliases
    it_aliases = lex.actors["russia"].aliases["it"]
    assert len(it_aliases) == len(set(it_aliases))


def _seeds_with_pack(tmp_path: Path, name: str, body: str) -> Path:
    seeds = tmp_path / "seeds"
    (seeds / "languages").mkdir(parents=True)
    for f in ("actors.yaml", "themes.yaml"):
        shutil.copy(DEFAULT_SEEDS_DIR / f, seeds / f)
    (seeds / "languages" / name).write_text(body, encoding="utf-8")
    return seeds


BAD_PACKS = [
    (
        "lang: xq\nsource: t\nactors:\n  rusia: [Rusija]\n",
        r"xq\.yaml: actors: unknown actor 'rusia'",
    ),
    (
        "lang: xq\nsource: t\ncues:\n  truce: [primirje]\n",
        r"xq\.yaml: cues: unknown cue list 'truce'",
    ),
    (
        "lang: xq\nsource: t\nthemes:\n  truce: [primirje]\n",
        r"xq\.yaml: themes: unknown theme 'truce'",
    ),
    ("lang: xr\nsource: t\n", r"xq\.yaml: field 'lang': 'xr' differs from the file name"),
    (
        "lang: xq\nsource: t\nactors:\n  russia: ['Ru*sija']\n",
        r"xq\.yaml: .*'\*' may only end a word",
    ),
    (
        "lang: xq\nactors:\n  russia: [Rusija]\n",
        r"xq\.yaml: source: field '\(entry\)': Field required",
    ),
]


@pytest.mark.parametrize(("body", "error"), BAD_PACKS, ids=[e[1][10:40] for e in BAD_PACKS])
def test_a_bad_pack_is_a_clear_error_naming_file_and_key(
    tmp_path: Path, body: str, error: str
) -> None:
    seeds = _seeds_with_pack(tmp_path, "xq.yaml", body)
    with pytest.raises(ConfigError, match=error):
        load_lexicon(seeds)


def test_pack_is_part_of_the_lexicon_hash(tmp_path: Path) -> None:
    seeds = _seeds_with_pack(
        tmp_path, "xq.yaml", "lang: xq\nsource: test\nactors:\n  russia: [Rusijaq]\n"
    )
    first = load_lexicon(seeds).hash
    (seeds / "languages" / "xq.yaml").write_text(
        "lang: xq\nsource: test\nactors:\n  russia: [Rusijaqq]\n", encoding="utf-8"
    )
    assert load_lexicon(seeds).hash != first


# ----------------------------------------------------------------------------- language id
LANGID_LANGS = ["pl", "el", "he", "ar", "zh", "ja", "ko", "th"]
LANGID_TEXTS = {lang: next(c[2] for c in CASES if c[0] == lang) for lang in LANGID_LANGS}


@pytest.mark.parametrize("lang", sorted(LANGID_TEXTS))
def test_language_id_of_pack_languages(lang: str) -> None:
    assert detect_language(LANGID_TEXTS[lang], None) == lang
