"""Extraction in worker processes, so the crawl's reactor keeps fetching while pages are parsed on another core.

`ExtractionPool.extract` runs `crawler.extraction.extract_article` (the same function, same arguments, so the
same result) in a `concurrent.futures.ProcessPoolExecutor` and gives the reactor a Deferred-backed awaitable.

- The pool starts on the first page (a crawl that fetches nothing starts no process) and is shut down when the
  spider closes.
- Workers are spawned (the reactor's process has threads, so no fork) as children of the crawl, and each dies
  with it: `PR_SET_PDEATHSIG` on Linux, and a watchdog thread everywhere, so a crawl killed with SIGKILL
  leaves no orphan behind (nor one holding its stdout, which would keep a caller waiting).
- A worker that dies (killed, out of memory, a crash in a C library) breaks the pool: the pool is recreated
  and the page is tried once more; if it breaks the pool again the page gets an error, never the crawl.
- Log records a worker emits while extracting come back with the result and are logged in the crawl's process,
  through its handlers (the CLI's quiet stderr handler, or Scrapy's log with -v).
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import os
import sys
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from crawler.extraction import Extracted, Hints

log = logging.getLogger(__name__)


class ExtractionFailed(Exception):
    """Extraction of one page failed in a worker (the message names the cause)."""


# --- in the worker -----------------------------------------------------------------------------------------
def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: killed as soon as the parent dies
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _init_worker(parent: int) -> None:
    _die_with_parent(parent)
    import crawler.extraction  # noqa: F401  (imported now, not on the first page)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception as exc:  # noqa: BLE001 - a record whose arguments do not format is reported, not fatal
            message = f"{record.msg!r} (unformattable arguments: {exc})"
        self.records.append((record.name, record.levelno, message))


def _extract_job(
    body: bytes, url: str, hints: Hints | None, content_type: str | None, level: int
) -> tuple[Extracted, list[tuple[str, int, str]]]:
    from crawler.extraction import extract_article

    root = logging.getLogger()
    handler = _Collect()
    root.handlers[:] = [handler]
    root.setLevel(level)
    try:
        return extract_article(body, url, hints, content_type), handler.records
    finally:
        root.handlers[:] = []


# --- in the crawl ------------------------------------------------------------------------------------------
def _context() -> Any:
    # Spawned, so each worker is the crawl's own child and dies with it. (Not a fork server: its children
    # keep it alive and it keeps them alive, so a killed crawl would leave both behind, holding its pipes.
    # Not fork: the crawl process has threads.)
    return mp.get_context("spawn")


class ExtractionPool:
    """A lazily started pool of `workers` extraction processes."""

    def __init__(self, workers: int = 2) -> None:
        self.workers = max(1, workers)
        self._executor: ProcessPoolExecutor | None = None
        self.restarts = 0

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(self.workers, mp_context=_context(), initializer=_init_worker,
                                                 initargs=(os.getpid(),))
        return self._executor

    def _discard(self, executor: ProcessPoolExecutor) -> None:
        if self._executor is executor:
            self._executor = None
            self.restarts += 1
            executor.shutdown(wait=False, cancel_futures=True)

    async def extract(self, body: bytes, url: str, hints: Hints | None, content_type: str | None) -> Extracted:
        """`extract_article(body, url, hints, content_type)` in a worker; ExtractionFailed when it raised or
        its worker died twice."""
        level = logging.getLogger().getEffectiveLevel()
        for attempt in (1, 2):
            executor = self._pool()
            try:
                future = executor.submit(_extract_job, body, url, hints, content_type, level)
                extracted, records = await _wait(future)
            except BrokenProcessPool as exc:
                self._discard(executor)
                log.warning("%s: an extraction worker died (%s); %s", url, exc or "no detail",
                            "retrying with new workers" if attempt == 1 else "giving up on this page")
                if attempt == 2:
                    raise ExtractionFailed(f"extraction worker died: {exc or 'no detail'}") from exc
                continue
            except Exception as exc:
                raise ExtractionFailed(f"{type(exc).__name__}: {exc}") from exc
            for name, levelno, message in records:
                logging.getLogger(name).log(levelno, "%s", message)
            return extracted
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


async def _wait(future: Future) -> Any:  # type: ignore[type-arg]
    """Await a concurrent.futures.Future from the Twisted reactor (asyncio reactor or not)."""
    from scrapy.utils.defer import maybe_deferred_to_future
    from twisted.internet import reactor
    from twisted.internet.defer import Deferred

    d: Deferred[Any] = Deferred()

    def settle(f: Future) -> None:  # type: ignore[type-arg]
        if d.called:
            return
        if f.cancelled():  # the pool was shut down (the crawl is closing) before this page's turn
            d.errback(ExtractionFailed("cancelled: the crawl is shutting down"))
            return
        exc = f.exception()
        if exc is not None:
            d.errback(exc)
        else:
            d.callback(f.result())

    future.add_done_callback(lambda f: reactor.callFromThread(settle, f))  # type: ignore[attr-defined]
    return await maybe_deferred_to_future(d)
