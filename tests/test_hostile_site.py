"""A hostile site on 127.0.0.1, crawled through the command line: nothing breaks, nothing leaks.

The site serves the hostile corpus (tests/fixtures/hostile/) as an outlet: XML bombs and external entities in
its feeds and sitemaps, a gzip bomb behind Content-Encoding, an oversized body, a truncated response, PDF and
binary bodies labelled text/html, broken encodings, script-laden titles, and redirects (HTTP and meta refresh)
to loopback on another port, private, link-local and metadata addresses, IPv6 loopback, a decimal IP, 0.0.0.0
and non-HTTP schemes. A second server on 127.0.0.1 stands for the private network: it must never see a
request. The crawl runs with `--allow-private 127.0.0.1:PORT` (only the hostile site itself is allowed).

Then the stored script-laden article goes out as the HTML report and as Label Studio tasks, and both are
opened in headless Chromium: nothing runs.
"""
from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import TESTS, outlet_toml, query, run_cli

from crawler.settings import DOWNLOAD_MAXSIZE

CORPUS = TESTS / "fixtures" / "hostile"
CANARY_TEXT = "CANARY-77d2-never-in-the-store"

OK_PAGES = ["broken-markup.html", "script-laden.html", "invalid-utf8.html", "gbk-declared-utf8.html",
            "utf16-bom.html", "truncated.html", "giant-word.html"]
STATUS_PAGES = {"pdf-as-html.html": "not_html", "png-as-html.html": "not_html", "random-bytes.html": "not_html",
                "empty.html": "no_text", "whitespace-only.html": "no_text", "script-only.html": "no_text",
                "deeply-nested.html": "no_text"}
SPECIAL = {"gzip-bomb.html": "too_large", "oversized.html": "too_large", "oversized-no-length.html": "too_large"}
FEEDS = {"/feed.xml": None, "/feed-lol.xml": "billion-laughs.xml", "/feed-xxe.xml": "external-entity.xml",
         "/feed-quadratic.xml": "quadratic-blowup.xml"}
SITEMAPS = {"/sitemap-lol.xml": "billion-laughs.xml", "/sitemap-xxe.xml": "external-entity.xml",
            "/sitemap-param.xml": "parameter-entity.xml", "/sitemap-bomb.xml.gz": "gzip-bomb.xml.gz"}


def redirects(private_port: int) -> dict[str, str]:
    """Article URLs of the hostile site that redirect somewhere they must not lead."""
    return {
        "redirect-loopback.html": f"http://127.0.0.1:{private_port}/secret.html",
        "redirect-localhost.html": f"http://localhost:{private_port}/secret.html",
        "redirect-decimal.html": f"http://2130706433:{private_port}/secret.html",
        "redirect-zero.html": f"http://0.0.0.0:{private_port}/secret.html",
        "redirect-ipv6.html": f"http://[::1]:{private_port}/secret.html",
        "redirect-mapped.html": f"http://[::ffff:127.0.0.1]:{private_port}/secret.html",
        "redirect-metadata.html": "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "redirect-private.html": "http://10.0.0.1/admin",
        "redirect-cgnat.html": "http://100.64.0.1/",
        "redirect-file.html": "file:///etc/passwd",
        "redirect-gopher.html": f"gopher://127.0.0.1:{private_port}/_secret",
    }


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.requests: list[str] = []
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()


class PrivateHandler(BaseHTTPRequestHandler):
    """The "internal network": records whatever reaches it."""

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        body = b"<html><title>internal admin</title><body>" + b"secret " * 500 + b"</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class HostileSite:
    def __init__(self, canary: Path) -> None:
        self.canary = canary
        self.private = Recorder(PrivateHandler)
        self.truncate = True  # the truncated response is whole on the second run
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                site.server.requests.append(self.path)
                site.serve(self)

        self.server = Recorder(Handler)
        self.base = f"http://127.0.0.1:{self.server.port}"
        self.redirects = redirects(self.private.port)
        self.bomb = gzip.compress(b" " * (DOWNLOAD_MAXSIZE * 6), compresslevel=9)

    def articles(self) -> list[str]:
        names = OK_PAGES + list(STATUS_PAGES) + list(SPECIAL) + list(self.redirects)
        return names + ["truncated-response.html", "meta-refresh.html"]

    def corpus(self, kind: str, name: str) -> bytes:
        data = (CORPUS / kind / name).read_bytes()
        return data.replace(b"{{BASE}}", self.base.encode()).replace(b"{{CANARY}}", str(self.canary).encode()).replace(
            b"127.0.0.1:9/", f"127.0.0.1:{self.private.port}/".encode())

    @staticmethod
    def send(h: BaseHTTPRequestHandler, body: bytes, ctype: str = "text/html", status: int = 200,
             headers: dict[str, str] | None = None) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        if "Content-Length" not in (headers or {}):
            h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        try:
            h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the crawler hung up (a body over its size cap)

    def serve(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path.split("?", 1)[0]
        name = path.rsplit("/", 1)[-1]
        if path == "/feed.xml":
            items = "".join(f"<item><title>{n}</title><link>{self.base}/news/{n}</link></item>" for n in self.articles())
            return self.send(h, f'<?xml version="1.0"?><rss version="2.0"><channel><title>Hostile</title>{items}'
                                f"</channel></rss>".encode(), "application/rss+xml")
        if path in FEEDS:
            return self.send(h, self.corpus("feeds", FEEDS[path]), "application/rss+xml")
        if path in SITEMAPS:
            return self.send(h, self.corpus("sitemaps", SITEMAPS[path]), "application/xml")
        if not path.startswith("/news/"):
            return self.send(h, b"not found", "text/plain", 404)
        if name in OK_PAGES or name in STATUS_PAGES:
            # The GBK page's header claims UTF-8 as well: a wrong declared charset, twice.
            ctype = "text/html; charset=utf-8" if name == "gbk-declared-utf8.html" else "text/html"
            return self.send(h, self.corpus("pages", name), ctype)
        if name in self.redirects:
            return self.send(h, b"", status=302, headers={"Location": self.redirects[name]})
        if name == "meta-refresh.html":
            target = f"http://127.0.0.1:{self.private.port}/refresh-secret.html"
            return self.send(h, f'<html><head><meta http-equiv="refresh" content="0;url={target}"></head>'
                                f"<body>Moved.</body></html>".encode())
        if name == "gzip-bomb.html":
            return self.send(h, self.bomb, headers={"Content-Encoding": "gzip"})
        if name == "oversized.html":
            return self.send(h, b"<html><body>" + b"<p>filler</p>" * (DOWNLOAD_MAXSIZE // 13 + 1000) + b"</body></html>")
        if name == "oversized-no-length.html":
            # No Content-Length: the size is only known while reading (HTTP/1.0, close-delimited).
            h.send_response(200)
            h.send_header("Content-Type", "text/html")
            h.end_headers()
            chunk = b"<p>" + b"filler " * 1000 + b"</p>"
            try:
                for _ in range(DOWNLOAD_MAXSIZE // len(chunk) + 200):
                    h.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return None
        if name == "truncated-response.html":
            body = self.corpus("pages", "invalid-utf8.html").replace(b"caf", b"Truncated caf")
            if not self.truncate:
                return self.send(h, body)
            # Promise the whole page, send half of it, hang up.
            h.send_response(200)
            h.send_header("Content-Type", "text/html")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body[: len(body) // 2])
            h.wfile.flush()
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return None
        return self.send(h, b"not found", "text/plain", 404)

    def stop(self) -> None:
        for s in (self.server, self.private):
            s.shutdown()
            s.server_close()


@dataclass
class Crawled:
    site: HostileSite
    work: Path
    db: Path
    first: Any
    second: Any
    report: dict[str, Any]
    max_rss_mb: float


def outlet_file(site: HostileSite, path: Path) -> Path:
    text = outlet_toml("hostile", feeds=[site.base + f for f in FEEDS], sitemaps=[site.base + m for m in SITEMAPS],
                       allow=["/news/"], download_delay=0, concurrency=4)
    path.write_text(text, encoding="utf-8")
    return path


MEASURED = ("import resource, sys\nfrom crawler.cli import main\nrc = main(sys.argv[1:])\n"
            "print(f'peak-rss-kb {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}', file=sys.stderr)\n"
            "sys.exit(rc)")


def run_measured(*args: Any) -> subprocess.CompletedProcess[str]:
    """The command line in a subprocess that reports its own peak memory on its last stderr line."""
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, "-c", MEASURED, *(str(a) for a in args)], capture_output=True,
                          text=True, encoding="utf-8", errors="replace", timeout=300, env=env, check=False)


def peak_rss_mb(proc: subprocess.CompletedProcess[str]) -> float:
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("peak-rss-kb "), proc.stderr[-2000:]
    return int(line.split()[1]) / 1024


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawled]:
    work = tmp_path_factory.mktemp("hostile")
    canary = work / "canary.txt"
    canary.write_text(CANARY_TEXT, encoding="utf-8")
    site = HostileSite(canary)
    try:
        outlets = outlet_file(site, work / "outlets.toml")
        db = work / "store.sqlite3"
        args = ["crawl", "--outlets", outlets, "--db", db, "--out", work / "out",
                "--allow-private", f"127.0.0.1:{site.server.port}"]
        first = run_measured(*args)
        site.truncate = False
        second = run_measured(*args)
        reports = sorted((work / "out" / "runs").glob("*.json"))
        report = json.loads(reports[0].read_text(encoding="utf-8"))
        rss = max(peak_rss_mb(first), peak_rss_mb(second))
        yield Crawled(site, work, db, first, second, report, rss)
    finally:
        site.stop()


def statuses(db: Path) -> dict[str, str]:
    return {r["url"].rsplit("/", 1)[-1]: r["status"] for r in query(db, "SELECT url, status FROM urls")}


def test_crawl_survives_and_exits_0(crawled: Crawled) -> None:
    for proc in (crawled.first, crawled.second):
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "Traceback" not in proc.stderr


def test_readable_pages_stored_with_the_right_text(crawled: Crawled) -> None:
    rows = {r["url"].rsplit("/", 1)[-1]: r for r in query(crawled.db, "SELECT * FROM articles")}
    expected = tomllib_pages()
    for name in OK_PAGES:
        assert name in rows, f"{name} not stored"
        assert rows[name]["title"] == expected[name]["title"]
        assert expected[name]["text_has"] in rows[name]["text"]
    assert rows["gbk-declared-utf8.html"]["language"] == "zh-Hans"


def tomllib_pages() -> dict[str, dict[str, Any]]:
    import tomllib

    return tomllib.loads((CORPUS / "expected.toml").read_text(encoding="utf-8"))["pages"]


def test_unreadable_pages_get_a_final_status_and_are_not_stored(crawled: Crawled) -> None:
    got = statuses(crawled.db)
    stored = {r["url"].rsplit("/", 1)[-1] for r in query(crawled.db, "SELECT url FROM articles")}
    for name, status in {**STATUS_PAGES, **SPECIAL}.items():
        assert got.get(name) == status, (name, got.get(name))
        assert name not in stored


def test_truncated_response_is_not_stored_half_and_is_fetched_whole_next_run(crawled: Crawled) -> None:
    fetched = [p for p in crawled.site.server.requests if p.endswith("/truncated-response.html")]
    assert len(fetched) >= 2  # the first run gave up, the second asked again
    row = query(crawled.db, "SELECT text FROM articles WHERE url LIKE '%/truncated-response.html'")
    assert len(row) == 1 and "Two members voted against" in row[0]["text"]
    report_row = crawled.report["outlets"]["hostile"]
    assert report_row.get("errors", 0) >= 1  # the first run counted it as an error, not as stored


def test_no_request_reaches_a_private_address(crawled: Crawled) -> None:
    assert crawled.site.private.requests == []
    got = statuses(crawled.db)
    for name in crawled.site.redirects:
        assert got.get(name) == "redirect", name
    # Every http(s) target was refused and counted; file: and gopher: are not even URLs a crawler follows.
    refused = [r["url"] for r in query(crawled.db, "SELECT url FROM urls WHERE status = 'refused'")]
    http_targets = [t for t in crawled.site.redirects.values() if t.startswith("http")]
    assert len(refused) >= len(http_targets) - 1  # 0.0.0.0 and 127.0.0.1 may canonicalise alike
    assert crawled.report["refused_non_public"] >= len(refused)
    assert "refused (non-public address)" in crawled.first.stdout + crawled.first.stderr


def test_xml_attacks_refused_with_a_message_naming_the_source(crawled: Crawled) -> None:
    err = crawled.first.stderr
    for path in [p for p, f in FEEDS.items() if f] + [p for p, f in SITEMAPS.items() if "entity" in f or "laughs" in f]:
        line = next((ln for ln in err.splitlines() if path in ln), "")
        assert "declares an" in line, (path, err[-2000:])
    assert any("/sitemap-bomb.xml.gz" in ln and "expands beyond" in ln for ln in err.splitlines())
    assert crawled.report["outlets"]["hostile"].get("discovery_failures", 0) == 7


def test_nothing_of_the_local_file_leaks_anywhere(crawled: Crawled) -> None:
    assert CANARY_TEXT not in crawled.db.read_bytes().decode("latin-1")
    for path in (crawled.work / "out").rglob("*"):
        if path.is_file():
            assert CANARY_TEXT not in path.read_text(encoding="utf-8", errors="replace"), path
    assert CANARY_TEXT not in crawled.first.stdout + crawled.first.stderr


def test_bombs_were_never_expanded_in_memory(crawled: Crawled) -> None:
    # A billion laughs expands to 10 GB and the gzip bomb to 60 MB: the crawl process stayed far below.
    assert crawled.max_rss_mb < 1024, crawled.max_rss_mb


# --- the outputs in a browser ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def exported(crawled: Crawled) -> Path:
    out = crawled.work / "export"
    proc = run_cli("group", "--db", crawled.db, "--out", out)
    assert proc.returncode == 0, proc.stderr
    for fmt in ("html", "label-studio"):
        proc = run_cli("export", "--db", crawled.db, "--format", fmt, "--out", out)
        assert proc.returncode == 0, proc.stderr
    return out


PWNED = "() => [window.__pwned, document.querySelectorAll('script, iframe, object, embed, img[onerror], svg').length," \
        " [...document.querySelectorAll('[href], [src]')].map(e => e.getAttribute('href') || e.getAttribute('src'))" \
        ".filter(u => /^\\s*(javascript|data|vbscript):/i.test(u)).length," \
        " [...document.querySelectorAll('*')].filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length]"


def test_script_laden_article_is_inert_in_the_html_report(browser: Any, exported: Path) -> None:
    path = exported / "report.html"
    page = browser.new_page(java_script_enabled=True)
    try:
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        assert page.evaluate(PWNED) == [None, 0, 0, 0]
        assert "<script>window.__pwned=1</script>Quay lamps" in page.inner_text("body")
    finally:
        page.close()


def test_script_laden_article_is_inert_in_label_studio_tasks(browser: Any, exported: Path) -> None:
    tasks = json.loads((exported / "label-studio-tasks.json").read_text(encoding="utf-8"))
    hostile = [t for t in tasks if "__pwned" in json.dumps(t, ensure_ascii=False)]
    assert hostile, "the script-laden article is in no task"
    for task in hostile:
        # Label Studio shows `html` in a HyperText tag (as HTML) and the rest as text: the HTML must be inert.
        page = browser.new_page(java_script_enabled=True)
        try:
            page.set_content(task["data"]["html"])
            assert page.evaluate(PWNED) == [None, 0, 0, 0]
            assert "window.__pwned=1" in page.inner_text("body")
        finally:
            page.close()
