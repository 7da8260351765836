"""Downloader middleware: refuse requests (and redirects) to addresses that are not public."""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import socket
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

log = logging.getLogger(__name__)


class RefusedAddress(IgnoreRequest):
    """The URL's host is (or resolves to) a loopback, private, link-local or otherwise non-public address."""


@lru_cache(maxsize=4096)
def _resolve(host: str) -> tuple[str, ...]:
    try:
        return tuple(sorted({info[4][0] for info in socket.getaddrinfo(host, None)}))
    except (socket.gaierror, UnicodeError):
        return ()


def non_public_reason(url: str) -> str | None:
    """Why a URL must not be fetched without --allow-private, or None when it is fine."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"scheme {parts.scheme!r} is not http(s)"
    host = (parts.hostname or "").strip("[]")
    if not host:
        return "no host"
    try:
        addresses: tuple[str, ...] = (str(ipaddress.ip_address(host)),)
    except ValueError:
        if host == "localhost" or host.endswith(".localhost"):
            return f"{host} is a loopback name"
        addresses = _resolve(host)
    for addr in addresses:
        ip = ipaddress.ip_address(addr.split("%")[0])
        if not ip.is_global:
            return f"{host} resolves to non-public address {addr}"
    return None


class PublicAddressMiddleware:
    def __init__(self, allow_private: bool, crawler: Crawler) -> None:
        self.allow_private = allow_private
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PublicAddressMiddleware:
        return cls(crawler.settings.getbool("NEWSDEDUPE_ALLOW_PRIVATE"), crawler)

    def process_request(self, request: Request, spider: Spider | None = None) -> Any:
        if self.allow_private:
            return None
        reason = non_public_reason(request.url)
        if reason:
            if self.stats:
                self.stats.inc_value("newsdedupe/refused_non_public")
            log.warning("refused %s: %s (use --allow-private for local test sites)", request.url, reason)
            raise RefusedAddress(reason)
        return None


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries, spaced out: exponential back-off with jitter, or the server's Retry-After.

    Scrapy re-queues a failed request at once; a struggling server (5xx, 429, timeouts) gets the same load
    again. Here the retry waits `RETRY_BACKOFF_BASE * 2**(attempt-1)` seconds (capped by
    `RETRY_BACKOFF_MAX`) without blocking other downloads.
    """

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.base = settings.getfloat("RETRY_BACKOFF_BASE", 2.0)
        self.cap = settings.getfloat("RETRY_BACKOFF_MAX", 60.0)

    def _delay(self, retry: Request, response: Response | None) -> float:
        attempt = int(retry.meta.get("retry_times", 1))
        delay = self.base * 2 ** (attempt - 1)
        if response is not None:
            header = response.headers.get(b"Retry-After")
            if header and header.strip().isdigit():
                delay = float(header.strip())
        return min(self.cap, delay) * random.uniform(0.8, 1.2)

    async def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Any:
        result = super().process_response(request, response)
        if isinstance(result, Request) and self.base > 0:
            await asyncio.sleep(self._delay(result, response))
        return result

    async def process_exception(self, request: Request, exception: Exception, spider: Spider | None = None) -> Any:
        result = super().process_exception(request, exception)
        if isinstance(result, Request) and self.base > 0:
            await asyncio.sleep(self._delay(result, None))
        return result
