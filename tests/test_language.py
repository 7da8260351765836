"""detect_language and normalise_tag: BCP-47 tags with how each was decided."""
from __future__ import annotations

import pytest

from dedupe.language import LanguageDecision, detect_language, normalise_tag

EN_ARTICLE = (
    "The Highways Department said on Tuesday it would replace tens of thousands of streetlights with "
    "connected LED lamps over the next two years, cutting the electricity bill for street lighting by "
    "nearly half. Work will begin in Kwun Tong and Sha Tin next spring."
)
ZH_HANS_ARTICLE = "路政署周二宣布，将于两年内把全市街灯更换为联网LED灯，预计可令街道照明的耗电量减少近一半。工程将于明年春季率先在观塘及沙田展开。"
ZH_HANT_ARTICLE = "路政署周二宣佈，將於兩年內把全市街燈更換為聯網LED燈，預計可令街道照明的耗電量減少近一半。工程將於明年春季率先在觀塘及沙田展開。"
JA_ARTICLE = "道路局は火曜日、今後二年間で市内の街灯を通信機能付きのLED灯に交換すると発表した。工事は来春から始まる予定だ。"


def test_english_article() -> None:
    assert detect_language(EN_ARTICLE) == LanguageDecision("en", "langdetect")


def test_simplified_article() -> None:
    assert detect_language(ZH_HANS_ARTICLE) == LanguageDecision("zh-Hans", "script")


def test_traditional_article() -> None:
    assert detect_language(ZH_HANT_ARTICLE) == LanguageDecision("zh-Hant", "script")


@pytest.mark.parametrize(
    ("headline", "expected"),
    [
        ("香港警方增设二千部闭路电视", "zh-Hans"),
        ("东湾市图书馆新馆开馆", "zh-Hans"),
        ("警方今年增設二千部閉路電視", "zh-Hant"),
        ("台灣總統大選結果出爐", "zh-Hant"),
        ("港府推智慧燈柱", "zh-Hant"),
    ],
)
def test_short_chinese_headlines_get_their_script(headline: str, expected: str) -> None:
    """langdetect calls many short Chinese headlines Korean; the script decides first."""
    decision = detect_language("", title=headline)
    assert decision.language == expected
    assert decision.source == "script"


def test_title_and_text_are_read_together() -> None:
    assert detect_language(ZH_HANT_ARTICLE, title="路政署更換街燈").language == "zh-Hant"


@pytest.mark.parametrize("text", [JA_ARTICLE, "大阪で地震 震度５弱を観測", "政府は新しい監視カメラを導入する方針を固めた。"])
def test_japanese_is_not_chinese(text: str) -> None:
    decision = detect_language(text)
    assert decision.language == "ja"
    assert not (decision.language or "").startswith("zh")


def test_short_japanese_headline_is_not_korean() -> None:
    assert detect_language("", title="東京都、新図書館を開館").language == "ja"


def test_korean_is_not_chinese() -> None:
    assert detect_language("서울시는 2028년까지 AI 카메라 6만 대를 설치한다고 밝혔다.").language == "ko"


@pytest.mark.parametrize(
    ("declared", "expected"),
    [("zh-TW", "zh-Hant"), ("zh_CN", "zh-Hans"), ("en-US", "en"), ("fr", "fr")],
)
def test_declared_tag_is_the_fallback_for_empty_text(declared: str, expected: str) -> None:
    assert detect_language("", None, declared) == LanguageDecision(expected, "declared")
    assert detect_language("   \n", "", declared) == LanguageDecision(expected, "declared")


def test_nothing_to_go_on() -> None:
    assert detect_language("", None, None) == LanguageDecision(None, "none")


def test_text_beats_a_wrong_declared_tag() -> None:
    assert detect_language(ZH_HANS_ARTICLE, declared="en") == LanguageDecision("zh-Hans", "script")
    assert detect_language(EN_ARTICLE, declared="zh-Hant").language == "en"


def test_declared_script_settles_undecidable_chinese() -> None:
    """香港 is written the same in both scripts: a declared zh-HK decides."""
    assert detect_language("香港", declared="zh-HK") == LanguageDecision("zh-Hant", "declared")
    assert detect_language("香港", declared="zh-CN") == LanguageDecision("zh-Hans", "declared")


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("zh-TW", "zh-Hant"),
        ("zh-HK", "zh-Hant"),
        ("zh-MO", "zh-Hant"),
        ("zh_CN", "zh-Hans"),
        ("zh-SG", "zh-Hans"),
        ("zh-Hant-HK", "zh-Hant"),
        ("zh-hant", "zh-Hant"),
        ("zh-Hans", "zh-Hans"),
        ("cmn-Hans-CN", "zh-Hans"),
        ("yue-HK", "zh-Hant"),
        ("zh", "zh"),
        ("EN-us", "en"),
        ("en_GB", "en"),
        ("ja-JP", "ja"),
        ("", None),
        ("   ", None),
        (None, None),
        ("123", None),
    ],
)
def test_normalise_tag(tag: str | None, expected: str | None) -> None:
    assert normalise_tag(tag) == expected


@pytest.mark.parametrize("tag", ["zh-Hans-HK", "zh-Hans-TW"])
def test_explicit_script_subtag_beats_region(tag: str) -> None:
    assert normalise_tag(tag) == "zh-Hans"


@pytest.mark.parametrize(
    "args",
    [
        (EN_ARTICLE, None, None),
        ("Ferry fares rise after typhoon", None, None),
        ("", "東京都、新図書館を開館", None),
        ("Le gouvernement a annoncé mardi un nouveau plan pour les lampadaires.", None, None),
        ("", "香港", None),
    ],
)
def test_detection_is_deterministic(args: tuple[str, str | None, str | None]) -> None:
    results = {detect_language(*args) for _ in range(5)}
    assert len(results) == 1


def test_declared_language_decides_a_short_headline_in_its_script() -> None:
    """langdetect calls this English headline Italian; the page's declared English settles it, while a long
    text in another language still beats a wrong declaration and a script mismatch ignores it."""
    headline = "NASA adds five companies to commercial lunar lander program"
    assert detect_language("", headline, "en-US") == LanguageDecision("en", "declared")
    assert detect_language("", "Диета Аткинса (14 дней)", "ru") == LanguageDecision("ru", "declared")
    assert detect_language("", "Диета Аткинса (14 дней)", "en").language != "en"
    long_german = ("Die elektronische Patientenakte soll allen gesetzlich Versicherten ab dem kommenden Jahr "
                   "zur Verfügung stehen. Ärzte und Krankenhäuser müssen dafür ihre Praxissoftware anpassen, "
                   "und die Krankenkassen informieren ihre Mitglieder in den nächsten Wochen per Brief.")
    assert detect_language(long_german, None, "en") == LanguageDecision("de", "langdetect")


@pytest.mark.parametrize(
    ("headline", "declared", "expected"),
    [
        # a German headline on a page that declares English (a translated site's template)
        ("Die neue Fähre nach Lantau – der lange Weg ins Hafenbecken", "en", ("de", "words")),
        # no declaration, and langdetect reads this one as Danish
        ("Seeking a bigger role for a big rocket", None, ("en", "words")),
        ("Ferry operator to add late sailings from the island", None, ("en", "words")),
        ("Le bac de Lantau reprend ses départs du soir dans une semaine", None, ("fr", "words")),
        # the declared language keeps a headline that has any of its function words
        ("Harbour ferries as a lifeline for island schools", "en", ("en", "declared")),
        # "e" of a model name is not the Portuguese "e"; "as" is both English and Portuguese: the declaration decides
        ("2026 Lantau e-bus revealed as electric 12-metre coach", "en", ("en", "declared")),
    ],
)
def test_short_latin_headlines_go_by_their_function_words(
    headline: str, declared: str | None, expected: tuple[str, str]
) -> None:
    decision = detect_language("", title=headline, declared=declared)
    assert (decision.language, decision.source) == expected


def test_function_words_never_decide_a_long_text() -> None:
    """Above 200 characters langdetect reads the text: a few shared words do not outvote it."""
    text = ("Die Fähre nach Lantau fährt ab Montag nach einem neuen Fahrplan, und die Bewohner der Insel fordern "
            "seit Jahren mehr Abendfahrten; der Betreiber prüft nun zusätzliche Verbindungen am Wochenende. "
            "Eine Entscheidung wird im Frühjahr erwartet.")
    assert len(text) > 200
    assert detect_language(text, declared="en") == LanguageDecision("de", "langdetect")
