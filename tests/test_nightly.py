"""What a nightly job relies on: one run at a time (and no stale lock after a crash), cheap re-reads of
unchanged feeds and sitemaps, and nothing lost when an unchanged feed still lists unfetched articles."""
from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import FIXTURE_SITE, REPO, cli_command, run_cli

from crawler.sitesrv import FixtureSite

HOLD_LOCK = """
import sys, time
from crawler.lock import RunLock
with RunLock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def _hold_lock(db: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_second_run_is_skipped_while_one_holds_the_lock_and_runs_after_a_crash(tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite3"
    holder = _hold_lock(db)
    try:
        skipped = run_cli("group", "--db", db, "--out", tmp_path / "out")
        assert skipped.returncode == 75
        assert "another newsdedupe run holds" in skipped.stderr and f"pid {holder.pid}" in skipped.stderr
        assert "skipping this run" in skipped.stderr
        assert not (tmp_path / "out" / "events.jsonl").exists(), "a skipped run must not write anything"
    finally:
        holder.send_signal(signal.SIGKILL)  # a crash: the lock must not outlive its process
        holder.wait()
    after = run_cli("group", "--db", db, "--out", tmp_path / "out")
    assert after.returncode == 0, after.stderr
    assert (tmp_path / "out" / "events.jsonl").exists()


def _crawl(outlets: Path, db: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return run_cli("crawl", "--outlets", outlets, "--db", db, "--out", out, "--allow-private")


def _latest_report(out: Path) -> dict:
    return json.loads(sorted((out / "runs").glob("*.json"))[-1].read_text(encoding="utf-8"))


def test_unchanged_feeds_and_sitemaps_answer_304_and_nothing_is_refetched(tmp_path: Path) -> None:
    with FixtureSite(FIXTURE_SITE) as site:
        outlets = tmp_path / "outlets.toml"
        outlets.write_text(site.render("outlets.toml"), encoding="utf-8")
        db, out = tmp_path / "store.sqlite3", tmp_path / "out"
        first = _crawl(outlets, db, out)
        assert first.returncode == 0, first.stderr
        n_first = len(site.requests)
        time.sleep(1.1)  # a new run-report file name
        second = _crawl(outlets, db, out)
        assert second.returncode == 0, second.stderr
        again = site.requests[n_first:]
    report = _latest_report(out)
    unchanged = sum(c.get("sources_unchanged", 0) for c in report["outlets"].values())
    assert unchanged >= 3, report["outlets"]  # the RSS feed, the sitemap index and the news sitemap
    assert not any("/20" in path for path in again), f"an article page was fetched again: {again}"
    with sqlite3.connect(db) as conn:
        validators = conn.execute("SELECT COUNT(*) FROM sources WHERE etag IS NOT NULL").fetchone()[0]
    assert validators >= 3


def test_unchanged_feed_still_yields_what_an_interrupted_run_left(tmp_path: Path) -> None:
    """The feed is read (validators saved), then the run dies before fetching its articles: the next run gets
    a 304 for the feed but must still fetch every listed article."""
    with FixtureSite(FIXTURE_SITE, delay=0.3) as site:
        outlets = tmp_path / "outlets.toml"
        outlets.write_text(site.render("outlets.toml"), encoding="utf-8")
        db, out = tmp_path / "store.sqlite3", tmp_path / "out"
        proc = subprocess.Popen(
            cli_command("crawl", "--outlets", outlets, "--db", db, "--out", out, "--allow-private", "--only", "lantau"),
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 60
        while time.time() < deadline and "/en/rss.xml" not in site.requests:
            time.sleep(0.05)
        time.sleep(0.5)  # the feed's answer is parsed; its articles are queued, not yet fetched
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with sqlite3.connect(db) as conn:
            stored_before = conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        assert stored_before < 3, "the kill came too late to test anything"
        resumed = run_cli("crawl", "--outlets", outlets, "--db", db, "--out", out, "--allow-private", "--only", "lantau")
        assert resumed.returncode == 0, resumed.stderr
    with sqlite3.connect(db) as conn:
        urls = [r[0] for r in conn.execute("SELECT canonical_url FROM articles WHERE outlet = 'lantau'")]
    assert len(urls) == len(set(urls)) == 3, urls


def test_two_overlapping_nightly_runs_one_skips_with_a_message_the_other_completes(tmp_path: Path) -> None:
    """Two real `run`s on one store, the second started while the first crawls a slow site."""
    from conftest import finish_cli, start_cli

    with FixtureSite(FIXTURE_SITE, delay=0.1) as site:
        outlets = tmp_path / "outlets.toml"
        outlets.write_text(site.render("outlets.toml"), encoding="utf-8")
        db = tmp_path / "store.sqlite3"
        args = ["run", "--outlets", outlets, "--db", db, "--allow-private"]
        first = start_cli(*args, "--out", tmp_path / "first")
        deadline = time.monotonic() + 60
        while not site.requests and time.monotonic() < deadline:  # the first run has started crawling
            time.sleep(0.05)
        assert first.poll() is None, "the first run ended before the second started"
        second = run_cli(*args, "--out", tmp_path / "second")
        done = finish_cli(first, timeout=300)
    assert second.returncode == 75, second.stderr
    assert "skipping this run" in second.stderr and f"pid {first.pid}" in second.stderr
    assert not (tmp_path / "second" / "events.jsonl").exists()
    assert done.returncode == 0, done.stderr
    conn = sqlite3.connect(db)
    try:
        urls = [r[0] for r in conn.execute("SELECT canonical_url FROM articles")]
    finally:
        conn.close()
    assert urls and len(urls) == len(set(urls))
    # The lock is free again: a third run goes ahead.
    third = run_cli("export", "--db", db, "--format", "jsonl", "--only-new", "--out", tmp_path / "third")
    assert third.returncode == 0, third.stderr
