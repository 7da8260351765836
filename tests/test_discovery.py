"""Discovery: feeds, sitemaps (index, Google News, gzip), page links and advertised feeds."""
from __future__ import annotations

import gzip

import pytest

from conftest import fixture_page
from datetime import date

from crawler.discovery import (
    DiscoveryError,
    feed_links,
    link_texts,
    maybe_gunzip,
    next_page_link,
    page_links,
    parse_feed,
    parse_sitemap,
    parse_sitemap_dated,
    sitemap_period,
)

RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel>
  <title>Lantau Ledger</title><link>https://ledger.example/</link><language>en-gb</language>
  <item>
    <title>Pier reopens after repairs</title>
    <link>/en/2025/10/03/pier.html?utm_source=rss&amp;utm_medium=feed</link>
    <pubDate>Fri, 03 Oct 2025 19:40:00 +0800</pubDate>
    <category>Island News</category><category>Transport</category>
  </item>
  <item>
    <title>Library extends hours</title>
    <link>https://ledger.example/en/2025/10/01/library.html</link>
  </item>
  <item><title>An item without a link is skipped</title></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="zh-Hant">
  <title>港灣日報</title><id>urn:x</id><updated>2025-10-04T00:00:00Z</updated>
  <entry>
    <title>電車下月起調整路線</title>
    <link rel="enclosure" href="https://gw.example/audio/1.mp3"/>
    <link rel="alternate" href="https://gw.example/news/2025/10/01/tram.html"/>
    <id>1</id>
    <published>2025-10-01T11:00:00+08:00</published>
    <updated>2025-10-04T09:00:00Z</updated>
    <category term="交通"/>
  </entry>
  <entry>
    <title>西九展覽</title>
    <link href="/news/2025/09/29/comics.html"/>
    <id>2</id>
    <updated>2025-09-29T10:00:00Z</updated>
  </entry>
</feed>""".encode("utf-8")

SITEMAP_INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>https://ledger.example/sitemap-news.xml</loc><lastmod>2025-10-04</lastmod></sitemap>
  <sitemap><loc>/sitemap-2025-10.xml.gz</loc></sitemap>
</sitemapindex>"""

URLSET = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>https://ledger.example/en/2025/10/01/library.html</loc><lastmod>2025-10-01</lastmod></url>
  <url><loc>   </loc></url>
  <url><loc>https://ledger.example/en/2025/10/02/ferry.html</loc></url>
</urlset>"""


def test_parse_rss() -> None:
    entries = parse_feed(RSS, "https://ledger.example/en/rss.xml")

    assert [e.url for e in entries] == [
        "https://ledger.example/en/2025/10/03/pier.html?utm_source=rss&utm_medium=feed",
        "https://ledger.example/en/2025/10/01/library.html",
    ]
    first, second = entries
    assert first.via == "feed" and first.source == "https://ledger.example/en/rss.xml"
    assert first.title == "Pier reopens after repairs"
    assert first.published is not None and first.published.startswith("2025-10-03")
    assert first.keywords == ("Island News", "Transport")
    assert first.language == "en-gb"
    assert second.published is None
    assert second.keywords == ()


def test_parse_atom_prefers_alternate_link_and_published_date() -> None:
    entries = parse_feed(ATOM, "https://gw.example/atom.xml")

    assert [e.url for e in entries] == [
        "https://gw.example/news/2025/10/01/tram.html",
        "https://gw.example/news/2025/09/29/comics.html",
    ]
    tram, comics = entries
    assert tram.title == "電車下月起調整路線"
    # <published> 11:00 +08:00 is 03:00 UTC the same day; <updated> is a later edit, not the date.
    assert tram.published is not None and tram.published.startswith("2025-10-01")
    assert tram.keywords == ("交通",)
    assert tram.language == "zh-Hant"
    assert comics.published is not None and comics.published.startswith("2025-09-29")


def test_parse_fixture_feed() -> None:
    base = "http://127.0.0.1:8123"
    entries = parse_feed(fixture_page("en/rss.xml", base), f"{base}/en/rss.xml")

    urls = [e.url for e in entries]
    assert len(urls) == 5
    assert f"{base}/en/old-link.html" in urls
    assert f"{base}/private/draft.html" in urls
    assert any(u.startswith(f"{base}/en/2025/10/02/ferry-timetable.html?utm_source=rss&utm_campaign=x") for u in urls)


@pytest.mark.parametrize(
    "body",
    [b'<rss version="2.0"><channel><title>T</title></chan', b"\x00\x01\x02 binary <<<>>> garbage"],
    ids=["truncated-before-items", "binary"],
)
def test_broken_feed_raises(body: bytes) -> None:
    with pytest.raises(DiscoveryError):
        parse_feed(body, "https://ledger.example/rss.xml")


def test_valid_feed_without_items_is_empty_not_an_error() -> None:
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Quiet day</title></channel></rss>'
    assert parse_feed(body, "https://ledger.example/rss.xml") == []


def test_truncated_feed_keeps_complete_entries() -> None:
    body = RSS[: RSS.index(b"<item><title>An item")] + b"<item><title>cut off"
    assert [e.title for e in parse_feed(body, "https://ledger.example/en/rss.xml")] == [
        "Pier reopens after repairs", "Library extends hours",
    ]


@pytest.mark.parametrize(
    "body",
    [b"", b"  \n", b"<!DOCTYPE html><html><head><title>Home</title></head><body><p>Hi</p></body></html>"],
    ids=["empty", "blank", "html-page"],
)
def test_non_feed_body_raises(body: bytes) -> None:
    """An empty response or an HTML page at the feed URL is a discovery failure, not an empty feed."""
    with pytest.raises(DiscoveryError):
        parse_feed(body, "https://ledger.example/rss.xml")


def test_feed_cut_off_in_first_item_raises() -> None:
    """feedparser yields a link-less partial entry here; that is still not a readable feed."""
    with pytest.raises(DiscoveryError):
        parse_feed(b'<rss version="2.0"><channel><title>T</title><item><title>cut off</ti',
                   "https://ledger.example/rss.xml")


def test_parse_sitemap_index() -> None:
    children, entries = parse_sitemap(SITEMAP_INDEX, "https://ledger.example/sitemap_index.xml")

    assert children == ["https://ledger.example/sitemap-news.xml", "https://ledger.example/sitemap-2025-10.xml.gz"]
    assert entries == []


def test_parse_fixture_sitemap_index() -> None:
    base = "http://127.0.0.1:8123"
    children, entries = parse_sitemap(fixture_page("zh/sitemap_index.xml", base), f"{base}/zh/sitemap_index.xml")
    assert children == [f"{base}/zh/news-sitemap.xml"]
    assert entries == []


def test_google_news_sitemap_keeps_news_fields() -> None:
    base = "http://127.0.0.1:8123"
    children, entries = parse_sitemap(fixture_page("zh/news-sitemap.xml", base), f"{base}/zh/news-sitemap.xml")

    assert children == []
    assert [e.url for e in entries] == [
        f"{base}/zh/gbk/2025/10/02/market.html",
        f"{base}/zh/big5/2025/10/03/story.html",
        f"{base}/zh/utf8/2025/10/04/minibus.html",
    ]
    market = entries[0]
    assert market.via == "news-sitemap"
    assert market.title == "深水埗荣昌街街市翻新工程下月动工 摊贩忧生意受影响"
    assert market.published == "2025-10-02T14:30:00+08:00"
    assert market.language == "zh-cn"
    assert market.keywords == ("深水埗", "街市", "翻新工程", "摊贩")
    assert entries[2].keywords == ("專線小巴", "觀塘", "將軍澳", "公共交通")
    assert entries[1].language == "zh-tw"


def test_plain_sitemap_uses_lastmod_and_skips_empty_loc() -> None:
    children, entries = parse_sitemap(URLSET, "https://ledger.example/sitemap.xml")

    assert children == []
    assert [(e.url, e.via, e.published) for e in entries] == [
        ("https://ledger.example/en/2025/10/01/library.html", "sitemap", "2025-10-01"),
        ("https://ledger.example/en/2025/10/02/ferry.html", "sitemap", None),
    ]
    assert all(e.title is None and e.keywords == () for e in entries)


def test_gzip_sitemap() -> None:
    children, entries = parse_sitemap(gzip.compress(URLSET), "https://ledger.example/sitemap.xml.gz")
    assert children == []
    assert [e.url for e in entries] == [
        "https://ledger.example/en/2025/10/01/library.html",
        "https://ledger.example/en/2025/10/02/ferry.html",
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   \n",
        b"this is not xml at all",
        b"<!DOCTYPE html><html><body><p>Not found</p></body></html>",
        gzip.compress(URLSET)[:40],
        gzip.compress(b""),
    ],
    ids=["empty", "blank", "text", "html", "truncated-gzip", "empty-gzip"],
)
def test_unreadable_sitemap_raises(body: bytes) -> None:
    with pytest.raises(DiscoveryError):
        parse_sitemap(body, "https://ledger.example/sitemap.xml")


def test_corrupt_gzip_sitemap_raises_discovery_error() -> None:
    body = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 40
    with pytest.raises(DiscoveryError):
        parse_sitemap(body, "https://ledger.example/sitemap.xml.gz")


def test_gzip_bomb_beyond_cap_raises() -> None:
    bomb = gzip.compress(b"<urlset>" + b" " * 2_000_000 + b"</urlset>")
    assert len(bomb) < 10_000

    with pytest.raises(DiscoveryError, match="100000"):
        maybe_gunzip(bomb, limit=100_000)


def test_gzip_within_cap_and_plain_bodies_pass() -> None:
    data = b"<urlset>" + b" " * 50_000 + b"</urlset>"
    assert maybe_gunzip(gzip.compress(data), limit=100_000) == data
    assert maybe_gunzip(data, limit=10) == data  # not gzip: returned as is


PAGE = """<html><head>
<link rel="alternate" type="application/rss+xml" title="RSS" href="/en/rss.xml">
<link rel="alternate" type="application/atom+xml" href="atom.xml">
<link rel="alternate" hreflang="zh-Hant" href="/zh/">
<link rel="stylesheet" href="/style.css">
</head><body>
<a href="2025/10/03/cameras.html">Cameras</a>
<a href="/en/2025/10/02/ferry.html#comments">Ferry</a>
<a href="2025/10/03/cameras.html">Cameras again</a>
<a href="https://other.example/story">Elsewhere</a>
<a href="mailto:desk@ledger.example">Mail</a>
<a href="javascript:void(0)">Menu</a>
<a>No href</a>
</body></html>"""


def test_page_links_are_absolute_ordered_and_unique() -> None:
    assert page_links(PAGE, "https://ledger.example/en/index.html") == [
        "https://ledger.example/en/2025/10/03/cameras.html",
        "https://ledger.example/en/2025/10/02/ferry.html#comments",
        "https://other.example/story",
    ]


def test_page_links_respect_base_href() -> None:
    page = '<html><head><base href="https://cdn.ledger.example/en/"></head><body><a href="x.html">x</a></body></html>'
    assert page_links(page, "https://ledger.example/index.html") == ["https://cdn.ledger.example/en/x.html"]


def test_feed_links_only_feeds() -> None:
    assert feed_links(PAGE, "https://ledger.example/en/index.html") == [
        "https://ledger.example/en/rss.xml",
        "https://ledger.example/en/atom.xml",
    ]


def test_links_of_empty_page() -> None:
    assert page_links("", "https://ledger.example/") == []
    assert feed_links("", "https://ledger.example/") == []


def test_feed_links_respect_base_href() -> None:
    page = ('<html><head><base href="https://cdn.ledger.example/en/">'
            '<link rel="alternate" type="application/rss+xml" href="rss.xml"></head><body></body></html>')
    assert feed_links(page, "https://ledger.example/index.html") == ["https://cdn.ledger.example/en/rss.xml"]


# --- dated child sitemaps, search result pages (topic crawls) ------------------------------------------------------
def test_parse_sitemap_dated_keeps_child_lastmod() -> None:
    children, entries = parse_sitemap_dated(SITEMAP_INDEX, "https://ledger.example/sitemap.xml")
    assert children == [("https://ledger.example/sitemap-news.xml", "2025-10-04"),
                        ("https://ledger.example/sitemap-2025-10.xml.gz", None)]
    assert entries == []


@pytest.mark.parametrize(("url", "period"), [
    ("https://x.example/sitemap-2024-03.xml", (date(2024, 3, 1), date(2024, 3, 31))),
    ("https://x.example/sitemap-2024-02.xml.gz", (date(2024, 2, 1), date(2024, 2, 29))),
    ("https://x.example/post-sitemap-2023.xml", (date(2023, 1, 1), date(2023, 12, 31))),
    ("https://x.example/sitemaps/2024/03/15/news.xml", (date(2024, 3, 15), date(2024, 3, 15))),
    ("https://x.example/sitemap_20240315.xml", (date(2024, 3, 15), date(2024, 3, 15))),
    ("https://x.example/sitemap.xml?yyyy=2024&mm=03", (date(2024, 3, 1), date(2024, 3, 31))),
    ("https://x.example/archive/2019/sitemap-2024-01.xml", (date(2024, 1, 1), date(2024, 1, 31))),
    ("https://x2024.example:2024/sitemap-posts-2.xml", None),  # host and port are not dates
    ("https://x.example/sitemap-12345.xml", None),
    ("https://x.example/sitemap-news.xml", None),
])
def test_sitemap_period_from_url(url: str, period: tuple[date, date] | None) -> None:
    assert sitemap_period(url) == period


def test_next_page_link_rel_next_then_text() -> None:
    base = "https://x.example/search?q=a"
    assert next_page_link('<a href="?q=a&page=2" rel="next">2</a>', base) == "https://x.example/search?q=a&page=2"
    assert next_page_link('<head><link rel="next" href="/s/2"></head>', base) == "https://x.example/s/2"
    assert next_page_link('<a href="/s/1">Previous</a> <a href="/s/3">Next page »</a>', base) == "https://x.example/s/3"
    assert next_page_link('<a href="/s/3">下一頁</a>', base) == "https://x.example/s/3"
    assert next_page_link('<a href="/s/3">下一页 ›</a>', base) == "https://x.example/s/3"
    assert next_page_link('<a href="/news/next-steps-for-harbour">Next steps for the harbour plan</a>', base) is None
    assert next_page_link("<p>No results</p>", base) is None
    # Numbered pages only: the link reading the next number on the same path, when the page number is known.
    numbered = '<a href="/news/2">2</a> <a href="/search?q=a&amp;page=3">3</a> <a href="/search?q=a&amp;page=2">2</a>'
    assert next_page_link(numbered, base, page=1) == "https://x.example/search?q=a&page=2"
    assert next_page_link(numbered, base) is None


def test_link_texts() -> None:
    html = '<a href="/a">  Hong Kong\n CCTV </a><a href="/a">again</a><a href="mailto:x@y">m</a><a href="/b"><b>B</b></a>'
    assert link_texts(html, "https://x.example/") == [("https://x.example/a", "Hong Kong CCTV"),
                                                       ("https://x.example/b", "B")]
