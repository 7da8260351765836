"""Extraction in worker processes, so the crawl's reactor keeps fetching while pages are parsed on another core.

`ExtractionPool.extract` runs `crawler.extraction.extract_article` (the same function, same arguments, so the
same result) in a worker process and gives the reactor something to await.

- Each worker is connected to the crawl by a Unix socket pair whose descriptor the reactor watches itself (no
  Twisted connection object around it: see `_Channel`): a page goes out as its lengths, the pickled arguments
  and the body as it is; its record comes back as one length-prefixed pickle.
  No helper threads, no wake-up pipe, no lock in the crawl's process (a `ProcessPoolExecutor` has a feeder
  and a manager thread per pool, whose pickling, pipe writes and GIL hand-overs cost the reactor about a
  tenth of its time in the crawl benchmark). A worker holds at most three pages (one extracting, two waiting),
  so it does not wait for the reactor and a page never waits behind a long queue on a busy worker.
- `newsdedupe crawl` spawns the workers before it imports Scrapy (`crawler.runner`: they load their libraries on
  the core its start-up leaves idle) and the reactor watches them from the first article request on; a spider
  run otherwise (`scrapy crawl outlets`) starts its pool with its first article request (a crawl with nothing
  to fetch starts no process), or on the first page to extract. The pool is shut down when the spider closes.
- Workers are spawned (the reactor's process has threads, so no fork) as children of the crawl, and each dies
  with it: `PR_SET_PDEATHSIG` on Linux, a watchdog thread everywhere, and the end of its socket, so a crawl
  killed with SIGKILL leaves no orphan behind (nor one holding its stdout, which would keep a caller waiting).
- A worker that dies (killed, out of memory, a crash in a C library) is replaced and each page it held is
  tried once more on a live worker; a page that was already on its second try gets an error, never the crawl.
- Log records a worker emits while extracting come back with the result and are logged in the crawl's process,
  through its handlers (the CLI's quiet stderr handler, or Scrapy's log with -v).
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing as mp
import os
import pickle
import socket
import struct
import sys
import threading
import time
from collections import deque
from typing import Any, Callable, NoReturn

from crawler.extracted import Extracted, Hints

log = logging.getLogger(__name__)

_HEAD = struct.Struct("!I")  # the length of the pickle that follows (a record, to the crawl)
_PAGE_HEAD = struct.Struct("!II")  # to a worker: the length of the pickled arguments, then of the page's body
# Pages handed to one worker at a time: one being extracted, two ready for when it is done. With one ready page
# a worker that finished it waited whenever the reactor's process had not been scheduled within one page's
# extraction (three busy processes on two cores): the crawl benchmark's cores stood idle 0.5 core-seconds in the
# middle of a 5,000-page crawl, 0.02-0.12 with two pages waiting per worker.
_PER_WORKER = 3
_PROTOCOL = pickle.HIGHEST_PROTOCOL
_RECV_SIZE = 1 << 18  # bytes read from a worker's socket at once
DEFAULT_WORKERS = 2  # NEWSDEDUPE_EXTRACT_WORKERS's default


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


def _read_exactly(stream: Any, n: int) -> bytes | None:
    data = stream.read(n)
    return data if data is not None and len(data) == n else None


def _exit() -> NoReturn:
    """End the worker at once: it holds nothing to save (every record was sent whole), and the interpreter's
    own shutdown (freeing every module lxml, trafilatura and the language profiles loaded) kept the crawl
    waiting about a tenth of a second when it closed."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    os._exit(0)


def _worker_main(sock: socket.socket, parent: int) -> None:
    """A worker's life: read a page, extract it, send the record back; until the crawl closes the socket."""
    _die_with_parent(parent)
    from crawler.extraction import extract_article

    sock.setblocking(True)
    incoming = sock.makefile("rb")
    root = logging.getLogger()
    while True:
        head = _read_exactly(incoming, _PAGE_HEAD.size)
        if head is None:
            _exit()  # the crawl closed the pool (or died)
        args_size, body_size = _PAGE_HEAD.unpack(head)
        payload = _read_exactly(incoming, args_size)
        body = _read_exactly(incoming, body_size)
        if payload is None or body is None:
            _exit()
        job, url, hints, content_type, level = pickle.loads(payload)
        handler = _Collect()
        root.handlers[:] = [handler]
        if root.level != level:  # setLevel clears every logger's level cache, each time
            root.setLevel(level)
        try:
            result: tuple[Any, ...] = (job, True, extract_article(body, url, hints, content_type), handler.records)
        except Exception as exc:  # noqa: BLE001 - this page's error, reported to the crawl
            result = (job, False, f"{type(exc).__name__}: {exc}", handler.records)
        finally:
            root.handlers[:] = []
        try:
            data = pickle.dumps(result, protocol=_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - a record that does not pickle is this page's error
            data = pickle.dumps((job, False, f"{type(exc).__name__}: {exc}", []), protocol=_PROTOCOL)
        try:
            sock.sendall(_HEAD.pack(len(data)) + data)
        except OSError:
            return


# --- in the crawl ------------------------------------------------------------------------------------------
def _context() -> Any:
    # Spawned, so each worker is the crawl's own child and dies with it. (Not a fork server: its children
    # keep it alive and it keeps them alive, so a killed crawl would leave both behind, holding its pipes.
    # Not fork: the crawl process has threads.)
    return mp.get_context("spawn")


class _Job:
    __slots__ = ("id", "args", "body", "url", "attempt", "resolve", "fail")

    def __init__(self, job_id: int, args: tuple[Any, ...], body: bytes, url: str,
                 resolve: Callable[[Any], None], fail: Callable[[BaseException], None]) -> None:
        self.id = job_id
        self.args = args
        self.body = body
        self.url = url
        self.attempt = 1
        self.resolve = resolve
        self.fail = fail


class _Worker:
    """One worker process and the reactor's end of its socket."""

    def __init__(self, process: Any) -> None:
        self.process = process
        self.sock: socket.socket | None = None  # the crawl's end, watched through `channel` once attached
        self.channel: _Channel | None = None
        self.inflight: dict[int, _Job] = {}
        self.buffer = bytearray()
        self.lost = False


class _Channel:
    """The reactor's end of a worker's socket: pages out (two lengths, pickled arguments, the body), records in
    (length-prefixed pickles).

    A file descriptor the reactor watches itself (`addReader`), not a Twisted connection: Twisted's Unix
    connections read with `recvmsg` and an ancillary-data buffer (for passing descriptors, unused here) and
    queue every write until the next turn of the loop, registering and unregistering the socket for writing
    each time (two `epoll_ctl` calls per page). Here a page is sent at once with one `sendmsg` (the worker
    holds at most three, so the socket's buffer usually has room); only what does not fit waits for the reactor."""

    def __init__(self, pool: ExtractionPool, worker: _Worker, sock: socket.socket, reactor: Any) -> None:
        self.pool = pool
        self.worker = worker
        self.sock = sock
        self.reactor = reactor
        self.fd = sock.fileno()
        self.pending: deque[memoryview] = deque()  # what the socket did not take yet
        # Results are read into this one buffer: `recv(n)` allocates an n-byte object for every call (mapped
        # fresh from the system at this size, then shrunk), which cost more than the few kilobytes it returns.
        self.inbox = bytearray(_RECV_SIZE)
        self.inbox_view = memoryview(self.inbox)
        self.closed = False
        self.writing = False  # registered with the reactor for writing
        reactor.addReader(self)

    # -- what the reactor calls (IReadDescriptor, IWriteDescriptor) --
    def fileno(self) -> int:
        return -1 if self.closed else self.fd

    def logPrefix(self) -> str:
        return "newsdedupe-extract"

    def doRead(self) -> Any:
        try:
            n = self.sock.recv_into(self.inbox)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as exc:
            return exc
        if not n:
            return ConnectionError("the extraction worker closed its socket")
        self.received(self.inbox_view[:n])
        return None

    def doWrite(self) -> Any:
        try:
            self._send()
        except OSError as exc:
            return exc
        return None

    def connectionLost(self, reason: Any = None) -> None:
        self.close()
        self.pool._lost(self.worker, reason)

    # -- the pool's side --
    def write(self, *parts: bytes) -> None:
        was_empty = not self.pending
        self.pending.extend(memoryview(p) for p in parts)
        if was_empty:  # nothing was waiting: send now
            try:
                self._send()
            except OSError as exc:
                self.reactor.callLater(0, self.connectionLost, exc)

    def _send(self) -> None:
        pending = self.pending
        while pending:
            try:
                sent = self.sock.sendmsg(list(pending))
            except (BlockingIOError, InterruptedError):
                sent = 0
            while sent and pending:
                first = pending[0]
                if sent >= len(first):
                    sent -= len(first)
                    pending.popleft()
                else:
                    pending[0] = first[sent:]
                    sent = 0
            if pending:
                if not self.writing:  # the socket is full: the rest when it has room
                    self.writing = True
                    self.reactor.addWriter(self)
                return
        if self.writing:
            self.writing = False
            self.reactor.removeWriter(self)

    def received(self, data: bytes | memoryview) -> None:
        buffer = self.worker.buffer
        buffer += data
        start = 0
        size = len(buffer)
        while size - start >= _HEAD.size:
            (n,) = _HEAD.unpack_from(buffer, start)
            end = start + _HEAD.size + n
            if end > size:
                break
            with memoryview(buffer) as view:
                result = pickle.loads(view[start + _HEAD.size:end])
            start = end
            self.pool._result(self.worker, result)
        if start:
            del buffer[:start]

    def shutdown_write(self) -> None:
        """Tell the worker no more pages come (it finishes the one it holds and exits)."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        if self.closed:
            return
        self.reactor.removeReader(self)
        self.reactor.removeWriter(self)
        self.closed = True
        self.pending.clear()
        self.sock.close()


class ExtractionPool:
    """A pool of `workers` extraction processes, driven by the reactor: spawned early (`spawn`), or started
    with the first article request or page."""

    def __init__(self, workers: int = DEFAULT_WORKERS) -> None:
        self.workers = max(1, workers)
        self._workers: list[_Worker] = []
        self._queue: deque[_Job] = deque()
        self._ids = itertools.count(1)
        self._closing = False
        self._attached = False  # the workers' sockets are watched by the reactor (from the first page on)
        self.restarts = 0

    # -- workers --
    def _start_worker(self) -> _Worker:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            process = _context().Process(target=_worker_main, args=(theirs, os.getpid()), daemon=True,
                                         name="newsdedupe-extract")
            process.start()
        finally:
            theirs.close()
        worker = _Worker(process)
        ours.setblocking(False)
        worker.sock = ours
        self._workers.append(worker)
        if self._attached:
            self._attach(worker)
        return worker

    def _attach(self, worker: _Worker) -> None:
        """Let the reactor watch the worker's socket (for its records, and its end when it dies)."""
        from twisted.internet import reactor

        if worker.channel is None and worker.sock is not None:
            worker.channel = _Channel(self, worker, worker.sock, reactor)

    def spawn(self) -> None:
        """Spawn the workers now, before there is a reactor (`crawler.runner` does so before it imports Scrapy:
        the workers load the extraction libraries on the core the crawl's start-up leaves idle). Their sockets
        are watched from `start()` or the first page on."""
        if not self._closing:
            self._ensure_workers()

    def start(self) -> None:
        """Start the workers that are not running, and watch them all from the running reactor (the spider
        calls this with every article request; each page's extraction too)."""
        if self._closing:
            return
        self._ensure_workers()
        if not self._attached:
            self._attached = True
            for worker in self._workers:
                self._attach(worker)

    def _ensure_workers(self) -> None:
        while len(self._workers) < self.workers:
            self._start_worker()

    def _dispatch(self) -> None:
        """Hand waiting pages to the least busy workers that have room."""
        while self._queue:
            worker = min(self._workers, key=lambda w: len(w.inflight), default=None)
            if worker is None or len(worker.inflight) >= _PER_WORKER:
                return
            job = self._queue.popleft()
            worker.inflight[job.id] = job
            # The body goes as it is, after the other arguments' pickle (not copied into it).
            data = pickle.dumps(job.args, protocol=_PROTOCOL)
            assert worker.channel is not None
            worker.channel.write(_PAGE_HEAD.pack(len(data), len(job.body)), data, job.body)

    def _result(self, worker: _Worker, result: tuple[Any, ...]) -> None:
        job_id, ok, value, records = result
        job = worker.inflight.pop(job_id, None)
        for name, levelno, message in records:
            logging.getLogger(name).log(levelno, "%s", message)
        if job is not None:
            if ok:
                job.resolve(value)
            else:
                job.fail(ExtractionFailed(value))
        self._dispatch()

    def _lost(self, worker: _Worker, reason: Any) -> None:
        if worker.lost:
            return
        worker.lost = True
        if worker in self._workers:
            self._workers.remove(worker)
        worker.process.join(1.0)
        if self._closing:
            for job in worker.inflight.values():
                job.fail(ExtractionFailed("cancelled: the crawl is shutting down"))
            return
        self.restarts += 1
        why = f"exit code {worker.process.exitcode}" if worker.process.exitcode is not None else "its socket closed"
        retry = []
        for job in sorted(worker.inflight.values(), key=lambda j: j.id):
            log.warning("%s: an extraction worker died (%s); %s", job.url, why,
                        "retrying with a new worker" if job.attempt == 1 else "giving up on this page")
            if job.attempt == 1:
                job.attempt = 2
                retry.append(job)
            else:
                job.fail(ExtractionFailed(f"extraction worker died: {why}"))
        worker.inflight.clear()
        self._queue.extendleft(reversed(retry))
        if self._queue:
            self._ensure_workers()
            self._dispatch()

    # -- the reactor's side --
    async def extract(self, body: bytes, url: str, hints: Hints | None, content_type: str | None) -> Extracted:
        """`extract_article(body, url, hints, content_type)` in a worker; ExtractionFailed when it raised or
        its worker died twice."""
        if self._closing:
            raise ExtractionFailed("cancelled: the crawl is shutting down")
        level = logging.getLogger().getEffectiveLevel()
        awaitable, resolve, fail = _waiter()
        job_id = next(self._ids)
        self._queue.append(_Job(job_id, (job_id, url, hints, content_type, level), bytes(body), url, resolve, fail))
        self.start()
        self._dispatch()
        return await awaitable  # type: ignore[no-any-return]

    def close(self) -> None:
        """Stop every worker (each finishes its page, sees its socket close and exits) and wait for them."""
        self._closing = True
        for job in self._queue:
            job.fail(ExtractionFailed("cancelled: the crawl is shutting down"))
        self._queue.clear()
        workers, self._workers = self._workers, []
        for worker in workers:
            if worker.channel is not None:
                worker.channel.shutdown_write()
            elif worker.sock is not None:  # spawned, never used: its end of the socket tells it to exit
                worker.sock.close()
        for worker in workers:
            worker.process.join(10.0)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(5.0)
            if worker.channel is not None:
                worker.channel.close()
            self._lost(worker, None)


def _waiter() -> tuple[Any, Callable[[Any], None], Callable[[BaseException], None]]:
    """Something the running coroutine can await, and how to settle it: an asyncio future when an asyncio task
    runs it (Scrapy's asyncio reactor), a Deferred under Twisted's own coroutine runner. Settling one whose
    wait was cancelled does nothing."""
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running loop at all
        task = None
    if task is not None:
        future = task.get_loop().create_future()

        def resolve(value: Any) -> None:
            if not future.done():
                future.set_result(value)

        def fail(exc: BaseException) -> None:
            if not future.done():
                future.set_exception(exc)

        return future, resolve, fail
    from twisted.internet.defer import Deferred
    from twisted.python.failure import Failure

    d: Any = Deferred()

    def resolve_d(value: Any) -> None:
        if not d.called:
            d.callback(value)

    def fail_d(exc: BaseException) -> None:
        if not d.called:
            d.errback(Failure(exc))

    return d, resolve_d, fail_d
