"""Normalisation before shingling: boilerplate out, width and case folded, Traditional to Simplified."""
from __future__ import annotations

import pytest

from dedupe.normalize import fold, normalise_for_matching, strip_boilerplate, tokens


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HONG KONG (Pacific Wire) — The city will add cameras.\nSecond paragraph.",
         "The city will add cameras.\nSecond paragraph."),
        ("LONDON, Oct 3 (Reuters) - Shares fell on Friday.\nSecond paragraph.",
         "Shares fell on Friday.\nSecond paragraph."),
        ("NEW YORK (AP) — Officials said.", "Officials said."),
        ("HONG KONG — Officials said.", "Officials said."),
    ],
)
def test_wire_datelines_are_stripped(text: str, expected: str) -> None:
    assert strip_boilerplate(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("【新报讯】香港政府宣布新计划。\n第二段。", "香港政府宣布新计划。\n第二段。"),
        ("（中央社記者王明香港3日電）香港政府宣佈新計劃。", "香港政府宣佈新計劃。"),
        ("本报讯 香港政府宣布新计划。", "香港政府宣布新计划。"),
    ],
)
def test_chinese_datelines_are_stripped(text: str, expected: str) -> None:
    assert strip_boilerplate(text) == expected


@pytest.mark.parametrize(
    "line",
    [
        "This story was provided by Pacific Wire Service.",
        "The article was republished with permission.",
        "Read more: Hong Kong transport coverage",
        "See also: Ferry fares to rise",
        "Related stories: Ferry fares",
        "Copyright 2025 Pacific Wire. All rights reserved.",
        "© 2025 Harbour Herald",
        "All rights reserved.",
        "Follow us on Facebook",
        "Reporting by Karen Siu; Editing by Paul Reddy",
        "By Karen Siu",
        "责任编辑：王明",
        "延伸閱讀：電車改線",
        "記者 陳大文 報道",
    ],
)
def test_boilerplate_lines_are_dropped(line: str) -> None:
    body = "The city will add cameras.\n" + line + "\nOfficials said the plan would cost HK$1.2 billion."
    assert strip_boilerplate(body) == "The city will add cameras.\nOfficials said the plan would cost HK$1.2 billion."


@pytest.mark.parametrize(
    "line",
    [
        "By the end of the year, the city will have more cameras.",
        "Police said - without giving details - that two men were arrested.",
        "US President Joe Biden said the talks went well.",
        "Readers of the report were surprised by its length.",
    ],
)
def test_content_lines_are_kept(line: str) -> None:
    body = "First paragraph of the story.\n" + line
    assert strip_boilerplate(body) == body


def test_paragraph_about_copyright_is_kept() -> None:
    body = "Lawmakers met on Friday.\nCopyright holders will be able to sue platforms under the amended bill."
    assert strip_boilerplate(body) == body


def test_blank_lines_dropped() -> None:
    assert strip_boilerplate("One.\n\n   \nTwo.") == "One.\nTwo."


def test_fold_traditional_to_simplified() -> None:
    assert fold("香港政府宣佈將於二〇二八年前裝設閉路電視") == "香港政府宣布将于二〇二八年前装设闭路电视"


def test_fold_full_width_and_case() -> None:
    assert fold("ＨＫ＄１２　Ａｉ Cameras") == "hk$12 ai cameras"
    assert fold("２０２８年") == "2028年"


def test_fold_curly_quotes() -> None:
    assert fold("“Quoted” ‘words’ it’s") == "\"quoted\" 'words' it's"


def test_fold_dashes() -> None:
    assert fold("a – b — c") == fold("a - b - c")


def test_simplified_and_traditional_copies_match_after_normalisation() -> None:
    hant = "【港灣日報訊】政府宣佈將裝設六萬部閉路電視。"
    hans = "政府宣布将装设六万部闭路电视。"
    assert normalise_for_matching(hant) == normalise_for_matching(hans)


def test_syndicated_copy_matches_original_after_normalisation() -> None:
    original = "The city will add cameras.\nOfficials said the plan would cost HK$1.2 billion."
    copy = ("HONG KONG (Pacific Wire) — The city will add cameras.\nOfficials said the plan would cost "
            "HK$1.2 billion.\nThis story was provided by Pacific Wire Service.")
    assert normalise_for_matching(copy) == normalise_for_matching(original)


def test_tokens_one_per_han_character() -> None:
    assert tokens("香港AI camera 2028年") == ["香", "港", "AI", "camera", "2028", "年"]
