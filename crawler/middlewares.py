"""Refuse requests (and redirects) to addresses that are not public; retries with back-off; the spider's output.

Server-side request forgery defence in two places: the downloader middleware checks every request's URL
(scheme, literal address, what the name resolves to) before anything is sent, redirects included (each
redirect is a new request through it); the DNS resolver checks the address again when the connection is
made, so a name that resolved to a public address for the check and to a private one a moment later (DNS
rebinding) is refused too. `--allow-private` lifts both; `--allow-private HOST[:PORT],...` lifts them for
those hosts only (a local test site, an intranet outlet), so a redirect from there to anywhere else private
is still refused.
"""
from __future__ import annotations

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
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.resolver import CachingThreadedResolver
from scrapy.spidermiddlewares.base import BaseSpiderMiddleware
from scrapy.utils.asyncio import sleep
from scrapy.utils.misc import build_from_crawler, load_object
from twisted.internet.error import DNSLookupError

log = logging.getLogger(__name__)


class RefusedAddress(IgnoreRequest):
    """The URL's host is (or resolves to) a loopback, private, link-local or otherwise non-public address."""


class RefusedAtConnection(DNSLookupError):
    """The resolver refused a non-public answer when connecting.

    Twisted turns any resolver failure into "no results for hostname lookup", so the refusal is also kept in
    `REFUSED_AT_CONNECTION` (name -> address): the retry middleware does not retry it and the spider's
    errback records it as `refused` and counts it (the resolver is shared by the process and has no stats).
    """


REFUSED_AT_CONNECTION: dict[str, str] = {}


def refused_at_connection(url: str) -> str | None:
    """The non-public address the URL's host resolved to when the resolver refused it, or None."""
    host = (urlsplit(url).hostname or "").strip("[]").lower()
    return REFUSED_AT_CONNECTION.get(host)


@lru_cache(maxsize=4096)
def _resolve(host: str) -> tuple[str, ...]:
    try:
        return tuple(sorted({info[4][0] for info in socket.getaddrinfo(host, None)}))
    except (socket.gaierror, UnicodeError):
        return ()


def parse_allowed_hosts(value: str | None) -> frozenset[str]:
    """`127.0.0.1:8080, intranet.example` -> {'127.0.0.1:8080', 'intranet.example'} (lower case, no brackets)."""
    out = set()
    for part in (value or "").split(","):
        part = part.strip().lower()
        if not part:
            continue
        if part.startswith("["):  # [::1]:8080
            host, _, port = part[1:].partition("]")
            part = f"{host}{port}"
        out.add(part)
    return frozenset(out)


def _host_allowed(host: str, port: int | None, allowed: frozenset[str]) -> bool:
    return bool(allowed) and (host in allowed or (port is not None and f"{host}:{port}" in allowed))


def non_public_reason(url: str, allowed: frozenset[str] = frozenset()) -> str | None:
    """Why a URL must not be fetched without --allow-private, or None when it is fine.

    `allowed`: hosts (`name` or `name:port`) exempt from the check, from `--allow-private HOSTS`.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"scheme {parts.scheme!r} is not http(s)"
    host = (parts.hostname or "").strip("[]").lower()
    if not host:
        return "no host"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "invalid port"
    if _host_allowed(host, port, allowed):
        return None
    try:
        addresses: tuple[str, ...] = (str(ipaddress.ip_address(host)),)
    except ValueError:
        if host == "localhost" or host.endswith(".localhost"):
            return f"{host} is a loopback name"
        addresses = _resolve(host)
    for addr in addresses:
        if not _is_public(addr):
            return f"{host} resolves to non-public address {addr}"
    return None


def _is_public(address: str) -> bool:
    """A globally routable address (not loopback, private, link-local, CGNAT, metadata...); ValueError when
    `address` is not an IP address."""
    return ipaddress.ip_address(address.split("%")[0]).is_global


def _allow_settings(settings: Any) -> tuple[bool, frozenset[str]]:
    hosts = settings.get("NEWSDEDUPE_ALLOW_PRIVATE_HOSTS") or ()
    if isinstance(hosts, str):
        hosts = (hosts,)
    return settings.getbool("NEWSDEDUPE_ALLOW_PRIVATE"), parse_allowed_hosts(",".join(hosts))


class PublicAddressMiddleware:
    def __init__(self, allow_private: bool, crawler: Crawler, allowed_hosts: frozenset[str] = frozenset()) -> None:
        self.allow_private = allow_private
        self.allowed_hosts = allowed_hosts
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PublicAddressMiddleware:
        allow_all, hosts = _allow_settings(crawler.settings)
        return cls(allow_all, crawler, hosts)

    def process_request(self, request: Request, spider: Spider | None = None) -> Any:
        if self.allow_private:
            return None
        reason = non_public_reason(request.url, self.allowed_hosts)
        if reason:
            if self.stats:
                self.stats.inc_value("newsdedupe/refused_non_public")
            log.warning("refused %s: %s (use --allow-private for local test sites)", request.url, reason)
            raise RefusedAddress(reason)
        return None


class PublicOnlyResolver(CachingThreadedResolver):
    """Scrapy's caching resolver that refuses non-public answers when the connection is made (DNS_RESOLVER)."""

    allow_all = False
    allowed_names: frozenset[str] = frozenset()  # host names from `--allow-private HOSTS`

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: Any) -> PublicOnlyResolver:
        # Scrapy builds the resolver once per process, from the CrawlerProcess (settings, no stats).
        resolver = super().from_crawler(crawler, reactor)
        resolver.allow_all, allowed = _allow_settings(crawler.settings)
        # The resolver sees names, not ports: `host:port` entries allow their host name here (the middleware
        # has already held the URL's port to the list).
        resolver.allowed_names = allowed | {h.rpartition(":")[0] for h in allowed if ":" in h}
        return resolver

    def getHostByName(self, name: str, timeout: Any = ()) -> Any:
        d = super().getHostByName(name, timeout)
        if self.allow_all:
            return d
        return d.addCallback(self.check, name)

    def check(self, address: str, name: str) -> str:
        """The resolved address, or RefusedAtConnection when it is not public (and the name is not allowed)."""
        host = name.strip("[]").lower()
        if host in self.allowed_names:
            return address
        try:
            if _is_public(address):
                return address
        except ValueError:
            return address
        log.warning("refused connection to %s: it resolved to non-public address %s", name, address)
        REFUSED_AT_CONNECTION[host] = address
        raise RefusedAtConnection(f"{name} resolves to non-public address {address} (at connection time)")


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
            await sleep(self._delay(result, response))
        return result

    async def process_exception(self, request: Request, exception: Exception, spider: Spider | None = None) -> Any:
        if refused_at_connection(request.url):
            return None  # refused by our own resolver: asking again gives the same answer
        result = super().process_exception(request, exception)
        if isinstance(result, Request) and self.base > 0:
            await sleep(self._delay(result, None))
        return result


class SpiderOutputMiddleware(BaseSpiderMiddleware):
    """Scrapy's three spider middlewares that look at each request a callback or `start()` yields, in one layer.

    The URL length limit (`UrlLengthMiddleware`, 800), the Referer header (`RefererMiddleware`, 700) and the
    `is_start_request` mark (`StartSpiderMiddleware`, 25), applied in that order by their own
    `get_processed_request` (so with their settings and results: `URLLENGTH_LIMIT`, `REFERER_ENABLED`,
    `REFERRER_POLICY`...). Scrapy wraps every such middleware's output in three asynchronous generators (the
    middleware's, a deprecation check's and the manager's exception guard), for every response, whether
    it yields a request or, as an article page, one item; one layer instead of three saves six of them.
    HttpErrorMiddleware (input only) stays as it is.
    """

    PARTS = (
        "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware",
        "scrapy.spidermiddlewares.referer.RefererMiddleware",
        "scrapy.spidermiddlewares.start.StartSpiderMiddleware",
    )

    def __init__(self, crawler: Crawler, parts: list[Any]) -> None:
        super().__init__(crawler)
        self.parts = parts

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SpiderOutputMiddleware:
        parts = []
        for path in cls.PARTS:
            try:
                parts.append(build_from_crawler(load_object(path), crawler))
            except NotConfigured:  # switched off by its setting, as it would be in Scrapy's chain
                pass
        return cls(crawler, parts)

    def get_processed_request(self, request: Request, response: Response | None) -> Request | None:
        for part in self.parts:
            processed = part.get_processed_request(request, response)
            if processed is None:
                return None
            request = processed
        return request

    def get_processed_item(self, item: Any, response: Response | None) -> Any:
        for part in self.parts:
            item = part.get_processed_item(item, response)
            if item is None:
                return None
        return item
