"""What a page means: a plain function of (html, url) that returns an extracted article record.

trafilatura extracts the body, title, date and authors; this module decodes the bytes, prefers the
article's own metadata for the date, strips the site name from the title, tags the language (with how it
was decided) and gives every page an `extraction_status` instead of a bogus article.
"""
from __future__ import annotations

import logging
import re
import unicodedata
from datetime import datetime
from typing import Any

import lxml.html
import trafilatura
from htmldate import find_date
from lxml import etree

from crawler.encoding import binary_kind, decode_html
from crawler.extracted import Extracted, Hints
from dedupe.chinese import HAN_RE
from dedupe.language import LanguageDecision, detect_language, normalise_tag

log = logging.getLogger(__name__)

MIN_WORDS = 60
_HAN_RUN = re.compile(HAN_RE.pattern + "+")


def _han_count(text: str) -> int:
    """How many Han characters `text` holds (counted by runs: a list of every character costs 4x more)."""
    return sum(map(len, _HAN_RUN.findall(text)))

MIN_HAN_CHARS = 120


_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_BYTES = bytes([*range(0, 9), 11, 12, *range(14, 32), 127])
_TITLE_SEP = re.compile(r"\s+[|\-–—:·•»]\s+|\s*[|｜_]\s*")


def clean_title(title: str | None, sitename: str | None, h1: str | None) -> str | None:
    """Drop a site-name prefix or suffix ("Headline | Outlet", "Outlet - Headline")."""
    if not title:
        return h1 or None
    t = " ".join(title.split())
    if h1:
        h = " ".join(h1.split())
        if h and h in t and len(h) >= 0.4 * len(t):
            return h
    parts = [p for p in _TITLE_SEP.split(t) if p.strip()]
    if len(parts) > 1:
        site = (sitename or "").strip().lower()
        # A segment is the site name when it contains the whole name ("Harbour Herald", "HKFP - Hong Kong
        # Free Press"); a headline segment that merely starts like the name ("Hong Kong") is not.
        if site and site in parts[-1].strip().lower():
            return " ".join(_rejoin(t, parts[:-1]).split())
        if site and site in parts[0].strip().lower():
            return " ".join(_rejoin(t, parts[1:]).split())
        if len(parts[-1]) <= 30 and len(parts[-1]) < len(parts[0]) / 2:
            return " ".join(_rejoin(t, parts[:-1]).split())
    return t


def _rejoin(original: str, parts: list[str]) -> str:
    """The span of `original` from the first to the last of `parts` (keeps internal separators)."""
    start = original.find(parts[0])
    end = original.rfind(parts[-1]) + len(parts[-1])
    return original[start:end] if start >= 0 and end > start else " ".join(parts)


_EMPTY_LINKS_IN_PARAGRAPHS = etree.XPath("//p//a[not(normalize-space())]")


def _meta_index(tree: Any) -> dict[tuple[str, str], str]:
    """{(attribute, name): content} of the page's <meta> tags, first non-empty one of each (one pass)."""
    index: dict[tuple[str, str], str] = {}
    for el in tree.iter("meta"):
        content = (el.get("content") or "").strip()
        if content:
            for attr in ("property", "name", "itemprop"):
                if (name := el.get(attr)) is not None:
                    index.setdefault((attr, name), content)
    return index


def _meta(tree: Any, *names: str) -> str | None:
    """The first <meta property|name|itemprop=NAME content> among `names` (`tree` or its `_meta_index`)."""
    index = tree if isinstance(tree, dict) else _meta_index(tree)
    for name in names:
        for attr in ("property", "name", "itemprop"):
            if (found := index.get((attr, name))) is not None:
                return found
    return None


# trafilatura's `extract_author` (2.3) copies the whole tree, prunes comment sections, dates and figures from the
# copy, and runs three XPaths whose `re:test` calls Python for every element of the page: 5-7 ms a page, a
# quarter of our overhead. `_extract_author` finds the same author by looking only at the elements whose class,
# id, itemprop, rel, data-testid or data-component holds one of the words those XPaths test for, with the
# XPaths' predicates written out below, and reads their text as it reads in the pruned copy.
# tests/test_extraction_fastpaths.py checks it against trafilatura's function.
_AUTHOR_ATTRS = etree.XPath("//@class | //@id | //@itemprop | //@rel | //@data-testid | //@data-component")
_AUTHOR_WORDS = re.compile(
    r"[Aa]uthor|[Bb]yl|BBL|username|screenname|writer|zuozhe|bianji|xiaobian|channel-name|submitted-by|posted-by"
    r"|journalist-name"
)
# <author> elements and <rel> children (which the first XPath also selects) and processing instructions (whose
# tails the copy's text joins differently): such a page takes trafilatura's own function.
_AUTHOR_ODD_NODES = etree.XPath("boolean(//author | //rel | //processing-instruction())")
_AUTHOR_CLASS_1 = re.compile(r"author-?name|AuthorName|authorName")
_AUTHOR_ID_2 = re.compile(r"author|zuozhe|bianji|xiaobian")
_AUTHOR_CLASS_2 = re.compile(r"author|channel-name|zuozhe|bianji|xiaobian|submitted-by|posted-by|journalist-name")
_AUTHOR_ID_3 = re.compile(r"[Aa]uthor")
_AUTHOR_CLASS_3 = re.compile(r"[Aa]uthor|screenname|writer|[Bb]yline")
_DISCARD_ID = re.compile(r"^comments|comment-?list|ProductReviews")
_DISCARD_CLASS = re.compile(
    r"^[Cc]omments|commentlist|comments-list|sidebar|is-hidden|quote|embedly-instagram|article-(?:share|support)"
    r"|print|category|meta-date|meta-reviewer"
)


def _author_xpath_1(el: Any) -> bool:
    return el.tag in ("a", "address", "div", "link", "p", "span", "strong") and (
        el.get("rel") == "author" or el.get("id") == "author" or el.get("class") == "author"
        or el.get("itemprop") == "author name" or el.get("data-testid") in ("AuthorCard", "AuthorURL")
        or bool(_AUTHOR_CLASS_1.search(el.get("class") or ""))
    )


def _author_xpath_2(el: Any) -> bool:
    return el.tag in ("a", "div", "h3", "h4", "p", "span") and (
        el.get("class") in ("byline", "username", "byl", "BBL") or "author" in (el.get("itemprop") or "")
        or bool(_AUTHOR_ID_2.search(el.get("id") or "")) or bool(_AUTHOR_CLASS_2.search(el.get("class") or ""))
    )


def _author_xpath_3(el: Any) -> bool:
    return (
        "Byline" in (el.get("data-component") or "") or "author" in (el.get("itemprop") or "")
        or bool(_AUTHOR_ID_3.search(el.get("id") or "")) or bool(_AUTHOR_CLASS_3.search(el.get("class") or ""))
    )


def _author_discarded(el: Any) -> bool:
    """trafilatura's AUTHOR_DISCARD_XPATHS: comment sections, sidebars, dates, figures."""
    if el.tag in ("time", "figure"):
        return True
    if el.tag not in ("a", "div", "section", "span"):
        return False
    elem_id, cls = el.get("id") or "", el.get("class") or ""
    return (
        elem_id == "comments" or cls in ("comments", "title", "date") or bool(_DISCARD_ID.search(elem_id))
        or bool(_DISCARD_CLASS.search(cls)) or "Figure" in (el.get("data-component") or "")
    )


def _pruned_text_pieces(el: Any, out: list[str]) -> None:
    """`el.itertext()` as it reads once discarded descendants are deleted (their tails joined to the text
    before them, as trafilatura's `delete_element` does)."""
    buf = el.text or ""
    for child in el:
        if _author_discarded(child):
            buf += child.tail or ""
            continue
        if buf:
            out.append(buf)
        if isinstance(child.tag, str):
            _pruned_text_pieces(child, out)
        buf = child.tail or ""
    if buf:
        out.append(buf)


def _extract_author(tree: Any) -> str | None:
    """The author trafilatura's `extract_author` finds (see above)."""
    from trafilatura.metadata import extract_author, normalize_authors

    values = _AUTHOR_ATTRS(tree)
    if not _AUTHOR_WORDS.search("\n".join(values)):
        return extract_author(tree) if _AUTHOR_ODD_NODES(tree) else None
    if _AUTHOR_ODD_NODES(tree):
        return extract_author(tree)
    candidates = list(dict.fromkeys(v.getparent() for v in values if _AUTHOR_WORDS.search(v)))
    for selects in (_author_xpath_1, _author_xpath_2, _author_xpath_3):
        for el in candidates:
            if not selects(el) or _author_discarded(el) or any(map(_author_discarded, el.iterancestors())):
                continue
            pieces: list[str] = []
            _pruned_text_pieces(el, pieces)
            content = " ".join(" ".join(pieces).split())
            if content and 2 < len(content) < 120:
                return normalize_authors(None, content)
    return None


def _page_metadata(tree: Any, url: str) -> Any:
    """Title, author and site name as trafilatura's `extract_metadata` finds them, without the parts we do
    not use (its date search, categories, tags, licence), which cost a third of the extraction time."""
    from trafilatura.metadata import (
        META_URL,
        examine_meta,
        extract_meta_json,
        extract_sitename,
        extract_title,
    )

    md = examine_meta(tree)
    if md.author and " " not in md.author:  # as trafilatura: a one-word meta author is usually a handle
        md.author = None
    try:
        md = extract_meta_json(tree, md)
    except Exception as exc:  # noqa: BLE001 - trafilatura's JSON-LD reader has bugs; no metadata then
        log.debug("%s: JSON-LD metadata unreadable (%s)", url, exc)
    md.title = md.title or extract_title(tree)
    md.author = md.author or _extract_author(tree)
    md.sitename = md.sitename or extract_sitename(tree)
    if md.sitename:
        md.sitename = md.sitename.lstrip("@")
        if md.sitename and "." not in md.sitename and not md.sitename[0].isupper():
            md.sitename = md.sitename.title()
    elif m := META_URL.match(url):
        md.sitename = m[1]
    return md


def _iso(value: str | None) -> str | None:
    """Normalise a date/datetime string to ISO 8601 (keeps the time and offset when present)."""
    if not value:
        return None
    v = value.strip()
    try:
        return datetime.fromisoformat(v.replace("Z", "+00:00")).isoformat()
    except ValueError:
        pass
    m = re.match(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})", v)
    if m:
        y, mo, d = (int(x) for x in m.groups())
        try:
            return datetime(y, mo, d).date().isoformat()
        except ValueError:
            return None
    try:
        from email.utils import parsedate_to_datetime

        return parsedate_to_datetime(v).isoformat()
    except (TypeError, ValueError, IndexError):
        return None


def _is_long_enough(text: str) -> bool:
    n_han = _han_count(text)
    if n_han >= MIN_HAN_CHARS:
        return True
    return len(text.split()) + n_han >= MIN_WORDS


_PAYWALL_MARKUP = re.compile(r"paywall|subscriber[-_ ]?only|premium[-_ ]content|metered|piano-|tp-modal|regwall", re.IGNORECASE)
_PAYWALL_TEXT = re.compile(
    r"subscribe (?:now )?to (?:continue|keep) reading|to continue reading,? (?:please )?(?:subscribe|log ?in|sign in)"
    r"|this (?:article|content) is (?:only )?(?:available|reserved) (?:to|for) subscribers|subscribers only"
    r"|订阅后(?:继续)?阅读|訂閱後(?:繼續)?閱讀|付费阅读|付費閱讀|登录后阅读全文|登入後閱讀全文",
    re.IGNORECASE,
)


def _looks_paywalled(tree: Any, html: str) -> bool:
    """Paywall markup or wording, or JSON-LD saying the article is not free to read."""
    if re.search(r'"isAccessibleForFree"\s*:\s*"?(?:false|False)"?', html):
        return True
    classes = " ".join(tree.xpath("//@class | //@id")[:3000])
    return bool(_PAYWALL_MARKUP.search(classes)) or bool(_PAYWALL_TEXT.search(tree.text_content()[:200000]))


# Cookie and consent walls (GDPR consent managers): the page shows a privacy notice instead of the article.
_CONSENT_MARKUP = re.compile(
    r"consent|gdpr|cookie[-_]?(?:banner|wall|notice|law)|onetrust|didomi|qc-cmp|sp_message|truste|cmp-|fc-consent",
    re.IGNORECASE,
)
_CONSENT_TEXT = re.compile(
    r"we (?:value|care about|respect) your privacy|(?:accept|agree to|allow) (?:all )?cookies|cookie (?:settings|"
    r"preferences|policy)|manage (?:your )?(?:cookie|consent|privacy) (?:settings|preferences|choices|options)"
    r"|before you continue|your privacy choices|(?:consent|agree) to (?:the use of |our use of )?cookies"
    r"|we and our (?:\d+ )?(?:partners|vendors)|store and/or access information on a device|personali[sz]ed ads"
    r"|使用cookie|使用 cookie|接受所有|同意并继续|同意並繼續|隐私设置|隱私設定|我们重视您的隐私|我們重視您的隱私",
    re.IGNORECASE,
)


# The page body's text nodes outside scripts and styles, as plain strings (lxml's default "smart" strings
# each keep a reference to their element, which costs more than the search).
# (A script or style element holds only text: its text nodes are its children.)
_BODY_TEXTS = etree.XPath("//body//text()[not(parent::script) and not(parent::style)]", smart_strings=False)


def _looks_like_consent_wall(tree: Any, text: str) -> bool:
    """The extracted text is a privacy/cookie notice (two or more consent phrases in a short text), or there is
    no article-length text and the page is built around a consent manager."""
    words = len(text.split()) + _han_count(text)
    if words < 300 and len(_CONSENT_TEXT.findall(text)) >= 2:
        return True
    if _is_long_enough(text):
        return False
    page_text = " ".join(_BODY_TEXTS(tree))[:20000]
    markup = " ".join(tree.xpath("//body//@class | //body//@id")[:3000])
    return bool(_CONSENT_TEXT.search(page_text)) and bool(_CONSENT_MARKUP.search(markup))


# Lines that open or close a body without being part of it: source, author, editor, date stamps, share and
# print widgets, "related" headers. Only the first and last few lines are examined, and only short ones.
_EDGE_LINE = re.compile(
    r"""^[\s(（【\[]*(?:
        (?:来源|來源|作者|编辑|編輯|责任编辑|責任編輯|责编|責編|记者|記者|撰文|文|图|圖|摄影|攝影|发布时间|發佈時間|
           发表时间|發表時間|时间|時間|日期|更新时间|更新時間|字号|字號|点击|點擊|浏览|瀏覽|阅读|閱讀|标签|標籤|关键词|關鍵詞)\s*[:：/]
      | (?:分享到|打印|列印|关闭窗口|關閉視窗|返回顶部|返回頂部|相关新闻|相關新聞|相关阅读|相關閱讀|延伸阅读|延伸閱讀|
           热点推荐|熱點推薦|网友评论|網友評論|我来说两句|我要评论|纠错|糾錯)
      | (?:advertisement|share\s+this|share\s+on|print\s+this|read\s+more|related\s+articles?|related\s+stories
           |follow\s+us)\b
    )""",
    re.IGNORECASE | re.VERBOSE,
)


# Legal lines that close a page whatever their length: disclaimers and copyright notices.
_LEGAL_LINE = re.compile(
    r"^[\s(（【\[]*(?:免责声明|免責聲明|版权声明|版權聲明|声明|聲明)\s*[:：]|版权所有|版權所有|all rights reserved|^copyright\b",
    re.IGNORECASE,
)


def _trim_edges(text: str, max_lines: int = 3, max_len: int = 80) -> str:
    """Drop source/author/editor/share lines from the start and end of an extracted body, and disclaimer or
    copyright lines from its end."""
    lines = text.split("\n")
    for _ in range(max_lines):
        if lines and _LEGAL_LINE.search(lines[-1].strip()):
            lines.pop()
    for _ in range(max_lines):
        if lines and len(lines[0].strip()) <= max_len and _EDGE_LINE.match(lines[0].strip()):
            lines.pop(0)
    for _ in range(max_lines):
        if lines and len(lines[-1].strip()) <= max_len and _EDGE_LINE.match(lines[-1].strip()):
            lines.pop()
    return "\n".join(lines).strip()


_LIST_MARK = re.compile(r"^(?:[-*•·・●◆■□▪►>»]\s*)+")
_PROSE_PUNCT = re.compile(r"[。！？；，、：,.!?;:”」』）)]")
_LETTER_WORD = re.compile(r"[^\W\d_]+")
# Tuned on the even-numbered pages (sorted by id) of the two Chinese developer sets; the odd-numbered ones
# were only measured (docs/quality.md).
_LINK_SHARE = 0.3  # a line whose text is at least this share of link text is navigation
_MIN_ANCHOR = 4  # link texts shorter than this are not searched for inside a line
_PROSE_LEN = 50  # characters (Han + words) that make a line prose by length alone
_PUNCT_LEN = 20  # ... or by length with sentence punctuation
_SENTENCE_LEN = 10  # ... or a sentence: this long and ending with a full stop, question or exclamation mark
_SENTENCE_END = re.compile(r"[。！？!?；;…」』”]\s*$")
_MIN_PENALTY = 5  # what a short non-prose line costs at least
_LINK_LINE_SHARE = 0.8  # other languages: a line with this share of link text is not article text


def _line_cells(text: str) -> list[str]:
    """The body's lines; a layout-table row holding prose becomes one line per non-empty cell."""
    lines = []
    for ln in text.split("\n"):
        st = ln.strip()
        if st.startswith("|"):
            cells = [c.strip() for c in st.strip("|").split(" | ") if c.strip()]
            if any(len(c) >= 30 for c in cells):
                lines.extend(cells)
                continue
        lines.append(ln)
    return lines


def _drop_headline(text: str, title: str | None) -> str:
    """trafilatura keeps the headline as a body line, sometimes after a kicker (a section label such as
    "Hong Kong"); it is the title, not text: drop it, and short lines before it, from the first three lines."""
    if not title:
        return text
    lines = text.split("\n")
    head = " ".join(title.split())
    for i, ln in enumerate(lines[:3]):
        if " ".join(ln.split()) == head:
            if all(len(x.strip()) <= 40 for x in lines[:i]):
                return "\n".join(lines[i + 1 :]).strip()
            break
    return text


def _body_lines(text: str, anchors: set[str]) -> str:
    """Cut a Chinese body down to its article: drop lines made mostly of link text (headline lists,
    navigation) and keep the contiguous run of lines with the most prose (the maximum-sum block, with prose
    lines counting for their length and other lines against it).

    trafilatura keeps portal boilerplate around Chinese articles (related-news lists, disclaimers, site
    navigation). In other languages only lines that are nearly all link text go: there the block cut loses more
    article than boilerplate.
    """
    long_anchors = _anchor_index(anchors)
    n_han = _han_count(text)
    if n_han < 0.3 * max(1, len(_LETTER_WORD.findall(HAN_RE.sub(" ", text))) + n_han):
        # Other languages: only lines that are (nearly) all link text go ("Read more: ...", related links).
        return "\n".join(
            ln for ln in text.split("\n")
            if not (core := " ".join(_LIST_MARK.sub("", ln.strip()).split()))
            or _link_share(core, anchors, long_anchors) < _LINK_LINE_SHARE
        ).strip()
    lines = _line_cells(text)
    scores: list[int] = []
    linked: list[bool] = []
    for ln in lines:
        core = " ".join(_LIST_MARK.sub("", ln.strip()).split())
        size = _han_count(core) + len(_LETTER_WORD.findall(HAN_RE.sub(" ", core)))
        is_link = bool(core) and _link_share(core, anchors, long_anchors) >= _LINK_SHARE
        prose = not is_link and (size >= _PROSE_LEN or (size >= _PUNCT_LEN and _PROSE_PUNCT.search(core))
                                 or (size >= _SENTENCE_LEN and _SENTENCE_END.search(core)))
        scores.append(size if prose else 0 if not core else -max(size, _MIN_PENALTY))
        linked.append(is_link)
    best, best_start, best_end = 0, 0, -1
    run, start = 0, 0
    for i, v in enumerate(scores):
        if run <= 0:
            run, start = v, i
        else:
            run += v
        if run > best:
            best, best_start, best_end = run, start, i
    if best_end < 0:  # no prose line at all: leave it to the status checks
        return text
    return "\n".join(ln for i, ln in enumerate(lines) if best_start <= i <= best_end and not linked[i]).strip()


def _link_share(line: str, anchors: set[str], long_anchors: dict[str, list[str]]) -> float:
    """The share of `line` that is the text of links on the page (`long_anchors`: `_anchor_index`)."""
    if line in anchors:
        return 1.0
    # Only anchors whose first characters occur in the line can occur in it: look those up by their prefix
    # instead of searching the line for every link text of the page.
    grams = {line[i : i + _MIN_ANCHOR] for i in range(len(line) - _MIN_ANCHOR + 1)}
    found = {a for g in grams & long_anchors.keys() for a in long_anchors[g]}
    covered = sum(len(a) * line.count(a) for a in found)
    return min(1.0, covered / len(line))


def _anchor_index(anchors: set[str]) -> dict[str, list[str]]:
    """The link texts of at least `_MIN_ANCHOR` characters, by their first `_MIN_ANCHOR` characters."""
    index: dict[str, list[str]] = {}
    for a in anchors:
        if len(a) >= _MIN_ANCHOR:
            index.setdefault(a[:_MIN_ANCHOR], []).append(a)
    return index


_LINKS = etree.XPath("//a[@href]")


def _anchor_texts(tree: Any) -> set[str]:
    """The texts of the page's links, whitespace-normalised."""
    anchors = {" ".join(etree.tostring(a, method="text", encoding=str, with_tail=False).split()) for a in _LINKS(tree)}
    anchors.discard("")
    return anchors


def _text_is_link_list(anchors: set[str], text: str) -> bool:
    """The extracted 'body' is mostly headline links (a section or tag page that trafilatura took for text)."""
    anchors = {a for a in anchors if len(a) >= 12}
    lines = [" ".join(ln.split()) for ln in text.split("\n") if ln.strip()]
    total = sum(len(ln) for ln in lines)
    linked = sum(len(ln) for ln in lines if ln in anchors)
    return total > 0 and linked >= 0.6 * total


_BYLINE_DATE = re.compile(
    r"(20\d{2}|19\d{2})\s*(?:[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})(?!\d)|年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日)"
)


_DATE = _BYLINE_DATE.pattern
# A publication stamp anywhere in the page: a date with a time, or a date next to a label saying so.
# A bare 时间/日期 label must start a phrase and sit right before its date: 出道日期 ("debut date", an
# encyclopedia infobox) and a table's 日期 column heading are not stamps.
_STAMP = re.compile(
    rf"(?:(?:发布|發佈|发表|發表|更新|published|posted|updated)[^0-9]{{0,12}}(?={_DATE}))"
    rf"|(?:(?:成文|发文|發文|出版|刊登|(?<![\u4e00-\u9fff]))(?:时间|時間|日期)\s*[:：]?\s*(?={_DATE}))"
    rf"|(?={_DATE}\s*(?:\d{{1,2}}:\d{{2}}|[\[(（]?\s*(?:来源|來源|作者|编辑|編輯)))"
    # an author/translator byline followed by its date: 作者：周思博 译：Chen Bin 2005年1月2日
    rf"|(?:(?<![\u4e00-\u9fff])(?:作者|译者|譯者|记者|記者|文|译|譯)\s*[:：][^0-9:：]{{1,40}}(?={_DATE}))",
    re.IGNORECASE,
)


def _visible_text(tree: Any) -> str:
    """What a reader sees of the page body, on one line: script and style text (JSON blobs with other
    dates) left out."""
    return " ".join(" ".join(_BODY_TEXTS(tree)).split())


def _after_headline(body: str, tree: Any, title: str | None, size: int = 400) -> str | None:
    """The `size` characters of `body` that follow the headline (the byline's place), if it is found."""
    for anchor in [h.text_content().strip() for h in tree.xpath("//h1")] + [title or ""]:
        anchor = " ".join(anchor.split())
        if len(anchor) >= 4 and (pos := body.find(anchor)) >= 0:
            return body[pos + len(anchor) : pos + len(anchor) + size]
    return None


# A Chinese byline: 作者：陈晓岚, 记者 周嘉敏, 文/林若谷, 本报记者 王一鸣 李文, 执笔人：X; names of two to four Han
# characters.
_CJK_BYLINE = re.compile(
    r"(?:(?:作者|记者|記者|撰文|撰稿|编译|編譯|执笔人|執筆人|执笔|執筆)(?:\s*[:：/／]\s*|\s+)"
    r"|(?<![\u4e00-\u9fff])文\s*[:：/／]\s*)"
    r"((?:[\u4e00-\u9fff·]{2,4})(?:\s*[、，,\s]\s*[\u4e00-\u9fff·]{2,4}){0,5})(?![\u4e00-\u9fff])"
)
# Bylines without a separator or label, told by what closes them: 记者马俊峰/文, 本报记者罗科苏盈发自北京,
# （姚峰 上海报道）, a portal's bracketed name before its source: [ 黄宇 ] 来源：国际金融报, a forum's 本贴由 X 于....
_CJK_BYLINE_CLOSED = re.compile(
    r"(?:记者|記者)([\u4e00-\u9fff·]{2,4}?)\s*(?:[/／]\s*文|发自|發自|报道|報道|摄|攝)"
    r"|[（(]\s*([\u4e00-\u9fff·]{2,4})\s+[\u4e00-\u9fff]{2,6}(?:报道|報道)\s*[）)]"
    r"|[\[【]\s*([\u4e00-\u9fff·]{2,4})\s*[\]】][^\u4e00-\u9fffA-Za-z0-9]{0,4}(?:来源|來源)"
    # a forum post's credit: 本贴由 大卫 于2005年8月12日16:12:21在〖 版名 〗发表
    r"|本[贴帖貼]由\s*([^\s:：]{1,20}?)\s*于\s*(?:19|20)\d{2}"
)
_NOT_A_NAME = re.compile(
    r"^(?:报道|報道|摄影|攝影|编辑|編輯|来源|來源|发自|發自|通讯员|通訊員|本报|本報|责任|責任|联系|聯繫|博客|文章|资料|資料)"
    r"|(?:编辑|編輯|记者|記者|资料|資料|文章|博客|手记|手記)$"
)
_BLOCK_TAGS = frozenset((
    "p", "div", "td", "th", "li", "dd", "dt", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "section",
    "article", "header", "footer", "table", "tr", "ul", "ol", "center",
))


def _byline_block(tree: Any, name: str) -> str | None:
    """The text of the block element (paragraph, cell, div...) that holds `name` in the page, on one line;
    None when no single text node holds it."""
    for node in tree.xpath("//body//text()[contains(., $n)]", n=name):
        el = node.getparent()
        if el is None:
            continue
        if node.is_tail:  # text after an element belongs to that element's parent
            el = el.getparent() if el.getparent() is not None else el
        while el is not None and not (isinstance(el.tag, str) and el.tag.lower() in _BLOCK_TAGS):
            el = el.getparent()
        if el is not None:
            return " ".join(el.text_content().split())
    return None


def _byline_names(zone: str, m: re.Match[str], tree: Any) -> list[str]:
    """The names a byline match credits: the first one, and the others only when they are printed in the same
    paragraph or cell as the first (a byline at the end of a body is followed by the page's next block: 记者
    刘涛 | 最新动态) and are not a label (作者：芊草凡凡 时间：...)."""
    group = next(g for g in m.groups() if g)
    names = [n for n in re.split(r"[、，,\s]+", group) if n and not _NOT_A_NAME.search(n)]
    if len(names) > 1 and re.match(r"\s*[:：]", zone[m.end(m.lastindex or 1):]):
        names.pop()  # the last "name" is the next field's label
    if len(names) > 1:
        block = _byline_block(tree, names[0])
        names = names[:1] + [n for n in names[1:] if block is not None and n in block]
    return list(dict.fromkeys(names))


def _byline_authors(body: str, tree: Any, title: str | None, text: str) -> tuple[str, ...]:
    """Authors named in a Chinese byline, looked for where bylines are printed, in this order: next to the
    headline; next to the page's publication stamp (date and time, 2004年7月16日08:19 [ 黄宇 ] 来源：...); at the end
    of the body (its last characters, or right after its last line or the line before it: a photo caption may
    close the body) (（记者 张三）, 本报记者 李四, 执笔人：...); just before its first line; after a 作者： label
    anywhere; and last, a byline that only its closing words tell (（姚峰 上海报道）) anywhere from the body's
    first line to just after its last (as long as the body, and a little more, when its last line is not found
    in the page's text as it is)."""
    labelled = (_CJK_BYLINE, _CJK_BYLINE_CLOSED)
    zones: list[tuple[str, tuple[re.Pattern[str], ...]]] = [(_after_headline(body, tree, title, 200) or "", labelled)]
    if (stamp := _STAMP.search(body)) is not None:
        zones.append((body[stamp.start() : stamp.start() + 80], labelled))
    zones.append((text[-80:], labelled))
    lines = [" ".join(ln.split()) for ln in text.split("\n") if len(ln.strip()) >= 8]
    end = -1
    for last in lines[-1:-3:-1]:  # the last line, or the one before a closing photo caption
        if (pos := body.find(last[-20:])) >= 0:
            zones.append((body[pos : pos + 140], labelled))
            end = max(end, pos + 140)
    start = body.find(lines[0][:20]) if lines else -1
    if start > 0:
        zones.append((body[max(0, start - 150) : start], labelled))
    zones.append((body[m.start() :] if (m := re.search(r"作者\s*[:：]", body)) else "", labelled))
    if start >= 0:
        end = max(end, start + len(" ".join(text.split())) + 300)
        zones.append((body[start:end], (_CJK_BYLINE_CLOSED,)))
    for zone, patterns in zones:
        for pattern in patterns:
            m = pattern.search(zone)
            if m is not None and (names := _byline_names(zone, m, tree)):
                return tuple(names)
    return ()


# What a page's author metadata may carry besides names: a label (作者：, By), a link text (■ 该作者文章).
_AUTHOR_LABEL = re.compile(r"^\s*(?:作\s*者\s*[:：/／]?|文\s*[:：/／]|by\b\s*:?)\s*", re.IGNORECASE)
# Sentence punctuation, a field label, or a run of Han characters longer than any name (期货与外汇市场的金融资讯).
_NOT_NAMES = re.compile(r"[。！？!?：:]|[\u4e00-\u9fff]{11,}")
_WEB_ADDRESS = re.compile(r"\b(?:https?|www|com|net|org)\b", re.IGNORECASE)
_SPACED_HAN_NAME = re.compile(r"[\u4e00-\u9fff](?:\s+[\u4e00-\u9fff]){1,3}")


def _meta_authors(raw: str, metas: dict[tuple[str, str], str]) -> tuple[str, ...]:
    """The authors in a page's author metadata, cleaned: a scholarly page's `citation_author` over its
    `author` (which names the publisher there), nothing when it credits the page's software (its `generator`:
    Discuz! Team) or reads as a sentence or a description, no label or symbol, and a Chinese name spaced out
    to align it (赵  培) written as one word."""
    raw = _meta(metas, "citation_author", "citation_authors") or raw
    product = {w.lower() for w in re.findall(r"[A-Za-z]{3,}", _meta(metas, "generator") or "")}
    out: list[str] = []
    if _NOT_NAMES.search(_AUTHOR_LABEL.sub("", raw)):
        return ()  # a description or a comment, not names
    parts = re.split(r";|,|，|\band\b|、", raw)
    if product and any(product & {w.lower() for w in re.findall(r"[A-Za-z]{3,}", part)} for part in parts):
        return ()  # the page's software credited as its author (Discuz! Team and Comsenz UI Team)
    for part in parts:
        name = _AUTHOR_LABEL.sub("", part).strip()
        if (not name or any(unicodedata.category(c).startswith("S") for c in name) or "文章" in name
                or _NOT_A_NAME.search(name) or _WEB_ADDRESS.search(name)):  # a role (实习记者), a site
            continue
        if _SPACED_HAN_NAME.fullmatch(name):
            name = "".join(name.split())
        out.append(name)
    return tuple(dict.fromkeys(out))


# A labelled date written day and month first, year last: 发布日期： 9/17/2004 5:54:13 AM, Posted 17/09/2004.
_SLASH_STAMP = re.compile(
    r"(?:(?:发布|發佈|发表|發表|更新)(?:日期|时间|時間)?|(?<![\u4e00-\u9fff])(?:日期|时间|時間)|published|posted|updated)"
    r"\s*(?:on|:|：)?\s*(\d{1,2})/(\d{1,2})/((?:19|20)\d{2})(?!\d)",
    re.IGNORECASE,
)


def _slash_stamp_date(body: str) -> str | None:  # "" : ambiguous
    """The date of the first labelled `a/b/yyyy` stamp when only one reading is a date: 9/17/2004 (no 17th
    month) is 17 September; 7/5/2005 could be 7 May or 5 July: "" (the page has a date, we cannot tell which)."""
    m = _SLASH_STAMP.search(body)
    if m is None:
        return None
    a, b, y = (int(x) for x in m.groups())
    readings = {(mo, d) for mo, d in ((a, b), (b, a)) if 1 <= mo <= 12 and 1 <= d <= 31}
    if len(readings) != 1:
        return "" if readings else None
    (mo, d), = readings
    try:
        found = datetime(y, mo, d)
    except ValueError:
        return None
    return found.date().isoformat() if found <= datetime.now() else None


def _byline_date(tree: Any, title: str | None, text: str = "", body: str | None = None) -> str | None:
    """A date printed near the headline (the byline), where most Chinese news pages put it; without a
    headline, a date just before the body `text` starts; else the first publication stamp in the page (a date
    with a time, or a labelled date); "" when that stamp is a day-month pair that reads two ways."""
    body = _visible_text(tree) if body is None else body
    if not body:
        return None
    m = None
    zone = _after_headline(body, tree, title)
    if zone is not None:
        m = _BYLINE_DATE.search(zone)
    if m is None and text:
        # No headline to anchor on: the date printed just before the body starts (the byline's place).
        first = next((ln.strip() for ln in text.split("\n") if len(ln.strip()) >= 12), "")
        pos = body.find(" ".join(first.split())[:20]) if first else -1
        if pos > 0:
            # not glued to a word before it (出道日期1999年..., an infobox)
            before = [d for d in _BYLINE_DATE.finditer(body, max(0, pos - 150), pos)
                      if not HAN_RE.match(body[d.start() - 1 : d.start()])]
            m = before[-1] if before else None
    if m is None:
        stamp = _STAMP.search(body)
        if stamp is None:
            return _slash_stamp_date(body)
        m = _BYLINE_DATE.search(body, stamp.start())
        if m is None:
            return None
    y = int(m.group(1))
    mo, d = (int(m.group(2)), int(m.group(3))) if m.group(2) else (int(m.group(4)), int(m.group(5)))
    try:
        found = datetime(y, mo, d)
    except ValueError:
        return None
    return found.date().isoformat() if found <= datetime.now() else None


# The commonest English function words: a third to a half of the words of English prose, a few per cent of
# other languages' (Portuguese, German, Italian, Indonesian pages: 0-4 %; English articles: 14-50 %).
_EN_FUNCTION_WORDS = frozenset(
    "the of and to a in is that for it on was with as are be by this at from have has not or an he she they we"
    " his her their which but were will said been its would who had".split()
)
_EN_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def _reads_as_english(text: str, declared: str | None) -> LanguageDecision | None:
    """English when the text reads as English (at least 40 words, a fifth of them English function words,
    almost no Chinese) and the page declares English ("declared") or nothing ("words"). langdetect (5-6 ms a
    page, a third of our time on English pages) is then not needed; any other case, a page declaring another
    language included, goes to `detect_language`."""
    tag = normalise_tag(declared)
    if tag not in ("en", None):
        return None
    head = text[:2000]
    words = _EN_WORD.findall(head.lower())[:200]
    if len(words) < 40 or _han_count(head) >= 20:
        return None
    if sum(w in _EN_FUNCTION_WORDS for w in words) < 0.2 * len(words):
        return None
    return LanguageDecision("en", "declared" if tag else "words")


_LETTER = re.compile(r"[^\W\d_]+")
_CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+")


def _is_cjk(visible: str, sample: int = 5000) -> bool:
    """Chinese, Japanese or Korean characters make up at least 30 % of the letters the page shows."""
    head = visible[:sample]
    letters = sum(map(len, _LETTER.findall(head)))
    return letters > 0 and sum(map(len, _CJK_RE.findall(head))) >= 0.3 * letters


def _looks_like_index(tree: Any) -> bool:
    """Many headline-like links and little running text: a home, section or tag page."""
    links = [a.text_content().strip() for a in tree.xpath("//a[@href]")]
    long_links = [t for t in links if len(t) >= 15]
    paras = [p.text_content().strip() for p in tree.xpath("//p")]
    running = sum(len(p) for p in paras if len(p) >= 80)
    return len(long_links) >= 5 and running < 40 * len(long_links)


def extract_article(
    page: str | bytes, url: str, hints: Hints | None = None, content_type: str | None = None
) -> Extracted:
    """Extract one article from a page.

    Args:
        page: the page as bytes (decoded here) or text.
        url: the URL it was fetched from (final URL after redirects).
        hints: metadata known before fetching (feed/sitemap title, date, language; outlet languages).
        content_type: the HTTP Content-Type header, for its charset.
    Returns:
        The record; `status` says whether it is an article (`ok`) or why not.
    """
    hints = hints or Hints()
    encoding = None
    if isinstance(page, bytes):
        if binary_kind(page):
            return Extracted("not_html", url)
        html, encoding, _how = decode_html(page, content_type)
    else:
        html = page
    # Control characters (other than tab and newlines) make libxml2 stop parsing part-way. (In bytes, counted in
    # C first: a single- or multi-byte page holds such a character only where its bytes hold one.)
    if not isinstance(page, bytes) or len(page.translate(None, _CONTROL_BYTES)) != len(page):
        html = _CONTROL_CHARS.sub("", html)
    raw_html = html
    if not html.strip():
        return Extracted("no_text", url, encoding=encoding)
    try:
        # Comments out: trafilatura drops the text that follows a comment inside a paragraph.
        tree = lxml.html.fromstring(
            html.encode("utf-8", "surrogatepass"),
            parser=lxml.html.HTMLParser(encoding="utf-8", remove_comments=True),
        )
    except (lxml.etree.ParserError, ValueError) as exc:
        log.warning("%s: unparseable HTML (%s)", url, exc)
        return Extracted("no_text", url, encoding=encoding)

    # A link without text inside a paragraph (a logo or icon at the end of the article's last paragraph, as on
    # every ifeng.com page) makes trafilatura take a short paragraph for a link block and drop it.
    for a in _EMPTY_LINKS_IN_PARAGRAPHS(tree):
        a.drop_tree()
    canonical = None
    for href in tree.xpath('//link[@rel="canonical"]/@href'):
        if href.strip().startswith(("http://", "https://")):
            canonical = href.strip()
            break
    metas = _meta_index(tree)
    declared = (tree.get("lang") or tree.get("xml:lang") or _meta(metas, "og:locale", "language", "content-language"))
    h1s = [h.text_content().strip() for h in tree.xpath("//h1") if h.text_content().strip()]
    h1 = h1s[0] if len(h1s) == 1 else None
    sitename = _meta(metas, "og:site_name", "application-name")

    page_meta = _page_metadata(tree, url)
    visible = _visible_text(tree)
    doc = trafilatura.bare_extraction(
        tree, url=url, include_comments=False, include_tables=True, include_images=False, deduplicate=False,
        favor_precision=not _is_cjk(visible),
    )
    text = (doc.text if doc is not None else "") or ""
    raw_title = page_meta.title or _meta(metas, "og:title")
    sitename = sitename or page_meta.sitename
    title = clean_title(raw_title, sitename, h1) or hints.title
    text = _drop_headline(text, title)
    anchors = _anchor_texts(tree)
    # Whether trafilatura's text was mostly headline links (a section page) is judged before the cleaning.
    link_list = bool(text.strip()) and _text_is_link_list(anchors, text)
    text = _trim_edges(_body_lines(text, anchors))

    published, published_source = None, None
    own = _meta(metas, "article:published_time", "datePublished", "pubdate", "publishdate", "date", "DC.date.issued")
    if own and _iso(own):
        published, published_source = _iso(own), "page-metadata"
    else:
        times = tree.xpath("//article//time/@datetime | //time[@pubdate]/@datetime")
        if times and _iso(times[0]):
            published, published_source = _iso(times[0]), "page-time"
        elif hints.published and _iso(hints.published):
            published, published_source = _iso(hints.published), "feed-or-sitemap"
        elif byline := _byline_date(tree, title, text, visible):
            published, published_source = byline, "page-byline"
        elif byline is None:  # ("": the page's stamp reads two ways; htmldate would pick one of them)
            # On the original page, comments included (some CMSs print the date only there), and without
            # htmldate's extensive search, whose guesses (a copyright year, Jan 1st) are worse than no date.
            found = find_date(raw_html, extensive_search=False, original_date=True, outputformat="%Y-%m-%d")
            if found:
                published, published_source = _iso(found), "htmldate"

    authors: tuple[str, ...] = ()
    if page_meta.author:
        authors = _meta_authors(page_meta.author, metas)
    if not authors and HAN_RE.search(text[:200]):
        authors = _byline_authors(visible, tree, title, text)

    declared_lang = declared or hints.language or (hints.outlet_languages[0] if len(hints.outlet_languages) == 1 else None)
    lang = _reads_as_english(text, declared_lang) or detect_language(text, title, declared_lang)

    meta = {"declared_language": declared, "keywords": list(hints.keywords)} if hints.keywords else {"declared_language": declared}
    og_type = (_meta(metas, "og:type") or "").lower()
    # A page that calls itself a website, profile or media page is not an article unless the page itself is
    # dated (an about page is not, nor is a section page that a feed dated; an encyclopedia entry, a video page
    # with its story written out, a CMS that marks every page `website` are) and has an article's length of
    # text that is not its links (a home or tag page's few teasers are not).
    if og_type in ("website", "profile", "video.other", "music.song") and (
        published_source in (None, "feed-or-sitemap") or link_list or not _is_long_enough(text)
    ):
        status = "not_article"
    elif _looks_like_consent_wall(tree, text):
        status = "consent_wall"
    elif not text.strip():
        status = "not_article" if _looks_like_index(tree) else "no_text"
    elif not _is_long_enough(text):
        if _looks_like_index(tree):
            status = "not_article"
        elif _looks_paywalled(tree, html):
            status = "paywall"
        else:
            status = "too_short"
    elif link_list:
        status = "not_article"
    else:
        status = "ok"
    return Extracted(
        status=status, url=url, canonical_url=canonical, title=title, text=text, published=published,
        published_source=published_source, authors=authors, language=lang.language,
        language_source=lang.source, encoding=encoding, sitename=sitename, meta=meta,
    )
