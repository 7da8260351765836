"""extract_article on the fixture pages: title, date, authors, language, body without boilerplate, status."""
from __future__ import annotations

from typing import Any

import pytest
from conftest import encoding_family, expected_fixture, fixture_page

from crawler.extraction import Hints, clean_title, extract_article

BASE = "http://127.0.0.1:8123"
EXPECTED = expected_fixture(BASE)["articles"]
# The server's Content-Type for each page (see tests/fixtures/site/_headers.toml).
CONTENT_TYPES = {"zh/utf8/2025/10/04/minibus.html": "text/html; charset=utf-8"}
AUTHORS = {
    "en/2025/10/03/cameras.html": ("Marcus Leung",),
    "en/2025/10/02/ferry-timetable.html": ("Priscilla Ng",),
    "en/2025/10/01/reading-room.html": ("Marcus Leung",),
}


def relpath(article: dict[str, Any]) -> str:
    return article["canonical_url"].removeprefix(BASE + "/")


def extract(rel: str, hints: Hints | None = None) -> Any:
    return extract_article(fixture_page(rel, BASE), f"{BASE}/{rel}", hints, CONTENT_TYPES.get(rel, "text/html"))


@pytest.fixture(scope="module")
def extracted() -> dict[str, Any]:
    return {relpath(a): extract(relpath(a)) for a in EXPECTED}


@pytest.mark.parametrize("article", EXPECTED, ids=[relpath(a) for a in EXPECTED])
def test_fixture_article(extracted: dict[str, Any], article: dict[str, Any]) -> None:
    rec = extracted[relpath(article)]

    assert rec.status == "ok"
    # Title without the " | Lantau Ledger" / " | 九龙邮报" suffix.
    assert rec.title == article["title"]
    assert "|" not in rec.title
    # Date from the page's own metadata.
    assert rec.published is not None and rec.published[:10] == article["published"]
    assert rec.published_source == "page-metadata"
    assert rec.language == article["language"]
    assert encoding_family(rec.encoding) == encoding_family(article["encoding"])
    assert rec.canonical_url == article["canonical_url"]
    for fragment in article["body_must_contain"]:
        assert fragment in rec.text
    for fragment in article["body_must_not_contain"]:
        assert fragment not in rec.text
    # The headline is the title, not the first line of the body.
    assert not rec.text.startswith(article["title"])


@pytest.mark.parametrize("rel", ["zh/gbk/2025/10/02/market.html", "zh/big5/2025/10/03/story.html",
                                 "zh/utf8/2025/10/04/minibus.html"])
def test_chinese_language_is_decided_by_script(extracted: dict[str, Any], rel: str) -> None:
    assert extracted[rel].language_source == "script"


@pytest.mark.parametrize("rel", sorted(AUTHORS))
def test_english_language_and_authors(extracted: dict[str, Any], rel: str) -> None:
    rec = extracted[rel]
    assert rec.language == "en"
    assert rec.language_source in ("langdetect", "declared")
    assert rec.authors == AUTHORS[rel]


def test_gbk_page_title_drops_simplified_brand() -> None:
    """The GBK page's <title> ends with the Simplified brand 九龙邮报, not og:site_name's 九龍郵報."""
    rec = extract("zh/gbk/2025/10/02/market.html")
    assert rec.title == "深水埗荣昌街街市翻新工程下月动工 摊贩忧生意受影响"
    assert "九龙邮报" not in rec.title and "九龍郵報" not in rec.title
    assert "订阅九龙邮报每日新闻简报" not in rec.text


@pytest.mark.parametrize("rel", ["en/index.html", "en/about.html", "en/tag/cctv.html"])
def test_index_about_and_tag_pages_are_not_articles(rel: str) -> None:
    assert extract(rel).status == "not_article"


WEBSITE_TYPED_ARTICLE = """<html lang="en"><head><meta charset="utf-8"><title>Harbour ferry pier reopens | Lantau Ledger</title>
<meta property="og:type" content="website"></head><body>
<nav><a href="/">Home</a> <a href="/island">Island</a> <a href="/transport">Transport</a></nav>
<h1>Harbour ferry pier reopens after six months of repairs</h1>
<p class="byline">By Grace Tam, 12 March 2025 08:30</p>
<p>The ferry pier at Mui Wo reopened on Tuesday morning after six months of repairs to its piles and deck, and the
first sailing to Central left on time with about two hundred passengers on board, most of them commuters.</p>
<p>Engineers replaced forty of the pier's concrete piles, which had cracked after two typhoons in a row, and laid a
new deck with a rough finish so that it is less slippery in the rain, the transport department said.</p>
<p>During the works passengers boarded from a temporary pontoon a few minutes' walk away. Shop owners near the pier
said business had fallen by a third and they hoped the reopening would bring their customers back by the summer.</p>
<p>The department said it would inspect the island's other piers this year and publish a timetable for any repairs
that were needed, starting with the two smallest piers on the south coast.</p>
</body></html>"""


def test_a_dated_article_on_a_page_typed_website_is_an_article() -> None:
    """Many CMSs mark every page og:type=website: a page with its own date and an article's text is an article
    (an undated about page, or a home or tag page with a few teasers, is not: the test above)."""
    rec = extract_article(WEBSITE_TYPED_ARTICLE.encode(), f"{BASE}/en/2025/03/12/pier.html")
    assert rec.status == "ok"
    assert rec.published and rec.published.startswith("2025-03-12")
    undated = WEBSITE_TYPED_ARTICLE.replace("By Grace Tam, 12 March 2025 08:30", "By Grace Tam")
    assert extract_article(undated.encode(), f"{BASE}/en/pier.html").status == "not_article"
    fed = extract_article(undated.encode(), f"{BASE}/en/pier.html", Hints(published="2025-03-12T08:30:00+08:00"))
    assert fed.status == "not_article"  # a date from a feed or sitemap is not the page's own


@pytest.mark.parametrize("page", [b"", b"   \n  ", b"<html><head><title>x</title></head><body></body></html>"])
def test_empty_page_has_no_text(page: bytes) -> None:
    rec = extract_article(page, f"{BASE}/en/2025/10/05/empty.html")
    assert rec.status == "no_text"
    assert rec.text == ""


def test_tiny_page_is_too_short() -> None:
    page = (b"<html><head><title>Ferry news</title></head><body><article><h1>Ferry news</h1>"
            b"<p>The ferry will run late on Friday.</p></article></body></html>")
    rec = extract_article(page, f"{BASE}/en/2025/10/05/tiny.html")
    assert rec.status == "too_short"
    assert "ferry will run late" in rec.text


def test_date_from_feed_hint_when_page_has_none() -> None:
    paragraphs = "".join(
        f"<p>Paragraph {i} of a report on the new ferry pier, which residents of the island have waited for "
        f"since the old one was damaged in a storm several years ago, according to the operator.</p>"
        for i in range(6)
    )
    page = f"<html lang='en'><head><title>Pier opens</title></head><body><article><h1>Pier opens</h1>{paragraphs}" \
           f"</article></body></html>".encode()
    rec = extract_article(page, f"{BASE}/en/pier.html", Hints(published="2025-10-02T11:05:00+08:00"))

    assert rec.status == "ok"
    assert rec.published is not None and rec.published.startswith("2025-10-02")
    assert rec.published_source == "feed-or-sitemap"


@pytest.mark.parametrize(
    ("title", "sitename", "h1", "expected"),
    [
        ("Headline of the day | Lantau Ledger", "Lantau Ledger", None, "Headline of the day"),
        ("Lantau Ledger - Headline of the day", "Lantau Ledger", None, "Headline of the day"),
        ("Ferry fares: what commuters need to know | Lantau Ledger", "Lantau Ledger", None,
         "Ferry fares: what commuters need to know"),
        # Separators inside the headline survive when the site name is stripped.
        ("Hong Kong - Macau ferry fares rise | Lantau Ledger", "Lantau Ledger", None,
         "Hong Kong - Macau ferry fares rise"),
        # The <h1> wins when the title contains it.
        ("深水埗荣昌街街市翻新工程下月动工 | 九龙邮报", "九龍郵報", "深水埗荣昌街街市翻新工程下月动工", "深水埗荣昌街街市翻新工程下月动工"),
        # A short trailing segment (a site name not declared anywhere) goes.
        ("A long headline about what happened at the pier today | LL", None, None,
         "A long headline about what happened at the pier today"),
        ("No separator at all", "Lantau Ledger", None, "No separator at all"),
        # Hyphenated words are not separators.
        ("Covid-19 cases rise on Lantau", None, None, "Covid-19 cases rise on Lantau"),
        (None, "Lantau Ledger", "The h1 headline", "The h1 headline"),
        (None, None, None, None),
        ("  Extra   spaces | Lantau Ledger ", "Lantau Ledger", None, "Extra spaces"),
    ],
)
def test_clean_title(title: str | None, sitename: str | None, h1: str | None, expected: str | None) -> None:
    assert clean_title(title, sitename, h1) == expected


def test_clean_title_keeps_headline_that_starts_like_the_site_name() -> None:
    title = "Hong Kong – Macau bridge traffic doubles"
    assert clean_title(title, "Hong Kong Free Press", None) == title


def test_source_author_and_editor_lines_are_trimmed_from_the_edges_only() -> None:
    from crawler.extraction import _trim_edges

    body = (
        "来源：新报\u3000作者：李明华\n"
        "文化部周五表示，将于明年举办三场展览。\n"
        "时间：展览为期两周的安排仍在讨论中，主办方表示会另行公布。\n"
        "有关方面称，门票将免费派发。\n"
        "（责任编辑：周颖）\n"
        "分享到："
    )
    trimmed = _trim_edges(body)
    assert "来源" not in trimmed and "责任编辑" not in trimmed and "分享到" not in trimmed
    # A paragraph that merely starts like a label, and one inside the body, stay.
    assert trimmed.startswith("文化部周五表示")
    assert "时间：展览为期两周" in trimmed and trimmed.endswith("门票将免费派发。")
    english = "Advertisement\nThe council voted on Tuesday.\nRead more: other stories"
    assert _trim_edges(english) == "The council voted on Tuesday."


def test_body_does_not_repeat_a_headline_that_follows_a_kicker() -> None:
    """A wire story opens with a section kicker, then the headline: neither is body text."""
    paras = [
        ("The harbour ferry operator will add two late sailings on weekdays from next month, the transport "
        "department said on Tuesday, after a year of complaints from residents of the outlying islands."),
        ("The new sailings leave the central pier at half past eleven and at midnight, and return twenty minutes "
        "later; fares will be the same as on the last existing sailing, the department said in a statement."),
    ]
    html = ('<html><head><title>Ferry operator adds late sailings | Harbour Wire</title></head><body><article>'
            '<p class="kicker">Transport</p><h1>Ferry operator adds late sailings</h1>'
            + "".join(f"<p>{p}</p>" for p in paras) + "</article></body></html>")
    rec = extract_article(html, "http://127.0.0.1:8123/news/ferry.html")
    assert rec.title == "Ferry operator adds late sailings"
    assert rec.text.split("\n") == paras


CONSENT_WALL = """<html><head><title>Council approves harbour tunnel toll cut | Harbour Herald</title></head><body>
<div id="consent-overlay" class="cmp-wall gdpr">
<h2>We value your privacy</h2>
<p>We and our 812 partners store and/or access information on a device, such as cookies, and process personal
data for personalised ads and content, ad and content measurement, audience insights and product development.</p>
<p>You can accept all cookies or manage your privacy choices at any time in Cookie settings.</p>
<button>Accept all cookies</button> <button>Manage preferences</button>
</div></body></html>"""

ARTICLE_WITH_COOKIE_BANNER = """<html><head><title>Council approves harbour tunnel toll cut</title></head><body>
<div class="cookie-banner">We use cookies. <a href="/privacy">Cookie policy</a> <button>Accept all cookies</button></div>
<article><h1>Council approves harbour tunnel toll cut</h1>
<p>The city council voted on Wednesday to cut the toll on the western harbour tunnel by a third from January,
after two years of complaints from drivers who said the crossing cost far more than the other two tunnels.</p>
<p>The operator will be paid the difference from the transport fund until its franchise ends in four years,
and the council said it expected traffic on the eastern crossing, the busiest of the three, to fall.</p>
<p>Drivers' groups welcomed the decision but said the cut should have come sooner, pointing to queues that
stretch back more than two kilometres at the eastern tunnel entrance most weekday mornings.</p>
</article></body></html>"""


def test_consent_wall_is_not_an_article() -> None:
    rec = extract_article(CONSENT_WALL, "http://127.0.0.1:8123/news/toll.html")
    assert rec.status == "consent_wall"


def test_article_with_a_cookie_banner_is_an_article() -> None:
    rec = extract_article(ARTICLE_WITH_COOKIE_BANNER, "http://127.0.0.1:8123/news/toll.html")
    assert rec.status == "ok"
    assert "cookies" not in rec.text.lower()
