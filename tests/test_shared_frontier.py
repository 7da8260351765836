"""Several crawler processes on one crawl frontier in Redis (`crawl --redis`), against a real Redis server and
real HTTP servers on 127.0.0.1 serving our fixture sites.

The store is a parameter: one SQLite file shared by the processes of this machine, and a PostgreSQL store
(`--db postgresql://...`, a real server on 127.0.0.1 started by conftest), as crawler machines would share.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import FIXTURE_SITE, TESTS, finish_cli, outlet_toml, read_jsonl, run_cli, start_cli

from crawler.redisconf import store_namespace
from crawler.sitesrv import FixtureSite
from crawler.storage import Store

MANY = TESTS / "fixtures" / "resilience" / "many"
ROBOTS = "/robots.txt"
# Pages that lead to articles: read once per run, whichever process gets them.
DISCOVERY = {"/en/rss.xml", "/en/index.html", "/zh/sitemap_index.xml", "/zh/news-sitemap.xml", "/many/rss.xml"}

STORES = ["sqlite", "postgresql"]


def make_store_url(kind: str, work: Path, request: pytest.FixtureRequest) -> str:
    if kind == "sqlite":
        return str(work / "store" / "newsdedupe.sqlite3")
    if kind == "postgresql":
        return str(request.getfixturevalue("postgres_server").new_database())
    raise AssertionError(f"unknown store kind {kind}")


def stored_articles(db: str) -> list[dict[str, Any]]:
    with Store(db) as store:
        return [{"id": a.id, "canonical_url": a.canonical_url, "outlet": a.outlet} for a in store.articles()]


def combined_site(root: Path) -> Path:
    """The fixture site (two outlets: feed, section page, sitemap index, GBK/Big5 pages, a redirect, robots.txt)
    plus the 30 articles of the Port Ellery Courier under /many/, as one site (one robots.txt)."""
    site = root / "site"
    shutil.copytree(FIXTURE_SITE, site)
    shutil.copytree(MANY / "news", site / "many" / "news")
    feed = (MANY / "rss.xml").read_text(encoding="utf-8").replace("{{BASE}}/news/", "{{BASE}}/many/news/")
    (site / "many" / "rss.xml").write_text(feed, encoding="utf-8")
    return site


def outlets_file(site: FixtureSite, path: Path) -> Path:
    """The fixture outlets (no delays: a local server) and the Courier."""
    text = site.render("outlets.toml").replace("deny = []", "deny = []\ndownload_delay = 0\nconcurrency = 1")
    text += "\n" + outlet_toml("courier", feeds=[f"{site.base_url}/many/rss.xml"], allow=[r"/many/news/\d{4}/"],
                               download_delay=0, concurrency=1)
    path.write_text(text, encoding="utf-8")
    return path


def crawl_args(outlets: Path, db: str, out: Path, redis_url: str | None) -> list[str | Path]:
    args: list[str | Path] = ["crawl", "--outlets", outlets, "--db", db, "--out", out, "--allow-private"]
    return args + (["--redis", redis_url] if redis_url else [])


def redis_client(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url)


def wait_until(condition: Any, procs: list[subprocess.Popen[str]], limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert all(p.poll() is None for p in procs), "a crawler exited early"
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


@dataclass
class Runs:
    db: str
    redis_url: str
    base_url: str = ""
    work: Path = Path()
    procs: list[list[subprocess.CompletedProcess[str]]] = field(default_factory=list)
    requests: list[list[str]] = field(default_factory=list)  # request paths of each run (all processes)
    extra: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module", params=STORES)
def two_crawlers(request: pytest.FixtureRequest, redis_server: str, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """Two crawler processes started together on one frontier, twice (a night, then the next night); then a
    plain crawl into a copy of the empty store for comparison."""
    work = tmp_path_factory.mktemp(f"frontier-{request.param}")
    runs = Runs(db=make_store_url(request.param, work, request), redis_url=redis_server, work=work)
    # Slow answers, one at a time per outlet: the crawl lasts long enough for both processes to take work.
    with FixtureSite(combined_site(work), delay=0.25) as site:
        client = redis_client(redis_server)
        queue_key = f"{store_namespace(runs.db)}:outlets:requests"
        runs.base_url = site.base_url
        outlets = outlets_file(site, work / "outlets.toml")
        workers_key = f"{store_namespace(runs.db)}:workers"
        for night in range(2):
            before = len(site.requests)
            # Until both processes have joined, the site answers slowly, so that however slowly a process
            # starts on a busy machine, the other cannot finish the whole run alone first.
            site.delay = 2.0
            procs = [start_cli(*crawl_args(outlets, runs.db, work / f"out{night}-0", redis_server))]
            if night == 0:
                # The second machine comes in once the first has queued articles: it joins the run and takes
                # its share from the queue (the next night both start at the same moment).
                wait_until(lambda: client.zcard(queue_key) > 0, procs)
            procs.append(start_cli(*crawl_args(outlets, runs.db, work / f"out{night}-1", redis_server)))
            wait_until(lambda: client.hlen(workers_key) >= 2, procs)
            site.delay = 0.25
            runs.procs.append([finish_cli(p, timeout=300) for p in procs])
            runs.requests.append([r.split("?", 1)[0] for r in site.requests[before:]])
            if night == 0:
                runs.extra["stored_first"] = stored_articles(runs.db)
        prefix = store_namespace(runs.db)
        runs.extra["keys_left"] = sorted(k.decode() for k in client.scan_iter(f"{prefix}:*"))
        # One process without Redis, on its own store: what the two together must have stored.
        site.delay = 0.0
        before = len(site.requests)
        single_db = str(work / "single" / "newsdedupe.sqlite3")
        runs.extra["single"] = finish_cli(start_cli(*crawl_args(outlets, single_db, work / "out-single", None)),
                                          timeout=300)
        runs.extra["single_requests"] = [r.split("?", 1)[0] for r in site.requests[before:]]
        runs.extra["single_articles"] = stored_articles(single_db)
        runs.extra["single_db"] = single_db
    return runs


def test_both_crawlers_finish_and_share_one_run(two_crawlers: Runs) -> None:
    for night in two_crawlers.procs:
        for proc in night:
            assert proc.returncode == 0, proc.stderr[-3000:]
        frontier_runs = {line.rsplit("run ", 1)[1] for p in night for line in p.stdout.splitlines()
                         if line.startswith("shared frontier")}
        assert len(frontier_runs) == 1, [p.stdout for p in night]
    first = {line for p in two_crawlers.procs[0] for line in p.stdout.splitlines() if "shared frontier" in line}
    second = {line for p in two_crawlers.procs[1] for line in p.stdout.splitlines() if "shared frontier" in line}
    assert first != second, "the next night is a new run"
    # The second process joined while the queue was full: both fetched pages.
    requests = [int(re.search(r"; (\d+) requests;", p.stdout).group(1)) for p in two_crawlers.procs[0]]
    assert all(n > 0 for n in requests), requests
    assert "ScrapyDeprecationWarning" not in "".join(p.stderr for night in two_crawlers.procs for p in night)


def test_every_page_fetched_exactly_once(two_crawlers: Runs) -> None:
    """Over both processes, every page (article, feed, sitemap, section page) was requested once.

    robots.txt is Scrapy's own business, fetched by each process that downloads something (plus once as a
    discovery page for an outlet without sitemaps), as without Redis."""
    counts = Counter(two_crawlers.requests[0])
    robots = counts.pop(ROBOTS, 0)
    assert {p: n for p, n in counts.items() if n != 1} == {}
    assert set(counts) >= DISCOVERY
    # The same pages as one process alone (which also requests each once).
    single = Counter(two_crawlers.extra["single_requests"])
    # robots.txt: read for its sitemaps once per outlet without configured sitemaps, and by Scrapy's robots
    # middleware once in each process (one more process, at most one more time).
    assert robots <= single.pop(ROBOTS) + 1
    assert set(counts) == set(single)
    assert len([p for p in counts if p.startswith("/many/news/")]) == 30


def test_every_article_stored_once(two_crawlers: Runs) -> None:
    stored = two_crawlers.extra["stored_first"]
    urls = [a["canonical_url"] for a in stored]
    assert len(urls) == len(set(urls))
    assert len({a["id"] for a in stored}) == len(stored)
    single = {a["canonical_url"] for a in two_crawlers.extra["single_articles"]}
    assert set(urls) == single
    assert len(urls) == 36
    assert Counter(a["outlet"] for a in stored) == {"courier": 30, "lantau": 3, "kowloonpost": 3}


def test_next_night_rereads_discovery_pages_once_and_no_article(two_crawlers: Runs) -> None:
    counts = Counter(two_crawlers.requests[1])
    counts.pop(ROBOTS, None)
    assert not [p for p in counts if p.startswith(("/many/news/", "/en/20", "/zh/gbk", "/zh/big5", "/zh/utf8"))]
    assert {p: n for p, n in counts.items() if p in DISCOVERY} == dict.fromkeys(DISCOVERY, 1)
    assert stored_articles(two_crawlers.db) == two_crawlers.extra["stored_first"]


def test_finished_run_leaves_no_queue_or_duplicate_filter(two_crawlers: Runs) -> None:
    """A completed run clears its duplicate filter and run marker; nothing is left queued."""
    assert [k for k in two_crawlers.extra["keys_left"] if ":seen" in k or k.endswith((":run", ":requests"))] == []


def test_grouping_with_shared_index_gives_same_events_as_in_memory(two_crawlers: Runs, tmp_path: Path) -> None:
    """`group --redis` (LSH index in Redis) on the store the two crawlers filled gives the events a plain
    `group` (in-memory index) gives; a second grouping finds every signature already in the index."""
    db = two_crawlers.db
    plain = run_cli("group", "--db", db, "--out", tmp_path / "plain")
    assert plain.returncode == 0, plain.stderr
    # --full: after the first grouping a plain `group` is the incremental nightly step, which would regroup
    # nothing here (nothing is new); the comparison needs every article grouped through the shared index.
    shared = run_cli("group", "--db", db, "--out", tmp_path / "shared", "--redis", two_crawlers.redis_url, "--full")
    assert shared.returncode == 0, shared.stderr
    assert "36 signatures added" in shared.stdout
    again = run_cli("group", "--db", db, "--out", tmp_path / "again", "--redis", two_crawlers.redis_url, "--full")
    assert again.returncode == 0, again.stderr
    assert "0 signatures added" in again.stdout

    def partition(path: Path) -> list[Any]:
        """Which articles form each event and story, and how each joined (ids aside: they are kept stable
        from the previous grouping anyway)."""
        events = read_jsonl(path)
        assert events
        return sorted(
            sorted((a["id"], a["link"]["method"], a["link"].get("linked_to"),
                    tuple(sorted(b["id"] for b in e["articles"] if b["story_id"] == a["story_id"])))
                   for a in e["articles"])
            for e in events
        )

    assert partition(tmp_path / "shared" / "events.jsonl") == partition(tmp_path / "plain" / "events.jsonl")
    assert partition(tmp_path / "again" / "events.jsonl") == partition(tmp_path / "plain" / "events.jsonl")


def test_plain_crawl_refused_while_shared_crawls_hold_the_store(two_crawlers: Runs) -> None:
    from crawler.lock import AlreadyRunning, RunLock

    if two_crawlers.db.startswith("postgresql"):
        pytest.skip("a PostgreSQL store has no file lock: its named locks are tested in test_storage.py")

    with RunLock(two_crawlers.db, shared=True), RunLock(two_crawlers.db, shared=True):
        with pytest.raises(AlreadyRunning), RunLock(two_crawlers.db):
            pass
        plain = run_cli("crawl", "--urls", os.devnull, "--db", two_crawlers.db, "--out", two_crawlers.work / "x")
        assert plain.returncode == 75, plain.stderr
        assert "shared-frontier crawls" in plain.stderr
    with RunLock(two_crawlers.db), pytest.raises(AlreadyRunning), RunLock(two_crawlers.db, shared=True):
        pass


def test_unreachable_redis_is_a_clear_error(tmp_path: Path) -> None:
    proc = run_cli("crawl", "--urls", os.devnull, "--db", tmp_path / "db.sqlite3", "--out", tmp_path,
                   "--redis", "redis://:secret@127.0.0.1:1/0")
    assert proc.returncode == 1
    assert "redis://:***@127.0.0.1:1/0: cannot reach Redis" in proc.stderr
    assert "secret" not in proc.stderr
    assert not (tmp_path / "db.sqlite3").exists() or stored_articles(str(tmp_path / "db.sqlite3")) == []


# --- a crawler killed mid-run ---------------------------------------------------------------------
@pytest.fixture(scope="module", params=STORES)
def killed_crawler(request: pytest.FixtureRequest, redis_server: str, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """A crawler SIGKILLed mid-run; a second one started at once takes over its queue; a third, later, run
    brings back what the killed one had in flight."""
    work = tmp_path_factory.mktemp(f"killed-{request.param}")
    runs = Runs(db=make_store_url(request.param, work, request), redis_url=redis_server, work=work)
    client = redis_client(redis_server)
    queue_key = f"{store_namespace(runs.db)}:outlets:requests"
    site_root = work / "site"
    shutil.copytree(MANY, site_root)
    with FixtureSite(site_root, delay=0.3) as site:
        outlets = work / "outlets.toml"
        outlets.write_text(outlet_toml("courier", feeds=[f"{site.base_url}/rss.xml"], allow=[r"/news/\d{4}/"],
                                       download_delay=0, concurrency=2), encoding="utf-8")
        args = crawl_args(outlets, runs.db, work / "out", redis_server)
        first = start_cli(*args)
        deadline = time.monotonic() + 120
        while first.poll() is None and time.monotonic() < deadline:
            if (runs.db.startswith("postgresql") or Path(runs.db).exists()) and len(stored_articles(runs.db)) >= 4:
                break
            time.sleep(0.1)
        os.kill(first.pid, signal.SIGKILL)
        first.communicate(timeout=30)
        runs.extra["queued_after_kill"] = client.zcard(queue_key)
        killed_run = client.get(f"{store_namespace(runs.db)}:run")
        runs.extra["killed_run"] = killed_run.decode() if killed_run else None
        runs.extra["stored_at_kill"] = {a["canonical_url"] for a in stored_articles(runs.db)}
        time.sleep(1.0)  # answers to the killed process's last requests arrive and are logged
        runs.requests.append([r.split("?", 1)[0] for r in site.requests])
        for _ in range(2):
            before = len(site.requests)
            runs.procs.append([finish_cli(start_cli(*args), timeout=300)])
            runs.requests.append([r.split("?", 1)[0] for r in site.requests[before:]])
            runs.extra.setdefault("stored_after", []).append({a["canonical_url"] for a in stored_articles(runs.db)})
    return runs


def test_killed_crawlers_queue_is_kept_and_taken_over(killed_crawler: Runs) -> None:
    runs = killed_crawler
    assert runs.extra["queued_after_kill"] > 0
    takeover = runs.procs[0][0]
    assert takeover.returncode == 0, takeover.stderr[-3000:]
    joined = f"run {runs.extra['killed_run']}" in takeover.stdout
    if joined:
        # It joined the killed process's run: the feed was not read again.
        assert "/rss.xml" not in runs.requests[1]
    else:
        # Started so late (a loaded machine) that the killed process's heartbeat had expired: a new run, which
        # reads the feed again but queues nothing twice.
        assert runs.requests[1].count("/rss.xml") == 1
    fetched = [p for p in runs.requests[1] if p.startswith("/news/")]
    assert len(fetched) == len(set(fetched))
    assert len(fetched) >= runs.extra["queued_after_kill"]
    killed_fetched = {p for p in runs.requests[0] if p.startswith("/news/")}
    if joined:
        assert not killed_fetched & set(fetched), "a request of the run was fetched twice"
    else:
        assert not {urlsplit(u).path for u in runs.extra["stored_at_kill"]} & set(fetched)


def test_next_run_brings_back_what_the_killed_crawler_had_in_flight(killed_crawler: Runs) -> None:
    runs = killed_crawler
    last = runs.procs[1][0]
    assert last.returncode == 0, last.stderr[-3000:]
    assert "/rss.xml" in runs.requests[2]  # a new run: the feed is read again
    final = stored_articles(runs.db)
    assert len(final) == 30
    assert len({a["canonical_url"] for a in final}) == 30
    # What the first two stored is not requested again; what they left (in flight at the kill) is.
    stored_before = {urlsplit(u).path for u in runs.extra["stored_after"][0]}
    if f"run {runs.extra['killed_run']}" in runs.procs[0][0].stdout:
        assert len(stored_before) < 30  # the takeover, in the killed run, could not fetch what was in flight
    fetched = {p for p in runs.requests[2] if p.startswith("/news/")}
    assert not stored_before & fetched
    assert fetched == {urlsplit(a["canonical_url"]).path for a in final} - stored_before


@pytest.mark.parametrize("store_kind", STORES)
def test_max_per_outlet_is_the_budget_of_the_whole_run(store_kind: str, redis_server: str, tmp_path: Path,
                                                      request: pytest.FixtureRequest) -> None:
    """Two crawler processes each finding 10 of an outlet's articles (say from two feeds) under --max-per-outlet 5
    schedule 5 between them, not 5 each: the count is kept in Redis for the run."""
    from scrapy.utils.test import get_crawler

    from crawler.discovery import Discovered
    from crawler.frontier import SharedScheduler
    from crawler.spiders.outlets import OutletsSpider

    db = make_store_url(store_kind, tmp_path, request)
    outlets = tmp_path / "outlets.toml"
    outlets.write_text('[[outlet]]\nid = "courier"\nname = "Port Ellery Courier"\ndomains = ["example.org"]\n'
                       'languages = ["en"]\nfeeds = ["https://example.org/rss.xml"]\n', encoding="utf-8")
    scheduled = []
    for process in range(2):
        frontier = SharedScheduler(server=redis_client(redis_server), prefix=store_namespace(db))
        frontier.run_id = "one-run"
        spider = OutletsSpider.from_crawler(get_crawler(OutletsSpider, {"NEWSDEDUPE_DB": db}),
                                            outlets=str(outlets), max_per_outlet=5)
        spider.frontier = frontier
        assert spider.store is not None
        try:
            for n in range(10):
                url = f"https://example.org/news/2025/11/{n + 1:02d}/story-{process}-{n}.html"
                req = spider.consider(Discovered(url=url, via="feed", source="https://example.org/rss.xml"),
                                      spider.outlets[0])
                scheduled.append(req is not None)
        finally:
            spider.store.close()
    assert sum(scheduled) == 5
    # Without a shared frontier the budget is the process's own, as before.
    spider = OutletsSpider.from_crawler(get_crawler(OutletsSpider, {"NEWSDEDUPE_DB": str(tmp_path / "alone.db")}),
                                        outlets=str(outlets), max_per_outlet=5)
    assert spider.store is not None
    try:
        alone = [spider.consider(Discovered(url=f"https://example.org/news/2025/11/30/a-{n}.html", via="feed",
                                            source="https://example.org/rss.xml"), spider.outlets[0])
                 for n in range(10)]
    finally:
        spider.store.close()
    assert sum(r is not None for r in alone) == 5
