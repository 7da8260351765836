"""The store's behaviour, the same on both backends: every test runs on SQLite and on a real PostgreSQL server
(started once per session on 127.0.0.1; skipped without one locally, a failure under CI)."""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, run_cli

from crawler.lock import AlreadyRunning, PgRunLock, lock_names, store_lock
from crawler.storage import Store, article_id_for, display_db, open_store


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store's `--db`: a SQLite path, or the URL of an empty PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "store.sqlite3")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(db: str) -> Iterator[Store]:
    with open_store(db) as st:
        yield st


def record(n: int, **extra: Any) -> dict[str, Any]:
    canonical = f"https://example.test/2025/10/0{n % 9 + 1}/story-{n}.html"
    return {
        "id": article_id_for(canonical), "url": canonical + "?utm_source=x", "canonical_url": canonical,
        "outlet": "testpost", "title": f"Story {n} 標題", "text": f"Body of story {n}. 正文 {n}。",
        "language": "en", "language_source": "langdetect", "published": f"2025-10-0{n % 9 + 1}",
        "published_source": "page", "authors": ["A. Writer", "李記者"], "fetched": "2025-10-10T00:00:00+00:00",
        "discovered_via": "feed", "extraction_status": "ok", "encoding": "utf-8", "topics": [],
        "meta": {"note": "ünïcode"}, **extra,
    }


# --- articles ---------------------------------------------------------------------------------------------
def test_article_round_trips_and_is_stored_once(store: Store) -> None:
    rec = record(1, topics=["hk-surveillance"], meta={"topic_matches": {"hk-surveillance": {"title": ["CCTV"]}}})
    assert store.add_article(rec) is True
    assert store.add_article({**rec, "title": "changed"}) is False, "a stored canonical URL is never replaced"
    assert store.count_articles() == 1
    got = store.article_for_url(rec["canonical_url"])
    assert got is not None
    assert got.to_dict() == {
        **{k: v for k, v in rec.items() if k != "meta"}, "topic_matches": {"hk-surveillance": {"title": ["CCTV"]}},
    }
    assert store.has_article(rec["canonical_url"]) and not store.has_article("https://example.test/other")


def test_article_stored_first_by_another_process_is_not_stored_again(db: str) -> None:
    """Two writers race for the same article: one stores it, the other gets False and waits for the first."""
    rec = record(2)
    with open_store(db) as first, open_store(db) as second:
        results: dict[str, bool] = {}
        with first.transaction():
            assert first.add_article(rec) is True
            racer = threading.Thread(target=lambda: results.setdefault("second", second.add_article(rec)))
            racer.start()
            racer.join(timeout=1.0)
            assert "second" not in results, "the second writer must wait for the first one's transaction"
        racer.join(timeout=60)
        assert results == {"second": False}
        assert second.count_articles() == 1


def test_only_new_watermark_never_passes_over_an_article_committed_late(db: str) -> None:
    """Writer A stores X but has not committed; writer B stores Y meanwhile. An exporter reading in between must
    not see Y before X, or its watermark would pass X for good: B waits for A, so storing order is commit order."""
    x, y = record(11), record(12)
    with open_store(db) as a, open_store(db) as b, open_store(db) as reader:
        done = threading.Event()
        with a.transaction():
            a.add_article(x)
            writer = threading.Thread(target=lambda: (b.add_article(y), done.set()))
            writer.start()
            writer.join(timeout=1.0)
            assert not done.is_set(), "a second writer must wait for the first one's commit"
            assert list(reader.articles_after(0)) == []
        writer.join(timeout=60)
        assert done.is_set()
        seen = [(mark, art.id) for mark, art in reader.articles_after(0)]
        assert [aid for _, aid in seen] == [x["id"], y["id"]] and seen[0][0] < seen[1][0]


def test_articles_filtered_by_date_and_topic_in_id_order(store: Store) -> None:
    recs = [record(n, topics=["t1"] if n % 2 else []) for n in range(1, 7)]
    recs[0]["published"] = None  # falls back to its fetch date
    for r in recs:
        store.add_article(r)
    assert [a.id for a in store.articles()] == sorted(r["id"] for r in recs)
    assert {a.id for a in store.articles(since="2025-10-04")} == {
        r["id"] for r in recs if (r["published"] or r["fetched"]) >= "2025-10-04"}
    assert {a.id for a in store.articles(topic="t1")} == {r["id"] for r in recs if r["topics"]}
    assert store.topic_ids() == {"t1"}
    assert store.texts([recs[1]["id"], "missing"]) == {recs[1]["id"]: recs[1]["text"]}


def test_texts_of_more_ids_than_one_query_takes(store: Store) -> None:
    recs = [record(n) for n in range(1200)]
    with store.transaction():
        for r in recs:
            store.add_article(r)
    assert store.texts(r["id"] for r in recs) == {r["id"]: r["text"] for r in recs}


def test_articles_after_a_watermark_come_in_storing_order(store: Store) -> None:
    first, second, third = record(5), record(3), record(4)
    for r in (first, second):
        store.add_article(r)
    seen = list(store.articles_after(0))
    assert [a.id for _, a in seen] == [first["id"], second["id"]]
    mark = seen[-1][0]
    store.add_article(third)
    assert [a.id for _, a in store.articles_after(mark)] == [third["id"]]


def test_tagging_adds_a_topic_once_and_keeps_what_matched(store: Store) -> None:
    rec = record(7)
    store.add_article(rec)
    store.tag_article(rec["id"], "t1", {"title": ["x"]})
    store.tag_article(rec["id"], "t1", {"title": ["y"]})
    store.tag_article("no-such-article", "t1", {})
    got = store.article_for_url(rec["canonical_url"])
    assert got is not None and got.topics == ["t1"] and got.meta["topic_matches"] == {"t1": {"title": ["y"]}}
    assert got.meta["note"] == "ünïcode"


def test_failed_transaction_leaves_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.add_article(record(8))
        store.set_url_status("https://example.test/a", "ok")
        raise RuntimeError("crash between the writes")
    assert store.count_articles() == 0 and store.url_status("https://example.test/a") is None


# --- URL state --------------------------------------------------------------------------------------------
def test_discovery_keeps_first_seen_and_a_dated_hint_replaces_an_undated(store: Store) -> None:
    url = "https://example.test/a"
    store.record_discovery(url, "testpost", "feed", {"source": "https://example.test/rss"})
    assert store.known_published(url) is None
    store.record_discovery(url, "testpost", "sitemap", {"source": "s", "published": "2025-10-01"})
    assert store.known_published(url) == "2025-10-01"
    store.record_discovery(url, "testpost", "feed", {"source": "https://example.test/rss"})
    assert store.known_published(url) == "2025-10-01", "an undated hint never replaces a dated one"
    store.set_known_published(url, "2025-10-02T08:00:00+08:00")
    assert store.known_published(url) == "2025-10-02T08:00:00+08:00"
    assert store.url_status(url) == "discovered"


def test_url_states_decide_what_is_fetched_again(store: Store) -> None:
    base = "https://example.test/"
    for name, status, code in [("ok", "ok", None), ("404", "http_error", 404), ("503", "http_error", 503),
                               ("off", "off_topic", None), ("robots", "blocked_by_robots", None)]:
        store.set_url_status(base + name, status, http_status=code, outlet="testpost")
    assert store.is_done(base + "ok") and store.is_done(base + "404") and store.is_done(base + "robots")
    assert not store.is_done(base + "503") and not store.is_done(base + "off") and not store.is_done(base + "new")
    # A later status keeps the earlier HTTP code and article id unless it brings its own.
    store.set_url_status(base + "503", "ok", article_id="abc")
    store.set_url_status(base + "503", "ok")
    assert store.is_done(base + "503")
    assert store.stats() == {"articles": 0, "urls_ok": 2, "urls_http_error": 1, "urls_off_topic": 1,
                             "urls_blocked_by_robots": 1}


def test_pending_from_source_lists_only_what_is_not_done(store: Store) -> None:
    feed = "https://example.test/rss"
    for name in ("a", "b", "c", "d"):
        store.record_discovery(f"https://example.test/{name}", "testpost", "feed", {"source": feed, "n": name})
    store.record_discovery("https://example.test/other", "testpost", "feed", {"source": "elsewhere"})
    store.set_url_status("https://example.test/a", "not_article")
    store.set_url_status("https://example.test/b", "http_error", http_status=503)
    rec = record(9, canonical_url="https://example.test/c")
    store.add_article(rec)
    assert sorted(store.pending_from_source(feed)) == [
        ("https://example.test/b", {"source": feed, "n": "b"}), ("https://example.test/d", {"source": feed, "n": "d"})]


def test_topic_rejections_are_per_topic(store: Store) -> None:
    urls = {"https://example.test/x", "https://example.test/x?amp"}
    store.reject_for_topic(urls, "t1", "testpost")
    store.reject_for_topic(urls, "t1", "testpost")  # again: no duplicate, no error
    assert all(store.rejected_for_topic(u, "t1") for u in urls)
    assert not store.rejected_for_topic("https://example.test/x", "t2")
    assert store.url_status("https://example.test/x") == "off_topic"


def test_feed_validators_and_child_sitemaps(store: Store) -> None:
    idx = "https://example.test/sitemap_index.xml"
    assert store.source_validators(idx) == (None, None)
    store.save_source_validators(idx, '"e1"', "Wed, 01 Oct 2025 00:00:00 GMT")
    store.save_source_children(idx, ["https://example.test/s1.xml", "https://example.test/s2.xml"],
                               {"https://example.test/s1.xml": "2025-09-01"})
    store.save_source_validators(idx, '"e2"', None)
    assert store.source_validators(idx) == ('"e2"', None)
    assert store.source_children_dated(idx) == [("https://example.test/s1.xml", "2025-09-01"),
                                                ("https://example.test/s2.xml", None)]
    store.forget_source_validators(idx)
    assert store.source_validators(idx) == (None, None) and store.source_children(idx) == []


# --- grouping state, labels, exports ------------------------------------------------------------------------
def test_signatures_assignments_and_events(store: Store) -> None:
    blob = bytes(range(256)) * 4
    store.save_signatures([("a1", "fp1", "h1", 10, blob), ("a2", "fp2", "h2", 2**40, None)])
    store.save_signatures([("a1", "fp1b", "h1b", 11, b"\x00\xff")])
    assert store.signatures() == {"a1": ("fp1b", "h1b", 11, b"\x00\xff"), "a2": ("fp2", "h2", 2**40, None)}
    store.save_assignments([("a1", "st-1", "ev-1"), ("a2", "st-2", "ev-1")])
    store.save_assignments([("a2", "st-2", "ev-2")])
    assert store.assignments() == {"a1": ("st-1", "ev-1"), "a2": ("st-2", "ev-2")}
    events = [{"event_id": f"ev-{i}", "status": "new", "title": f"事件 {i}"} for i in (3, 1, 2)]
    store.replace_events(events)
    store.replace_events(events[1:])
    assert list(store.events()) == events[1:], "the latest grouping only, newest first as given"


def test_events_read_newest_first_and_update_replaces_only_the_given_ones(store: Store) -> None:
    def ev(i: int, last: str | None, status: str = "new") -> dict[str, Any]:
        return {"event_id": f"ev-{i}", "status": status, "last_published": last, "title": f"事件 {i}"}

    store.replace_events([ev(1, "2025-10-01"), ev(2, None), ev(3, "2025-10-05"), ev(4, "2025-10-01")])
    assert [e["event_id"] for e in store.events()] == ["ev-3", "ev-1", "ev-4", "ev-2"]
    # An incremental grouping: ev-4 is replaced, ev-3 is gone (merged), ev-5 is new; the rest is unchanged.
    store.update_events([ev(4, "2025-10-07", "updated"), ev(5, "2025-10-06")], removed=["ev-3", "ev-4"])
    assert [(e["event_id"], e["status"]) for e in store.events()] == [
        ("ev-4", "updated"), ("ev-5", "new"), ("ev-1", "unchanged"), ("ev-2", "unchanged")]


def test_the_later_decision_on_a_pair_wins(store: Store) -> None:
    assert store.save_label_pairs([("cannot", "b", "a", "ev-1", "ann", "2025-10-02T00:00:00+00:00", "f1")]) == 1
    # An older opposite decision imported later does not override it; a newer one does.
    assert store.save_label_pairs([("must", "a", "b", "ev-1", "ann", "2025-10-01T00:00:00+00:00", "f2")]) == 0
    assert store.label_pairs() == ([], [("a", "b")])
    assert store.save_label_pairs([("must", "a", "b", "ev-1", "ann", "2025-10-03T00:00:00+00:00", "f3")]) == 1
    assert store.save_label_pairs([("must", "a", "b", "ev-1", "ann", "2025-10-03T00:00:00+00:00", "f3")]) == 0
    assert store.label_pairs() == ([("a", "b")], [])
    store.save_event_label("ev-1", "incident", ["a", "b"], "ann", "2025-10-03T00:00:00+00:00", "f3")
    store.save_event_label("ev-1", "hazard", ["a"], "ann", "2025-10-01T00:00:00+00:00", "f4")
    assert store.event_labels() == {"ev-1": {"label": "incident", "annotator": "ann",
                                             "decided": "2025-10-03T00:00:00+00:00"}}


def test_exported_digests_and_meta(store: Store) -> None:
    store.save_exported("jsonl", [("ev-1", "d1"), ("ev-2", "d2")])
    store.save_exported("jsonl", [("ev-1", "d1b")])
    store.save_exported("html", [("ev-1", "x")])
    assert store.exported_digests("jsonl") == {"ev-1": "d1b", "ev-2": "d2"}
    assert store.get_meta("k") is None
    store.set_meta("k", "1")
    store.set_meta("k", "2")
    assert store.get_meta("k") == "2"


def test_reopening_keeps_everything(db: str) -> None:
    with open_store(db) as st:
        st.add_article(record(1))
        st.set_meta("k", "v")
    with open_store(db) as st:
        assert st.count_articles() == 1 and st.get_meta("k") == "v"


# --- opening a store: clear errors -----------------------------------------------------------------------
def test_unreachable_server_is_one_line_naming_the_url_without_its_password() -> None:
    with pytest.raises(ValueError) as err:
        open_store("postgresql://crawler:s3cret@127.0.0.1:1/news")
    message = str(err.value)
    assert "\n" not in message and "s3cret" not in message
    assert message.startswith("--db postgresql://crawler:***@127.0.0.1:1/news: cannot connect to PostgreSQL")


def test_missing_driver_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg now raises ImportError
    with pytest.raises(ValueError, match=r"driver is not installed.*newsdedupe\[postgresql\]") as err:
        open_store("postgres://crawler:s3cret@db.example/news")
    assert "s3cret" not in str(err.value)


def test_cli_error_for_an_unreachable_store_is_one_line() -> None:
    proc = run_cli("export", "--db", "postgresql://crawler:s3cret@127.0.0.1:1/news", "--format", "jsonl",
                   "--out", "/nonexistent")
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "s3cret" not in proc.stderr
    assert "cannot connect to PostgreSQL" in proc.stderr


def test_display_db_masks_passwords_only() -> None:
    assert display_db("outputs/newsdedupe.sqlite3") == "outputs/newsdedupe.sqlite3"
    assert display_db("postgresql://u@h/db") == "postgresql://u@h/db"
    assert display_db("postgresql://u:p@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert display_db("postgres://h/db?user=u&password=p&sslmode=require") == \
        "postgres://h/db?user=u&password=***&sslmode=require"


# --- run locks on a PostgreSQL store ------------------------------------------------------------------------
HOLD_PG_LOCK = """
import sys, time
from crawler.lock import store_lock
with store_lock(sys.argv[1], sys.argv[2]):
    print("locked", flush=True)
    time.sleep(120)
"""


def test_lock_names_let_crawlers_share_a_store_but_group_one_at_a_time() -> None:
    import socket

    host = socket.gethostname()
    assert lock_names("crawl") == [f"crawl@{host}"]
    assert lock_names("crawl", redis="redis://127.0.0.1:6379/0") == []
    assert lock_names("group") == ["group"]
    assert lock_names("run") == [f"crawl@{host}", "group"]


def test_pg_lock_is_exclusive_per_name_and_released_on_exit(pg_url: str) -> None:
    with PgRunLock(pg_url, "group"):
        with pytest.raises(AlreadyRunning, match=r"holds the group lock of .*\(pid \d+ on .*started .*skipping"):
            PgRunLock(pg_url, "group").__enter__()
        with PgRunLock(pg_url, "crawl@elsewhere"):
            pass
    with PgRunLock(pg_url, "group"):
        pass


def _wait_until_backend_gone(url: str, pid: int) -> None:
    """The server notices a dead client's closed socket a moment after the kill: wait for that, not a time."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(600):
            n = conn.execute("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name LIKE %s",
                             (f"newsdedupe pid {pid} %",)).fetchone()
            if n is not None and n[0] == 0:
                return
            time.sleep(0.05)
    raise AssertionError(f"the killed process's connection (pid {pid}) is still open")


def test_pg_lock_skips_a_second_run_and_is_not_left_behind_by_a_killed_one(pg_url: str, tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD_PG_LOCK, pg_url, "group"], cwd=REPO,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        skipped = run_cli("group", "--db", pg_url, "--out", tmp_path / "out")
        assert skipped.returncode == 75, skipped.stderr
        assert "another newsdedupe run holds the group lock" in skipped.stderr
        assert f"pid {holder.pid}" in skipped.stderr and "skipping this run" in skipped.stderr
        assert not (tmp_path / "out" / "events.jsonl").exists(), "a skipped run must not write anything"
        # A crawl on this machine does not need the group lock: it runs while another machine groups.
        with store_lock(pg_url, "crawl"):
            pass
    finally:
        holder.kill()  # SIGKILL: the server drops the dead connection's lock
        holder.wait()
    _wait_until_backend_gone(pg_url, holder.pid)
    after = run_cli("group", "--db", pg_url, "--out", tmp_path / "out")
    assert after.returncode == 0, after.stderr
    assert (tmp_path / "out" / "events.jsonl").exists()


def test_a_second_crawl_on_the_same_machine_is_skipped_but_grouping_goes_on(pg_url: str, tmp_path: Path) -> None:
    with store_lock(pg_url, "crawl"):
        for command in ("crawl", "run"):
            skipped = run_cli(command, "--db", pg_url, "--outlets", tmp_path / "none.toml", "--out", tmp_path)
            assert skipped.returncode == 75, skipped.stderr
            assert "holds the crawl@" in skipped.stderr and "skipping this run" in skipped.stderr
        grouped = run_cli("group", "--db", pg_url, "--out", tmp_path / "out")
        assert grouped.returncode == 0, grouped.stderr
