"""decode_html: header charset, BOM, <meta charset>, UTF-8, then detection, on the fixture's Chinese pages."""
from __future__ import annotations

import codecs

import pytest

from conftest import encoding_family, fixture_page
from crawler.encoding import decode_html, header_charset

GBK_PAGE = "zh/gbk/2025/10/02/market.html"
BIG5_PAGE = "zh/big5/2025/10/03/story.html"
UTF8_PAGE = "zh/utf8/2025/10/04/minibus.html"

GBK_TITLE = "深水埗荣昌街街市翻新工程下月动工 摊贩忧生意受影响"
GBK_BODY = "约六十个摊位需要分批迁往附近的休憩处临时营业"
BIG5_TITLE = "西貢漁民合作社推出海上導賞團 盼年輕人認識漁業文化"
BIG5_BODY = "由經驗豐富的漁民帶領市民乘坐漁船出海"
UTF8_TITLE = "觀塘至將軍澳南新專線小巴下月通車"
UTF8_BODY = "路線每隔十二分鐘開出一班"


def test_fixture_pages_are_what_the_readme_says() -> None:
    """Guard the premises: GBK bytes are not UTF-8 and need more than GB2312; Big5 bytes are not UTF-8."""
    gbk = fixture_page(GBK_PAGE)
    with pytest.raises(UnicodeDecodeError):
        gbk.decode("utf-8")
    with pytest.raises(UnicodeDecodeError):
        gbk.decode("gb2312")
    assert b"charset" not in gbk.lower()
    with pytest.raises(UnicodeDecodeError):
        fixture_page(BIG5_PAGE).decode("utf-8")


def test_gbk_page_without_any_charset_is_detected() -> None:
    text, encoding, how = decode_html(fixture_page(GBK_PAGE), "text/html")

    assert encoding_family(encoding) == "gbk"
    assert how == "detected"
    assert GBK_TITLE in text and GBK_BODY in text
    assert "\ufffd" not in text


def test_big5_page_uses_its_meta_charset() -> None:
    text, encoding, how = decode_html(fixture_page(BIG5_PAGE), "text/html")

    assert encoding_family(encoding) == "big5"
    assert how == "meta"
    assert BIG5_TITLE in text and BIG5_BODY in text
    assert "\ufffd" not in text


def test_utf8_page_with_charset_only_in_header() -> None:
    text, encoding, how = decode_html(fixture_page(UTF8_PAGE), "text/html; charset=utf-8")

    assert encoding_family(encoding) == "utf-8"
    assert how == "header"
    assert UTF8_TITLE in text and UTF8_BODY in text


def test_utf8_page_without_header_still_decodes_as_utf8() -> None:
    text, encoding, how = decode_html(fixture_page(UTF8_PAGE), "text/html")

    assert encoding_family(encoding) == "utf-8"
    assert how == "utf-8"
    assert UTF8_TITLE in text


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "text/html; charset=no-such-charset"])
def test_wrong_header_charset_falls_back(content_type: str) -> None:
    """A header charset that cannot decode the bytes (or is unknown) must not win."""
    text, encoding, how = decode_html(fixture_page(GBK_PAGE), content_type)

    assert how != "header"
    assert encoding_family(encoding) == "gbk"
    assert GBK_TITLE in text and GBK_BODY in text


def test_wrong_header_charset_falls_back_to_meta() -> None:
    text, encoding, how = decode_html(fixture_page(BIG5_PAGE), "text/html; charset=utf-8")

    assert how == "meta"
    assert encoding_family(encoding) == "big5"
    assert BIG5_TITLE in text


def test_gb2312_label_decodes_gbk_only_characters() -> None:
    """Pages labelled gb2312 are read with a superset (GB18030): strict GB2312 fails on 埗 and friends."""
    text, encoding, how = decode_html(fixture_page(GBK_PAGE), "text/html; charset=GB2312")

    assert how == "header"
    assert encoding_family(encoding) == "gbk"
    assert GBK_TITLE in text


def test_utf8_bom_wins_and_is_stripped() -> None:
    body = codecs.BOM_UTF8 + "<html><body><p>觀塘 café</p></body></html>".encode("utf-8")

    text, encoding, how = decode_html(body, "text/html; charset=iso-8859-1")

    assert how == "bom"
    assert encoding_family(encoding) == "utf-8"
    assert text.startswith("<html>")
    assert "\ufeff" not in text
    assert "觀塘 café" in text


def test_utf16_bom() -> None:
    body = codecs.BOM_UTF16_LE + "<html><body><p>觀塘</p></body></html>".encode("utf-16-le")

    text, _encoding, how = decode_html(body)

    assert how == "bom"
    assert text.startswith("<html>")
    assert "觀塘" in text


def test_plain_ascii_is_utf8() -> None:
    text, encoding, how = decode_html(b"<p>plain</p>")
    assert (text, encoding, how) == ("<p>plain</p>", "utf-8", "utf-8")


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("text/html; charset=UTF-8", "UTF-8"),
        ('text/html; charset="big5"', "big5"),
        ("text/html", None),
        (None, None),
        ("", None),
    ],
)
def test_header_charset(content_type: str | None, expected: str | None) -> None:
    assert header_charset(content_type) == expected
