"""Item pipelines: store each article once; every drop is a DropItem subclass named for its reason."""
from __future__ import annotations

import logging
from typing import Any

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler.items import ArticleItem
from crawler.storage import Store, open_store
from crawler.topics import Topic

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


class OffTopic(DropItem):
    """A topic crawl: the page's title and text do not match the topic."""


_DROPS = {"not_article": NotAnArticle, "too_short": TooShort, "no_text": NoText, "not_html": NotHtml,
          "paywall": Paywalled, "duplicate": DuplicateArticle, "out_of_range": OutOfRange}


class TopicPipeline:
    """In a topic crawl, the full text decides: a matching article carries the topic and what matched where
    (`meta.topic_matches`); a page that does not match is not stored, and its URLs are remembered as rejected
    for this topic only (a crawl without a topic, or for another one, still fetches them)."""

    def __init__(self, db_path: str, crawler: Crawler) -> None:
        self.db_path = db_path
        self.crawler = crawler
        self.stats = crawler.stats
        self.store: Store | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> TopicPipeline:
        return cls(crawler.settings.get("NEWSDEDUPE_DB"), crawler)

    def open_spider(self, spider: Spider | None = None) -> None:
        if self._topic() is not None:
            self.store = open_store(self.db_path)

    def close_spider(self, spider: Spider | None = None) -> None:
        if self.store:
            self.store.close()

    def _topic(self) -> Topic | None:
        return getattr(self.crawler.spider, "topic", None)

    def _count(self, outlet: str | None, key: str) -> None:
        if self.stats:
            self.stats.inc_value(f"newsdedupe/outlet/{outlet or '-'}/{key}")

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        topic = self._topic()
        if topic is None or not isinstance(item, ArticleItem) or item.extraction_status != "ok":
            return item
        match = topic.match_article(item.title, item.text)
        if match.matched:
            item.topics = [*item.topics, topic.id] if topic.id not in item.topics else item.topics
            item.meta = {**item.meta, "topic_matches": {**item.meta.get("topic_matches", {}), topic.id: match.to_dict()}}
            self._count(item.outlet, "topic_matched")
            return item
        assert self.store is not None
        self.store.reject_for_topic({item.requested_url, item.url, item.canonical_url}, topic.id, item.outlet)
        self._count(item.outlet, "topic_rejected")
        why = f"excluded by {', '.join(match.excluded_by)}" if match.excluded_by else (
            f"no term of group(s) {', '.join(str(i + 1) for i in match.missing_groups)}")
        log.debug("off topic %s (%s): %s", topic.id, why, item.url)
        raise OffTopic(f"off topic {topic.id} ({why}): {item.url}")


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
        self.store = open_store(self.db_path)

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
