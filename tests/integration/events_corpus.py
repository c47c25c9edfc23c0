"""Our own news texts for the event scenario tests (written for these tests, no outlet's copy).

Two happenings on the same days — an exchange of fire on the Armenian-Azerbaijani border near
Sotk (event ``am_az``) and a shootout on the Kyrgyz-Tajik border near Vorukh (event ``kg_tj``) —
reported by three outlets in English, Russian and German over three waves, plus unrelated news.
Wave 2 brings the higher casualty figure of ``am_az`` (an update); wave 3 only more coverage.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Piece:
    slug: str
    wave: int
    outlet: str  # "ararat" (en), "vostok" (ru), "donau" (de)
    lang: str
    event: str  # "am_az", "kg_tj" or "none"
    title: str
    text: str


ARTICLES: tuple[Piece, ...] = (
    # ---------------------------------------------------------------- wave 1: first reports
    Piece(
        "am-az-first-en",
        1,
        "ararat",
        "en",
        "am_az",
        "Armenian and Azerbaijani troops exchange fire near Sotk",
        "Armenian and Azerbaijani forces exchanged fire overnight on the border near the village "
        "of Sotk, the Armenian defence ministry said on Tuesday.\n\n"
        "Two Armenian servicemen were killed in the shelling, the ministry said in a statement. "
        "Baku accused Armenian units of opening fire first and said its positions had returned "
        "fire.\n\n"
        "The clash is the most serious on the border since talks on a peace treaty resumed in the "
        "spring. European Union monitors said they had sent a patrol to the area.",
    ),
    Piece(
        "kg-tj-first-ru",
        1,
        "vostok",
        "ru",
        "kg_tj",
        "Перестрелка на киргизско-таджикской границе у Ворух",
        "На киргизско-таджикской границе у анклава Ворух произошла перестрелка между "
        "пограничниками Киргизии и Таджикистана, сообщила пограничная служба Киргизии.\n\n"
        "По данным ведомства, таджикские военные открыли огонь по киргизскому посту в Баткенской "
        "области. Один пограничник погиб, ещё несколько получили ранения. Душанбе возложил "
        "ответственность за обстрел на киргизскую сторону.\n\n"
        "Жителей приграничных сёл Баткена начали эвакуировать. Стороны договорились провести "
        "переговоры представителей пограничных служб.",
    ),
    Piece(
        "grain-de",
        1,
        "donau",
        "de",
        "none",
        "Kasachstan meldet Rekordernte bei Weizen",
        "Kasachstan hat in diesem Jahr so viel Weizen geerntet wie noch nie, teilte das "
        "Landwirtschaftsministerium in Astana mit.\n\n"
        "Die Exporte nach China und in den Iran sollen im kommenden Jahr deutlich steigen. "
        "Händler erwarten wegen der großen Mengen sinkende Preise auf dem regionalen Markt.\n\n"
        "Die Regierung will zudem neue Getreidesilos an der Eisenbahnstrecke nach Süden bauen.",
    ),
    # ---------------------------------------------------------------- wave 2: more outlets
    Piece(
        "am-az-second-ru",
        2,
        "vostok",
        "ru",
        "am_az",
        "Армения и Азербайджан обвинили друг друга в обстреле у Сотка",
        "На армяно-азербайджанской границе у села Сотк произошла перестрелка, сообщило "
        "министерство обороны Армении.\n\n"
        "Армянские и азербайджанские военные обменялись огнём ночью. Баку заявил, что "
        "армянские подразделения первыми открыли огонь по азербайджанским позициям.\n\n"
        "Наблюдатели Евросоюза направили патруль в район Сотка. Ереван призвал международных "
        "партнёров осудить обстрел.",
    ),
    Piece(
        "am-az-toll-en",
        2,
        "ararat",
        "en",
        "am_az",
        "Death toll in Armenia-Azerbaijan border clash at Sotk rises",
        "The death toll from the exchange of fire between Armenian and Azerbaijani forces near "
        "Sotk has risen, the Armenian defence ministry said on Wednesday.\n\n"
        "Five servicemen were killed and 6 wounded, the ministry said, after 3 of the wounded "
        "died in hospital overnight. Azerbaijan said its troops had come under fire from Armenian "
        "positions on the border.\n\n"
        "European Union monitors patrolled the area near Sotk, and the shelling has since stopped.",
    ),
    Piece(
        "kg-tj-second-de",
        2,
        "donau",
        "de",
        "kg_tj",
        "Schusswechsel an der Grenze zwischen Kirgisistan und Tadschikistan",
        "An der Grenze zwischen Kirgisistan und Tadschikistan ist es bei der Enklave Woruch zu "
        "einem Schusswechsel zwischen Grenzsoldaten gekommen.\n\n"
        "Kirgisische und tadschikische Grenztruppen beschossen sich gegenseitig in der Region "
        "Batken, teilte der kirgisische Grenzschutz mit. Duschanbe machte Bischkek für die "
        "Schüsse verantwortlich.\n\n"
        "Bewohner der Grenzdörfer wurden in Sicherheit gebracht.",
    ),
    Piece(
        "bridge-en",
        2,
        "ararat",
        "en",
        "none",
        "New bridge opens over the Debed river",
        "A new road bridge over the Debed river opened on Wednesday, cutting the drive between two "
        "towns in northern Armenia by half an hour.\n\n"
        "The bridge was built with a loan from a development bank and took two years to finish. "
        "Local officials said it would help farmers bring produce to market.",
    ),
    # ---------------------------------------------------------------- wave 3: coverage only
    Piece(
        "am-az-third-de",
        3,
        "donau",
        "de",
        "am_az",
        "Gefechte an armenisch-aserbaidschanischer Grenze bei Sotk",
        "Armenische und aserbaidschanische Truppen haben sich an der Grenze bei dem Dorf Sotk "
        "beschossen, teilte das armenische Verteidigungsministerium mit.\n\n"
        "Baku warf armenischen Einheiten vor, das Feuer eröffnet zu haben. Eriwan wies das "
        "zurück.\n\n"
        "Beobachter der Europäischen Union schickten eine Patrouille in das Grenzgebiet.",
    ),
    Piece(
        "kg-tj-third-en",
        3,
        "ararat",
        "en",
        "kg_tj",
        "Kyrgyz and Tajik border guards trade fire near Vorukh",
        "Kyrgyz and Tajik border guards exchanged fire near the Tajik enclave of Vorukh in the "
        "Batken region, Kyrgyzstan's border service said.\n\n"
        "Bishkek said Tajik troops had fired on a Kyrgyz border post, and Dushanbe blamed the "
        "Kyrgyz side for the shooting.\n\n"
        "Residents of villages near the border were evacuated as a precaution.",
    ),
    Piece(
        "chess-ru",
        3,
        "vostok",
        "ru",
        "none",
        "В Алматы завершился шахматный турнир",
        "В Алматы завершился международный шахматный турнир среди юниоров. Победителем стал "
        "шестнадцатилетний шахматист из Шымкента.\n\n"
        "Организаторы пообещали провести турнир и в следующем году, а число участников "
        "планируют увеличить.",
    ),
)


OUTLETS = {"ararat": "Ararat Wire", "vostok": "Vostok Vestnik", "donau": "Donau Kurier"}
LANG = {"ararat": "en", "vostok": "ru", "donau": "de"}
