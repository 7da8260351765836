"""The shortcuts that make extraction cheaper must decide exactly what the slow path decides.

Each test compares a shortcut with the code it stands in for (trafilatura's own function, the plain search,
langdetect) on pages and lines written here.
"""
from __future__ import annotations

import random

import lxml.html
import pytest
from trafilatura.metadata import extract_author

import crawler.extraction as ce
from crawler.extraction import _anchor_index, _extract_author, _link_share, extract_article

PARA = ("The harbour ferry timetable changes on Monday, and the operator says that the first sailing will leave "
        "at six in the morning. Residents of the island have asked for more evening sailings for years. ")


def page(body: str, head: str = "", lang: str = "en") -> str:
    return (f'<html lang="{lang}"><head><title>Ferry timetable | Lantau Ledger</title>{head}</head>'
            f"<body>{body}</body></html>")


AUTHOR_PAGES = {
    "class author": page(f'<article><h1>Ferry</h1><span class="author">Priscilla Ng</span><p>{PARA}</p></article>'),
    "byline class": page(f'<article><div class="byline">By Marcus Leung</div><p>{PARA}</p></article>'),
    "rel author": page(f'<article><a rel="author" href="/p/ng">Priscilla Ng</a><p>{PARA}</p></article>'),
    "itemprop": page(f'<article><span itemprop="author">Marcus Leung</span><p>{PARA}</p></article>'),
    "data-component": page(f'<article><div data-component="Byline">Marcus Leung</div><p>{PARA}</p></article>'),
    "chinese id": page(f'<div id="zuozhe">作者：陈晓岚</div><p>{PARA}</p>', lang="zh-CN"),
    "author tag": page(f"<article><author>Priscilla Ng</author><p>{PARA}</p></article>"),
    "author inside comments": page(
        f'<article><p>{PARA}</p></article><div class="comments"><span class="author">a reader</span></div>'),
    "author beside a date": page(
        f'<article><p class="byline">By Marcus Leung <time datetime="2025-10-02">2 Oct</time></p><p>{PARA}</p></article>'),
    "time glued to the name": page(
        f'<article><p class="byline">By<time datetime="2025-10-02">2 Oct</time>Marcus Leung</p><p>{PARA}</p></article>'),
    "first candidate too long": page(
        f'<article><div class="author">{PARA}</div><span class="author-name">Priscilla Ng</span></article>'),
    "author in sidebar": page(
        f'<div class="sidebar"><span class="author">Sidebar Person</span></div><div class="writer">Marcus Leung</div>'),
    "no author": page(f'<article><h1 class="headline">Ferry</h1><p class="lead">{PARA}</p></article>'),
    "author-like words elsewhere": page(f'<div class="authorised-dealers"><p>{PARA}</p></div>'),
}


@pytest.mark.parametrize("name", sorted(AUTHOR_PAGES))
def test_author_gate_finds_what_trafilatura_finds(name: str) -> None:
    tree = lxml.html.fromstring(AUTHOR_PAGES[name])
    assert _extract_author(tree) == extract_author(tree)


TAGS = ["div", "span", "p", "a", "section", "h3", "h4", "strong", "time", "figure", "address", "li", "link"]
CLASSES = ["", "author", "byline", "Byline", "author-name", "authorName", "comments", "commentlist", "sidebar", "date",
           "title", "print-button", "quote", "writer", "username", "meta-date", "article-share", "lead", "Comments x"]
IDS = ["", "author", "comments", "comment-list", "zuozhe", "AuthorBox", "main", "ProductReviews"]


def _random_page(rng: random.Random, depth: int = 0) -> str:
    parts = []
    for _ in range(rng.randint(1, 4)):
        tag = rng.choice(TAGS)
        attrs = ""
        if rng.random() < 0.6:
            attrs += f' class="{rng.choice(CLASSES)}"'
        if rng.random() < 0.3:
            attrs += f' id="{rng.choice(IDS)}"'
        if rng.random() < 0.1:
            attrs += rng.choice([' itemprop="author"', ' rel="author"', ' data-component="Byline"',
                                 ' data-component="Figure"', ' data-testid="AuthorCard"'])
        inner = rng.choice(["", "By", " Marcus Leung ", "Priscilla Ng", "Lantau Ledger staff", PARA[:50]])
        if depth < 3 and rng.random() < 0.5:
            inner += _random_page(rng, depth + 1)
        tail = rng.choice(["", "", " and ", "Ng", " 2 Oct "])
        parts.append(f"<{tag}{attrs}>{inner}</{tag}>{tail}")
    return "".join(parts)


def test_author_search_equals_trafilatura_on_generated_pages() -> None:
    """Nested bylines, discarded dates and comment sections inside them, texts glued to their tails."""
    rng = random.Random(7)
    found = 0
    for _ in range(400):
        tree = lxml.html.fromstring(page(_random_page(rng)))
        expected = extract_author(tree)
        found += expected is not None
        assert _extract_author(tree) == expected, lxml.html.tostring(tree)
    assert found > 100  # the generated pages do carry authors


def test_trafilatura_author_search_runs_only_on_odd_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """trafilatura's own (costly) function is the fallback for <author> elements only."""
    import trafilatura.metadata

    def fail(tree: object) -> None:
        raise AssertionError("extract_author called")

    monkeypatch.setattr(trafilatura.metadata, "extract_author", fail)
    assert _extract_author(lxml.html.fromstring(AUTHOR_PAGES["no author"])) is None
    assert _extract_author(lxml.html.fromstring(AUTHOR_PAGES["class author"])) == "Priscilla Ng"
    with pytest.raises(AssertionError):
        _extract_author(lxml.html.fromstring(AUTHOR_PAGES["author tag"]))


def test_author_from_byline_class_reaches_the_record() -> None:
    rec = extract_article(AUTHOR_PAGES["byline class"], "http://127.0.0.1/a")
    assert rec.authors == ("Marcus Leung",)


def _plain_link_share(line: str, anchors: set[str]) -> float:
    """The search the prefix index replaced: every link text of the page looked for in the line."""
    if line in anchors:
        return 1.0
    covered = sum(len(a) * line.count(a) for a in anchors if len(a) >= ce._MIN_ANCHOR and a in line)
    return min(1.0, covered / len(line))


def test_link_share_by_prefix_index_equals_plain_search() -> None:
    rng = random.Random(4)
    alphabet = "港九龍新界巴士渡輪abc "
    anchors = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 9))) for _ in range(300)}
    anchors |= {"更多新聞", "Read more", "渡輪渡輪", "aaaa"}
    index = _anchor_index(anchors)
    lines = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 60))) for _ in range(500)]
    lines += ["更多新聞", "Read more: ferry timetable", "渡輪渡輪渡輪", "aaaaaaa", "abc"]
    for line in lines:
        assert _link_share(line, anchors, index) == pytest.approx(_plain_link_share(line, anchors)), line


def test_declared_english_with_english_text_skips_langdetect(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(text: str) -> None:
        raise AssertionError("langdetect called")

    monkeypatch.setattr("dedupe.language._langdetect", fail)
    rec = extract_article(page(f"<article><h1>Ferry</h1><p>{PARA * 3}</p></article>"), "http://127.0.0.1/a")
    assert (rec.language, rec.language_source) == ("en", "declared")


GERMAN = ("Die Fähre nach Lantau fährt ab Montag nach einem neuen Fahrplan. Die Bewohner der Insel fordern seit "
          "Jahren mehr Abendfahrten, und der Betreiber prüft nun zusätzliche Verbindungen am Wochenende. ")


def test_page_declaring_english_in_german_is_still_german() -> None:
    """A wrong declaration is not trusted: the text has no English function words, so langdetect decides."""
    rec = extract_article(page(f"<article><h1>Fähre</h1><p>{GERMAN * 3}</p></article>"), "http://127.0.0.1/a")
    assert (rec.language, rec.language_source) == ("de", "langdetect")


def test_undeclared_english_text_reads_as_english(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(text: str) -> None:
        raise AssertionError("langdetect called")

    monkeypatch.setattr("dedupe.language._langdetect", fail)
    html = f"<html><head><title>Ferry</title></head><body><article><p>{PARA * 3}</p></article></body></html>"
    rec = extract_article(html, "http://127.0.0.1/a")
    assert (rec.language, rec.language_source) == ("en", "words")


def test_english_text_on_a_page_declaring_another_language_goes_to_langdetect() -> None:
    rec = extract_article(page(f"<article><p>{PARA * 3}</p></article>", lang="de"), "http://127.0.0.1/a")
    assert (rec.language, rec.language_source) == ("en", "langdetect")


ZH_PARA = "九龙城区议会昨日讨论渡轮时间表的修改，多名议员要求营运商增加晚间班次，并在周末提供更多航班。" * 3


@pytest.mark.parametrize(("html", "precision"), [
    (page(f"<article><h1>Ferry</h1><p>{PARA * 3}</p></article>"), True),
    (page(f"<article><p>{GERMAN * 3}</p></article>", lang="de"), True),
    # no declared language: the script of what the page shows decides
    (f"<html><body><article><h1>渡轮</h1><p>{ZH_PARA}</p></article></body></html>", False),
    (page(f"<article><p>{ZH_PARA}</p><p>{PARA}</p></article>", lang="en"), False),
    (page("<article><p>" + "港の渡し船の時刻表が月曜日に変わります。" * 8 + "</p></article>", lang="ja"), False),
])
def test_trafilatura_mode_follows_the_pages_script(monkeypatch: pytest.MonkeyPatch, html: str, precision: bool) -> None:
    """Latin and other alphabetic pages are extracted in trafilatura's precision mode (English F1 0.967 -> 0.973 on
    scrapinghub-aeb); Chinese, Japanese and Korean pages in its balanced mode, where precision mode drops article
    paragraphs and our line filter cuts the boilerplate instead."""
    import trafilatura

    seen: list[bool] = []
    real = trafilatura.bare_extraction

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(bool(kwargs.get("favor_precision")))
        return real(*args, **kwargs)

    monkeypatch.setattr(ce.trafilatura, "bare_extraction", spy)
    extract_article(html, "http://127.0.0.1/a")
    assert seen == [precision]


@pytest.mark.parametrize("encoding", ["utf-8", "gbk", None])
def test_control_character_does_not_cut_the_page(encoding: str | None) -> None:
    """A backspace inside a caption made libxml2 stop parsing; it is stripped whether the page comes as bytes
    (where it is looked for in the bytes first) or as text."""
    html = page(f"<article><h1>Ferry</h1><p>{PARA}</p><p>Caption\x08 text.</p><p>After the caption. {PARA}</p>"
                "</article>")
    rec = extract_article(html.encode(encoding) if encoding else html, "http://127.0.0.1/a")
    assert "After the caption." in rec.text and "\x08" not in rec.text
