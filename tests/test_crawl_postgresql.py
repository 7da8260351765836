"""The whole job with `--db postgresql://...`: crawl the sample site, group, export, and get what SQLite gives.

One HTTP server on 127.0.0.1 serves the bundled sample outlets to three crawlers at once: the command line
into a SQLite store, the command line into a PostgreSQL store, and `scrapy crawl outlets` into the same
PostgreSQL store (a second machine without a shared frontier: both fetch everything and race to store it).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, SAMPLE_SITE, finish_cli, read_jsonl, run_cli, start_cli

from crawler.sitesrv import FixtureSite
from crawler.storage import open_store


@dataclass
class Job:
    db: str
    out: Path
    procs: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)


def _outlets(site: FixtureSite, path: Path) -> Path:
    """The sample outlets without polite delays (every outlet is on the one 127.0.0.1 host: one slot)."""
    text = site.render("outlets.toml").replace('id = "pacificwire"', 'id = "pacificwire"\ndownload_delay = 0\n'
                                                'concurrency = 8', 1)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory, postgres_server: Any) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("pg-e2e")
    sqlite = Job(str(root / "store.sqlite3"), root / "sqlite")
    # The test server trusts local connections, so a password in the URL is accepted and ignored: it is there
    # to check that nothing prints it.
    pg = Job(postgres_server.new_database().replace("://newsdedupe@", "://newsdedupe:s3cret@"), root / "pg")
    with FixtureSite(SAMPLE_SITE) as site:
        outlets = _outlets(site, root / "outlets.toml")
        procs = {
            "sqlite": start_cli("crawl", "--outlets", outlets, "--db", sqlite.db, "--out", sqlite.out,
                                "--allow-private"),
            "pg": start_cli("crawl", "--outlets", outlets, "--db", pg.db, "--out", pg.out, "--allow-private"),
            "scrapy": subprocess.Popen(
                [sys.executable, "-m", "scrapy", "crawl", "outlets", "-a", f"outlets={outlets}",
                 "-s", f"NEWSDEDUPE_DB={pg.db}", "-s", "NEWSDEDUPE_ALLOW_PRIVATE=True", "-s", "LOG_LEVEL=WARNING"],
                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                env={**os.environ, "PYTHONIOENCODING": "utf-8"}),
        }
        sqlite.procs["crawl"] = finish_cli(procs["sqlite"])
        pg.procs["crawl"] = finish_cli(procs["pg"])
        pg.procs["scrapy"] = finish_cli(procs["scrapy"])
        first_requests = len(site.requests)
        pg.procs["recrawl"] = run_cli("crawl", "--outlets", outlets, "--db", pg.db, "--out", pg.out / "again",
                                      "--allow-private")
        recrawl_requests = list(site.requests[first_requests:])
    # The same steps on both stores, side by side: (step, arguments, output subfolder).
    steps: list[tuple[str, list[str], str]] = [
        ("group", ["group"], ""), ("jsonl", ["export", "--format", "jsonl"], ""),
        # --only-new twice before the full export (which counts as having sent everything)
        ("new1", ["export", "--format", "articles", "--only-new"], "new1"),
        ("new2", ["export", "--format", "articles", "--only-new"], "new2"),
        ("articles", ["export", "--format", "articles"], ""),
    ]
    for step, args, sub in steps:
        running = [(job, start_cli(*args, "--db", job.db, "--out", job.out / sub)) for job in (sqlite, pg)]
        for job, proc in running:
            job.procs[step] = finish_cli(proc)
    return {"sqlite": sqlite, "pg": pg, "recrawl_requests": recrawl_requests}


def _ok(job: Job, *steps: str) -> None:
    for step in steps:
        assert job.procs[step].returncode == 0, f"{step}: {job.procs[step].stderr[-2000:]}"


def _articles(job: Job) -> list[dict[str, Any]]:
    """The exported articles without their fetch time (two crawls never fetch at the same second) and the way
    their URL was found (a feed or a sitemap listing both: whichever of the racing crawlers stored it first)."""
    return sorted(({k: v for k, v in a.items() if k not in ("fetched", "discovered_via")}
                   for a in read_jsonl(job.out / "articles.jsonl")), key=lambda a: a["id"])


def test_two_crawlers_on_one_postgresql_store_store_each_article_once(jobs: dict[str, Any]) -> None:
    sqlite, pg = jobs["sqlite"], jobs["pg"]
    _ok(sqlite, "crawl")
    _ok(pg, "crawl", "scrapy")
    assert "Traceback" not in pg.procs["scrapy"].stderr and "ERROR" not in pg.procs["scrapy"].stderr
    with open_store(sqlite.db) as s, open_store(pg.db) as p:
        expected = [a.id for a in s.articles()]
        assert len(expected) >= 10
        assert [a.id for a in p.articles()] == expected, "every article once, whichever crawler stored it"


def test_postgresql_store_holds_the_same_articles_as_sqlite(jobs: dict[str, Any]) -> None:
    sqlite, pg = jobs["sqlite"], jobs["pg"]
    _ok(sqlite, "articles")
    _ok(pg, "articles")
    assert _articles(pg) == _articles(sqlite)
    assert any(a["language"].startswith("zh") for a in _articles(pg)), "Chinese text survives the round trip"


def test_postgresql_store_groups_into_the_same_events_as_sqlite(jobs: dict[str, Any]) -> None:
    sqlite, pg = jobs["sqlite"], jobs["pg"]
    _ok(sqlite, "group", "jsonl")
    _ok(pg, "group", "jsonl")
    events = read_jsonl(pg.out / "events.jsonl")
    assert events == read_jsonl(sqlite.out / "events.jsonl")
    assert any(e["article_count"] > 1 for e in events) and any(len(e["languages"]) > 1 for e in events)
    group_line = [line for line in pg.procs["group"].stdout.splitlines() if line.startswith("group:")]
    assert group_line and "events" in group_line[0]


def test_a_rerun_on_postgresql_fetches_no_stored_article(jobs: dict[str, Any]) -> None:
    pg = jobs["pg"]
    _ok(pg, "recrawl")
    assert "crawl: 0 new articles stored in postgresql://" in pg.procs["recrawl"].stdout
    with open_store(pg.db) as store:
        article_paths = {a.url.split("/", 3)[3] for a in store.articles()}
    again = {"/" + p.split("?", 1)[0].lstrip("/") for p in jobs["recrawl_requests"]}
    assert not again & {"/" + p for p in article_paths}


def test_only_new_articles_export_sends_each_article_once_on_both(jobs: dict[str, Any]) -> None:
    for job in (jobs["sqlite"], jobs["pg"]):
        _ok(job, "new1", "new2")
        first = read_jsonl(job.out / "new1" / "articles-new.jsonl")
        assert len(first) == len(read_jsonl(job.out / "articles.jsonl"))
        assert read_jsonl(job.out / "new2" / "articles-new.jsonl") == []


def test_nothing_prints_the_store_password(jobs: dict[str, Any]) -> None:
    pg = jobs["pg"]
    assert "s3cret" in pg.db
    for step, proc in pg.procs.items():
        assert "s3cret" not in proc.stdout + proc.stderr, step
    assert "postgresql://newsdedupe:***@" in pg.procs["crawl"].stdout
    reports = list((pg.out / "runs").glob("*.json"))
    assert reports
    for path in reports:
        assert json.loads(path.read_text(encoding="utf-8"))["db"].startswith("postgresql://newsdedupe:***@")
