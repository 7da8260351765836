"""Downloader middleware: refuse requests (and redirects) to addresses that are not public."""
from __future__ import annotations

import ipaddress
import logging
import socket
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest

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
