"""What the crawl's reactor process does per page, beyond fetching: kept small (figures in docs/benchmarks.md,
`bench/crawl.py`; these tests check behaviour, never time)."""
from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO

from crawler.runner import CrawlOptions, crawl_settings
from crawler.spiders.outlets import quiet_scrapy_logger


def test_each_response_output_is_processed_by_a_few_tasks_not_scrapys_hundred() -> None:
    # Scrapy starts CONCURRENT_ITEMS asyncio tasks for every response's output; an article page yields one item.
    for polite in (True, False):
        items = crawl_settings(CrawlOptions(polite=polite)).getint("CONCURRENT_ITEMS")
        assert 1 <= items <= 8


@pytest.fixture
def logging_state() -> Iterator[None]:
    root, scrapy_logger = logging.getLogger(), logging.getLogger("scrapy")
    handlers, level = root.handlers[:], scrapy_logger.level
    yield
    root.handlers[:] = handlers
    scrapy_logger.setLevel(level)


def test_scrapy_logs_only_what_some_handler_shows(logging_state: None) -> None:
    root, scrapy_logger = logging.getLogger(), logging.getLogger("scrapy")
    quiet_handler = logging.StreamHandler()
    quiet_handler.setLevel(logging.WARNING)  # the CLI without -v
    root.handlers[:] = [quiet_handler]
    scrapy_logger.setLevel(logging.DEBUG)  # as Scrapy leaves it
    quiet_scrapy_logger("ERROR")
    assert not scrapy_logger.isEnabledFor(logging.INFO)
    assert scrapy_logger.isEnabledFor(logging.WARNING)
    # Scrapy's own log (`scrapy crawl`, LOG_LEVEL INFO) still gets its INFO lines.
    scrapy_logger.setLevel(logging.DEBUG)
    quiet_scrapy_logger("INFO")
    assert scrapy_logger.isEnabledFor(logging.INFO) and not scrapy_logger.isEnabledFor(logging.DEBUG)
    # -v: a handler that takes everything keeps every record.
    verbose = logging.StreamHandler()
    verbose.setLevel(logging.DEBUG)
    root.handlers[:] = [verbose]
    scrapy_logger.setLevel(logging.DEBUG)
    quiet_scrapy_logger("ERROR")
    assert scrapy_logger.isEnabledFor(logging.DEBUG)


def test_the_connection_pool_keeps_twice_the_largest_per_host_concurrency() -> None:
    from crawler.download import persistent_per_host
    from crawler.outlets import Outlet

    settings = crawl_settings(CrawlOptions())
    handlers = settings.getdict("DOWNLOAD_HANDLERS")
    assert handlers["http"] == handlers["https"] == "crawler.download.KeepAliveHTTP11DownloadHandler"
    assert persistent_per_host(settings) == 2 * settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
    assert persistent_per_host(crawl_settings(CrawlOptions(polite=False))) == 16
    busy = Outlet(id="busy", name="Busy", domains=("busy.example",), languages=("en",), concurrency=5)
    assert persistent_per_host(crawl_settings(CrawlOptions(outlets=[busy]))) == 10


def test_a_crawl_reuses_its_http_connections(tmp_path: Path) -> None:
    # Over HTTP/1.1 a site's pages come over the connections kept alive. Scrapy's own pool kept only as many
    # idle connections as requests in flight, so a request that started before the previous one's connection
    # was back opened a new one and the pool closed one a moment later: about one page in six paid for a new
    # connection (here ~40 connections for 240 pages; now at most the pool's 16 plus the first few).
    from crawler.sitesrv import FixtureSite

    site_root = tmp_path / "site"
    pages = [f"/news/2025/06/01/story-{i:03d}.html" for i in range(240)]
    for path in pages:
        target = site_root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"<!DOCTYPE html><html><head><title>Story {path}</title></head><body><article>"
                          f"<h1>Story {path}</h1><p>{'A sentence of our own about the harbour. ' * 20}</p>"
                          "</article></body></html>", encoding="utf-8")
    (site_root / "sitemap.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + "".join(f"<url><loc>{{{{BASE}}}}{path}</loc></url>" for path in pages) + "</urlset>", encoding="utf-8")
    (site_root / "robots.txt").write_text("User-agent: *\nAllow: /\n", encoding="utf-8")
    with FixtureSite(site_root) as site:
        site.httpd.RequestHandlerClass.protocol_version = "HTTP/1.1"  # this server's own handler class
        connections: list[Any] = []
        serve = site.httpd.process_request

        def counting(request: Any, client_address: Any) -> None:
            connections.append(client_address)
            serve(request, client_address)

        site.httpd.process_request = counting  # type: ignore[method-assign]
        outlets = tmp_path / "outlets.toml"
        outlets.write_text(
            '[[outlet]]\nid = "courier"\nname = "Courier"\ndomains = ["127.0.0.1"]\nlanguages = ["en"]\n'
            f'sitemaps = ["{site.base_url}/sitemap.xml"]\n', encoding="utf-8")
        db = tmp_path / "store.sqlite3"
        code = (
            "import sys; from crawler.runner import CrawlOptions, run_crawl; "
            "run_crawl(CrawlOptions(outlets_file=sys.argv[1], db=sys.argv[2], allow_private=True, polite=False)); "
            "print('imported:', *sorted(m for m in ('aiohttp', 'trafilatura', 'dedupe.writers') if m in sys.modules))"
        )
        done = subprocess.run([sys.executable, "-c", code, str(outlets), str(db)], cwd=REPO, check=True,
                              timeout=300, capture_output=True, text=True)
        requested = {p for p in site.requests if p.startswith("/news/")}
    # What the reactor's process never needs: extraction (in the workers), the remote-control extension's
    # aiohttp (switched off, and left out of EXTENSIONS_BASE so that it is not even imported), grouping's writers.
    assert done.stdout.strip().splitlines()[-1] == "imported:"
    assert requested == set(pages)
    with sqlite3.connect(db) as conn:
        states = conn.execute("SELECT count(*) FROM urls WHERE url LIKE '%/news/%' AND status != 'discovered'")
        assert states.fetchone()[0] == len(pages)
    assert len(connections) <= 16 + 4, f"{len(connections)} connections for {len(pages)} pages"


def _crawler(**settings: Any) -> Any:
    from scrapy.crawler import Crawler

    from crawler.spiders.outlets import OutletsSpider
    from crawler.stats import CrawlStats

    options = crawl_settings(CrawlOptions())
    options.setdict(settings, priority="cmdline")
    crawler = Crawler(OutletsSpider, options)  # not started: no reactor needed
    crawler.stats = CrawlStats(crawler)
    return crawler


def test_one_spider_middleware_does_what_scrapys_three_did() -> None:
    from scrapy import Request
    from scrapy.http import HtmlResponse

    from crawler.middlewares import SpiderOutputMiddleware

    crawler = _crawler(URLLENGTH_LIMIT=60)
    mw = SpiderOutputMiddleware.from_crawler(crawler)
    page = HtmlResponse("https://news.example/2025/01/01/a.html", body=b"<html></html>",
                        request=Request("https://news.example/2025/01/01/a.html"))
    short, long_ = Request("https://news.example/b"), Request("https://news.example/" + "x" * 80)
    out = list(mw.process_spider_output(page, [short, long_, {"item": 1}]))
    assert out == [short, {"item": 1}]  # the long URL is dropped, the item passes
    assert crawler.stats.get_value("urllength/request_ignored_count") == 1
    assert short.headers.get("Referer") == b"https://news.example/2025/01/01/a.html"
    assert "is_start_request" not in short.meta
    start = Request("https://news.example/feed.xml")
    assert mw.get_processed_request(start, None) is start and start.meta["is_start_request"] is True
    assert start.headers.get("Referer") is None
    # Their own settings still switch them off.
    off = SpiderOutputMiddleware.from_crawler(_crawler(URLLENGTH_LIMIT=0, REFERER_ENABLED=False))
    other = Request("https://news.example/" + "y" * 80)
    assert list(off.process_spider_output(page, [other])) == [other] and other.headers.get("Referer") is None
    # ...and Scrapy's three are not in the chain twice.
    settings = crawl_settings(CrawlOptions())
    for name in ("start.StartSpiderMiddleware", "referer.RefererMiddleware", "urllength.UrlLengthMiddleware"):
        assert settings.getdict("SPIDER_MIDDLEWARES")[f"scrapy.spidermiddlewares.{name}"] is None


def test_now_iso_is_the_current_second() -> None:
    from datetime import datetime, timezone

    from crawler.storage import now_iso

    before = datetime.now(timezone.utc).replace(microsecond=0)
    value = now_iso()
    after = datetime.now(timezone.utc).replace(microsecond=0)
    assert value.endswith("+00:00") and "." not in value
    assert before <= datetime.fromisoformat(value) <= after


def test_a_sources_entries_are_committed_and_sent_a_chunk_at_a_time(tmp_path: Path) -> None:
    """A large sitemap does not hold the reactor until all its entries are considered: each chunk's URL states
    are committed (visible to another connection) before its requests go out, and the next chunk is considered
    only when they have been taken."""
    from types import SimpleNamespace

    from crawler.discovery import Discovered
    from crawler.spiders.outlets import DISCOVERY_CHUNK, OutletsSpider
    from crawler.storage import open_store

    db = tmp_path / "store.sqlite3"
    spider = OutletsSpider(outlets="")
    spider.crawler = SimpleNamespace(stats=None)  # type: ignore[assignment]
    spider.extract_workers = 0  # no worker processes for this
    spider.store = open_store(str(db))
    n = 2 * DISCOVERY_CHUNK + 5
    entries = [Discovered(url=f"https://x.example/news/story-{i}.html", via="sitemap") for i in range(n)]

    def recorded() -> int:
        conn = sqlite3.connect(db)
        try:
            return int(conn.execute("SELECT count(*) FROM urls").fetchone()[0])
        finally:
            conn.close()

    try:
        requests = spider.consider_all(entries, None)
        first = next(requests)
        assert first.url == entries[0].url
        assert recorded() == DISCOVERY_CHUNK  # the first chunk committed, the rest not considered yet
        rest = list(requests)
        assert [r.url for r in [first, *rest]] == [d.url for d in entries]
        assert recorded() == n
    finally:
        spider.store.close()
