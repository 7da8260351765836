"""Crawl the fixture site through the command line, against a real HTTP server on 127.0.0.1.

Crawls are polite (delays between requests), so the independent crawls of this module run at the same time,
each against its own server; the main crawl is then repeated on the same store.
"""
from __future__ import annotations

import json
import re
import subprocess
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURE_SITE, encoding_family, expected_fixture, finish_cli, query, run_cli, start_cli, write_outlets
from crawler.sitesrv import FixtureSite

# Pages a re-run may fetch again: robots.txt and the discovery pages (feeds, sitemaps, section pages).
DISCOVERY_PATHS = {"/robots.txt", "/en/rss.xml", "/en/index.html", "/zh/sitemap_index.xml", "/zh/news-sitemap.xml"}
ARTICLE_PATHS = {
    "/en/2025/10/01/reading-room.html", "/en/2025/10/02/ferry-timetable.html", "/en/2025/10/03/cameras.html",
    "/zh/gbk/2025/10/02/market.html", "/zh/big5/2025/10/03/story.html", "/zh/utf8/2025/10/04/minibus.html",
}
SINCE = "2025-10-03"


@dataclass
class Crawl:
    base_url: str
    db: Path
    out: Path
    proc: subprocess.CompletedProcess[str] | None = None
    requests: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def articles(self) -> list[dict[str, Any]]:
        return query(self.db, "SELECT * FROM articles ORDER BY canonical_url") if self.db.exists() else []


def _paths(requests: list[str]) -> list[str]:
    return [r.split("?", 1)[0] for r in requests]


REDIRECT_HEADERS = """
["/news/loop-a.html"]
status = 301
location = "/news/loop-b.html"

["/news/loop-b.html"]
status = 302
location = "/news/loop-a.html"

["/news/moved.html"]
status = 301
location = "/news/2025/10/03/breakwater.html?utm_source=redirect#top"

["/news/gone.html"]
status = 301
location = "/news/2025/10/03/missing.html"
"""


def build_redirect_site(root: Path) -> Path:
    """A one-outlet site without robots.txt whose feed links through redirects (a loop, a 404, a good one)."""
    site = root / "site"
    (site / "news" / "2025" / "10" / "03").mkdir(parents=True)
    (site / "_headers.toml").write_text(REDIRECT_HEADERS, encoding="utf-8")
    paragraphs = "".join(
        f"<p>The harbour authority said on Friday that the new breakwater would shield the typhoon shelter "
        f"from waves, and that work on section {i} would begin once the rainy season ends next year.</p>"
        for i in range(6)
    )
    (site / "news" / "2025" / "10" / "03" / "breakwater.html").write_text(
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Breakwater to shield shelter | Test Post"
        "</title><meta property='article:published_time' content='2025-10-03T10:00:00+08:00'></head><body>"
        f"<article><h1>Breakwater to shield shelter</h1>{paragraphs}</article></body></html>",
        encoding="utf-8",
    )
    (site / "rss.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Test Post</title>'
        "<item><title>Loop</title><link>{{BASE}}/news/loop-a.html</link></item>"
        "<item><title>Moved</title><link>{{BASE}}/news/moved.html</link></item>"
        "<item><title>Gone</title><link>{{BASE}}/news/gone.html</link></item>"
        "</channel></rss>",
        encoding="utf-8",
    )
    (site / "outlets.toml").write_text(
        '[[outlet]]\nid = "testpost"\nname = "Test Post"\ndomains = ["127.0.0.1"]\nlanguages = ["en"]\n'
        'feeds = ["{{BASE}}/rss.xml"]\n',
        encoding="utf-8",
    )
    return site


@pytest.fixture(scope="module")
def crawls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Crawl]:
    root = tmp_path_factory.mktemp("crawls")
    with ExitStack() as stack:
        sites = {name: stack.enter_context(FixtureSite(FIXTURE_SITE)) for name in ("main", "private", "urls", "since")}
        sites["redirects"] = stack.enter_context(FixtureSite(build_redirect_site(root / "redirect-site")))
        runs: dict[str, Crawl] = {}
        procs: dict[str, subprocess.Popen[str]] = {}
        for name, site in sites.items():
            d = root / name
            d.mkdir()
            runs[name] = Crawl(site.base_url, d / "store.sqlite3", d / "out")
        outlets = {name: write_outlets(site, root / name) for name, site in sites.items()}

        def crawl_args(name: str, *extra: str | Path, out: Path | None = None) -> list[str | Path]:
            return ["crawl", "--outlets", outlets[name], "--db", runs[name].db, "--out", out or runs[name].out, *extra]

        procs["main"] = start_cli(*crawl_args("main", "--allow-private"))
        procs["private"] = start_cli(*crawl_args("private"))
        procs["since"] = start_cli(*crawl_args("since", "--since", SINCE, "--allow-private"))
        procs["redirects"] = start_cli(*crawl_args("redirects", "--allow-private"))
        urls_file = root / "urls" / "urls.txt"
        base = sites["urls"].base_url
        urls_file.write_text(
            f"{base}/en/2025/10/01/reading-room.html\n"
            "this is not a url\n"
            "\n"
            "# a comment line\n"
            f"{base}/zh/big5/2025/10/03/story.html?utm_source=newsletter#top\n",
            encoding="utf-8",
        )
        runs["urls"].extra["urls_file"] = urls_file
        # No outlets file in the working directory: --urls does no outlet discovery.
        procs["urls"] = start_cli("crawl", "--urls", urls_file, "--db", runs["urls"].db, "--out", runs["urls"].out,
                                  "--allow-private", cwd=root / "urls")

        runs["main"].proc = finish_cli(procs.pop("main"))
        runs["main"].requests = list(sites["main"].requests)
        # The second run of the same store.
        second_out = root / "main" / "out2"
        second = run_cli(*crawl_args("main", "--allow-private", out=second_out))
        runs["second"] = Crawl(sites["main"].base_url, runs["main"].db, second_out, second,
                               list(sites["main"].requests[len(runs["main"].requests):]))
        for name, proc in procs.items():
            runs[name].proc = finish_cli(proc)
            runs[name].requests = list(sites[name].requests)
    return runs


# --- the main crawl -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def main(crawls: dict[str, Crawl]) -> Crawl:
    run = crawls["main"]
    assert run.proc is not None
    assert run.proc.returncode == 0, run.proc.stderr
    return run


@pytest.fixture(scope="module")
def stored(main: Crawl) -> dict[str, dict[str, Any]]:
    """Stored articles by canonical URL (after both runs)."""
    rows = main.articles()
    return {r["canonical_url"]: r for r in rows}


def test_every_expected_article_stored_exactly_once(main: Crawl, stored: dict[str, dict[str, Any]]) -> None:
    expected = expected_fixture(main.base_url)["articles"]
    rows = main.articles()
    assert len(rows) == len(stored) == len(expected)
    assert set(stored) == {a["canonical_url"] for a in expected}
    assert len({r["id"] for r in rows}) == len(rows)


@pytest.mark.parametrize("index", range(6))
def test_stored_article_fields(main: Crawl, stored: dict[str, dict[str, Any]], index: int) -> None:
    article = expected_fixture(main.base_url)["articles"][index]
    row = stored[article["canonical_url"]]

    assert row["outlet"] == article["outlet"]
    assert row["language"] == article["language"]
    assert row["language_source"] in ("script", "langdetect", "declared")
    assert row["title"] == article["title"]
    assert row["published"] is not None and row["published"][:10] == article["published"]
    assert row["extraction_status"] == "ok"
    assert encoding_family(row["encoding"]) == encoding_family(article["encoding"])
    assert isinstance(json.loads(row["authors"]), list)
    for fragment in article["body_must_contain"]:
        assert fragment in row["text"]
    for fragment in article["body_must_not_contain"]:
        assert fragment not in row["text"]


def test_authors_stored_as_json(main: Crawl, stored: dict[str, dict[str, Any]]) -> None:
    assert json.loads(stored[f"{main.base_url}/en/2025/10/03/cameras.html"]["authors"]) == ["Marcus Leung"]
    assert json.loads(stored[f"{main.base_url}/zh/big5/2025/10/03/story.html"]["authors"]) == ["何家朗"]


def test_tracking_parameters_and_fragment_removed(main: Crawl, stored: dict[str, dict[str, Any]]) -> None:
    ferry = stored[f"{main.base_url}/en/2025/10/02/ferry-timetable.html"]
    assert ferry["url"] == ferry["canonical_url"] == f"{main.base_url}/en/2025/10/02/ferry-timetable.html"
    for row in stored.values():
        for column in ("url", "canonical_url"):
            assert "utm_" not in row[column] and "#" not in row[column] and "?" not in row[column]
    assert query(main.db, "SELECT url FROM urls WHERE url LIKE '%utm_%' OR url LIKE '%#%'") == []


def test_redirected_link_not_stored_twice(main: Crawl, stored: dict[str, dict[str, Any]]) -> None:
    cameras = [r for r in main.articles() if "cameras" in r["url"] or "old-link" in r["url"]]
    assert [r["canonical_url"] for r in cameras] == [f"{main.base_url}/en/2025/10/03/cameras.html"]
    assert all("old-link" not in r["canonical_url"] and "old-link" not in r["url"] for r in stored.values())


def test_non_articles_not_stored(stored: dict[str, dict[str, Any]]) -> None:
    for path in ("/en/index.html", "/en/about.html", "/en/tag/cctv.html", "/private/draft.html"):
        assert not any(url.endswith(path) for url in stored)


def test_robots_disallowed_page_never_requested(main: Crawl, crawls: dict[str, Crawl]) -> None:
    never = expected_fixture(main.base_url)["never_fetched"]
    assert never == ["/private/draft.html"]
    for path in never:
        assert path not in _paths(main.requests)
        assert path not in _paths(crawls["second"].requests)
    assert "/robots.txt" in _paths(main.requests)


def test_each_article_page_requested_once_in_first_run(main: Crawl) -> None:
    paths = _paths(main.requests)
    for path in ARTICLE_PATHS:
        assert paths.count(path) == 1, path


def test_printed_table_names_each_outlet(main: Crawl) -> None:
    assert main.proc is not None
    lines = main.proc.stdout.splitlines()
    assert any(ln.startswith("lantau ") for ln in lines)
    assert any(ln.startswith("kowloonpost ") for ln in lines)
    assert "6 new articles stored" in main.proc.stdout


def test_run_report_written(main: Crawl) -> None:
    reports = sorted((main.out / "runs").glob("*.json"))
    assert len(reports) == 1
    report = json.loads(reports[0].read_text(encoding="utf-8"))
    assert set(report["outlets"]) == {"lantau", "kowloonpost"}
    assert report["outlets"]["lantau"]["stored"] == 3
    assert report["outlets"]["kowloonpost"]["stored"] == 3
    assert report["failed_outlets"] == []
    assert report["refused_non_public"] == 0
    assert report["robots_forbidden"] >= 1
    assert report["requests"] >= len(ARTICLE_PATHS)
    assert str(reports[0]) in main.proc.stdout  # type: ignore[union-attr]


# --- the second run of the same store ---------------------------------------------------------------
@pytest.fixture(scope="module")
def second(main: Crawl, crawls: dict[str, Crawl]) -> Crawl:
    run = crawls["second"]
    assert run.proc is not None
    assert run.proc.returncode == 0, run.proc.stderr
    return run


def test_second_run_stores_nothing_new(second: Crawl, main: Crawl) -> None:
    assert len(main.articles()) == 6
    assert "0 new articles stored" in second.proc.stdout  # type: ignore[union-attr]
    report = json.loads(next((second.out / "runs").glob("*.json")).read_text(encoding="utf-8"))
    assert sum(c.get("stored", 0) for c in report["outlets"].values()) == 0


def test_second_run_rereads_discovery_pages(second: Crawl) -> None:
    paths = set(_paths(second.requests))
    assert {"/en/rss.xml", "/zh/sitemap_index.xml", "/zh/news-sitemap.xml"} <= paths


def test_second_run_requests_no_article_page(second: Crawl) -> None:
    """Not even the feed's old link that 301s to the stored cameras story (its redirect state is stored)."""
    assert set(_paths(second.requests)) <= DISCOVERY_PATHS


# --- without --allow-private ------------------------------------------------------------------------
def test_without_allow_private_nothing_is_fetched_or_stored(crawls: dict[str, Crawl]) -> None:
    run = crawls["private"]
    assert run.proc is not None
    assert run.articles() == []
    assert run.requests == []  # not even robots.txt reached the server
    printed = re.search(r"(\d+) refused \(non-public address\)", run.proc.stdout)
    assert printed is not None
    # The feed, the section page and the sitemap index at least (robots.txt may be counted too).
    assert int(printed.group(1)) >= 3
    assert "refused" in run.proc.stderr and "--allow-private" in run.proc.stderr
    for path in ("/en/rss.xml", "/en/index.html", "/zh/sitemap_index.xml"):
        assert any(f"refused {run.base_url}{path}" in ln for ln in run.proc.stderr.splitlines()), path
    report = json.loads(next((run.out / "runs").glob("*.json")).read_text(encoding="utf-8"))
    assert report["refused_non_public"] == int(printed.group(1))
    assert report["requests"] == 0
    assert report["failed_outlets"] == ["kowloonpost", "lantau"]


# --- --urls FILE --------------------------------------------------------------------------------------
def test_url_list_stores_the_listed_articles(crawls: dict[str, Crawl]) -> None:
    run = crawls["urls"]
    assert run.proc is not None
    assert run.proc.returncode == 0, run.proc.stderr
    rows = run.articles()
    assert sorted(r["canonical_url"] for r in rows) == [
        f"{run.base_url}/en/2025/10/01/reading-room.html",
        f"{run.base_url}/zh/big5/2025/10/03/story.html",
    ]
    by_path = {r["canonical_url"].removeprefix(run.base_url): r for r in rows}
    assert by_path["/en/2025/10/01/reading-room.html"]["language"] == "en"
    assert by_path["/zh/big5/2025/10/03/story.html"]["language"] == "zh-Hant"
    assert by_path["/zh/big5/2025/10/03/story.html"]["title"] == "西貢漁民合作社推出海上導賞團 盼年輕人認識漁業文化"
    assert all(r["outlet"] in (None, "lantau", "kowloonpost") for r in rows)
    assert all(r["discovered_via"] == "urls-file" for r in rows)


def test_url_list_does_no_outlet_discovery(crawls: dict[str, Crawl]) -> None:
    run = crawls["urls"]
    assert set(_paths(run.requests)) == {
        "/robots.txt", "/en/2025/10/01/reading-room.html", "/zh/big5/2025/10/03/story.html",
    }


def test_url_list_reports_bad_line_with_its_number(crawls: dict[str, Crawl]) -> None:
    run = crawls["urls"]
    assert run.proc is not None
    urls_file = run.extra["urls_file"]
    bad = [ln for ln in run.proc.stderr.splitlines() if f"{urls_file}:2" in ln]
    assert len(bad) == 1 and "this is not a url" in bad[0]
    # Blank and comment lines are not errors.
    assert f"{urls_file}:3" not in run.proc.stderr and f"{urls_file}:4" not in run.proc.stderr
    assert "Traceback" not in run.proc.stderr


# --- --since ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def since(crawls: dict[str, Crawl]) -> Crawl:
    run = crawls["since"]
    assert run.proc is not None
    assert run.proc.returncode == 0, run.proc.stderr
    return run


def test_since_keeps_articles_on_or_after_the_date(since: Crawl) -> None:
    urls = {r["canonical_url"].removeprefix(since.base_url) for r in since.articles()}
    assert {"/en/2025/10/03/cameras.html", "/zh/big5/2025/10/03/story.html", "/zh/utf8/2025/10/04/minibus.html"} <= urls


def test_since_skips_earlier_sitemap_entry_without_requesting_it(since: Crawl) -> None:
    """market.html is dated 2025-10-02 in the news sitemap (and linked nowhere else)."""
    assert "/zh/gbk/2025/10/02/market.html" not in _paths(since.requests)
    assert not any(r["canonical_url"].endswith("/market.html") for r in since.articles())
    assert "/zh/news-sitemap.xml" in _paths(since.requests)


def test_since_skips_earlier_feed_entries_without_requesting_them(since: Crawl) -> None:
    """The feed dates them 2025-10-01/02; the section page links them again without a date."""
    paths = _paths(since.requests)
    assert "/en/2025/10/01/reading-room.html" not in paths
    assert "/en/2025/10/02/ferry-timetable.html" not in paths


def test_since_stores_no_article_published_earlier(since: Crawl) -> None:
    """The page's own date counts too (contract: skip articles published before this date)."""
    assert since.articles(), "the crawl stored nothing at all"
    assert all(r["published"][:10] >= SINCE for r in since.articles())


# --- bad arguments ----------------------------------------------------------------------------------
def test_crawl_with_bad_since_fails_with_one_line_error(tmp_path: Path, fixture_site: FixtureSite) -> None:
    """Like `group --since garbage`: an error line, exit 1, no traceback, no request."""
    outlets = write_outlets(fixture_site, tmp_path)
    proc = run_cli("crawl", "--outlets", outlets, "--since", "garbage", "--db", tmp_path / "db.sqlite3",
                   "--out", tmp_path / "out", "--allow-private")
    assert proc.returncode == 1
    assert "garbage" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert fixture_site.requests == []


def test_crawl_with_missing_outlets_file_fails_cleanly(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    proc = run_cli("crawl", "--outlets", missing, "--db", tmp_path / "db.sqlite3", "--out", tmp_path / "out")
    assert proc.returncode == 1
    assert str(missing) in proc.stderr
    assert "Traceback" not in proc.stderr


# --- redirects (a site of the test's own, without robots.txt) -------------------------------------------
@pytest.fixture(scope="module")
def redirects(crawls: dict[str, Crawl]) -> Crawl:
    run = crawls["redirects"]
    assert run.proc is not None
    assert run.proc.returncode == 0, run.proc.stderr
    return run


def test_redirect_target_stored_once_under_its_canonical_url(redirects: Crawl) -> None:
    rows = redirects.articles()
    assert [(r["canonical_url"], r["url"], r["title"]) for r in rows] == [(
        f"{redirects.base_url}/news/2025/10/03/breakwater.html",
        f"{redirects.base_url}/news/2025/10/03/breakwater.html",
        "Breakwater to shield shelter",
    )]
    assert rows[0]["outlet"] == "testpost"


def test_redirect_loop_ends(redirects: Crawl) -> None:
    paths = _paths(redirects.requests)
    assert 1 <= paths.count("/news/loop-a.html") <= 5
    assert 1 <= paths.count("/news/loop-b.html") <= 5
    assert paths.count("/news/2025/10/03/breakwater.html") == 1
    assert "/news/2025/10/03/missing.html" in paths
    assert not any("loop" in r["url"] or "missing" in r["url"] for r in redirects.articles())


def test_missing_robots_txt_is_not_an_outlet_error(redirects: Crawl) -> None:
    """A 404 robots.txt means 'no rules' (RFC 9309); the crawl goes on and the outlet is healthy."""
    assert "/robots.txt" in _paths(redirects.requests)
    report = json.loads(next((redirects.out / "runs").glob("*.json")).read_text(encoding="utf-8"))
    counts = report["outlets"]["testpost"]
    assert counts.get("stored") == 1
    assert report["failed_outlets"] == []
    assert counts.get("errors", 0) == 0, counts
    assert "robots.txt" not in redirects.proc.stderr  # type: ignore[union-attr]
