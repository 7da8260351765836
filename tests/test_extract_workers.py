"""Extraction in worker processes: the same records as in the reactor's thread, a killed worker is replaced
without losing a page, and a crawl killed with SIGKILL takes its workers with it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, finish_cli, query, start_cli
from test_crawl_resilience import MANY, MANY_ARTICLES, crawl_args, outlet_toml, stored_count, write_file

from crawler.sitesrv import FixtureSite

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc to find workers")


def children(pid: int) -> list[int]:
    """Direct children of a process (from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def workers_of(pid: int) -> list[int]:
    """The crawl's extraction workers (spawned children running multiprocessing's worker entry point)."""
    found = []
    for child in children(pid):
        try:
            cmd = (Path("/proc") / str(child) / "cmdline").read_bytes()
        except OSError:
            continue
        if b"--multiprocessing-fork" in cmd:
            found.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for(predicate, timeout: float = 60) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def outlets_file(work: Path, base_url: str) -> Path:
    return write_file(work / "outlets.toml", outlet_toml(
        "courier", feeds=[f"{base_url}/rss.xml"], allow=[r"/news/\d{4}/\d{2}/\d{2}/"], download_delay=0,
        concurrency=8,
    ))


def test_killed_worker_is_replaced_and_every_article_is_stored(tmp_path: Path) -> None:
    with FixtureSite(MANY, delay=0.1) as site:
        proc = start_cli(*crawl_args("crawl", outlets_file(tmp_path, site.base_url), tmp_path))
        db = tmp_path / "store.sqlite3"
        assert wait_for(lambda: stored_count(db) >= 3 and len(workers_of(proc.pid)) == 2), "no workers seen"
        victim = workers_of(proc.pid)[0]
        os.kill(victim, signal.SIGKILL)
        done = finish_cli(proc)
    assert done.returncode == 0, done.stderr
    stored = query(db, "SELECT canonical_url FROM articles")
    assert len(stored) == len(MANY_ARTICLES)
    states = {r["status"] for r in query(db, "SELECT status FROM urls WHERE url LIKE '%/news/%'")}
    assert states == {"ok"}


def test_crawl_killed_with_sigkill_takes_its_workers_along(tmp_path: Path) -> None:
    with FixtureSite(MANY, delay=0.15) as site:
        proc = start_cli(*crawl_args("crawl", outlets_file(tmp_path, site.base_url), tmp_path))
        db = tmp_path / "store.sqlite3"
        assert wait_for(lambda: stored_count(db) >= 3 and len(workers_of(proc.pid)) == 2), "no workers seen"
        workers = workers_of(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)  # returns only when nothing holds the crawl's stdout and stderr any more
    assert wait_for(lambda: not any(alive(w) for w in workers), timeout=10), "a worker outlived the crawl"


def _crawl_in_child(work: Path, base_url: str, workers: int) -> Path:
    db = work / f"store-{workers}.sqlite3"
    code = (
        "import sys; from crawler.runner import CrawlOptions, run_crawl; "
        "run_crawl(CrawlOptions(outlets_file=sys.argv[1], db=sys.argv[2], allow_private=True, base_url=sys.argv[3],"
        " polite=False, extract_workers=int(sys.argv[4])))"
    )
    subprocess.run([sys.executable, "-c", code, str(work / "outlets.toml"), str(db), base_url, str(workers)],
                   cwd=REPO, check=True, timeout=120, capture_output=True)
    return db


def test_workers_store_the_same_records_as_extraction_in_the_reactor(tmp_path: Path) -> None:
    with FixtureSite(MANY) as site:
        outlets_file(tmp_path, site.base_url)
        in_reactor = _crawl_in_child(tmp_path, site.base_url, 0)
        in_workers = _crawl_in_child(tmp_path, site.base_url, 2)
    columns = "id, url, canonical_url, outlet, title, text, language, language_source, published, " \
              "published_source, authors, encoding, extraction_status, meta"
    a = query(in_reactor, f"SELECT {columns} FROM articles ORDER BY id")
    b = query(in_workers, f"SELECT {columns} FROM articles ORDER BY id")
    assert len(a) == len(MANY_ARTICLES)
    assert a == b


def test_pool_spawned_before_the_reactor_extracts_and_an_unused_one_closes(tmp_path: Path) -> None:
    """`crawler.runner` spawns the workers before Scrapy (and a reactor) exists: they are watched from the first
    page on and give extract_article's own record; workers spawned for a crawl that fetched nothing exit when
    the pool closes."""
    page = tmp_path / "page.html"
    page.write_text(
        "<html lang='en'><head><title>Harbour ferry timetable changes</title></head><body><article>"
        "<h1>Harbour ferry timetable changes</h1>"
        + "".join(f"<p>Paragraph {i}: the harbour authority said the new ferry timetable adds services on weekday "
                  "mornings, after residents asked for more sailings to the outlying islands.</p>" for i in range(8))
        + "</article></body></html>", encoding="utf-8")
    code = """
import sys, pickle
from pathlib import Path
from crawler.extractpool import ExtractionPool
from crawler.extraction import extract_article

unused = ExtractionPool(2)
unused.spawn()
pool = ExtractionPool(2)
pool.spawn()
assert "twisted.internet.reactor" not in sys.modules, "spawning needs no reactor"
unused_processes = [w.process for w in unused._workers]
unused.close()
assert [p.exitcode for p in unused_processes] == [0, 0], [p.exitcode for p in unused_processes]

from twisted.internet import asyncioreactor
asyncioreactor.install()
from twisted.internet import reactor
from twisted.internet.defer import Deferred

body = Path(sys.argv[1]).read_bytes()
url = "https://example.test/news/ferry.html"
got = {}

def done(record):
    got["record"] = record
    reactor.stop()

def failed(f):
    got["error"] = repr(f.value)
    reactor.stop()

reactor.callWhenRunning(lambda: Deferred.fromCoroutine(pool.extract(body, url, None, "text/html")).addCallbacks(done, failed))
reactor.run()
processes = [w.process for w in pool._workers]
pool.close()
assert "error" not in got, got
assert got["record"] == extract_article(body, url, None, "text/html")
assert all(p.exitcode == 0 for p in processes), [p.exitcode for p in processes]
print("ok", got["record"].status, got["record"].title)
"""
    out = subprocess.run([sys.executable, "-c", code, str(page)], cwd=REPO, capture_output=True, text=True, check=False,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "ok ok Harbour ferry timetable changes"
