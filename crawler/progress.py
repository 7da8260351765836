"""A one-line progress display on an interactive terminal; silent under cron (stderr not a TTY)."""
from __future__ import annotations

import sys
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from twisted.internet import task


class TerminalProgress:
    def __init__(self, crawler: Crawler, interval: float = 1.0) -> None:
        self.crawler = crawler
        self.interval = interval
        self.loop: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> TerminalProgress:
        if not sys.stderr.isatty() or crawler.settings.getbool("NEWSDEDUPE_QUIET"):
            raise NotConfigured
        ext = cls(crawler)
        crawler.signals.connect(ext.opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.closed, signal=signals.spider_closed)
        return ext

    def opened(self, spider: Any) -> None:
        self.loop = task.LoopingCall(self.show)
        self.loop.start(self.interval, now=False)

    def show(self) -> None:
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        stored = sum(v for k, v in stats.items() if k.startswith("newsdedupe/outlet/") and k.endswith("/stored"))
        fetched = sum(v for k, v in stats.items() if k.startswith("newsdedupe/outlet/") and k.endswith("/fetched"))
        pending = 0
        engine = self.crawler.engine
        if engine is not None and engine.slot is not None:
            pending = len(engine.slot.scheduler) if hasattr(engine.slot.scheduler, "__len__") else 0
        sys.stderr.write(
            f"\r  crawling: {stats.get('downloader/request_count', 0)} requests, {fetched} article pages, "
            f"{stored} stored, {pending} queued   "
        )
        sys.stderr.flush()

    def closed(self, spider: Any) -> None:
        if self.loop and self.loop.running:
            self.loop.stop()
        sys.stderr.write("\r" + " " * 90 + "\r")
        sys.stderr.flush()
