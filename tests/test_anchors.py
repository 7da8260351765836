"""Numeric anchors: numbers normalised across scripts and notations, years told apart."""
from __future__ import annotations

import pytest

from dedupe.anchors import anchor_set, is_year, numbers, parse_chinese_numeral


@pytest.mark.parametrize("text", ["60,000 cameras", "6万部镜头", "六萬部閉路電視", "60k cameras", "60K cameras", "60，000部"])
def test_sixty_thousand_in_every_notation(text: str) -> None:
    assert anchor_set(text) == {"60000"}
    assert numbers(text) == [("60000", False)]


@pytest.mark.parametrize("text", ["HK$1.2 billion", "HK$1.2bn", "12亿港元", "十二億港元", "12.0億港元"])
def test_one_point_two_billion_in_every_notation(text: str) -> None:
    assert anchor_set(text) == {"1200000000"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3.5 million residents", "3500000"),
        ("US$5m deal", "5000000"),
        ("1.5万人", "15000"),
        ("1.2億港元", "120000000"),
        ("五千三百万元", "53000000"),
        ("三百五十人", "350"),
        ("两万人", "20000"),
        ("1,234.5 tonnes", "1234.5"),
    ],
)
def test_other_notations(text: str, expected: str) -> None:
    assert anchor_set(text) == {expected}


def test_two_thousand_with_separator_is_not_a_year() -> None:
    assert numbers("police will add 2,000 cameras") == [("2000", False)]
    assert numbers("警方增設二千部") == [("2000", False)]


def test_chinese_quantity_without_separator_is_not_a_year() -> None:
    """Chinese writes 2,000 cameras as `2000部`: a measure word after the number makes it a quantity."""
    assert numbers("今年內增設2000部鏡頭") == [("2000", False)]
    assert numbers("拘捕1999人") == [("1999", False)]
    assert numbers("2000年") == [("2000", True)]
    assert numbers("在2000年至2028年间") == [("2000", True), ("2028", True)]


@pytest.mark.parametrize("text", ["by 2028", "2028年", "二〇二八年", "二零二八年"])
def test_years(text: str) -> None:
    assert numbers(text) == [("2028", True)]


def test_numbers_in_order_small_ones_skipped() -> None:
    assert numbers("In 2025, 1,500 people saw 3 boats and 12 ferries.") == [
        ("2025", True), ("1500", False), ("12", False),
    ]


def test_year_and_amount_in_one_sentence_across_languages() -> None:
    en = anchor_set("Hong Kong will install 60,000 cameras by 2028 at a cost of HK$1.2 billion.")
    zh_hans = anchor_set("香港将于2028年前安装6万部镜头，涉资12亿港元。")
    zh_hant = anchor_set("香港將於二〇二八年前裝設六萬部鏡頭，涉資十二億港元。")
    assert en == zh_hans == zh_hant == {"60000", "2028", "1200000000"}


def test_text_without_numbers() -> None:
    assert numbers("No figures were given.") == []
    assert anchor_set("沒有數字") == frozenset()


@pytest.mark.parametrize(
    ("numeral", "value"),
    [
        ("六萬", 60_000),
        ("二千", 2_000),
        ("十二億", 1_200_000_000),
        ("三百五十", 350),
        ("二〇二八", 2028),
        ("十", 10),
        ("十二", 12),
        ("二十五", 25),
        ("九十九", 99),
        ("一千零五", 1005),
        ("三千零二十", 3020),
        ("十万零三", 100_003),
        ("三萬五千", 35_000),
        ("两千五百万", 25_000_000),
        ("一百二十三万四千五百六十七", 1_234_567),
        ("五", 5),
        ("零", 0),
    ],
)
def test_parse_chinese_numeral(numeral: str, value: int) -> None:
    assert parse_chinese_numeral(numeral) == value


@pytest.mark.parametrize("text", ["", "abc", "香港"])
def test_parse_chinese_numeral_rejects_non_numbers(text: str) -> None:
    assert parse_chinese_numeral(text) is None


def test_parse_stacked_big_units() -> None:
    assert parse_chinese_numeral("一万亿") == 10**12


def test_space_as_thousands_separator() -> None:
    assert anchor_set("60 000 cameras") == {"60000"}


def test_is_year() -> None:
    assert is_year("2028") and is_year("1999")
    assert not is_year("60000")
    assert not is_year("1200000000")
    assert not is_year("1850")
    assert not is_year("12.5")
