"""Item pipelines: store each article once; every drop is a DropItem subclass named for its reason."""
from __future__ import annotations

import logging
from typing import Any

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler.items import ArticleItem
from crawler.storage import Store

log = logging.getLogger(__name__)


class NotAnArticle(DropItem):
    """The page is an index, tag, about or consent page."""


class TooShort(DropItem):
    """The page has too little body text to be an article."""


class NoText(DropItem):
    """No body text could be extracted."""


class Paywalled(DropItem):
    """Only a teaser is visible: the rest is behind a paywall."""


class OutOfRange(DropItem):
    """The page's own publication date is outside --since/--until."""


class NotHtml(DropItem):
    """The response is not an HTML page."""


class DuplicateArticle(DropItem):
    """The canonical URL is already stored."""


_DROPS = {"not_article": NotAnArticle, "too_short": TooShort, "no_text": NoText, "not_html": NotHtml,
          "paywall": Paywalled, "duplicate": DuplicateArticle, "out_of_range": OutOfRange}


class StorePipeline:
    """Writes articles to the store (each in its own transaction) and records every page's final status."""

    def __init__(self, db_path: str, crawler: Crawler) -> None:
        self.db_path = db_path
        self.stats = crawler.stats
        self.store: Store | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler.settings.get("NEWSDEDUPE_DB"), crawler)

    def open_spider(self, spider: Spider | None = None) -> None:
        self.store = Store(self.db_path)

    def close_spider(self, spider: Spider | None = None) -> None:
        if self.store:
            self.store.close()

    def _count(self, outlet: str | None, key: str) -> None:
        if self.stats:
            self.stats.inc_value(f"newsdedupe/outlet/{outlet or '-'}/{key}")

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        assert self.store is not None
        if not isinstance(item, ArticleItem):
            return item
        status = item.extraction_status
        urls = {item.requested_url, item.url, item.canonical_url}
        if status != "ok":
            with self.store.transaction():
                for url in urls:
                    self.store.set_url_status(url, status, outlet=item.outlet)
            self._count(item.outlet, f"dropped_{status}")
            raise _DROPS.get(status, DropItem)(f"{status}: {item.url}")
        # The article and the state of every URL that led to it are written together: a crawl killed in
        # between must neither mark a URL done without its article nor store an article whose URL looks new.
        with self.store.transaction():
            stored = self.store.add_article(item.store_record())
            for url in urls:
                self.store.set_url_status(url, "ok", article_id=item.id, outlet=item.outlet)
        if not stored:
            self._count(item.outlet, "dropped_duplicate")
            raise DuplicateArticle(f"already stored: {item.canonical_url}")
        self._count(item.outlet, "stored")
        return item
