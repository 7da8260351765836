"""Item pipelines: store each article once; every drop is a DropItem subclass named for its reason."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

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
    """Writes articles to the store and records every page's final status.

    Writes are grouped when pages come fast: a page that arrives at least `NEWSDEDUPE_STORE_BATCH_SECONDS`
    after the last commit is committed at once (a polite crawl commits page by page, as before); the pages
    that arrive sooner wait until that interval has passed (or until `NEWSDEDUPE_STORE_BATCH` of them wait) and
    are committed together, in one transaction instead of one each; they are committed at once when nothing else
    can join them (nothing is being downloaded and every page in progress waits in the batch: the last pages
    of a crawl, or of a burst). An item is passed on (counted as stored,
    its drop reported) only after the transaction holding it has committed, so nothing acknowledged is ever
    lost: a crawl killed before the commit has acknowledged none of the batch, and their URLs, still not done
    in the store, are fetched again by the next run. A batch that fails is written again item by item, so one
    bad record costs only itself. `NEWSDEDUPE_STORE_BATCH = 1`: a transaction per item, always at once."""

    def __init__(self, db_path: str, crawler: Crawler | None, batch: int = 1, batch_seconds: float = 0.0,
                 clock: Any = None) -> None:
        self.db_path = db_path
        self.crawler = crawler
        self.stats = crawler.stats if crawler is not None else None
        self.store: Store | None = None
        self.batch = max(1, batch)
        self.batch_seconds = max(0.0, batch_seconds)
        self._clock = clock
        self._pending: list[tuple[ArticleItem, Deferred[Any]]] = []
        self._timer: Any = None
        self._last_commit = float("-inf")
        self.commits = 0  # transactions committed (for tests and the benchmark)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        settings = crawler.settings
        return cls(settings.get("NEWSDEDUPE_DB"), crawler, settings.getint("NEWSDEDUPE_STORE_BATCH", 1),
                   settings.getfloat("NEWSDEDUPE_STORE_BATCH_SECONDS", 0.0))

    def open_spider(self, spider: Spider | None = None) -> None:
        self.store = open_store(self.db_path)

    def close_spider(self, spider: Spider | None = None) -> None:
        self.flush()
        if self.store:
            self.store.close()

    def _count(self, outlet: str | None, key: str) -> None:
        if self.stats:
            self.stats.inc_value(f"newsdedupe/outlet/{outlet or '-'}/{key}")

    async def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        assert self.store is not None
        if not isinstance(item, ArticleItem):
            return item
        now = self._reactor().seconds()
        if self.batch <= 1 or (not self._pending and now - self._last_commit >= self.batch_seconds):
            return self._finish(item, self._write([item])[0])
        d: Deferred[Any] = Deferred()
        self._pending.append((item, d))
        if len(self._pending) >= self.batch or self._nothing_else_coming():
            self.flush()
        elif self._timer is None:
            wait = max(0.0, self._last_commit + self.batch_seconds - now)
            self._timer = self._reactor().callLater(wait, self.flush)
        return await _awaitable(d)

    def _nothing_else_coming(self) -> bool:
        """Nothing is being downloaded and every response in progress waits in this batch: no page can join
        it before another download has finished and been extracted, so waiting out the interval only delays
        these (at the end of a crawl, its last pages)."""
        engine = getattr(self.crawler, "engine", None)
        slot = getattr(getattr(engine, "scraper", None), "slot", None)
        if engine is None or slot is None:
            return False
        return not engine.downloader.active and len(slot.active) <= len(self._pending)

    def _reactor(self) -> Any:
        if self._clock is None:
            from twisted.internet import reactor

            self._clock = reactor
        return self._clock

    def flush(self) -> None:
        """Commit what is waiting and pass each item on (or drop it)."""
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        pending, self._pending = self._pending, []
        if not pending:
            return
        outcomes: list[bool | BaseException]
        try:
            outcomes = list(self._write([item for item, _ in pending]))
        except Exception as exc:  # noqa: BLE001 - retried one by one below
            log.warning("storing a batch of %d pages failed (%s); storing them one by one", len(pending), exc)
            outcomes = []
            for item, _ in pending:
                try:
                    outcomes.append(self._write([item])[0])
                except Exception as one:  # noqa: BLE001 - this page's error, reported through its item
                    outcomes.append(one)
        for (item, d), outcome in zip(pending, outcomes):
            if d.called:  # its wait was cancelled (the crawl is closing): written, never acknowledged
                continue
            if isinstance(outcome, BaseException):
                d.errback(Failure(outcome))
                continue
            try:
                result = self._finish(item, outcome)
            except DropItem:
                d.errback(Failure())
                continue
            d.callback(result)

    def _write(self, items: list[ArticleItem]) -> list[bool]:
        """One transaction: each article with the state of every URL that led to it (a crawl killed in between
        must neither mark a URL done without its article nor store an article whose URL looks new), and the
        final state of the URLs of every page that is not an article. Per item: whether an article was added."""
        assert self.store is not None
        added = []
        with self.store.transaction():
            for item in items:
                urls = {item.requested_url, item.url, item.canonical_url}
                if item.extraction_status != "ok":
                    for url in urls:
                        self.store.set_url_status(url, item.extraction_status, outlet=item.outlet)
                    added.append(False)
                    continue
                added.append(self.store.add_article(item.store_record()))
                for url in urls:
                    self.store.set_url_status(url, "ok", article_id=item.id, outlet=item.outlet)
        self.commits += 1
        self._last_commit = self._reactor().seconds()
        return added

    def _finish(self, item: ArticleItem, stored: bool) -> ArticleItem:
        """After the commit: count the item and pass it on, or drop it with its reason."""
        status = item.extraction_status
        if status != "ok":
            self._count(item.outlet, f"dropped_{status}")
            raise _DROPS.get(status, DropItem)(f"{status}: {item.url}")
        if not stored:
            self._count(item.outlet, "dropped_duplicate")
            raise DuplicateArticle(f"already stored: {item.canonical_url}")
        self._count(item.outlet, "stored")
        return item


def _awaitable(d: Deferred[Any]) -> Any:
    """`d` as something the running coroutine can await: an asyncio future when an asyncio task runs it
    (Scrapy's asyncio reactor), the Deferred itself under Twisted's own coroutine runner. (Whether a loop is
    running says nothing: another library can leave one marked running in this thread.)"""
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running loop at all
        task = None
    if task is None:
        return d
    return d.asFuture(task.get_loop())
