"""URL canonicalisation (one article, one URL) and the default article-URL heuristic."""
from __future__ import annotations

import pytest

from crawler.urls import canonicalize, looks_like_article


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # utm_* parameters and the fragment go; the path stays.
        ("https://news.example/en/2025/10/02/ferry.html?utm_source=rss&utm_campaign=x#comments",
         "https://news.example/en/2025/10/02/ferry.html"),
        # fbclid and gclid are click trackers.
        ("https://news.example/a/story?fbclid=IwAR0abc&gclid=xyz", "https://news.example/a/story"),
        # Default ports dropped, scheme and host lower-cased.
        ("HTTP://News.EXAMPLE:80/a", "http://news.example/a"),
        ("https://News.Example:443/a", "https://news.example/a"),
        # A non-default port is part of the address.
        ("http://127.0.0.1:8123/en/index.html#top", "http://127.0.0.1:8123/en/index.html"),
        # Content parameters are kept, in their original order, with trackers removed from between them.
        ("https://news.example/view?story=9&utm_medium=feed&id=5&p=2",
         "https://news.example/view?story=9&id=5&p=2"),
        ("https://news.example/view?p=2&id=5", "https://news.example/view?p=2&id=5"),
        # An empty path is the root.
        ("https://news.example", "https://news.example/"),
        # The path keeps its case (servers may be case-sensitive).
        ("https://news.example/News/Story-ABC", "https://news.example/News/Story-ABC"),
    ],
)
def test_canonicalize(url: str, expected: str) -> None:
    assert canonicalize(url) == expected


def test_canonicalize_is_idempotent() -> None:
    url = "HTTPS://News.Example:443/view?story=9&utm_source=x&id=5#frag"
    once = canonicalize(url)
    assert canonicalize(once) == once
    assert "utm_" not in once and "#" not in once


def test_canonicalize_keeps_repeated_parameters() -> None:
    assert canonicalize("https://news.example/s?tag=a&tag=b") == "https://news.example/s?tag=a&tag=b"


def test_canonicalize_tracking_parameter_names_ignore_case() -> None:
    assert canonicalize("https://news.example/a?UTM_Source=x&FBCLID=y&id=1") == "https://news.example/a?id=1"


def test_canonicalize_keeps_ipv6_brackets() -> None:
    assert canonicalize("http://[::1]:8080/news/2025/10/03/x.html?utm_source=a") == "http://[::1]:8080/news/2025/10/03/x.html"


@pytest.mark.parametrize(
    "url",
    [
        "https://news.example/2025/10/03/city-to-install-cameras.html",
        "https://news.example/en/2025/10/03/cameras.html",
        "https://news.example/news/12345678",
        "https://news.example/article/cameras",
        "https://news.example/local/city-plans-more-street-cameras",
    ],
)
def test_looks_like_article_accepts_article_urls(url: str) -> None:
    assert looks_like_article(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://news.example/",
        "https://news.example",
        "https://news.example/en/index.html",
        "https://news.example/tag/cctv.html",
        "https://news.example/en/tag/cctv.html",
        "https://news.example/about.html",
        "https://news.example/category/hong-kong-news",
        "https://news.example/author/marcus-leung",
        "https://news.example/feed/",
        "https://news.example/video/2025/10/03/city-plans-cameras",
        "https://news.example/images/2025/10/03/street-camera-photo.jpg",
        "https://news.example/search?q=cameras",
    ],
)
def test_looks_like_article_rejects_other_pages(url: str) -> None:
    assert not looks_like_article(url)


def test_whitespace_before_a_dropped_fragment_does_not_end_the_url() -> None:
    # found by hypothesis (tests/test_properties.py): '0\x0c#' gave '0\x0c', which canonicalised to '0'
    assert canonicalize("0\x0c#") == canonicalize("0") == "0"
    assert canonicalize("https://a.example/story \t#top") == "https://a.example/story"
