"""A small static HTTP server on 127.0.0.1 for the demo's sample site and the tests' fixture sites.

Serves a folder; replaces `{{BASE}}` in text files with the server's base URL (so feeds and sitemaps carry
absolute URLs on a random port); `_headers.toml` in the folder overrides status, redirect target and
content type per path. A key with a query string (`["/search?q=harbour cameras&page=2"]`) with a `file`
serves that file for that query (parameters in any order, percent-encoded or not), so a static folder can
answer a search endpoint. Every request path is recorded so tests can assert what was (not) fetched.
"""
from __future__ import annotations

import hashlib
import sys
import threading
from email.utils import formatdate
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PLACEHOLDER = b"{{BASE}}"
TEXT_SUFFIXES = {".html", ".htm", ".xml", ".txt", ".toml", ".rss", ".atom", ".json"}
CONTENT_TYPES = {
    ".html": "text/html", ".htm": "text/html", ".xml": "application/xml", ".rss": "application/rss+xml",
    ".atom": "application/atom+xml", ".txt": "text/plain", ".gz": "application/gzip",
    ".json": "application/json", ".toml": "text/plain",
}


class FixtureSite:
    """Serve `root` on 127.0.0.1 in a background thread (use as a context manager)."""

    def __init__(self, root: str | Path, port: int = 0, delay: float = 0.0, validators: bool = True) -> None:
        """`delay`: seconds to wait before answering each request (for kill-and-resume tests);
        `validators`: send ETag/Last-Modified and answer conditional requests with 304."""
        self.root = Path(root).resolve()
        self.delay = delay
        self.validators = validators
        headers_file = self.root / "_headers.toml"
        self.overrides: dict[str, dict[str, Any]] = (
            tomllib.loads(headers_file.read_text(encoding="utf-8")) if headers_file.exists() else {}
        )
        # Overrides for a path with a given query (a search results page), keyed by path and parameters.
        self.query_overrides: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, Any]] = {}
        for key, value in self.overrides.items():
            if "?" in key:
                qpath, _, qs = key.partition("?")
                self.query_overrides[(qpath, _query_key(qs))] = value
        self.requests: list[str] = []
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "fixture-site/1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
                pass

            def do_HEAD(self) -> None:
                self._serve(head=True)

            def do_GET(self) -> None:
                self._serve(head=False)

            def _serve(self, head: bool) -> None:
                with site._lock:  # recorded on arrival, so a request from a client killed meanwhile counts
                    site.requests.append(self.path)
                if site.delay:
                    time.sleep(site.delay)
                parts = urlsplit(self.path)
                path = unquote(parts.path)
                override = site.overrides.get(path, {})
                if parts.query:
                    override = site.query_overrides.get((path, _query_key(parts.query)), override)
                status = int(override.get("status", 200))
                if status in (301, 302, 303, 307, 308):
                    location = str(override.get("location", "/"))
                    if location.startswith("/"):
                        location = site.base_url + location
                    self.send_response(status)
                    self.send_header("Location", location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                target = (site.root / str(override.get("file", path)).lstrip("/")).resolve()
                if path.endswith("/") and "file" not in override:
                    target = target / "index.html"
                if site.root not in target.parents or not target.is_file() or target.name == "_headers.toml":
                    body = b"not found"
                    self.send_response(404)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if not head:
                        self.wfile.write(body)
                    return
                body = target.read_bytes()
                if target.suffix in TEXT_SUFFIXES:
                    body = body.replace(PLACEHOLDER, site.base_url.encode("ascii"))
                # Validators like a real web server, so crawlers' conditional requests get 304s.
                etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                last_modified = formatdate(target.stat().st_mtime, usegmt=True)
                if site.validators and status == 200 and (
                    self.headers.get("If-None-Match") == etag
                    or (self.headers.get("If-None-Match") is None
                        and self.headers.get("If-Modified-Since") == last_modified)
                ):
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(status)
                if site.validators:
                    self.send_header("ETag", etag)
                    self.send_header("Last-Modified", last_modified)
                self.send_header("Content-Type", str(override.get("content_type", CONTENT_TYPES.get(target.suffix, "application/octet-stream"))))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head:
                    self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="fixture-site", daemon=True)

    def start(self) -> FixtureSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FixtureSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def render(self, relative: str) -> str:
        """A site file's text with the placeholder replaced (for outlets files and expectations)."""
        return (self.root / relative).read_text(encoding="utf-8").replace("{{BASE}}", self.base_url)


def _query_key(query: str) -> tuple[tuple[str, str], ...]:
    """A query string's parameters, decoded and sorted (how query overrides are matched)."""
    return tuple(sorted(parse_qsl(query, keep_blank_values=True)))
