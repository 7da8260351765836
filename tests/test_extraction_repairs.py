"""Pages that lose article text to a trap: GBK text mangled through a Latin code page, a logo link inside the
last paragraph, a short last sentence. Every page is written here (outlets and events made up)."""
from __future__ import annotations

import pytest
from test_extraction_chinese import DISCLAIMER, GBK_PARAS, GBK_TITLE, assert_body_is_the_article, portal_page

from crawler.encoding import decode_html, repair_gbk_mojibake
from crawler.extraction import extract_article

URL = "http://127.0.0.1:8123/news/2025/0918/market.html"


def mangle(text: str, codec: str) -> bytes:
    """What a tool that took GBK bytes for `codec` (Latin-1, Latin-9, Windows-1252) saved as UTF-8."""
    raw = text.encode("gbk")
    if codec == "cp1252":  # the five bytes cp1252 leaves undefined come through as C1 controls
        return "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in raw).encode("utf-8")
    return raw.decode(codec).encode("utf-8")


def page_html(byline: str = "2025年09月18日 08:30　来源：西关晨报") -> str:
    return portal_page(GBK_TITLE, GBK_PARAS, byline, charset=True)


@pytest.mark.parametrize("codec", ["latin-1", "iso8859_15", "cp1252"])
def test_gbk_page_saved_through_a_latin_code_page_is_repaired(codec: str) -> None:
    body = mangle(page_html(), codec)
    body.decode("utf-8")  # premise: valid UTF-8, full of accented letters, still declaring gbk
    assert b'charset="gbk"' in body
    text, encoding, how = decode_html(body, "text/html")
    assert how == "repaired" and encoding == "gb18030"
    assert GBK_TITLE in text and all(p in text for p in GBK_PARAS)
    rec = extract_article(body, URL, content_type="text/html")
    assert rec.status == "ok" and rec.title == GBK_TITLE and rec.language == "zh-Hans"
    assert_body_is_the_article(rec.text, GBK_PARAS, GBK_TITLE)


def test_gbk_page_mangled_twice_is_repaired() -> None:
    """Read as Latin-9 and saved as UTF-8, then that read as Windows-1252 and saved as UTF-8 again."""
    once = mangle(page_html(), "iso8859_15").decode("utf-8")
    twice = "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in once.encode("utf-8"))
    text, _, how = decode_html(twice.encode("utf-8"))
    assert how == "repaired"
    assert all(p in text for p in GBK_PARAS)


FRENCH = ("<html lang='fr'><head><meta charset='utf-8'><title>Le bac à Lantau</title></head><body><p>"
          + "Été comme hiver, les élèves de l'île prennent le bac à six heures ; déçus, ils réclament à "
          "nouveau des départs plus tardifs. Où en est le projet ? Le conseil étudiera la question à la rentrée. " * 30
          + "</p></body></html>")


@pytest.mark.parametrize("html", [FRENCH, FRENCH.replace("é", "ä").replace("è", "ö").replace("à", "ü"),
                                  "<p>" + "«Ça» — © 2025 · ½ ¼ ¾ ±0.5 °C × ÷ " * 100 + "</p>"])
def test_accented_utf8_pages_are_left_alone(html: str) -> None:
    body = html.encode("utf-8")
    assert repair_gbk_mojibake(body) is None
    assert decode_html(body) == (html, "utf-8", "meta" if "charset" in html else "utf-8")


def test_short_last_paragraph_with_a_logo_link_is_kept() -> None:
    """A portal closes each article with its logo, linked, inside the last paragraph: trafilatura takes the
    short paragraph for a link block (a link, no link text) and drops it."""
    last = "市场管理部门的查询电话为八二三四五六七八。"
    paras = [*GBK_PARAS, last]
    html = portal_page(GBK_TITLE, paras, "2025年09月18日 08:30　来源：西关晨报")
    html = html.replace(f"<p>{last}</p>",
                        f'<p>{last}<span class="logo"><a href="/"><img src="/logo.gif" alt=""></a></span></p>')
    rec = extract_article(html, URL)
    assert_body_is_the_article(rec.text, paras, GBK_TITLE)


def page_ending_with(last: str) -> str:
    """The portal page with `last` after the article's paragraphs and no disclaimer below them."""
    html = portal_page(GBK_TITLE, [*GBK_PARAS, last], "2025年09月18日 08:30　来源：西关晨报")
    return html.replace(f"<p>{DISCLAIMER}</p>", "")


def test_short_last_sentence_is_article_text() -> None:
    """A closing line of a dozen characters ending with a full stop is a sentence, not navigation: the body
    does not stop before it."""
    short = "摊主可在本月底前到办事处报名。"
    rec = extract_article(page_ending_with(short), URL)
    assert_body_is_the_article(rec.text, [*GBK_PARAS, short], GBK_TITLE)


def test_short_last_line_without_a_full_stop_is_not() -> None:
    rec = extract_article(page_ending_with("更多荔湾新闻请关注本网专题"), URL)
    assert_body_is_the_article(rec.text, GBK_PARAS, GBK_TITLE)


def page_with_stamp(stamp: str) -> str:
    return portal_page(GBK_TITLE, GBK_PARAS, f"作者： 陈晓岚 来源： 西关晨报 {stamp}")


@pytest.mark.parametrize(("stamp", "day"), [
    ("发布日期： 9/17/2004 5:54:13 AM", "2004-09-17"),  # no 17th month: month first
    ("发布日期：17/09/2004", "2004-09-17"),  # day first
    # 7 May or 5 July: no date rather than a guess (htmldate, asked next, would read 7 May)
    ("发布日期： 7/5/2005 9:23:57 PM", None),
])
def test_day_and_month_first_stamps_only_when_unambiguous(stamp: str, day: str | None) -> None:
    rec = extract_article(page_with_stamp(stamp), URL)
    assert rec.status == "ok"
    assert (rec.published, rec.published_source) == ((day, "page-byline") if day else (None, None))


def test_slash_dates_need_a_label() -> None:
    from crawler.extraction import _slash_stamp_date

    assert _slash_stamp_date("第 3/4/2005 期") is None
    assert _slash_stamp_date("比分 12/25/2019") is None
    assert _slash_stamp_date("Posted on 12/25/2019 by the desk") == "2019-12-25"
    assert _slash_stamp_date("发表时间：5/6/2019") == ""
