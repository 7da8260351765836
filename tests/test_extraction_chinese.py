"""Chinese portal pages as issue 4 checks them: boilerplate around the article (navigation, headline lists,
disclaimers, footers), GBK/Big5 bytes with no charset anywhere, bylines instead of metadata.

Every page here was written for these tests (the outlets, people and events are made up). The end-to-end test
serves them from 127.0.0.1 with a bare `text/html` header and crawls them with `newsdedupe crawl --urls`.
"""
from __future__ import annotations

import json
from pathlib import Path

import opencc
import pytest
from conftest import encoding_family, query, run_cli

from crawler.encoding import decode_html
from crawler.extraction import extract_article
from crawler.sitesrv import FixtureSite

GBK_TITLE = "荔湾区旧街市改建完成 摊档下月起陆续迁回"
GBK_PARAS = [
    "荔湾区西关旧街市的改建工程昨日完成验收，区市场管理部门表示，原有一百二十个摊档将于下月起分三批迁回新街市经营。",
    "新街市保留了骑楼外立面，内部改为两层，首层售卖蔬菜、鲜肉和水产，二层设熟食档和小型休憩区，并加装了排风和冷藏设备。",
    "经营鱼档二十多年的梁姨说，临时安置点地方窄、客人少，这半年生意差了三成，希望搬回去以后老街坊能回来光顾。",
    "管理部门同时提醒，迁回后的租金按原标准收取一年，其后再按评估结果调整，摊主如有疑问可到街道办事处查询。",
]
GBK_DATE = "2025-09-18"
GBK_AUTHOR = "陈晓岚"

BIG5_TITLE = "東涌渡輪碼頭加建候船亭 市民盼颱風季節前啟用"
BIG5_PARAS = [
    "東涌渡輪碼頭的加建工程本月展開，運輸部門表示，新候船亭可容納約二百名乘客，並設有座椅、風扇及電子航班顯示屏。",
    "碼頭現有的上蓋只覆蓋登船範圍，乘客在雨天往往要在露天位置排隊，區議員早前多次要求當局改善候船設施。",
    "經常往返離島的李先生表示，夏天排隊時既曬又熱，希望工程可以在颱風季節之前完成，讓長者和小朋友有地方避雨。",
    "運輸部門預計工程需時約四個月，施工期間碼頭照常運作，部分通道會改道，市民應留意現場指示牌。",
]
BIG5_DATE = "2025-08-02"

# Portal boilerplate that trafilatura keeps around Chinese articles: none of it may reach the body.
NAV = ["首页", "新闻", "财经", "体育", "娱乐", "科技", "房产", "汽车", "论坛", "博客"]
RELATED = [
    "海珠区试点夜间集市 首周吸引三万人次",
    "天河路口改造方案公示 征求市民意见至月底",
    "番禺新建两所小学 明年九月开学招生",
    "越秀公园花展延期 主办方称天气原因",
    "白云机场新航站楼开放 首日旅客量创新高",
]
DISCLAIMER = "声明：本网转载上述内容仅为传递更多信息，不代表本网赞同其观点或证实其描述，如有疑问请与本网联系。"
FOOTER = "Copyright 2003-2025 西关晨报网 版权所有 粤ICP备00000000号"


TRADITIONAL = opencc.OpenCC("s2tw")


def portal_page(title: str, paras: list[str], byline: str, *, simplified: bool = True, charset: bool = False) -> str:
    """A portal article page: nav bar, breadcrumb, headline, byline, body, related list, disclaimer, footer."""
    nav = " | ".join(f'<a href="/channel/{i}.html">{name}</a>' for i, name in enumerate(NAV))
    related = "".join(f'<li><a href="/news/r{i}.html">{t}</a></li>' for i, t in enumerate(RELATED))
    hot = "".join(f'<li><a href="/news/h{i}.html">{i + 1}{t}</a> {1000 - 37 * i}</li>' for i, t in enumerate(RELATED))
    meta = '<meta charset="gbk">' if charset else ""
    body = "".join(f"<p>{p}</p>" for p in paras)
    page = f"""<html><head>{meta}<title>@TITLE@_西关晨报网</title></head><body>
<div class="top"><a href="/">西关晨报网</a> {nav}</div>
<div class="crumb">您现在的位置：<a href="/">首页</a> &gt; <a href="/news/">新闻</a> &gt; 正文</div>
<div class="main">
<h1>@TITLE@</h1>
<div class="info">@BYLINE@</div>
<div class="content">@BODY@</div>
<div class="share">分享到：<a href="#">微博</a> <a href="#">微信</a></div>
<div class="related"><h3>相关新闻</h3><ul>{related}</ul></div>
</div>
<div class="side"><h3>点击排行</h3><ol>{hot}</ol></div>
<div class="disclaimer"><p>{DISCLAIMER}</p></div>
<div class="footer"><a href="/about.html">关于我们</a> | <a href="/ads.html">广告服务</a> | <a href="/contact.html">联系我们</a>
<p>&copy; {FOOTER}</p></div>
</body></html>"""
    # Only the boilerplate is converted to Traditional; the article is given as written.
    page = page if simplified else TRADITIONAL.convert(page)
    return page.replace("@TITLE@", title).replace("@BYLINE@", byline).replace("@BODY@", body)


def gbk_page(charset: bool = False) -> bytes:
    byline = f"2025年09月18日 08:30　来源：西关晨报　作者：{GBK_AUTHOR}"
    return portal_page(GBK_TITLE, GBK_PARAS, byline, charset=charset).encode("gbk")


def big5_page() -> bytes:
    byline = "2025-08-02 17:45　來源：離島週報　記者 周嘉敏"
    return portal_page(BIG5_TITLE, BIG5_PARAS, byline, simplified=False).encode("big5")


def assert_body_is_the_article(text: str, paras: list[str], title: str) -> None:
    assert text.split("\n") == paras, text
    assert title not in text
    for junk in [*RELATED, DISCLAIMER, FOOTER, "相关新闻", "点击排行", "分享到", "您现在的位置"]:
        assert junk not in text and TRADITIONAL.convert(junk) not in text


def test_premises_no_charset_anywhere_and_not_utf8() -> None:
    for page in (gbk_page(), big5_page()):
        assert b"charset" not in page.lower()
        with pytest.raises(UnicodeDecodeError):
            page.decode("utf-8")


def test_gbk_portal_page_body_is_the_article_only() -> None:
    rec = extract_article(gbk_page(), "http://127.0.0.1:8123/news/2025/0918/market.html", content_type="text/html")
    assert rec.status == "ok"
    assert encoding_family(rec.encoding) == "gbk"
    assert rec.title == GBK_TITLE
    assert_body_is_the_article(rec.text, GBK_PARAS, GBK_TITLE)
    assert rec.published == GBK_DATE
    assert rec.language == "zh-Hans"


def test_big5_portal_page_body_is_the_article_only() -> None:
    rec = extract_article(big5_page(), "http://127.0.0.1:8123/news/2025/0802/pier.html", content_type="text/html")
    assert rec.status == "ok"
    assert encoding_family(rec.encoding) == "big5"
    assert rec.title == BIG5_TITLE
    assert_body_is_the_article(rec.text, BIG5_PARAS, BIG5_TITLE)
    assert rec.published == BIG5_DATE
    assert rec.language == "zh-Hant"


def test_english_body_is_not_cut_by_the_chinese_line_filter() -> None:
    """The block cut is for Chinese text: an English article's short lines and paragraphs with a link stay; only
    a line that is all link text ("Read more: ...") goes."""
    paras = [
        "The ferry operator said on Monday that the late sailing would return from next month.",
        "Residents had asked for it since the spring.",
        "See the timetable for details on the new sailings.",
        ("Passengers who travel after nine in the evening have had to take a bus and a second ferry since the "
         "late sailing was cut in March, a trip that can take more than an hour and a half."),
    ]
    html = ("<html><head><title>Late ferry returns</title></head><body><article><h1>Late ferry returns</h1>"
            + "".join(f"<p>{p}</p>" for p in paras[:2])
            + '<p>See the <a href="/timetable.html">timetable</a> for details on the new sailings.</p>'
            + '<p><a href="/news/pier.html">Read more: Central pier to close for repairs in May</a></p>'
            + f"<p>{paras[3]}</p></article></body></html>")
    rec = extract_article(html, "http://127.0.0.1:8123/en/ferry.html")
    assert rec.text.split("\n") == paras


def test_gbk_page_with_one_broken_byte_still_decodes_as_gbk() -> None:
    """charset-normalizer gives up on a page with one invalid sequence and picks a single-byte code page,
    garbling every line; a GBK page with one bad byte must still read as Chinese."""
    page = gbk_page()
    cut = page.index(GBK_PARAS[2].encode("gbk")) + 7  # the second byte of a character
    broken = page[:cut] + b"\xff" + page[cut + 1 :]
    with pytest.raises(UnicodeDecodeError):
        broken.decode("gb18030")
    text, encoding, how = decode_html(broken, "text/html")
    assert encoding_family(encoding) == "gbk" and how == "detected"
    assert GBK_PARAS[0] in text and GBK_PARAS[3] in text
    assert text.count("\ufffd") <= 2


BYLINE_NO_HEADLINE = """<html><head></head><body>
<div class="nav"><a href="/">首页</a> | <a href="/blog/">博客</a></div>
<div class="post"><div class="meta">作者： 林若谷　译： 王一鸣　2019年3月4日</div>
<p>这是一篇关于城市图书馆夜间开放的随笔。作者在文中回忆了自己在自修室里度过的许多个晚上，也谈到管理员如何在闭馆前十分钟轻轻提醒读者收拾东西。</p>
<p>文章最后建议，图书馆可以在考试季延长开放时间，并在门口增设自助还书机，让晚归的读者也能方便地归还书籍。</p>
</div>
<div class="foot">版权所有 © 2001-2024</div></body></html>"""

INFOBOX_DATES = """<html><head><title>韩嘉树 - 人物资料库</title></head><body>
<h1>韩嘉树</h1>
<table class="infobox"><tr><td>出生日期1981年5月6日</td></tr><tr><td>出道日期1999年9月1日</td></tr></table>
<p>韩嘉树是一名虚构的歌手，曾以乐队成员身份出道，其后转为独唱歌手，多次在音乐节目中获奖，也参与过多部电视剧的演出。</p>
<table><tr><th>日期</th><th>节目</th></tr><tr><td>2013年3月30日</td><td>某音乐会</td></tr></table>
<p>他在访谈中表示，自己最喜欢的仍然是在小型场地演出，因为可以看清每一位观众的表情，也能随时和台下的人聊天。</p>
</body></html>"""


def test_date_printed_before_the_body_when_there_is_no_headline() -> None:
    rec = extract_article(BYLINE_NO_HEADLINE, "http://127.0.0.1:8123/blog/library.html")
    assert rec.published == "2019-03-04"
    assert rec.published_source == "page-byline"


def test_infobox_and_table_dates_are_not_publication_dates() -> None:
    """出道日期 (debut date) and a table's 日期 column are no publication stamp: no date beats a wrong one."""
    rec = extract_article(INFOBOX_DATES, "http://127.0.0.1:8123/people/han.html")
    assert rec.published is None, rec.published_source


# --- end to end: newsdedupe crawl --urls against a 127.0.0.1 server sending no charset -------------------
def test_crawl_urls_of_chinese_pages_without_charset(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "news").mkdir(parents=True)
    (site / "news" / "market.html").write_bytes(gbk_page())
    (site / "news" / "pier.html").write_bytes(big5_page())
    with FixtureSite(site) as server:
        urls = tmp_path / "urls.txt"
        urls.write_text(f"{server.base_url}/news/market.html\n{server.base_url}/news/pier.html\n", encoding="utf-8")
        db = tmp_path / "store.sqlite3"
        proc = run_cli("crawl", "--urls", urls, "--db", db, "--out", tmp_path / "out", "--allow-private", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    rows = {r["canonical_url"].rsplit("/", 1)[-1]: r for r in query(db, "SELECT * FROM articles")}
    assert set(rows) == {"market.html", "pier.html"}
    gbk, big5 = rows["market.html"], rows["pier.html"]
    assert encoding_family(gbk["encoding"]) == "gbk" and encoding_family(big5["encoding"]) == "big5"
    assert (gbk["title"], gbk["language"], gbk["published"][:10]) == (GBK_TITLE, "zh-Hans", GBK_DATE)
    assert (big5["title"], big5["language"], big5["published"][:10]) == (BIG5_TITLE, "zh-Hant", BIG5_DATE)
    assert_body_is_the_article(gbk["text"], GBK_PARAS, GBK_TITLE)
    assert_body_is_the_article(big5["text"], BIG5_PARAS, BIG5_TITLE)
    assert gbk["extraction_status"] == big5["extraction_status"] == "ok"
    assert json.loads(gbk["authors"]) == [GBK_AUTHOR]


REPORTER_AT_END = """<html><head><title>老街坊合唱团重阳节演出 - 北岸日报</title></head><body>
<h1>老街坊合唱团重阳节演出</h1><div class="info">2024-10-11 09:12 来源：北岸日报</div>
<p>北岸区老街坊合唱团昨日在社区会堂举行重阳节演出，四十多名平均年龄超过七十岁的团员演唱了十二首老歌，台下坐满了街坊。</p>
<p>合唱团团长说，团员每周练习两次，最年长的一位已经八十九岁，仍然坚持每次提前半小时到场，帮忙摆放椅子和谱架。</p>
<p>（本报记者 何嘉欣）</p>
<div class="foot">版权所有 北岸日报</div></body></html>"""


def test_chinese_byline_authors() -> None:
    """作者：X next to the headline, and a reporter credited after the last paragraph, are the authors; the
    credit line is not body text."""
    rec = extract_article(BYLINE_NO_HEADLINE, "http://127.0.0.1:8123/blog/library.html")
    assert rec.authors == ("林若谷",)
    rec = extract_article(REPORTER_AT_END, "http://127.0.0.1:8123/news/choir.html")
    assert rec.authors == ("何嘉欣",)
    assert "何嘉欣" not in rec.text and rec.text.endswith("帮忙摆放椅子和谱架。")


def _portal_page(byline_html: str, *, head: str = "", closing: str = "", after: str = "") -> str:
    """A made-up portal article with `byline_html` under its headline, `closing` after its last paragraph and
    `after` (a sidebar) after the article."""
    return f"""<html><head><title>河畔公园增设夜间照明 - 南桥晚报</title>{head}</head><body>
<div class="nav"><a href="/">首页</a> | <a href="/news/">新闻</a></div>
<h1>河畔公园增设夜间照明</h1>
<div class="info">{byline_html}</div>
<div class="article">
<p>南桥区河畔公园的夜间照明工程上周完成，沿河步道新装了八十多盏节能路灯，晚上散步和跑步的市民明显多了起来。</p>
<p>公园管理处表示，新路灯会在晚上十一点后自动调暗，以减少对附近住户和河边鸟类的影响，管理处也会继续收集市民的意见。</p>
{closing}</div>
{after}
<div class="foot">版权所有 南桥晚报</div></body></html>"""


@pytest.mark.parametrize(
    ("byline", "closing", "authors"),
    [
        ("2025-03-02 09:15 来源：南桥晚报", "<p>南桥晚报记者周文涛/文</p>", ("周文涛",)),
        ("2025-03-02 09:15 本报记者欧阳思远发自南桥", "", ("欧阳思远",)),
        ("2025-03-02 09:15 来源：南桥晚报", "<p>（梁启文 南桥报道）</p>", ("梁启文",)),
        ("2025年3月2日09:15 [ 黄慧珊 ]&nbsp;来源：[ 南桥晚报 ]", "", ("黄慧珊",)),
        ("2025-03-02 09:15", "<p>执笔人：林嘉 陈一凡 何思雨 赵明 许可 马立</p>",
         ("林嘉", "陈一凡", "何思雨", "赵明", "许可", "马立")),
        ("本贴由 晚风 于2025年3月2日09:15:07在〖 城市生活 〗发表", "", ("晚风",)),
    ],
    ids=["reporter-slash-wen", "reporter-fazi", "parenthesised-report", "bracketed-before-source", "zhibiren",
         "forum-credit"],
)
def test_chinese_bylines_told_by_their_closing_words(byline: str, closing: str, authors: tuple[str, ...]) -> None:
    rec = extract_article(_portal_page(byline, closing=closing), "http://127.0.0.1:8123/news/lights.html")
    assert rec.authors == authors


def test_byline_names_stop_at_the_next_block_and_at_a_label() -> None:
    """A reporter credited at the end of the body is followed by the page's next block (a sidebar heading):
    that heading is not a second author; nor is the label of the field after a name (时间：)."""
    sidebar = "<div class=\"side\"><h2>最新动态</h2><ul><li><a href=\"/n/1\">南桥区公布春季植树安排</a></li></ul></div>"
    rec = extract_article(_portal_page("2025-03-02 09:15", closing="<p>记者 刘思源</p>", after=sidebar),
                          "http://127.0.0.1:8123/news/lights.html")
    assert rec.authors == ("刘思源",)
    rec = extract_article(_portal_page("2025-03-02 09:15", closing="<p>本报记者 王一鸣 李文</p>", after=sidebar),
                          "http://127.0.0.1:8123/news/lights.html")
    assert rec.authors == ("王一鸣", "李文")
    forum = '<b>作者：</b><a href="/u/1">芊芊细雨</a> &nbsp;<b>时间：</b>2025-03-02 19:13:18'
    rec = extract_article(_portal_page(forum), "http://127.0.0.1:8123/news/lights.html")
    assert rec.authors == ("芊芊细雨",)


@pytest.mark.parametrize(
    ("head", "authors"),
    [
        ('<meta name="citation_authors" content="赵  培"><meta name="author" content="中文期刊,某某出版社">', ("赵培",)),
        ('<meta name="generator" content="Discuz! X3.4"><meta name="author" content="Discuz! Team and Comsenz UI Team">',
         ()),
        ('<meta name="author" content="南桥网 提供本地新闻、生活服务与房产资讯以及便民查询等综合服务">', ()),
        ('<meta name="author" content="作者： 周嘉敏">', ("周嘉敏",)),
        ('<meta name="author" content="实习记者, 何子健">', ("何子健",)),
    ],
    ids=["citation-author-over-publisher", "software-credit", "description", "label", "role"],
)
def test_author_metadata_is_cleaned(head: str, authors: tuple[str, ...]) -> None:
    """What pages put in their author metadata besides names gives no author (and the byline is looked for
    instead: this page has none)."""
    rec = extract_article(_portal_page("2025-03-02 09:15", head=head), "http://127.0.0.1:8123/news/lights.html")
    assert rec.authors == authors
