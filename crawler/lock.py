"""One run at a time per store.

SQLite store: an advisory lock on `<db>.lock`. `flock` locks belong to the process: when a run dies (SIGKILL,
OOM, reboot) the kernel releases its lock, so a crashed run never leaves a stale lock behind; the file's
contents (pid, start time) only explain who holds it.

PostgreSQL store (shared by several machines, where a file lock means nothing): a session-level
`pg_try_advisory_lock` on its own connection. The server releases it when that connection ends, so a run
that crashed, or a machine that lost power, never leaves a stale lock either. Locks are named per job
(see `lock_names`), so crawlers on several machines run side by side while grouping stays one at a time.
"""
from __future__ import annotations

import fcntl
import os
import socket
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from crawler.storage import advisory_key, connect_postgres, display_db, is_postgres_url, now_iso

EXIT_SKIPPED = 75  # EX_TEMPFAIL: "try again later", what a scheduler should read as a skipped run


class AlreadyRunning(RuntimeError):
    """Another run holds the lock on this store."""


class RunLock:
    """`shared=True`: a crawl on a shared frontier (`--redis`). Such crawls run together (that is the point), but
    not alongside a run holding the lock alone (a crawl without `--redis`, `group`, `run`), either way round."""

    def __init__(self, db: str | Path, shared: bool = False, note: str = "") -> None:
        self.path = Path(f"{db}.lock")
        self.shared = shared
        self.note = note
        self.fd: int | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "unknown process"
            os.close(fd)
            raise AlreadyRunning(f"another newsdedupe run holds {self.path} ({holder}); skipping this run") from None
        # Shared holders each write who they are (the last one's line explains a refusal); only a sole holder
        # clears the file on exit.
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        what = f"shared-frontier crawls, e.g. pid {os.getpid()}" if self.shared else f"pid {os.getpid()}"
        os.write(fd, f"{what}, started {now_iso()}{self.note}\n".encode())
        os.fsync(fd)
        self.fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            if not self.shared:
                os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


class PgRunLock:
    """A named lock on a PostgreSQL store, held by a connection of its own for as long as the run lasts."""

    def __init__(self, url: str, name: str) -> None:
        self.url = url
        self.name = name
        self.key = advisory_key(f"run:{name}")
        self.conn: Any = None

    def __enter__(self) -> PgRunLock:
        conn = connect_postgres(self.url, purpose=f"{self.name} lock")
        row = conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (self.key,)).fetchone()
        if not row["ok"]:
            holder = self._holder(conn)
            conn.close()
            raise AlreadyRunning(
                f"another newsdedupe run holds the {self.name} lock of {display_db(self.url)} ({holder}); "
                "skipping this run"
            )
        self.conn = conn
        return self

    def _holder(self, conn: Any) -> str:
        """Who holds the lock: the application name its connection gave (pid and host) and since when."""
        import psycopg

        try:
            row = conn.execute(
                """SELECT a.application_name AS app, a.backend_start AS since FROM pg_locks l
                   JOIN pg_stat_activity a ON a.pid = l.pid
                   WHERE l.locktype = 'advisory' AND l.granted AND l.database = (
                         SELECT oid FROM pg_database WHERE datname = current_database())
                     AND l.classid::bigint = %s AND l.objid::bigint = %s AND l.objsubid = 1""",
                (self.key >> 32, self.key & 0xFFFFFFFF),
            ).fetchone()
        except psycopg.Error:  # only an explanation: never let it hide the skip itself
            return "unknown process"
        if not row or not row["app"]:
            return "unknown process"
        app = str(row["app"]).removeprefix("newsdedupe ").split(": ", 1)[0]
        since = row["since"].replace(microsecond=0).isoformat() if row["since"] else "?"
        return f"{app}, started {since}"

    def __exit__(self, *exc: object) -> None:
        if self.conn is not None:
            try:
                self.conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
            finally:
                self.conn.close()  # closing alone would release it too
                self.conn = None


def lock_names(command: str, redis: str | None = None) -> list[str]:
    """The named locks a command takes on a PostgreSQL store.

    - `group` (and the grouping step of `run`) rewrites the store's assignments and latest events: one at a
      time per store, whichever machine runs it (`group`).
    - `crawl` only adds articles and URL states, which is race-safe: one crawl per store *per machine*
      (`crawl@<host>`), so an overlapping cron start on a machine is skipped while other machines crawl the
      same store. With a shared frontier (`--redis`) the frontier coordinates crawlers: no crawl lock at all.
    - `export --only-new` records what it sent: one at a time per store (`export`).
    - `run` takes both, so it is one at a time per store, alongside any number of `crawl` machines.
    """
    crawl = [] if redis else [f"crawl@{socket.gethostname()}"]
    if command == "crawl":
        return crawl
    if command in ("group", "export"):
        return [command]
    return [*crawl, "group"]


def store_lock(db: str | Path, command: str, redis: str | None = None) -> ExitStack:
    """The locks a command holds while it writes the store (a context manager); raises AlreadyRunning.

    A SQLite store has one lock for every command (its lock file); a PostgreSQL store the named locks of
    `lock_names`."""
    stack = ExitStack()
    try:
        if is_postgres_url(db):
            for name in lock_names(command, redis):
                stack.enter_context(PgRunLock(str(db), name))
        else:
            # Crawls on a shared frontier run together: they share the file lock; everything else holds it alone.
            stack.enter_context(RunLock(db, shared=bool(redis) and command == "crawl"))
    except BaseException:
        stack.close()
        raise
    return stack
