"""What the crawl's reactor process does per page, beyond fetching: kept small (figures in docs/benchmarks.md,
`bench/crawl.py`; these tests check behaviour, never time)."""
from __future__ import annotations

from crawler.runner import CrawlOptions, crawl_settings


def test_each_response_output_is_processed_by_a_few_tasks_not_scrapys_hundred() -> None:
    # Scrapy starts CONCURRENT_ITEMS asyncio tasks for every response's output; an article page yields one item.
    for polite in (True, False):
        items = crawl_settings(CrawlOptions(polite=polite)).getint("CONCURRENT_ITEMS")
        assert 1 <= items <= 8
