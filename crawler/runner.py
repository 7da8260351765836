"""Run the `outlets` spider in this process and collect its report."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawler.extractpool import DEFAULT_WORKERS, ExtractionPool
from crawler.outlets import Outlet
from crawler.report import outlet_counts
from crawler.storage import display_db, is_postgres_url, now_iso


@dataclass
class CrawlOptions:
    outlets_file: str | None = "outlets.toml"
    db: str = "outputs/newsdedupe.sqlite3"
    only: str | None = None
    since: str | None = None
    until: str | None = None
    urls: str | None = None
    max_per_outlet: int | None = None
    topic: str | None = None  # a topic id of `topics_file`: a topic crawl
    topics_file: str = "topics.toml"
    allow_private: bool = False
    allow_private_hosts: tuple[str, ...] = ()  # allow only these non-public hosts (`name` or `name:port`)
    base_url: str | None = None  # substituted for {{BASE}} in the outlets file (demo and tests)
    polite: bool = True  # False for local fixture sites: no delays, no AutoThrottle
    log_level: str = "WARNING"
    redis: str | None = None  # redis://...: a crawl frontier shared with other processes (crawler.frontier)
    outlets: list[Outlet] = field(default_factory=list)
    extract_workers: int | None = None  # processes extracting pages; 0: in the reactor's thread (None: settings)


def crawl_settings(opts: CrawlOptions) -> Any:
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.set("NEWSDEDUPE_DB", opts.db, priority="cmdline")
    settings.set("NEWSDEDUPE_ALLOW_PRIVATE", opts.allow_private, priority="cmdline")
    settings.set("NEWSDEDUPE_ALLOW_PRIVATE_HOSTS", list(opts.allow_private_hosts), priority="cmdline")
    settings.set("LOG_LEVEL", opts.log_level, priority="cmdline")
    settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")
    if opts.extract_workers is not None:
        settings.set("NEWSDEDUPE_EXTRACT_WORKERS", opts.extract_workers, priority="cmdline")
    if not opts.polite:
        settings.set("DOWNLOAD_DELAY", 0, priority="cmdline")
        settings.set("AUTOTHROTTLE_ENABLED", False, priority="cmdline")
        settings.set("CONCURRENT_REQUESTS_PER_DOMAIN", 8, priority="cmdline")
        settings.set("RETRY_TIMES", 1, priority="cmdline")
        settings.set("DOWNLOAD_TIMEOUT", 15, priority="cmdline")
        settings.set("RETRY_BACKOFF_BASE", 0.1, priority="cmdline")
    slots: dict[str, dict[str, Any]] = {}
    for o in opts.outlets:
        for domain in o.domains:
            slot: dict[str, Any] = {}
            if o.download_delay is not None:
                slot["delay"] = o.download_delay
            if o.concurrency is not None:
                slot["concurrency"] = o.concurrency
            if slot:
                slots[domain] = slot
    if slots:
        settings.set("DOWNLOAD_SLOTS", slots, priority="cmdline")
    if opts.redis:
        from crawler.frontier import redis_settings

        settings.setdict(redis_settings(opts.redis, opts.db), priority="cmdline")
    return settings


def run_crawl(opts: CrawlOptions) -> dict[str, Any]:
    """Crawl once (Twisted's reactor runs once per process) and return the run report."""
    started = now_iso()
    # The extraction workers are spawned first: each spends about 0.3 s loading trafilatura and the language
    # profiles, on the second core, while this process imports Scrapy and reads the feeds and sitemaps on the
    # first (they were idle until the first page otherwise). A crawl that finds nothing new has spent that on
    # nothing.
    workers = DEFAULT_WORKERS if opts.extract_workers is None else opts.extract_workers
    pool = ExtractionPool(workers) if workers > 0 else None
    try:
        if pool is not None:
            pool.spawn()
        from scrapy.crawler import CrawlerProcess

        from crawler.spiders.outlets import OutletsSpider

        if not is_postgres_url(opts.db):
            Path(opts.db).parent.mkdir(parents=True, exist_ok=True)
        process = CrawlerProcess(crawl_settings(opts))
        crawler = process.create_crawler(OutletsSpider)
        process.crawl(
            crawler, outlets=opts.outlets_file, only=opts.only, since=opts.since, until=opts.until,
            urls=opts.urls, max_per_outlet=opts.max_per_outlet, base_url=opts.base_url, topic=opts.topic,
            topics=opts.topics_file, extraction_pool=pool,
        )
        process.start()
    finally:
        if pool is not None:
            pool.close()  # the spider closed it already, unless the crawl failed before it could
    stats = dict(crawler.stats.get_stats()) if crawler.stats else {}
    counts = outlet_counts(stats)
    for o in opts.outlets:
        counts.setdefault(o.id, {})
    failed = sorted(
        oid for oid, c in counts.items()
        if oid != "-" and c.get("discovery_failures", 0) and not c.get("discovered", 0)
    )
    return {
        "started": started,
        "finished": now_iso(),
        "db": display_db(opts.db),
        "topic": opts.topic,
        "outlets": counts,
        "failed_outlets": failed,
        "refused_non_public": int(stats.get("newsdedupe/refused_non_public", 0)),
        "robots_forbidden": int(stats.get("robotstxt/forbidden", 0)),
        "requests": int(stats.get("downloader/request_count", 0)),
        "responses": int(stats.get("downloader/response_count", 0)),
        "finish_reason": stats.get("finish_reason"),
        **({"frontier_run": stats.get("newsdedupe/frontier_run")} if opts.redis else {}),
    }
