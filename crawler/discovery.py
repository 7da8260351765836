"""Discovery: article URLs (with what is known about them before fetching) from feeds, sitemaps and pages.

Google News sitemaps carry the publication date, title, language and keywords of each URL; Scrapy's own
sitemap parser drops them, so sitemaps are parsed here and those fields travel with the URL as hints.
"""
from __future__ import annotations

import calendar
import gzip
import io
import logging
import re
import zlib
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import defusedxml.ElementTree
import feedparser
import lxml.etree
import lxml.html
from defusedxml import DefusedXmlException

log = logging.getLogger(__name__)

MAX_DECOMPRESSED = 50 * 1024 * 1024  # the sitemap protocol caps a sitemap at 50 MB uncompressed

_NS_NEWS = "http://www.google.com/schemas/sitemap-news/0.9"


@dataclass(frozen=True)
class Discovered:
    """An article URL and what its feed or sitemap said about it."""

    url: str
    via: str  # feed | sitemap | news-sitemap | section | urls-file
    source: str | None = None
    title: str | None = None
    published: str | None = None
    language: str | None = None
    keywords: tuple[str, ...] = ()
    redirects: int = 0  # how many redirects led here


class DiscoveryError(ValueError):
    """A feed or sitemap that cannot be read at all (the message says why)."""


def maybe_gunzip(body: bytes, limit: int = MAX_DECOMPRESSED) -> bytes:
    """Decompress gzip bodies (sitemap.xml.gz) with a cap on the decompressed size."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    out = io.BytesIO()
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as gz:
            while chunk := gz.read(1 << 16):
                out.write(chunk)
                if out.tell() > limit:
                    raise DiscoveryError(f"gzip body expands beyond {limit} bytes")
    except (OSError, EOFError, zlib.error) as exc:
        raise DiscoveryError(f"broken gzip data: {exc}") from exc
    return out.getvalue()


def refuse_xml_attacks(data: bytes) -> None:
    """Raise DiscoveryError when an XML document declares entities (or external references).

    Feeds and sitemaps have no use for a DTD's entities, while "billion laughs" (nested entity expansion)
    and external entities (`<!ENTITY x SYSTEM "file:///etc/passwd">`) are attacks on the reader. Documents
    without a DOCTYPE cannot declare any and are not parsed twice; the others go through defusedxml first.
    """
    utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff"))
    if not utf16 and b"<!DOCTYPE" not in data and b"<!doctype" not in data:
        return
    try:
        defusedxml.ElementTree.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        what = "an external entity" if "External" in type(exc).__name__ else "an entity"
        name = getattr(exc, "name", None)
        raise DiscoveryError(f"refused: the document declares {what}{f' {name!r}' if name else ''}; feeds and "
                             "sitemaps need none (entity expansion and external entities are XML attacks)") from None
    except Exception:  # noqa: BLE001 - malformed XML: the feed or sitemap parser says what is wrong
        return


def parse_feed(body: bytes, feed_url: str) -> list[Discovered]:
    """Entries of an RSS 0.9x/1.0/2.0 or Atom feed (feedparser), links made absolute."""
    if not body.strip():
        raise DiscoveryError("empty response")
    refuse_xml_attacks(body)
    parsed = feedparser.parse(body)
    linked = [e for e in parsed.entries if e.get("link") or e.get("links")]
    if not linked and (parsed.bozo or not parsed.get("version")):
        # Nothing usable and a parse error (or no RSS/Atom root at all): a broken or truncated feed, an HTML
        # page at the feed URL. A valid feed with no items is fine.
        reason = parsed.get("bozo_exception") or "no RSS or Atom root element"
        raise DiscoveryError(f"not a readable feed ({reason!s})")
    feed_lang = parsed.feed.get("language") if parsed.get("feed") else None
    out: list[Discovered] = []
    for entry in parsed.entries:
        link = entry.get("link")
        if not link:
            for lk in entry.get("links", []):
                if lk.get("rel", "alternate") == "alternate" and lk.get("href"):
                    link = lk["href"]
                    break
        if not link:
            continue
        published = None
        for key in ("published_parsed", "updated_parsed", "created_parsed"):
            t = entry.get(key)
            if t:
                published = "%04d-%02d-%02dT%02d:%02d:%02d+00:00" % tuple(t[:6])
                break
        tags = tuple(t.get("term", "") for t in entry.get("tags", []) if t.get("term"))
        out.append(
            Discovered(
                url=urljoin(feed_url, link.strip()), via="feed", source=feed_url, title=entry.get("title"),
                published=published, language=entry.get("language") or feed_lang, keywords=tags,
            )
        )
    return out


_CLOSED_LOC = re.compile(rb"</(?:[\w.-]+:)?loc\s*>")
_XML_PARSER = dict(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=True)


def parse_sitemap(body: bytes, sitemap_url: str) -> tuple[list[str], list[Discovered]]:
    """Return (child sitemap URLs of an index, article URLs with lastmod / Google News metadata)."""
    children, urls = parse_sitemap_dated(body, sitemap_url)
    return [url for url, _ in children], urls


def parse_sitemap_dated(body: bytes, sitemap_url: str) -> tuple[list[tuple[str, str | None]], list[Discovered]]:
    """Like `parse_sitemap`, with each child sitemap's `<lastmod>` (or None) beside its URL."""
    data = maybe_gunzip(body)
    if not data.strip():
        raise DiscoveryError("empty sitemap")
    refuse_xml_attacks(data)
    parser = lxml.etree.XMLParser(**_XML_PARSER)
    try:
        root = lxml.etree.fromstring(data, parser=parser)
    except lxml.etree.XMLSyntaxError as exc:
        raise DiscoveryError(f"not valid XML: {exc}") from exc
    if root is None:
        raise DiscoveryError("not valid XML")
    # Recovered from broken XML (a truncated download, say): only <loc>s that were closed are whole URLs.
    closed = len(_CLOSED_LOC.findall(data)) if len(parser.error_log) else None
    if closed is not None:
        first = parser.error_log[0]
        log.warning("%s: malformed sitemap (line %s: %s); reading the %d complete entries", sitemap_url,
                    first.line, first.message, closed)
    tag = lxml.etree.QName(root).localname
    children: list[tuple[str, str | None]] = []
    urls: list[Discovered] = []
    if tag == "sitemapindex":
        for loc in root.iter("{*}loc"):
            if loc.text and loc.text.strip():
                parent = loc.getparent()
                lastmod = parent.findtext("{*}lastmod") if parent is not None else None
                children.append((urljoin(sitemap_url, loc.text.strip()), (lastmod or "").strip() or None))
        return children[:closed] if closed is not None else children, urls
    if tag != "urlset":
        raise DiscoveryError(f"root element <{tag}> is neither <urlset> nor <sitemapindex>")
    for url_el in root.iter("{*}url"):
        loc = url_el.find("{*}loc")
        if loc is None or not (loc.text or "").strip():
            continue
        lastmod = url_el.findtext("{*}lastmod")
        news = url_el.find(f"{{{_NS_NEWS}}}news")
        if news is not None:
            keywords = news.findtext(f"{{{_NS_NEWS}}}keywords") or ""
            urls.append(
                Discovered(
                    url=urljoin(sitemap_url, loc.text.strip()), via="news-sitemap", source=sitemap_url,
                    title=(news.findtext(f"{{{_NS_NEWS}}}title") or "").strip() or None,
                    published=(news.findtext(f"{{{_NS_NEWS}}}publication_date") or lastmod or "").strip() or None,
                    language=(news.findtext(f"{{{_NS_NEWS}}}publication/{{{_NS_NEWS}}}language") or "").strip() or None,
                    keywords=tuple(k.strip() for k in keywords.split(",") if k.strip()),
                )
            )
        else:
            urls.append(
                Discovered(url=urljoin(sitemap_url, loc.text.strip()), via="sitemap", source=sitemap_url,
                           published=(lastmod or "").strip() or None)
            )
    return children, urls[:closed] if closed is not None else urls


def _parse_page(html: str, page_url: str) -> tuple[Any, str] | None:
    """The parsed page and the URL its relative links resolve against (`<base href>` honoured)."""
    try:
        tree = lxml.html.fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        return None
    base = tree.xpath("//base/@href")
    return tree, urljoin(page_url, base[0]) if base else page_url


def page_links(html: str, page_url: str) -> list[str]:
    """Absolute http(s) links of a page, in order, without duplicates."""
    parsed = _parse_page(html, page_url)
    if parsed is None:
        return []
    tree, base_url = parsed
    seen: set[str] = set()
    out: list[str] = []
    for href in tree.xpath("//a/@href"):
        absolute = urljoin(base_url, href.strip())
        if absolute.startswith(("http://", "https://")) and absolute not in seen:
            seen.add(absolute)
            out.append(absolute)
    return out


def feed_links(html: str, page_url: str) -> list[str]:
    """Feeds a page advertises with <link rel="alternate" type="application/rss+xml|atom+xml">."""
    parsed = _parse_page(html, page_url)
    if parsed is None:
        return []
    tree, base_url = parsed
    out = []
    for link in tree.xpath('//link[@rel="alternate"][@href]'):
        if (link.get("type") or "").lower() in ("application/rss+xml", "application/atom+xml", "application/feed+json"):
            out.append(urljoin(base_url, link.get("href").strip()))
    return out


# A date in a child sitemap's URL: sitemap-2024-03.xml, posts-2024-03-15.xml, /2024/03/sitemap.xml,
# sitemap.xml?yyyy=2024&mm=03, sitemap-2024.xml. Years 1990-2099 only, so ids and page numbers are not dates.
_URL_DATE_RE = re.compile(
    r"(?<![0-9])((?:19|20)\d{2})(?:[-_/]?(0[1-9]|1[0-2])(?:[-_/]?(0[1-9]|[12]\d|3[01]))?)?(?![0-9])"
)
_QUERY_DATE_RE = re.compile(r"(?:^|&)(?:yyyy|year)=((?:19|20)\d{2})(?:&(?:mm|month)=(\d{1,2}))?(?:&(?:dd|day)=(\d{1,2}))?")


def sitemap_period(url: str) -> tuple[date, date] | None:
    """The first and last day a dated child sitemap covers, read from its URL (None when it has no date).

    The last date-like part of the path wins (a host or folder may carry a year that is not the period).
    """
    parts = url.split("?", 1)
    query = unquote(parts[1]) if len(parts) > 1 else ""
    m = _QUERY_DATE_RE.search(query)
    if m is None:
        path = unquote(parts[0].split("://", 1)[-1].partition("/")[2])
        found = list(_URL_DATE_RE.finditer(path))
        m = found[-1] if found else None
    if m is None:
        return None
    year = int(m.group(1))
    month = int(m.group(2)) if m.group(2) else None
    day = int(m.group(3)) if m.group(3) else None
    try:
        if month is None:
            return date(year, 1, 1), date(year, 12, 31)
        if day is None:
            return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
        return date(year, month, day), date(year, month, day)
    except ValueError:
        return None


def link_texts(html: str, page_url: str) -> list[tuple[str, str]]:
    """(absolute http(s) link, its anchor text) for each link of a page, in order, without duplicate links."""
    parsed = _parse_page(html, page_url)
    if parsed is None:
        return []
    tree, base_url = parsed
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for a in tree.xpath("//a[@href]"):
        absolute = urljoin(base_url, a.get("href").strip())
        if absolute.startswith(("http://", "https://")) and absolute not in seen:
            seen.add(absolute)
            out.append((absolute, " ".join(a.text_content().split())))
    return out


_NEXT_TEXT_RE = re.compile(
    r"^(?:next(?:\s+page)?|older(?:\s+(?:posts|entries|results))?|more\s+results|下一?[頁页]|下页|次へ|次のページ)"
    r"\s*[›»>→]*$|^[›»>→]$",
    re.IGNORECASE,
)


def next_page_link(html: str, page_url: str, page: int | None = None) -> str | None:
    """The "next page" link of a paged listing (search results): rel="next" first, then a link whose text
    says next (English, Chinese, Japanese) or is a lone arrow, then (knowing this is page `page`) a link
    reading `page + 1` on the same path."""
    parsed = _parse_page(html, page_url)
    if parsed is None:
        return None
    tree, base_url = parsed
    for el in tree.xpath('//link[@href] | //a[@href]'):
        if "next" in (el.get("rel") or "").lower().split():
            return urljoin(base_url, el.get("href").strip())
    for a in tree.xpath("//a[@href]"):
        text = " ".join(a.text_content().split()) or (a.get("aria-label") or "").strip()
        if text and _NEXT_TEXT_RE.match(text):
            return urljoin(base_url, a.get("href").strip())
    if page is not None:
        path = urlsplit(page_url).path
        for a in tree.xpath("//a[@href]"):
            href = urljoin(base_url, a.get("href").strip())
            if " ".join(a.text_content().split()) == str(page + 1) and urlsplit(href).path == path:
                return href
    return None
