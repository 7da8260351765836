"""The article store: articles, URL state, signatures and event assignments.

SQLite (a file path) is the embedded default; a `postgresql://` URL opens the same schema on a PostgreSQL
server that several crawler machines share. Every method is written once; what differs between the two
(placeholders, JSON functions, column types, the order of stored articles) lives in `Dialect`.

Every write is its own transaction (WAL mode on SQLite), so a crawl killed at any moment (SIGKILL included)
loses nothing that was stored and leaves a database that opens. State lives here, not in a per-job folder.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    canonical_url TEXT NOT NULL UNIQUE,
    outlet TEXT,
    title TEXT,
    text TEXT NOT NULL,
    language TEXT,
    language_source TEXT,
    published TEXT,
    published_source TEXT,
    authors TEXT NOT NULL DEFAULT '[]',
    fetched TEXT NOT NULL,
    discovered_via TEXT,
    extraction_status TEXT NOT NULL,
    encoding TEXT,
    topics TEXT NOT NULL DEFAULT '[]',
    meta TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS articles_published ON articles(published);
CREATE INDEX IF NOT EXISTS articles_outlet ON articles(outlet);
CREATE TABLE IF NOT EXISTS urls (
    url TEXT PRIMARY KEY,
    outlet TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    discovered_via TEXT,
    status TEXT NOT NULL DEFAULT 'discovered',
    http_status INTEGER,
    article_id TEXT,
    hint TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS signatures (
    article_id TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    data BLOB
);
CREATE TABLE IF NOT EXISTS assignments (
    article_id TEXT PRIMARY KEY,
    story_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    assigned TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    status TEXT NOT NULL,
    body TEXT NOT NULL,
    grouped TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sources (
    url TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    children TEXT NOT NULL DEFAULT '[]',
    last_fetched TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS label_pairs (
    a TEXT NOT NULL,
    b TEXT NOT NULL,
    kind TEXT NOT NULL,
    event_id TEXT,
    annotator TEXT,
    decided TEXT NOT NULL,
    source TEXT NOT NULL,
    imported TEXT NOT NULL,
    PRIMARY KEY (a, b)
);
CREATE TABLE IF NOT EXISTS event_labels (
    event_id TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    article_ids TEXT NOT NULL,
    annotator TEXT,
    decided TEXT NOT NULL,
    source TEXT NOT NULL,
    imported TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS exported (
    channel TEXT NOT NULL,
    event_id TEXT NOT NULL,
    digest TEXT NOT NULL,
    exported TEXT NOT NULL,
    PRIMARY KEY (channel, event_id)
);
CREATE TABLE IF NOT EXISTS topic_rejections (
    url TEXT NOT NULL,
    topic TEXT NOT NULL,
    rejected TEXT NOT NULL,
    PRIMARY KEY (url, topic)
);
"""

# URL states after which a URL is never fetched again; anything else (discovered, http 5xx, timeouts) is retried.
FINAL_STATUSES = frozenset(
    {"ok", "duplicate", "redirect", "not_article", "too_short", "paywall", "no_text", "blocked_by_robots",
     "refused", "not_html", "too_large"}
)
# HTTP errors that will not change by asking again tomorrow; 5xx, 429 and timeouts are retried next run.
FINAL_HTTP_CODES = frozenset({400, 401, 403, 404, 410, 451})


_NOW: list[Any] = [None, ""]  # (the second, its ISO form): the last now_iso()


def now_iso() -> str:
    """The current UTC time to the second, ISO 8601 (`2026-11-22T19:01:07+00:00`). A crawl asks several times per
    page (every URL state it writes), so the text is built once per second (7 microseconds each time before)."""
    second = int(time.time())
    if second != _NOW[0]:
        _NOW[1] = datetime.fromtimestamp(second, timezone.utc).isoformat()
        _NOW[0] = second
    return str(_NOW[1])


def article_id_for(canonical_url: str) -> str:
    """A stable article id derived from the canonical URL."""
    return hashlib.sha1(canonical_url.encode("utf-8")).hexdigest()[:16]


# --- where the two databases differ --------------------------------------------------------------------
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(db: str | Path) -> bool:
    """True when `--db` names a PostgreSQL server rather than a SQLite file."""
    return str(db).startswith(POSTGRES_SCHEMES)


def display_db(db: str | Path) -> str:
    """`--db` as it may be printed or logged: a URL's password (in the user part or `?password=`) masked."""
    text = str(db)
    if not is_postgres_url(text):
        return text
    parts = urlsplit(text)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            netloc = f"{userinfo.split(':', 1)[0]}:***@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k == "password" for k, _ in pairs):
            query = urlencode([(k, "***" if k == "password" else v) for k, v in pairs], safe="*")
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def advisory_key(name: str) -> int:
    """A stable non-negative 63-bit key for a PostgreSQL advisory lock named `name`."""
    return int.from_bytes(hashlib.sha1(f"newsdedupe:{name}".encode()).digest()[:8], "big") >> 1


class Dialect:
    """SQLite: the SQL as written (`?` placeholders, json_extract/json_each, rowid)."""

    name = "sqlite"
    # Stored articles in the order they were committed: what `export --only-new` keeps its watermark on.
    order_column = "rowid"

    def sql(self, query: str) -> str:
        return query

    def schema(self) -> list[str]:
        return [SCHEMA]

    def json_text(self, column: str, key: str) -> str:
        """The text at `key` of a JSON object stored in `column` (NULL when absent)."""
        return f"json_extract({column}, '$.{key}')"

    def json_set_text(self, column: str, key: str) -> str:
        """`column`'s JSON object with `key` set to the text of one `?` parameter."""
        return f"json_set({column}, '$.{key}', ?)"

    def json_values(self, column: str, alias: str) -> str:
        """A table of the elements (column `value`) of a JSON array stored in `column`."""
        return f"json_each({column}) AS {alias}"


class PostgresDialect(Dialect):
    """PostgreSQL: `%s` placeholders, jsonb functions on the same TEXT columns, BYTEA for BLOB, BIGINT for
    SQLite's 64-bit INTEGER, byte-order ("C") collation so text compares and sorts exactly as in SQLite, and
    an identity column `seq` standing in for SQLite's rowid."""

    name = "postgresql"
    order_column = "seq"

    def sql(self, query: str) -> str:
        return query.replace("%", "%%").replace("?", "%s")

    def schema(self) -> list[str]:
        ddl = re.sub(r"\bBLOB\b", "BYTEA", SCHEMA)
        ddl = re.sub(r"\bINTEGER\b", "BIGINT", ddl)
        ddl = re.sub(r"\bTEXT\b", 'TEXT COLLATE "C"', ddl)
        statements = [s.strip() for s in ddl.split(";") if s.strip()]
        return [
            *statements,
            "ALTER TABLE articles ADD COLUMN IF NOT EXISTS seq BIGINT GENERATED BY DEFAULT AS IDENTITY",
            "CREATE UNIQUE INDEX IF NOT EXISTS articles_seq ON articles(seq)",
        ]

    def json_text(self, column: str, key: str) -> str:
        return f"({column}::jsonb ->> '{key}')"

    def json_set_text(self, column: str, key: str) -> str:
        return f"jsonb_set({column}::jsonb, '{{{key}}}', to_jsonb(?::text))::text"

    def json_values(self, column: str, alias: str) -> str:
        return f"jsonb_array_elements_text({column}::jsonb) AS {alias}(value)"


SQLITE = Dialect()
POSTGRES = PostgresDialect()


def connect_postgres(url: str, purpose: str = "store") -> Any:
    """A psycopg connection (autocommit, rows as dicts), or a one-line ValueError naming the URL without
    its password when the driver is missing or the server cannot be reached."""
    shown = display_db(url)
    try:
        import psycopg
        from psycopg.rows import dict_row
    except ImportError:
        raise ValueError(
            f"--db {shown}: the PostgreSQL driver is not installed; install it with "
            "pip install 'newsdedupe[postgresql]'"
        ) from None
    kwargs: dict[str, Any] = {
        "autocommit": True, "row_factory": dict_row,
        "application_name": f"newsdedupe pid {os.getpid()} on {socket.gethostname()}: {purpose}"[:63],
    }
    if "connect_timeout" not in url:
        kwargs["connect_timeout"] = 10
    try:
        return psycopg.connect(url, **kwargs)
    except psycopg.Error as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        password = urlsplit(url).password
        if password:
            detail = detail.replace(password, "***")
        raise ValueError(f"--db {shown}: cannot connect to PostgreSQL: {detail}") from None


@dataclass(frozen=True)
class StoredArticle:
    id: str
    url: str
    canonical_url: str
    outlet: str | None
    title: str | None
    text: str
    language: str | None
    language_source: str | None
    published: str | None
    published_source: str | None
    authors: list[str]
    fetched: str
    discovered_via: str | None
    extraction_status: str
    encoding: str | None
    topics: list[str]
    meta: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "url": self.url, "canonical_url": self.canonical_url, "outlet": self.outlet,
            "title": self.title, "text": self.text, "language": self.language,
            "language_source": self.language_source, "published": self.published,
            "published_source": self.published_source, "authors": self.authors, "fetched": self.fetched,
            "discovered_via": self.discovered_via, "extraction_status": self.extraction_status,
            "encoding": self.encoding, "topics": self.topics,
            "topic_matches": self.meta.get("topic_matches", {}),
        }


class Store:
    """The store on SQLite (a path) or PostgreSQL (a `postgresql://` URL). One connection per process;
    autocommit, each write its own transaction. Open it with `open_store`."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.conn: Any
        if is_postgres_url(self.path):
            self.dialect: Dialect = POSTGRES
            self.conn = connect_postgres(self.path)
            # Several processes may open a new store at once: CREATE ... IF NOT EXISTS is not race-safe on
            # PostgreSQL, so the schema is created under a transaction-scoped advisory lock.
            with self.conn.transaction():
                self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (advisory_key("schema"),))
                for statement in self.dialect.schema():
                    self.conn.execute(statement)
            return
        self.dialect = SQLITE
        if "://" in self.path:
            raise ValueError(
                f"--db {self.path}: use a SQLite file path or a postgresql:// URL"
            )
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA busy_timeout=30000")
        self.conn.executescript(SCHEMA)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, query: str, args: Any = ()) -> Any:
        """Execute one statement written with `?` placeholders; returns the cursor."""
        return self.conn.execute(self.dialect.sql(query), args)

    def _run_many(self, query: str, rows: Iterable[Any]) -> None:
        if self.dialect is SQLITE:
            self.conn.executemany(query, rows)
            return
        with self.conn.cursor() as cur:
            cur.executemany(self.dialect.sql(query), list(rows))

    def _stream(self, query: str, args: Any = ()) -> Iterator[Any]:
        """Rows of a query that may be large, without holding them all in memory (a server-side cursor on
        PostgreSQL; SQLite's cursor already steps through the file)."""
        if self.dialect is SQLITE:
            yield from self.conn.execute(query, args)
            return
        # WITH HOLD: the cursor outlives the autocommit transaction of its own statement.
        with self.conn.cursor(name=f"newsdedupe_{uuid.uuid4().hex}", withhold=True) as cur:
            cur.itersize = 500
            cur.execute(self.dialect.sql(query), args)
            yield from cur

    # --- URL state -------------------------------------------------------------------------------
    def url_status(self, url: str) -> str | None:
        row = self._run("SELECT status FROM urls WHERE url = ?", (url,)).fetchone()
        return row["status"] if row else None

    def is_done(self, url: str) -> bool:
        """True when this canonical URL needs no further download (stored, or finally rejected)."""
        row = self._run("SELECT status, http_status FROM urls WHERE url = ?", (url,)).fetchone()
        if row is not None and (
            row["status"] in FINAL_STATUSES
            or (row["status"] == "http_error" and row["http_status"] in FINAL_HTTP_CODES)
        ):
            return True
        row = self._run("SELECT 1 FROM articles WHERE canonical_url = ?", (url,)).fetchone()
        return row is not None

    def record_discovery(self, url: str, outlet: str | None, via: str, hint: dict[str, Any] | None = None) -> None:
        """Remember a discovered URL (first seen once, last seen every run; a dated hint replaces an undated)."""
        ts = now_iso()
        d = self.dialect
        self._run(
            f"""INSERT INTO urls(url, outlet, first_seen, last_seen, discovered_via, hint)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT(url) DO UPDATE SET last_seen = excluded.last_seen,
                   hint = CASE WHEN {d.json_text('urls.hint', 'published')} IS NULL
                               AND {d.json_text('excluded.hint', 'published')} IS NOT NULL
                          THEN excluded.hint ELSE urls.hint END""",
            (url, outlet, ts, ts, via, json.dumps(hint or {}, ensure_ascii=False)),
        )

    def known_published(self, url: str) -> str | None:
        """The publication date a feed, sitemap or earlier fetch gave for this URL, if any."""
        row = self._run(f"SELECT {self.dialect.json_text('hint', 'published')} AS p FROM urls WHERE url = ?",
                        (url,)).fetchone()
        return row["p"] if row and row["p"] else None

    def set_known_published(self, url: str, published: str) -> None:
        self._run(
            f"UPDATE urls SET hint = {self.dialect.json_set_text('hint', 'published')} WHERE url = ?",
            (published, url),
        )

    def set_url_status(self, url: str, status: str, http_status: int | None = None,
                       article_id: str | None = None, outlet: str | None = None) -> None:
        ts = now_iso()
        self._run(
            """INSERT INTO urls(url, outlet, first_seen, last_seen, status, http_status, article_id)
               VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(url) DO UPDATE SET status = excluded.status, last_seen = excluded.last_seen,
                   http_status = COALESCE(excluded.http_status, urls.http_status),
                   article_id = COALESCE(excluded.article_id, urls.article_id)""",
            (url, outlet, ts, ts, status, http_status, article_id),
        )

    # --- feeds and sitemaps: validators for conditional requests ------------------------------------
    def source_validators(self, url: str) -> tuple[str | None, str | None]:
        row = self._run("SELECT etag, last_modified FROM sources WHERE url = ?", (url,)).fetchone()
        return (row["etag"], row["last_modified"]) if row else (None, None)

    def save_source_validators(self, url: str, etag: str | None, last_modified: str | None) -> None:
        self._run(
            """INSERT INTO sources(url, etag, last_modified, last_fetched) VALUES (?, ?, ?, ?)
               ON CONFLICT(url) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified,
                   last_fetched = excluded.last_fetched""",
            (url, etag, last_modified, now_iso()),
        )

    def pending_from_source(self, source: str) -> list[tuple[str, dict[str, Any]]]:
        """URLs a feed or sitemap listed before that are still not done (e.g. a killed run left them)."""
        rows = self._run(
            f"SELECT url, hint, status, http_status FROM urls WHERE {self.dialect.json_text('hint', 'source')} = ?",
            (source,),
        ).fetchall()
        return [
            (r["url"], json.loads(r["hint"]))
            for r in rows
            if not (r["status"] in FINAL_STATUSES or (r["status"] == "http_error" and r["http_status"] in FINAL_HTTP_CODES))
            and not self.has_article(r["url"])
        ]

    def save_source_children(self, url: str, children: list[str], lastmods: dict[str, str | None] | None = None) -> None:
        """Remember the child sitemaps of an index (a 304 for the index must still visit them), with their
        `<lastmod>` when known (a --since crawl skips old ones without reading the index again)."""
        dated = [[c, lastmods.get(c)] if lastmods and lastmods.get(c) else c for c in children]
        self._run(
            """INSERT INTO sources(url, children, last_fetched) VALUES (?, ?, ?)
               ON CONFLICT(url) DO UPDATE SET children = excluded.children""",
            (url, json.dumps(dated), now_iso()),
        )

    def source_children(self, url: str) -> list[str]:
        return [child for child, _ in self.source_children_dated(url)]

    def source_children_dated(self, url: str) -> list[tuple[str, str | None]]:
        """The child sitemaps of an index and their `<lastmod>` (None when it had none)."""
        row = self._run("SELECT children FROM sources WHERE url = ?", (url,)).fetchone()
        if not row:
            return []
        return [(c, None) if isinstance(c, str) else (c[0], c[1]) for c in json.loads(row["children"])]

    def forget_source_validators(self, url: str) -> None:
        self._run("DELETE FROM sources WHERE url = ?", (url,))

    # --- articles --------------------------------------------------------------------------------
    ARTICLE_COLUMNS = ("id", "url", "canonical_url", "outlet", "title", "text", "language", "language_source",
                       "published", "published_source", "authors", "fetched", "discovered_via",
                       "extraction_status", "encoding", "topics", "meta")

    def add_article(self, record: dict[str, Any]) -> bool:
        """Store one article; False when its canonical URL is already stored (nothing changes then), also
        when another process sharing the store stored it first."""
        values = {
            **record,
            "authors": json.dumps(record.get("authors") or [], ensure_ascii=False),
            "topics": json.dumps(record.get("topics") or [], ensure_ascii=False),
            "meta": json.dumps(record.get("meta") or {}, ensure_ascii=False),
        }
        columns = ", ".join(self.ARTICLE_COLUMNS)
        placeholders = ", ".join("?" * len(self.ARTICLE_COLUMNS))
        args = tuple(values[c] for c in self.ARTICLE_COLUMNS)
        if self.dialect is SQLITE:
            # One writer at a time (BEGIN IMMEDIATE), so rowids grow in commit order.
            sql = f"INSERT OR IGNORE INTO articles({columns}) VALUES ({placeholders})"
            return int(self._run(sql, args).rowcount) == 1
        sql = f"INSERT INTO articles({columns}) VALUES ({placeholders}) ON CONFLICT DO NOTHING"
        # On PostgreSQL concurrent writers take identity values in one order and commit in another; an
        # `export --only-new` watermark on `seq` could then pass over an article committed late. Article
        # inserts therefore take a transaction-scoped lock, so `seq` grows in commit order here too.
        with self.transaction():
            self._run("SELECT pg_advisory_xact_lock(?)", (advisory_key("articles"),))
            return int(self._run(sql, args).rowcount) == 1

    # --- topics ----------------------------------------------------------------------------------
    def reject_for_topic(self, urls: Iterable[str], topic: str, outlet: str | None = None) -> None:
        """Remember pages fetched for a topic whose text did not match: a rerun for that topic does not fetch
        them again. Their URL state `off_topic` is not final, so a crawl without (or for another) topic does."""
        ts = now_iso()
        with self.transaction():
            for url in urls:
                self.set_url_status(url, "off_topic", outlet=outlet)
                self._run(
                    """INSERT INTO topic_rejections(url, topic, rejected) VALUES (?, ?, ?)
                       ON CONFLICT(url, topic) DO UPDATE SET rejected = excluded.rejected""", (url, topic, ts)
                )

    def rejected_for_topic(self, url: str, topic: str) -> bool:
        row = self._run("SELECT 1 FROM topic_rejections WHERE url = ? AND topic = ?", (url, topic)).fetchone()
        return row is not None

    def article_for_url(self, url: str) -> StoredArticle | None:
        """The stored article at this canonical URL, or the one this URL led to (a redirect, a duplicate)."""
        row = self._run("SELECT * FROM articles WHERE canonical_url = ?", (url,)).fetchone()
        if row is None:
            row = self._run(
                "SELECT a.* FROM urls u JOIN articles a ON a.id = u.article_id WHERE u.url = ?", (url,)
            ).fetchone()
        return _stored(row) if row is not None else None

    def tag_article(self, article_id: str, topic: str, match: dict[str, Any]) -> None:
        """Add a topic (and what matched where, in `meta.topic_matches`) to a stored article."""
        with self.transaction():
            row = self._run("SELECT topics, meta FROM articles WHERE id = ?", (article_id,)).fetchone()
            if row is None:
                return
            topics = json.loads(row["topics"])
            meta = json.loads(row["meta"])
            if topic not in topics:
                topics.append(topic)
            meta.setdefault("topic_matches", {})[topic] = match
            self._run(
                "UPDATE articles SET topics = ?, meta = ? WHERE id = ?",
                (json.dumps(topics, ensure_ascii=False), json.dumps(meta, ensure_ascii=False), article_id),
            )

    def topic_ids(self) -> set[str]:
        """Every topic some stored article carries."""
        rows = self._run(
            f"SELECT DISTINCT j.value AS value FROM articles, {self.dialect.json_values('articles.topics', 'j')}"
        )
        return {r["value"] for r in rows}

    def has_article(self, canonical_url: str) -> bool:
        return self._run("SELECT 1 FROM articles WHERE canonical_url = ?", (canonical_url,)).fetchone() is not None

    def count_articles(self) -> int:
        return int(self._run("SELECT COUNT(*) AS n FROM articles").fetchone()["n"])

    def articles(self, since: str | None = None, topic: str | None = None) -> Iterator[StoredArticle]:
        """Stored articles in id order; `since` (ISO date) keeps those published (or fetched) on or after it,
        `topic` those a topic crawl tagged with that topic."""
        where: list[str] = []
        args: list[Any] = []
        if since:
            where.append("COALESCE(published, fetched) >= ?")
            args.append(since)
        if topic:
            where.append(f"EXISTS (SELECT 1 FROM {self.dialect.json_values('articles.topics', 't')} WHERE t.value = ?)")
            args.append(topic)
        sql = "SELECT * FROM articles" + (" WHERE " + " AND ".join(where) if where else "")
        for row in self._stream(sql + " ORDER BY id", args):
            yield _stored(row)

    def article_days(self) -> dict[str, str]:
        """Article id -> the day it counts for in time (published, else fetched; ISO `YYYY-MM-DD`)."""
        return {r["id"]: str(r["day"])[:10] for r in self._stream(
            "SELECT id, COALESCE(published, fetched) AS day FROM articles")}

    def articles_by_ids(self, ids: Iterable[str]) -> Iterator[StoredArticle]:
        """The stored articles among `ids`, in id order."""
        for chunk in _chunked(sorted(set(ids))):
            q = f"SELECT * FROM articles WHERE id IN ({','.join('?' * len(chunk))}) ORDER BY id"
            for row in self._run(q, chunk):
                yield _stored(row)

    # --- grouping state --------------------------------------------------------------------------
    def signatures(self, ids: Iterable[str] | None = None) -> dict[str, tuple[str, str, int, bytes | None]]:
        """Stored signatures (all, or those of `ids`)."""
        if ids is None:
            return {
                r["article_id"]: (r["fingerprint"], r["text_hash"], r["size"], r["data"])
                for r in self._run("SELECT * FROM signatures")
            }
        out: dict[str, tuple[str, str, int, bytes | None]] = {}
        for chunk in _chunked(list(ids)):
            q = f"SELECT * FROM signatures WHERE article_id IN ({','.join('?' * len(chunk))})"
            out.update((r["article_id"], (r["fingerprint"], r["text_hash"], r["size"], r["data"]))
                       for r in self._run(q, chunk))
        return out

    def signature_data(self, fingerprint: str) -> Iterator[tuple[str, bytes]]:
        """(article id, signature bytes) of every stored signature made with `fingerprint`, streamed."""
        for r in self._stream("SELECT article_id, data FROM signatures WHERE fingerprint = ? AND data IS NOT NULL",
                              (fingerprint,)):
            yield r["article_id"], bytes(r["data"])

    def save_signatures(self, rows: Iterable[tuple[str, str, str, int, bytes | None]]) -> None:
        with self.transaction():
            self._run_many(
                """INSERT INTO signatures(article_id, fingerprint, text_hash, size, data) VALUES (?,?,?,?,?)
                   ON CONFLICT(article_id) DO UPDATE SET fingerprint = excluded.fingerprint,
                       text_hash = excluded.text_hash, size = excluded.size, data = excluded.data""",
                rows,
            )

    def assignments(self) -> dict[str, tuple[str, str]]:
        return {r["article_id"]: (r["story_id"], r["event_id"]) for r in self._run("SELECT * FROM assignments")}

    def save_assignments(self, rows: Iterable[tuple[str, str, str]]) -> None:
        ts = now_iso()
        with self.transaction():
            self._run_many(
                """INSERT INTO assignments(article_id, story_id, event_id, assigned) VALUES (?,?,?,?)
                   ON CONFLICT(article_id) DO UPDATE SET story_id = excluded.story_id,
                       event_id = excluded.event_id, assigned = excluded.assigned""",
                ((a, s, e, ts) for a, s, e in rows),
            )

    def replace_events(self, events: Iterable[dict[str, Any]]) -> None:
        """Keep the latest grouping's events for `export` (read back newest first)."""
        with self.transaction():
            self._run("DELETE FROM events")
            self._insert_events(events)

    def update_events(self, events: Iterable[dict[str, Any]], removed: Iterable[str]) -> None:
        """An incremental grouping's events: `events` replace those with their ids, the `removed` event ids go,
        and every other stored event is now `unchanged` (it was not touched by this grouping)."""
        events = list(events)
        with self.transaction():
            self._run("UPDATE events SET status = 'unchanged' WHERE status <> 'unchanged'")
            for chunk in _chunked(sorted({*removed, *(e["event_id"] for e in events)})):
                self._run(f"DELETE FROM events WHERE event_id IN ({','.join('?' * len(chunk))})", chunk)
            self._insert_events(events)

    def _insert_events(self, events: Iterable[dict[str, Any]]) -> None:
        ts = now_iso()
        self._run_many(
            "INSERT INTO events(event_id, position, status, body, grouped) VALUES (?,?,?,?,?)",
            ((e["event_id"], event_position(e), e["status"], json.dumps(e, ensure_ascii=False), ts) for e in events),
        )

    def events(self) -> Iterator[dict[str, Any]]:
        """Stored events, newest first (latest article day, undated last; then id), with their current status."""
        for row in self._stream("SELECT status, body FROM events ORDER BY position, event_id"):
            event = json.loads(row["body"])
            event["status"] = row["status"]
            yield event

    # --- labellers' decisions -------------------------------------------------------------------
    def save_label_pairs(self, rows: Iterable[tuple[str, str, str, str | None, str | None, str, str]]) -> int:
        """Record (kind, a, b, event_id, annotator, decided, source) decisions; for a pair decided twice the later
        decision wins (ties: the one imported last). Returns how many pairs changed."""
        ts = now_iso()
        changed = 0
        with self.transaction():
            for kind, a, b, event_id, annotator, decided, source in rows:
                a, b = (a, b) if a <= b else (b, a)
                before = self._run("SELECT kind FROM label_pairs WHERE a = ? AND b = ?", (a, b)).fetchone()
                cur = self._run(
                    """INSERT INTO label_pairs(a, b, kind, event_id, annotator, decided, source, imported)
                       VALUES (?,?,?,?,?,?,?,?)
                       ON CONFLICT(a, b) DO UPDATE SET kind = excluded.kind, event_id = excluded.event_id,
                           annotator = excluded.annotator, decided = excluded.decided, source = excluded.source,
                           imported = excluded.imported
                       WHERE excluded.decided >= label_pairs.decided""",
                    (a, b, kind, event_id, annotator, decided, source, ts),
                )
                changed += int(cur.rowcount == 1 and (before is None or before["kind"] != kind))
        return changed

    def label_pairs(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """(must, cannot) article pairs decided by labellers."""
        must: list[tuple[str, str]] = []
        cannot: list[tuple[str, str]] = []
        for r in self._run("SELECT a, b, kind FROM label_pairs ORDER BY a, b"):
            (must if r["kind"] == "must" else cannot).append((r["a"], r["b"]))
        return must, cannot

    def save_event_label(self, event_id: str, label: str, article_ids: list[str], annotator: str | None,
                         decided: str, source: str) -> None:
        with self.transaction():
            self._run(
                """INSERT INTO event_labels(event_id, label, article_ids, annotator, decided, source, imported)
                   VALUES (?,?,?,?,?,?,?)
                   ON CONFLICT(event_id) DO UPDATE SET label = excluded.label, article_ids = excluded.article_ids,
                       annotator = excluded.annotator, decided = excluded.decided, source = excluded.source,
                       imported = excluded.imported
                   WHERE excluded.decided >= event_labels.decided""",
                (event_id, label, json.dumps(article_ids), annotator, decided, source, now_iso()),
            )

    def event_labels(self) -> dict[str, dict[str, Any]]:
        return {
            r["event_id"]: {"label": r["label"], "annotator": r["annotator"], "decided": r["decided"]}
            for r in self._run("SELECT * FROM event_labels")
        }

    # --- what was exported where (for --only-new) ------------------------------------------------------
    def exported_digests(self, channel: str) -> dict[str, str]:
        return {r["event_id"]: r["digest"]
                for r in self._run("SELECT event_id, digest FROM exported WHERE channel = ?", (channel,))}

    def save_exported(self, channel: str, digests: Iterable[tuple[str, str]]) -> None:
        ts = now_iso()
        with self.transaction():
            self._run_many(
                """INSERT INTO exported(channel, event_id, digest, exported) VALUES (?,?,?,?)
                   ON CONFLICT(channel, event_id) DO UPDATE SET digest = excluded.digest,
                       exported = excluded.exported""",
                ((channel, e, d, ts) for e, d in digests),
            )

    def get_meta(self, key: str) -> str | None:
        row = self._run("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row["value"])

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction():
            self._run("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                      (key, value))

    def articles_after(self, rowid: int) -> Iterator[tuple[int, StoredArticle]]:
        """Articles stored after the given rowid (rows are only ever inserted, in commit order), with their
        rowids (on PostgreSQL the `seq` column)."""
        seq = self.dialect.order_column
        for row in self._stream(f"SELECT {seq} AS rid, * FROM articles WHERE {seq} > ? ORDER BY {seq}", (rowid,)):
            yield int(row["rid"]), _stored(row)

    def texts(self, ids: Iterable[str]) -> dict[str, str]:
        """Article id -> text, for the ids that are stored."""
        out: dict[str, str] = {}
        for chunk in _chunked(list(ids)):
            q = f"SELECT id, text FROM articles WHERE id IN ({','.join('?' * len(chunk))})"
            out.update((r["id"], r["text"]) for r in self._run(q, chunk))
        return out

    def transaction(self) -> AbstractContextManager[Any]:
        """One transaction (on PostgreSQL a nested one is a savepoint)."""
        if self.dialect is SQLITE:
            return _Transaction(self.conn)
        return self.conn.transaction()  # type: ignore[no-any-return]

    def stats(self) -> dict[str, int]:
        out = {"articles": self.count_articles()}
        for row in self._run("SELECT status, COUNT(*) AS n FROM urls GROUP BY status"):
            out[f"urls_{row['status']}"] = row["n"]
        return out


def _chunked(items: list[str], size: int = 500) -> Iterator[list[str]]:
    """Lists of at most `size` items (an `IN (...)` list per statement stays within every database's limits)."""
    for i in range(0, len(items), size):
        yield items[i:i + size]


UNDATED_POSITION = 10**8


def event_position(event: dict[str, Any]) -> int:
    """Sort position of a stored event: newest latest-article day first (minus its day number), undated last;
    ties are ordered by event id when read. An event keeps the position its own articles give it, so one
    event can be replaced without renumbering the others."""
    last = event.get("last_published")
    try:
        return -date.fromisoformat(str(last)[:10]).toordinal() if last else UNDATED_POSITION
    except ValueError:
        return UNDATED_POSITION


def open_store(db: str | Path) -> Store:
    """The store `--db` names: a SQLite file for a path, PostgreSQL for a `postgresql://` (or `postgres://`)
    URL. Raises ValueError with a one-line message when a PostgreSQL store cannot be opened."""
    return Store(db)


def _stored(row: Any) -> StoredArticle:
    return StoredArticle(
        id=row["id"], url=row["url"], canonical_url=row["canonical_url"], outlet=row["outlet"],
        title=row["title"], text=row["text"], language=row["language"],
        language_source=row["language_source"], published=row["published"],
        published_source=row["published_source"], authors=json.loads(row["authors"]),
        fetched=row["fetched"], discovered_via=row["discovered_via"],
        extraction_status=row["extraction_status"], encoding=row["encoding"],
        topics=json.loads(row["topics"]), meta=json.loads(row["meta"]),
    )


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on an exception); inside another transaction, part of that one."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.outer = False

    def __enter__(self) -> sqlite3.Connection:
        self.outer = not self.conn.in_transaction
        if self.outer:
            self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if self.outer:
            self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
