"""Scrapy settings for newsdedupe (also used by `scrapy crawl outlets` through scrapy.cfg)."""
import scrapy.settings.default_settings as scrapy_defaults

from crawler import __version__
from crawler.extractpool import DEFAULT_WORKERS

BOT_NAME = "newsdedupe"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# Identify ourselves; outlets can see who is crawling and why.
USER_AGENT = f"newsdedupe/{__version__} (+https://github.com/newsdedupe/newsdedupe; news monitoring crawler)"
ROBOTSTXT_OBEY = True

# Politeness: a few requests per site at a time, adaptive delays. Outlets may override per domain
# (`download_delay`, `concurrency` in the outlets file), which the runner turns into DOWNLOAD_SLOTS.
CONCURRENT_REQUESTS = 16
# Outputs of one callback processed at once. Scrapy starts this many asyncio tasks for every response's output
# (default 100); an article page yields one item and the pipelines do not wait on I/O, so 100 tasks per page
# cost the reactor about an eighth of its time in the crawl benchmark and bought nothing. One: an article page
# has one item, and the requests a feed or sitemap yields are scheduled without waiting, one after another,
# whatever this number (pages wait for their store batch concurrently: each response has its own output).
CONCURRENT_ITEMS = 1
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
DOWNLOAD_DELAY_JITTER = 0.5
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0

RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
# Scrapy 2.19 starts an HTTP server that runs Python code sent to it (for its MCP server): a crawler that
# reads pages written by anyone has no use for a code-execution endpoint on the machine. (The extension is also
# left out of EXTENSIONS_BASE below: merely loading it imports aiohttp, a tenth of a second at every start.)
REMOTE_CONTROL_ENABLED = False
HTTPERROR_ALLOW_ALL = False

RETRY_BACKOFF_BASE = 2.0  # seconds before the first retry; doubled for each further one
RETRY_BACKOFF_MAX = 60.0

# Every component below runs for every page, so those that do nothing for this crawl are switched off:
# Scrapy's offsite filter (the spider sets no allowed_domains: it lets everything through), HTTP authentication
# (no outlet needs a password), the depth counter (no DEPTH_LIMIT; the spider counts sitemap nesting in the
# same `depth` meta key itself, which the counter overwrote for sitemaps found in robots.txt) and the check
# for meta keys copied between requests (a developer's diagnostic). robots.txt, retries, redirects (HTTP and
# meta refresh), compression, timeouts, the user agent, default headers, proxies, Referer, the URL length
# limit and the download stats stay.
DOWNLOADER_MIDDLEWARES = {
    # Before robots.txt and everything else: never even ask a non-public address.
    "crawler.middlewares.PublicAddressMiddleware": 50,
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": None,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.BackoffRetryMiddleware": 550,
}
SPIDER_MIDDLEWARES = {
    "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
    "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware": None,
    # The URL length limit, Referer and start-request mark, applied by one layer (the same three classes'
    # own code, in Scrapy's order) instead of three around every response's output.
    "scrapy.spidermiddlewares.start.StartSpiderMiddleware": None,
    "scrapy.spidermiddlewares.referer.RefererMiddleware": None,
    "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,
    "crawler.middlewares.SpiderOutputMiddleware": 800,
}
STATS_CLASS = "crawler.stats.CrawlStats"
EXTENSIONS = {
    "crawler.progress.TerminalProgress": 500,
    "scrapy.extensions.throttle.AutoThrottle": None,
    "crawler.throttle.OutletAutoThrottle": 0,
}
# Not even in the base list: Scrapy imports every class named there to match it against EXTENSIONS, also one
# switched off, and the remote-control extension's module imports aiohttp (about 0.1 s of every crawl's start).
EXTENSIONS_BASE = {
    name: order for name, order in scrapy_defaults.EXTENSIONS_BASE.items()
    if name != "scrapy.extensions.remote_control.RemoteControl"
}
# Scrapy's HTTP handler with a connection pool that keeps its connections (crawler/download.py).
DOWNLOAD_HANDLERS = {
    "http": "crawler.download.KeepAliveHTTP11DownloadHandler",
    "https": "crawler.download.KeepAliveHTTP11DownloadHandler",
}
ITEM_PIPELINES = {
    "crawler.pipelines.TopicPipeline": 250,
    "crawler.pipelines.StorePipeline": 300,
}

# newsdedupe's own settings.
NEWSDEDUPE_DB = "outputs/newsdedupe.sqlite3"
# Pages stored in one transaction: those that arrive within this many seconds, at most this many (1: a
# transaction per page). An item counts as stored only once its transaction has committed.
NEWSDEDUPE_STORE_BATCH = 8
NEWSDEDUPE_STORE_BATCH_SECONDS = 0.2
NEWSDEDUPE_ALLOW_PRIVATE = False
NEWSDEDUPE_ALLOW_PRIVATE_HOSTS: list[str] = []  # `--allow-private HOST[:PORT],...`: only these
# Checks every connection's resolved address too (DNS rebinding), not only the URL before the request.
TWISTED_DNS_RESOLVER = "crawler.middlewares.PublicOnlyResolver"

LOG_FORMATTER = "crawler.logformatter.NewsLogFormatter"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"
# The CLI installs its own log handler (quiet unless -v); `scrapy crawl` keeps Scrapy's.
# Processes that extract pages (trafilatura, language) beside the reactor; 0: extract in the reactor's thread.
NEWSDEDUPE_EXTRACT_WORKERS = DEFAULT_WORKERS
