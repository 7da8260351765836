"""What the crawl's reactor process does per page, beyond fetching: kept small (figures in docs/benchmarks.md,
`bench/crawl.py`; these tests check behaviour, never time)."""
from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

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
