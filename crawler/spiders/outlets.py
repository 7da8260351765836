"""The `outlets` spider: for each outlet, read feeds, sitemaps and section pages, fetch new articles.

Callbacks only navigate; what a page means is `crawler.extraction.extract_article`.
"""
from __future__ import annotations

import gc
import logging
import weakref
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import scrapy
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.defer import CancelledError
from twisted.python.failure import Failure

from crawler.discovery import (
    Discovered,
    DiscoveryError,
    feed_links,
    link_texts,
    next_page_link,
    page_links,
    parse_feed,
    parse_sitemap_dated,
    sitemap_period,
)
from crawler.encoding import binary_kind
from crawler.extracted import Extracted, Hints
from crawler.extractpool import DEFAULT_WORKERS, ExtractionFailed, ExtractionPool
from crawler.items import ArticleItem
from crawler.middlewares import RefusedAddress, refused_at_connection
from crawler.outlets import Outlet, load_outlets
from crawler.storage import Store, article_id_for, now_iso, open_store
from crawler.topics import Topic, find_topic
from crawler.urls import canonicalize, looks_like_article
from dedupe.records import parse_date

log = logging.getLogger(__name__)


def parse_since(value: str | None) -> date | None:
    """`2025-01-01`, or a duration back from today: `7d`, `2w`, `6m`, `1y`."""
    if not value:
        return None
    from datetime import timedelta

    v = value.strip().lower()
    units = {"d": 1, "w": 7, "m": 30, "y": 365}
    if v[:-1].isdigit() and v[-1] in units:
        return date.today() - timedelta(days=int(v[:-1]) * units[v[-1]])
    d = parse_date(v)
    if d is None:
        raise ValueError(f"{value!r} is neither a date (2025-01-31) nor a duration (7d, 2w, 6m, 1y)")
    return d


def quiet_scrapy_logger(log_level: str | int | None) -> None:
    """Scrapy sets its own logger to DEBUG whatever LOG_LEVEL says, so each page makes "Crawled" and "Scraped
    from" log records that no handler shows (a couple of per cent of the reactor's time in the crawl
    benchmark). Raise it to the lowest level any handler of the root logger (or Scrapy's LOG_LEVEL, its log
    counter's level) accepts; with a handler that takes everything (-v), nothing changes."""
    levels = [h.level for h in logging.getLogger().handlers]
    if log_level is not None:
        levels.append(log_level if isinstance(log_level, int) else logging.getLevelName(str(log_level).upper()))
    levels = [lvl for lvl in levels if isinstance(lvl, int)]
    lowest = min(levels, default=logging.WARNING)
    if lowest > logging.DEBUG:
        logging.getLogger("scrapy").setLevel(lowest)


# The cyclic garbage collector's thresholds during a crawl (Python's default: 700, 10, 10). Scrapy and Twisted
# allocate and keep many container objects per request (Deferreds, generators, a request's meta, the queued
# requests of a sitemap), so at the default the collector ran about 2,000 times in a 5,000-page crawl,
# rescanning every object the imports left (trafilatura, lxml, Scrapy) each full pass: a sixth of the
# reactor's CPU. With these it runs a few dozen times; memory is not what bounds the crawl (cyclic garbage is
# still collected, every 50,000 net new objects at the latest).
CRAWL_GC_THRESHOLDS = (50_000, 20, 20)
# Entries of a feed or sitemap considered in one transaction before their requests go out (consider_all).
DISCOVERY_CHUNK = 100


class OutletsSpider(scrapy.Spider):
    name = "outlets"
    maxsize = 0  # DOWNLOAD_MAXSIZE, set in from_crawler

    def __init__(
        self,
        outlets: str = "outlets.toml",
        only: str | None = None,
        since: str | None = None,
        until: str | None = None,
        urls: str | None = None,
        max_per_outlet: str | int | None = None,
        base_url: str | None = None,
        topic: str | None = None,
        topics: str | None = "topics.toml",
        extraction_pool: ExtractionPool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.outlets: list[Outlet] = []  # the outlets crawled this run (--only applied)
        self.all_outlets: list[Outlet] = []  # every valid outlet of the file (who owns which host)
        self.problems: list[str] = []
        subs = {"{{BASE}}": base_url} if base_url else None
        # With --urls the outlets file is optional (it only attributes URLs to outlets by domain).
        if outlets and (not urls or Path(outlets).exists()):
            loaded, problems = load_outlets(outlets, subs)
            self.problems = [str(p) for p in problems]
            for p in problems:
                log.error("%s", p)
            self.all_outlets = loaded
            wanted = {x.strip() for x in only.split(",")} if only else None
            self.outlets = [o for o in loaded if wanted is None or o.id in wanted]
            if wanted:
                unknown = wanted - {o.id for o in loaded}
                for u in sorted(unknown):
                    log.error("%s: --only names unknown outlet %r", outlets, u)
        self.urls_file = urls
        self.since = parse_since(since)
        self.until = parse_date(until) if until else None
        self.max_per_outlet = int(max_per_outlet) if max_per_outlet else None
        # A topic crawl: candidates are ranked (and a few skipped) before fetching, outlets' search pages are
        # read, and the topic pipeline keeps only pages whose full text matches.
        self.topic: Topic | None = None
        if topic:
            self.topic, topic_problems = find_topic(topics or "topics.toml", topic)
            for tp in topic_problems:
                log.error("%s", tp)
        self._candidates: set[tuple[str, str]] = set()
        self._topic_decided: set[str] = set()
        self.scheduled: Counter[str] = Counter()
        self.store: Store | None = None
        # Started with the first article request (start_pool), or spawned already by `crawler.runner`.
        self.pool: ExtractionPool | None = extraction_pool
        self.extract_workers = DEFAULT_WORKERS
        self.gc_thresholds: tuple[int, ...] | None = None  # the process's own, restored when the spider closes
        self._discovery_seen: set[tuple[str, str]] = set()
        # Bytes received per download attempt (count_bytes), forgotten with the request.
        self.received_bytes: weakref.WeakKeyDictionary[scrapy.Request, int] = weakref.WeakKeyDictionary()
        # With `--redis` (crawler.frontier): the shared scheduler sets itself here when it opens.
        self.frontier: Any = None
        self.shared_frontier = False

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> OutletsSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.store = open_store(crawler.settings.get("NEWSDEDUPE_DB"))
        spider.maxsize = crawler.settings.getint("DOWNLOAD_MAXSIZE")
        crawler.signals.connect(spider.count_bytes, signal=scrapy.signals.bytes_received)
        spider.shared_frontier = bool(crawler.settings.get("NEWSDEDUPE_FRONTIER"))
        spider.extract_workers = crawler.settings.getint("NEWSDEDUPE_EXTRACT_WORKERS", DEFAULT_WORKERS)
        quiet_scrapy_logger(crawler.settings.get("LOG_LEVEL"))
        spider.gc_thresholds = gc.get_threshold()
        gc.set_threshold(*CRAWL_GC_THRESHOLDS)
        return spider

    def count_bytes(self, data: bytes, request: scrapy.Request, spider: Any) -> None:
        """Bytes received per request: Scrapy cancels a body without Content-Length that passes DOWNLOAD_MAXSIZE
        with a bare (message-less) cancellation, which only this count tells apart from any other. Kept per
        request object, not in its meta: a retry is a new request (with a copy of the meta) and counts its own
        bytes, with no signal at every download attempt to reset a count."""
        self.received_bytes[request] = self.received_bytes.get(request, 0) + len(data)

    def closed(self, reason: str) -> None:
        if self.gc_thresholds is not None:
            gc.set_threshold(*self.gc_thresholds)
        if self.pool is not None:
            self.pool.close()
        if self.store:
            self.store.close()

    def start_pool(self) -> None:
        """Start the extraction workers (NEWSDEDUPE_EXTRACT_WORKERS; none when 0) if they are not running yet.
        Called when the first article request is made, so the workers load their libraries (about 0.3 s of CPU
        each) while that page is downloaded and the rest of discovery goes on, not after the page has arrived;
        a crawl with nothing new to fetch starts none. (`newsdedupe crawl` spawns them even earlier, before
        Scrapy is imported: `crawler.runner`.)"""
        if self.pool is None and self.extract_workers > 0:
            self.pool = ExtractionPool(self.extract_workers)
        if self.pool is not None:
            self.pool.start()

    async def extract(self, body: bytes, url: str, hints: Hints | None, content_type: str | None) -> Extracted:
        """`extract_article` in the pool of worker processes (NEWSDEDUPE_EXTRACT_WORKERS, default 2), or in
        this process when that setting is 0; ExtractionFailed when it raised."""
        self.start_pool()
        if self.pool is not None:
            return await self.pool.extract(body, url, hints, content_type)
        from crawler.extraction import extract_article  # only here: the workers import it, not the reactor

        try:
            return extract_article(body, url, hints, content_type)
        except Exception as exc:
            raise ExtractionFailed(f"{type(exc).__name__}: {exc}") from exc

    # --- helpers ---------------------------------------------------------------------------------
    def count(self, outlet: Outlet | None, key: str, n: int = 1) -> None:
        if self.crawler.stats:
            self.crawler.stats.inc_value(f"newsdedupe/outlet/{outlet.id if outlet else '-'}/{key}", n)

    def claims(self, outlet: Outlet, url: str) -> bool:
        """May `outlet` take a URL found in a site-wide (robots.txt) sitemap? Only a URL on its host that its
        allow patterns match, or, without patterns, one on a host no other outlet shares."""
        if not outlet.owns(url) or not outlet.accepts(url):
            return False
        if outlet.allow_patterns:
            return True
        return not any(o.id != outlet.id and o.owns(url) for o in self.all_outlets)

    def outlet_for(self, url: str) -> Outlet | None:
        for o in self.outlets:
            if o.owns(url):
                return o
        return None

    def _request(self, url: str, callback: Any, outlet: Outlet | None, **meta: Any) -> scrapy.Request | None:
        """A discovery request (feed, sitemap, page): once per outlet and URL in a run, never deduplicated
        across runs (feeds and sitemaps are re-read every run). On a shared frontier the run's duplicate filter
        (keyed by outlet and URL) makes it once per run across every process."""
        key = (outlet.id if outlet else "-", url)
        if key in self._discovery_seen:
            return None
        self._discovery_seen.add(key)
        headers = {}
        if callback in (self.parse_feed, self.parse_sitemap) and self.store is not None:
            # Conditional request: an unchanged feed or sitemap answers 304 and costs nothing to re-read.
            etag, last_modified = self.store.source_validators(url)
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
        return scrapy.Request(
            url, callback=callback, errback=self.on_error, dont_filter=not self.shared_frontier, headers=headers,
            meta={"outlet": outlet, "handle_httpstatus_list": [304], "discovery_for": key[0], **meta}, priority=10,
        )

    def unchanged_source(self, response: Response) -> bool:
        """True for a 304 (nothing new since the last run); otherwise remember this response's validators."""
        outlet: Outlet | None = response.meta.get("outlet")
        assert self.store is not None
        if response.status == 304:
            self.count(outlet, "sources_unchanged")
            return True
        return False

    def remember_validators(self, response: Response) -> None:
        """Called after every entry of a feed or sitemap is recorded: only then may a later run get a 304."""
        if response.status != 200 or self.store is None:
            return
        etag = response.headers.get(b"ETag")
        last_modified = response.headers.get(b"Last-Modified")
        if etag or last_modified:
            self.store.save_source_validators(
                response.url, etag.decode("latin-1") if etag else None,
                last_modified.decode("latin-1") if last_modified else None,
            )

    # --- discovery -------------------------------------------------------------------------------
    async def start(self) -> AsyncIterator[Any]:
        for req in self.start_requests():
            yield req

    def start_requests(self) -> Iterator[scrapy.Request]:
        if self.urls_file:
            yield from self._url_list_requests()
            return
        for outlet in self.outlets:
            requests = [self._request(feed, self.parse_feed, outlet) for feed in outlet.feeds]
            requests += [self._request(sm, self.parse_sitemap, outlet, depth=0) for sm in outlet.sitemaps]
            requests += [self._request(page, self.parse_section, outlet) for page in outlet.start_urls]
            requests += list(self._search_requests(outlet))
            if not outlet.sitemaps:
                # No sitemaps configured: use the ones the site announces in robots.txt.
                for first in (outlet.feeds + outlet.start_urls)[:1]:
                    parts = urlsplit(first)
                    robots = f"{parts.scheme}://{parts.netloc}/robots.txt"
                    req = self._request(robots, self.parse_robots, outlet)
                    if req is not None:
                        req.meta["handle_httpstatus_all"] = True  # a missing robots.txt means "no rules"
                        requests.append(req)
            yield from (r for r in requests if r is not None)

    def _search_requests(self, outlet: Outlet) -> Iterator[scrapy.Request | None]:
        """A topic crawl's first search page per query in the outlet's languages (`search_url`)."""
        if self.topic is None or not outlet.search_url:
            return
        for lang, q in self.topic.queries_for(outlet.languages):
            yield self._request(search_page_url(outlet.search_url, q, 1), self.parse_search, outlet,
                                search_query=q, search_lang=lang, search_page=1)

    def _url_list_requests(self) -> Iterator[scrapy.Request]:
        assert self.urls_file
        try:
            lines = Path(self.urls_file).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError as exc:
            log.error("%s: cannot read URL list: %s", self.urls_file, exc)
            return
        for n, line in enumerate(lines, start=1):
            url = line.strip()
            if not url or url.startswith("#"):
                continue
            if urlsplit(url).scheme not in ("http", "https"):
                log.error("%s:%d: not an http(s) URL: %r", self.urls_file, n, url)
                continue
            req = self.consider(Discovered(url=url, via="urls-file", source=self.urls_file), self.outlet_for(url))
            if req is not None:
                yield req

    def parse_robots(self, response: Response) -> Iterator[Any]:
        outlet: Outlet | None = response.meta.get("outlet")
        if response.status != 200:
            return
        # A sitemap some outlet of the file lists itself is read for that outlet, not through robots.txt.
        configured = {sm for o in self.all_outlets for sm in o.sitemaps}
        for line in response.text.splitlines() if isinstance(response, TextResponse) else []:
            key, _, value = line.partition(":")
            if key.strip().lower() == "sitemap" and value.strip() and value.strip() not in configured:
                req = self._request(value.strip(), self.parse_sitemap, outlet, depth=0, from_robots=True)
                if req is not None:
                    yield req

    def discovery_failed(self, response: Response, kind: str, exc: Exception) -> None:
        """An unreadable feed or sitemap: say which and whose, count it, and re-read it fully next time."""
        outlet: Outlet | None = response.meta.get("outlet")
        log.error("%s %s (outlet %s): %s", kind, response.url, outlet.id if outlet else "-", exc)
        self.count(outlet, "errors")
        self.count(outlet, "discovery_failures")
        assert self.store is not None
        self.store.forget_source_validators(response.url)

    def resume_source(self, response: Response) -> Iterator[Any]:
        """An unchanged feed or sitemap: fetch what it listed before and an interrupted run left undone."""
        outlet: Outlet | None = response.meta.get("outlet")
        assert self.store is not None
        entries = [
            Discovered(url=url, via=response.meta.get("via_kind", "feed"), source=response.url,
                       title=hint.get("title"), published=hint.get("published"), language=hint.get("language"),
                       keywords=tuple(hint.get("keywords") or ()))
            for url, hint in self.store.pending_from_source(response.url)
        ]
        yield from self.consider_all(entries, outlet)

    def parse_feed(self, response: Response) -> Iterator[Any]:
        outlet: Outlet | None = response.meta.get("outlet")
        if self.unchanged_source(response):
            yield from self.resume_source(response)
            return
        try:
            entries = parse_feed(response.body, response.url)
        except DiscoveryError as exc:
            self.discovery_failed(response, "feed", exc)
            return
        yield from self.consider_all(self.best_first(entries), outlet)
        self.remember_validators(response)

    def consider_all(self, entries: list[Discovered], outlet: Outlet | None) -> Iterator[scrapy.Request]:
        """`consider` every entry of one feed or sitemap, their URL states written a chunk of
        `DISCOVERY_CHUNK` entries per transaction (not one per entry; a crawl killed meanwhile has not saved the
        source's validators, which come after the last chunk, so the next run reads it whole again). Each chunk's
        requests are yielded after its commit, never from inside a transaction: the spider's generators are
        suspended between outputs while the store pipeline writes through its own connection. Chunks, not the
        whole source at once: a 50,000-URL sitemap would otherwise hold the reactor for seconds, every page
        downloaded meanwhile waiting (in the crawl benchmark the extraction workers stood idle while the ten
        sitemaps were considered one after the other)."""
        assert self.store is not None
        for start in range(0, len(entries), DISCOVERY_CHUNK):
            with self.store.transaction():
                requests = [self.consider(d, outlet) for d in entries[start:start + DISCOVERY_CHUNK]]
            yield from (r for r in requests if r is not None)

    def parse_sitemap(self, response: Response) -> Iterator[Any]:
        outlet: Outlet | None = response.meta.get("outlet")
        depth = response.meta.get("depth", 0)
        from_robots = response.meta.get("from_robots", False)
        assert self.store is not None
        if self.unchanged_source(response):
            # An unchanged index can point at changed sitemaps (a news sitemap changes hourly): visit its
            # children as before, each with its own conditional request.
            if depth < 3:
                for child, lastmod in self.store.source_children_dated(response.url):
                    if self.sitemap_out_of_range(outlet, child, lastmod):
                        continue
                    req = self._request(child, self.parse_sitemap, outlet, depth=depth + 1, from_robots=from_robots)
                    if req is not None:
                        yield req
            response.meta["via_kind"] = "sitemap"
            yield from self.resume_source(response)
            return
        try:
            dated_children, entries = parse_sitemap_dated(response.body, response.url)
        except DiscoveryError as exc:
            self.discovery_failed(response, "sitemap", exc)
            return
        children = [child for child, _ in dated_children]
        if children:
            self.store.save_source_children(response.url, children, dict(dated_children))
        if depth < 3:
            for child, lastmod in dated_children:
                if self.sitemap_out_of_range(outlet, child, lastmod):
                    continue
                req = self._request(child, self.parse_sitemap, outlet, depth=depth + 1, from_robots=from_robots)
                if req is not None:
                    yield req
        if from_robots and outlet is not None:
            # A site-wide sitemap lists other sections (or other outlets on a shared host).
            entries = [d for d in entries if self.claims(outlet, d.url)]
        yield from self.consider_all(self.best_first(entries), outlet)
        self.remember_validators(response)

    def parse_section(self, response: Response) -> Iterator[Any]:
        outlet: Outlet | None = response.meta.get("outlet")
        if not isinstance(response, TextResponse):
            return
        html = response.text
        if outlet and not outlet.feeds:
            for feed in feed_links(html, response.url):
                req = self._request(feed, self.parse_feed, outlet)
                if req is not None:
                    yield req
        for link in page_links(html, response.url):
            if not self.article_link(outlet, link):
                continue
            req = self.consider(Discovered(url=link, via="section", source=response.url), outlet)
            if req is not None:
                yield req

    def article_link(self, outlet: Outlet | None, link: str) -> bool:
        """Is a link of a section or search page one of the outlet's articles (domains, allow/deny patterns,
        or the default article-URL heuristic)?"""
        if outlet is not None:
            if outlet.domains and not outlet.owns(link):
                return False
            if outlet.allow_patterns or outlet.deny_patterns:
                return outlet.accepts(link)
        return looks_like_article(link)

    def parse_search(self, response: Response) -> Iterator[Any]:
        """One page of an outlet's search results for a topic query: its article links are candidates (the
        link text ranks them), then the next page, up to the topic's `search_pages`."""
        outlet: Outlet | None = response.meta.get("outlet")
        page = int(response.meta.get("search_page", 1))
        self.count(outlet, "search_pages")
        if not isinstance(response, TextResponse) or outlet is None or self.topic is None:
            return
        html = response.text
        results = [(link, text) for link, text in link_texts(html, response.url) if self.article_link(outlet, link)]
        topic = self.topic
        for link, text in sorted(results, key=lambda r: -_score(topic.prefetch_score(r[1], (), r[0]))):
            req = self.consider(Discovered(url=link, via="search", source=response.url), outlet, evidence=text)
            if req is not None:
                yield req
        if not results or page >= self.topic.search_pages:
            return
        assert outlet.search_url is not None
        if "{page}" in outlet.search_url:
            next_url: str | None = search_page_url(outlet.search_url, response.meta["search_query"], page + 1)
        else:
            next_url = next_page_link(html, response.url, page)
        if next_url:
            req = self._request(next_url, self.parse_search, outlet, search_query=response.meta["search_query"],
                                search_lang=response.meta.get("search_lang"), search_page=page + 1)
            if req is not None:
                yield req

    def sitemap_out_of_range(self, outlet: Outlet | None, child: str, lastmod: str | None) -> bool:
        """With --since/--until, is a child sitemap of an index dated outside the range? A date in its URL
        (sitemap-2024-03.xml) gives the period it covers; a `<lastmod>` before --since means nothing in it
        changed since, so nothing published since can be in it. Undated children are always read."""
        if not (self.since or self.until):
            return False
        period = sitemap_period(child)
        out = bool(period and ((self.since and period[1] < self.since) or (self.until and period[0] > self.until)))
        modified = parse_date(lastmod)
        out = out or bool(self.since and modified and modified < self.since)
        if out:
            self.count(outlet, "skipped_sitemaps_out_of_range")
            log.debug("%s: child sitemap outside --since/--until, not read", child)
        return out

    def best_first(self, entries: list[Discovered]) -> list[Discovered]:
        """In a topic crawl, a feed's or sitemap's entries ordered by their pre-fetch topic evidence (so a
        --max-per-outlet budget goes to likely matches first); otherwise unchanged."""
        if self.topic is None:
            return entries
        topic = self.topic
        return sorted(entries, key=lambda d: -_score(topic.prefetch_score(d.title, d.keywords, d.url)))

    def consider(self, d: Discovered, outlet: Outlet | None, evidence: str | None = None) -> scrapy.Request | None:
        """Decide, before downloading, whether a discovered URL is worth fetching (and how urgently).

        `evidence`: text known about the URL besides its feed/sitemap fields (a search result's link text).
        """
        url = canonicalize(d.url)
        if outlet is not None and any(p.search(url) for p in outlet.deny_patterns):
            self.count(outlet, "skipped_denied")
            return None
        self.count(outlet, "discovered")
        candidate = (outlet.id if outlet else "-", url)
        if candidate not in self._candidates:  # each URL once per outlet and run, however often it was found
            self._candidates.add(candidate)
            self.count(outlet, "candidates")
        elif self.topic is not None and url in self._topic_decided:
            # Found again (a search page repeating a feed entry): already fetched or skipped this run, so the
            # topic counters count each candidate once and do not depend on whether its fetch has finished.
            return None
        assert self.store is not None
        self.store.record_discovery(url, outlet.id if outlet else None, d.via,
                                    {"title": d.title, "published": d.published, "source": d.source,
                                     "language": d.language, "keywords": list(d.keywords)})
        # The date may come from this discovery, an earlier one (feed, sitemap) or an earlier fetch.
        if self.out_of_range(d.published or self.store.known_published(url)):
            self.count(outlet, "skipped_out_of_range")
            return None
        if self.store.is_done(url):
            self.count(outlet, "skipped_already_seen")
            if self.topic is not None:
                self.tag_stored(url, outlet)
            return None
        priority = 0
        if self.topic is not None:
            title = " ".join(t for t in (d.title, evidence) if t) or None
            score = self.topic.prefetch_score(title, d.keywords, url)
            # Skipped: fetched by an earlier crawl for this topic and its text did not match, or the title,
            # keywords or slug carry an exclusion term (the full text would too).
            if score is None or self.store.rejected_for_topic(url, self.topic.id):
                self._topic_decided.add(url)
                self.count(outlet, "topic_skipped")
                return None
            # Likely matches first; search results (the site's own engine found the query) a little ahead.
            priority = score + (1 if d.via == "search" else 0)
        key = outlet.id if outlet else "-"
        if self.max_per_outlet is not None:
            # On a shared frontier the budget is the whole run's, counted in Redis.
            n = self.frontier.count_scheduled(key) if self.frontier is not None else self.scheduled[key] + 1
            if n > self.max_per_outlet:
                self.count(outlet, "skipped_limit")
                return None
        self.scheduled[key] += 1
        if self.topic is not None:
            self._topic_decided.add(url)
        hints = Hints(
            title=d.title, published=d.published, language=d.language, keywords=d.keywords,
            outlet_languages=outlet.languages if outlet else (),
        )
        self.start_pool()
        # No dont_filter: the same canonical URL found twice in one run is fetched once. Redirects are
        # followed here, not by Scrapy, so the old URL's state is recorded and its target deduplicated.
        return scrapy.Request(
            url, callback=self.parse_article, errback=self.on_error, priority=priority,
            meta={"outlet": outlet, "hints": hints, "via": d.via, "requested": url, "dont_redirect": True,
                  "handle_httpstatus_list": [301, 302, 303, 307, 308], "redirects": d.redirects},
        )

    def tag_stored(self, url: str, outlet: Outlet | None) -> None:
        """An article stored by an earlier crawl (without this topic) is tagged when its text matches."""
        assert self.store is not None and self.topic is not None
        stored = self.store.article_for_url(url)
        if stored is None or self.topic.id in stored.topics:
            return
        match = self.topic.match_article(stored.title, stored.text)
        if match.matched:
            self.store.tag_article(stored.id, self.topic.id, match.to_dict())
            self.count(outlet, "topic_tagged")

    def out_of_range(self, published: str | None) -> bool:
        day = parse_date(published)
        return bool(day and ((self.since and day < self.since) or (self.until and day > self.until)))

    def follow_redirect(self, response: Response) -> Iterator[Any]:
        """Record the old URL as a redirect and consider its target like any discovered URL."""
        outlet: Outlet | None = response.meta.get("outlet")
        requested = response.meta.get("requested", response.url)
        location = response.headers.get(b"Location", b"").decode("latin-1").strip()
        assert self.store is not None
        self.store.set_url_status(requested, "redirect", http_status=response.status,
                                  outlet=outlet.id if outlet else None)
        hops = response.meta.get("redirects", 0) + 1
        if not location or hops > 5:
            log.warning("%s: redirect without a usable target (or a loop)", response.url)
            self.count(outlet, "errors")
            return
        hints: Hints | None = response.meta.get("hints")
        d = Discovered(url=response.urljoin(location), via=response.meta.get("via", "redirect"), source=requested,
                       title=hints.title if hints else None, published=hints.published if hints else None,
                       language=hints.language if hints else None, keywords=hints.keywords if hints else (),
                       redirects=hops)
        req = self.consider(d, outlet)
        if req is not None:
            yield req

    # --- articles --------------------------------------------------------------------------------
    async def parse_article(self, response: Response) -> AsyncIterator[Any]:
        if 300 <= response.status < 400:
            for req in self.follow_redirect(response):
                yield req
            return
        outlet: Outlet | None = response.meta.get("outlet")
        requested = response.meta.get("requested", response.url)
        # `requested` is already canonical (consider() made it so) and canonicalising a canonical URL gives it
        # back (tests/test_urls.py, test_properties.py): only a URL Scrapy changed is canonicalised again.
        final = response.url if response.url == response.meta.get("requested") else canonicalize(response.url)
        self.count(outlet, "fetched")
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1")
        binary = binary_kind(response.body)
        if binary or ("html" not in content_type.lower()
                      and not response.body.lstrip()[:200].lower().startswith((b"<!doctype html", b"<html"))):
            status = "not_html"
            extracted = None
            log.warning("%s: not an HTML page (%s, served as %r; outlet %s)", response.url,
                        binary or "no HTML markup", content_type or "no Content-Type", outlet.id if outlet else "-")
        else:
            try:
                extracted = await self.extract(response.body, response.url, response.meta.get("hints"), content_type)
            except ExtractionFailed as exc:
                # The usual per-page error: counted, the URL's state says so, and the next run tries again.
                log.warning("%s: extraction failed: %s (outlet %s)", response.url, exc, outlet.id if outlet else "-")
                self.count(outlet, "errors")
                if self.store is not None:
                    self.store.set_url_status(requested, "error", outlet=outlet.id if outlet else None)
                return
            status = extracted.status
        canonical = final
        if extracted is not None and extracted.canonical_url:
            # Most pages declare the URL they were fetched from (canonical already).
            declared = final if extracted.canonical_url == final else canonicalize(extracted.canonical_url)
            # Trust rel=canonical only on the same site (some pages point it at a home page or a partner).
            if urlsplit(declared).hostname == urlsplit(final).hostname and declared.rstrip("/") != "":
                canonical = declared
        if status == "ok" and canonical != requested and self.store is not None and self.store.has_article(canonical):
            status = "duplicate"
        if status == "ok" and extracted is not None and self.out_of_range(extracted.published):
            # Undated where it was found; the page's own date is outside --since/--until.
            status = "out_of_range"
            if self.store is not None and extracted.published:
                self.store.set_known_published(requested, extracted.published)
        item = ArticleItem(
            id=article_id_for(canonical), url=final, canonical_url=canonical, requested_url=requested,
            outlet=outlet.id if outlet else None, extraction_status=status, fetched=now_iso(),
            discovered_via=response.meta.get("via"),
        )
        if extracted is not None:
            item.title = extracted.title
            item.text = extracted.text
            item.language = extracted.language
            item.language_source = extracted.language_source
            item.published = extracted.published
            item.published_source = extracted.published_source
            item.authors = list(extracted.authors)
            item.encoding = extracted.encoding
            item.meta = extracted.meta
        yield item

    def on_error(self, failure: Failure) -> None:
        request = failure.request
        outlet: Outlet | None = request.meta.get("outlet")
        is_article = request.callback == self.parse_article
        url = request.meta.get("requested", request.url)
        code = None
        if failure.check(HttpError):
            code = failure.value.response.status
            status = "http_error"
            log.warning("HTTP %s for %s (outlet %s)", code, request.url, outlet.id if outlet else "-")
        elif failure.check(RefusedAddress):
            status = "refused"
        elif refused_at_connection(request.url):
            status = "refused"  # our resolver refused a non-public answer (DNS rebinding, or a name to hide one)
            self.crawler.stats.inc_value("newsdedupe/refused_non_public")
        elif (failure.check(DownloadCancelledError) and "max size" in str(failure.value)) or (
            failure.check(IgnoreRequest) and "DOWNLOAD_MAXSIZE" in str(failure.value)
        ) or (failure.check(DownloadCancelledError, CancelledError)
              and self.received_bytes.get(request, 0) > self.maxsize > 0):
            # Too large as sent, or once decompressed (a gzip bomb behind Content-Encoding).
            status = "too_large"
            log.warning("%s: larger than DOWNLOAD_MAXSIZE (%d bytes)%s, not stored (outlet %s)", request.url,
                        self.maxsize, " once decompressed" if failure.check(IgnoreRequest) else "",
                        outlet.id if outlet else "-")
        elif "robots.txt" in str(failure.value):
            status = "blocked_by_robots"
        else:
            status = "error"
            log.warning("%s: %s (outlet %s)", request.url, failure.getErrorMessage() or failure.type.__name__,
                        outlet.id if outlet else "-")
        if is_article:
            self.count(outlet, f"dropped_{status}" if status != "error" else "errors")
            if self.store is not None:
                self.store.set_url_status(url, status, http_status=code, outlet=outlet.id if outlet else None)
        else:
            self.count(outlet, "errors")
            self.count(outlet, "discovery_failures")


def _score(prefetch: int | None) -> int:
    """A pre-fetch score for sorting: a contradicted candidate (None) last."""
    return -1 if prefetch is None else prefetch


def search_page_url(template: str, query: str, page: int) -> str:
    """An outlet's `search_url` with `{query}` (percent-encoded) and `{page}` filled in."""
    return template.replace("{query}", quote(query, safe="")).replace("{page}", str(page))
