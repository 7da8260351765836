"""The store pipeline commits pages that come fast in batches, a page that comes alone at once, and acknowledges
an item only after its transaction has committed (on SQLite and on a real PostgreSQL server, like
tests/test_storage.py)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from crawler.items import ArticleItem
from crawler.pipelines import DuplicateArticle, StorePipeline, TooShort
from crawler.storage import article_id_for, open_store


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "store.sqlite3")
    return str(request.getfixturevalue("pg_url"))


class Stats:
    def __init__(self) -> None:
        self.values: dict[str, int] = {}

    def inc_value(self, key: str, n: int = 1) -> None:
        self.values[key] = self.values.get(key, 0) + n


class FakeCrawler:
    def __init__(self) -> None:
        self.stats = Stats()


def item(n: int, status: str = "ok", canonical: str | None = None, meta: Any = None) -> ArticleItem:
    url = f"https://example.test/news/story-{n}.html"
    canonical = canonical or url
    return ArticleItem(id=article_id_for(canonical), url=url, canonical_url=canonical, requested_url=url,
                       outlet="testpost", extraction_status=status, title=f"Story {n}", text="Body text.",
                       language="en", fetched="2025-10-10T00:00:00+00:00", discovered_via="feed",
                       meta=meta or {})


class Outcomes:
    """What each item's Deferred gave: the item (acknowledged) or the failure."""

    def __init__(self) -> None:
        self.done: dict[int, Any] = {}

    def watch(self, n: int, d: Any) -> None:
        """`d`: the coroutine of `process_item`, run here by Twisted's own coroutine runner."""
        def ok(value: Any) -> None:
            self.done[n] = value

        def failed(f: Failure) -> None:
            self.done[n] = f.value

        Deferred.fromCoroutine(d).addCallbacks(ok, failed)


@pytest.fixture
def pipeline(db: str) -> Iterator[tuple[StorePipeline, Clock, FakeCrawler]]:
    crawler = FakeCrawler()
    clock = Clock()
    p = StorePipeline(db, crawler, batch=3, batch_seconds=0.2, clock=clock)  # type: ignore[arg-type]
    p.open_spider()
    yield p, clock, crawler
    if p.store is not None:
        p.close_spider()


def stored_urls(db: str) -> set[str]:
    with open_store(db) as st:
        return {a.canonical_url for a in st.articles()}


def url_status(db: str, url: str) -> str | None:
    with open_store(db) as st:
        return st.url_status(url)


def test_items_are_acknowledged_only_after_their_batch_commits(db: str, pipeline: Any) -> None:
    p, _, crawler = pipeline
    seen = Outcomes()
    seen.watch(0, p.process_item(item(0)))  # the first page: nothing committed lately, so at once
    assert isinstance(seen.done.pop(0), ArticleItem)
    assert stored_urls(db) == {item(0).canonical_url}
    for n in (1, 2):  # within the interval of that commit: they wait
        seen.watch(n, p.process_item(item(n)))
    # Waiting in memory: not acknowledged, not in the store, their URLs not done (a kill now loses nothing
    # that was acknowledged, and the next run fetches both pages again).
    assert seen.done == {}
    assert stored_urls(db) == {item(0).canonical_url}
    assert url_status(db, item(1).url) is None
    seen.watch(3, p.process_item(item(3)))  # the third fills the batch: one commit for all three
    assert set(seen.done) == {1, 2, 3}
    assert all(isinstance(v, ArticleItem) for v in seen.done.values())
    assert stored_urls(db) == {item(n).canonical_url for n in (0, 1, 2, 3)}
    assert url_status(db, item(2).url) == "ok"
    assert p.commits == 2
    assert crawler.stats.values["newsdedupe/outlet/testpost/stored"] == 4


def test_a_partial_batch_commits_when_the_interval_has_passed_and_at_close(db: str, pipeline: Any) -> None:
    p, clock, _ = pipeline
    seen = Outcomes()
    seen.watch(0, p.process_item(item(0)))  # committed at once, at t = 0
    clock.advance(0.05)
    seen.watch(1, p.process_item(item(1)))  # waits until 0.2 s after that commit
    clock.advance(0.1)
    assert 1 not in seen.done
    clock.advance(0.06)
    assert isinstance(seen.done.get(1), ArticleItem)
    assert stored_urls(db) == {item(n).canonical_url for n in (0, 1)}
    clock.advance(1.0)
    seen.watch(2, p.process_item(item(2)))  # a quiet spell: at once again
    assert isinstance(seen.done.get(2), ArticleItem)
    seen.watch(3, p.process_item(item(3)))
    assert 3 not in seen.done
    p.close_spider()
    p.store = None
    assert isinstance(seen.done.get(3), ArticleItem)
    assert stored_urls(db) == {item(n).canonical_url for n in (0, 1, 2, 3)}


def test_drops_and_duplicates_in_a_batch_keep_their_reasons(db: str, pipeline: Any) -> None:
    p, _, crawler = pipeline
    seen = Outcomes()
    seen.watch(0, p.process_item(item(0)))  # committed at once: the next three make one batch
    seen.watch(1, p.process_item(item(1)))
    seen.watch(2, p.process_item(item(2, status="too_short")))
    seen.watch(3, p.process_item(item(3, canonical=item(1).canonical_url)))  # same article as 1
    assert isinstance(seen.done[1], ArticleItem)
    assert isinstance(seen.done[2], TooShort)
    assert isinstance(seen.done[3], DuplicateArticle)
    assert url_status(db, item(2).url) == "too_short"
    assert url_status(db, item(3).url) == "ok"  # it led to the stored article
    assert stored_urls(db) == {item(n).canonical_url for n in (0, 1)}
    assert crawler.stats.values["newsdedupe/outlet/testpost/dropped_too_short"] == 1
    assert crawler.stats.values["newsdedupe/outlet/testpost/dropped_duplicate"] == 1


def test_one_bad_record_fails_alone_and_the_rest_of_its_batch_is_stored(db: str, pipeline: Any) -> None:
    p, _, _ = pipeline
    seen = Outcomes()
    seen.watch(0, p.process_item(item(0)))  # committed at once: the next three make one batch
    seen.watch(1, p.process_item(item(1)))
    seen.watch(2, p.process_item(item(2, meta={"bad": object()})))  # cannot be written as JSON
    seen.watch(3, p.process_item(item(3)))
    assert isinstance(seen.done[1], ArticleItem) and isinstance(seen.done[3], ArticleItem)
    assert isinstance(seen.done[2], Exception) and not isinstance(seen.done[2], DuplicateArticle)
    assert stored_urls(db) == {item(n).canonical_url for n in (0, 1, 3)}
    assert url_status(db, item(2).url) is None  # not done: the next run fetches it again


def test_batch_of_one_commits_each_item_at_once(db: str) -> None:
    p = StorePipeline(db, FakeCrawler(), batch=1)  # type: ignore[arg-type]
    p.open_spider()
    try:
        seen = Outcomes()
        seen.watch(1, p.process_item(item(1)))
        assert isinstance(seen.done[1], ArticleItem)
        assert stored_urls(db) == {item(1).canonical_url}
        seen.watch(2, p.process_item(item(2, status="too_short")))
        assert isinstance(seen.done[2], TooShort)
        assert p.commits == 2
    finally:
        p.close_spider()


def test_an_item_whose_wait_was_cancelled_is_still_written_and_the_batch_goes_on(db: str, pipeline: Any) -> None:
    p, clock, _ = pipeline
    Outcomes().watch(0, p.process_item(item(0)))  # committed at once: the next two wait
    waiting = Deferred.fromCoroutine(p.process_item(item(1)))
    waiting.addErrback(lambda f: None)
    waiting.cancel()  # the crawl is closing
    seen = Outcomes()
    seen.watch(2, p.process_item(item(2)))
    clock.advance(0.3)
    assert isinstance(seen.done.get(2), ArticleItem)
    assert stored_urls(db) == {item(n).canonical_url for n in (0, 1, 2)}


def test_items_are_acknowledged_inside_an_asyncio_task_too(db: str) -> None:
    """As under Scrapy's asyncio reactor: the coroutine runs as an asyncio task and awaits an asyncio future."""
    import asyncio

    from twisted.internet.task import Clock as TwistedClock

    async def scenario() -> list[Any]:
        p = StorePipeline(db, FakeCrawler(), batch=2, batch_seconds=0.2, clock=TwistedClock())  # type: ignore[arg-type]
        p.open_spider()
        try:
            first = await p.process_item(item(0))  # at once
            waiting = [asyncio.ensure_future(p.process_item(item(n))) for n in (1, 2)]  # the second fills the batch
            return [first, *await asyncio.gather(*waiting)]
        finally:
            p.close_spider()

    leftover = asyncio._get_running_loop()  # Playwright's, when the HTML report test ran first
    asyncio._set_running_loop(None)
    loop = asyncio.new_event_loop()
    try:
        results = loop.run_until_complete(scenario())
    finally:
        loop.close()
        asyncio._set_running_loop(leftover)
    assert all(isinstance(r, ArticleItem) for r in results)
    assert stored_urls(db) == {item(n).canonical_url for n in (0, 1, 2)}


def test_a_loop_left_running_by_another_library_does_not_confuse_twisteds_runner(db: str, pipeline: Any) -> None:
    """Playwright's sync API (the HTML report test) leaves a loop marked running in the main thread."""
    import asyncio

    p, clock, _ = pipeline
    leftover = asyncio._get_running_loop()
    loop = asyncio.new_event_loop()
    asyncio._set_running_loop(loop)
    try:
        seen = Outcomes()
        seen.watch(0, p.process_item(item(0)))
        seen.watch(1, p.process_item(item(1)))
        clock.advance(0.3)
    finally:
        asyncio._set_running_loop(leftover)
        loop.close()
    assert isinstance(seen.done[0], ArticleItem) and isinstance(seen.done[1], ArticleItem)


class Engine:
    """What the pipeline reads of Scrapy's engine: the requests being downloaded and the responses in progress."""

    def __init__(self) -> None:
        self.downloader = type("Downloader", (), {"active": set()})()
        self.scraper = type("Scraper", (), {"slot": type("Slot", (), {"active": set()})()})()


def test_a_batch_commits_at_once_when_nothing_else_can_join_it(db: str) -> None:
    """The last pages of a crawl (nothing downloading, every response in progress waiting in the batch) are
    committed without waiting out the interval; while downloads go on, a page still waits for company."""
    crawler = FakeCrawler()
    engine = Engine()
    crawler.engine = engine  # type: ignore[attr-defined]
    clock = Clock()
    p = StorePipeline(db, crawler, batch=8, batch_seconds=0.2, clock=clock)  # type: ignore[arg-type]
    p.open_spider()
    try:
        seen = Outcomes()
        seen.watch(0, p.process_item(item(0)))  # nothing committed lately: at once
        engine.downloader.active = {"page 3"}
        engine.scraper.slot.active = {"page 1", "page 2"}
        seen.watch(1, p.process_item(item(1)))
        assert 1 not in seen.done  # a download is going on: it may bring a page for this batch
        engine.downloader.active = set()
        engine.scraper.slot.active = {"page 1", "page 2", "page 3"}
        seen.watch(2, p.process_item(item(2)))
        assert 2 not in seen.done  # page 3 is still being extracted
        engine.scraper.slot.active = {"page 1", "page 2", "page 3"}
        seen.watch(3, p.process_item(item(3)))  # every page in progress waits here: commit now
        assert set(seen.done) == {0, 1, 2, 3}
        assert all(isinstance(v, ArticleItem) for v in seen.done.values())
        assert stored_urls(db) == {item(n).canonical_url for n in range(4)}
        assert p.commits == 2
        assert clock.seconds() == 0  # no waiting
    finally:
        p.close_spider()
