"""Scrapy's in-memory stats collector without its per-attribute-access hook.

Scrapy 2.19's `StatsCollector.__getattribute__` looks every attribute up twice (first as `_cached_<name>`,
raising and catching an AttributeError when there is none) to wrap the stats methods in a check for a
deprecated `spider` argument. The crawl touches its stats a dozen times per page (Scrapy's counters and our
per-outlet ones), which made that hook about 2% of the reactor's time. This collector keeps every method and
the stats themselves; only the deprecation warning for passing `spider=` is gone (the argument still works).
"""
from __future__ import annotations

from scrapy.statscollectors import MemoryStatsCollector


class CrawlStats(MemoryStatsCollector):
    __getattribute__ = object.__getattribute__
