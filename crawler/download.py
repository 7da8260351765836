"""Scrapy's HTTP/1.1 download handler, keeping the connections it opened alive.

Scrapy gives Twisted's connection pool room for `CONCURRENT_REQUESTS_PER_DOMAIN` idle connections per host:
exactly the number of requests in flight to it. The downloader starts the next request as soon as a response
is complete, before the connection that brought it is back in the pool, so that request opens a new connection
and, a moment later, the pool closes one (it holds no more than its limit). In the crawl benchmark one request
in six paid for a TCP connection set-up and close this way (a sixth of the reactor's time, and a new
connection to the site each time, which is no kinder to it). Twisted's advice is a limit of at least the
number of concurrent requests; here it is twice the largest per-host concurrency (an outlet's own
`concurrency` included), so a connection is reused instead of replaced and no host ever gets more idle
connections from us than that.
"""
from __future__ import annotations

from typing import Any

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler


def persistent_per_host(settings: Any) -> int:
    """Idle connections the pool may keep per host: twice the largest per-host concurrency."""
    per_host = settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
    for slot in (settings.getdict("DOWNLOAD_SLOTS") or {}).values():
        if isinstance(slot, dict) and isinstance(slot.get("concurrency"), int):
            per_host = max(per_host, slot["concurrency"])
    return max(1, 2 * per_host)


class KeepAliveHTTP11DownloadHandler(HTTP11DownloadHandler):
    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self._pool.maxPersistentPerHost = persistent_per_host(crawler.settings)
