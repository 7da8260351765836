"""A crawl frontier shared through Redis (`--redis redis://...`): scrapy-redis's scheduler and duplicate filter,
plus the little coordination several crawler processes need to agree on what one *run* is.

Keys live under `newsdedupe:<store key>:` (`crawler.redisconf.store_namespace`), so every process crawling
into the same store shares one frontier, and crawls into different stores never meet:

- `outlets:requests`: scrapy-redis's priority queue. It persists (SCHEDULER_PERSIST): requests still queued
  when every process stopped are picked up by the next run.
- `outlets:seen:<run>`: the run's duplicate filter. Every request, discovery pages (feeds, sitemaps, section
  and search pages, keyed by outlet and URL) included, is fetched once per run whichever process found it.
  Being per run, the next night's run reads feeds again and retries URLs that failed (a stored article is
  never requested again: the store's URL state decides that, as without Redis).
- `run`, `workers`, `alive:<worker>`: the current run, its processes (busy or idle) and their heartbeats. A
  process joins the current run while another process of it is alive; otherwise it starts a new run, whose
  duplicate filter first takes the fingerprints of the requests left in the queue. A process stops when the
  queue is empty and every live process of the run is idle (so one finishing early does not leave the others
  alone with a growing queue); a killed process is forgotten once its heartbeat expires.

A process takes only a few requests ahead of its downloads (NEWSDEDUPE_FRONTIER_PREFETCH), so the queue stays
in Redis for the others. Requests a process had taken but not finished when it was killed are not in Redis;
their URLs are recorded in the store as discovered and not done, so the next run's feeds and sitemaps (or
their unchanged-source resume) bring them back.
"""
from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
import uuid
from typing import Any

from scrapy import Request, signals
from scrapy.exceptions import DontCloseSpider
from scrapy.utils.misc import load_object
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.scheduler import Scheduler
from twisted.internet import task

from crawler.redisconf import store_namespace

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
ALIVE_TTL_SECONDS = 15  # a process silent this long (killed, machine gone) no longer holds its run open
DONE_RUN_TTL_SECONDS = 7 * 24 * 3600  # an abandoned run's duplicate filter expires


def redis_settings(redis_url: str, db: str) -> dict[str, Any]:
    """Scrapy settings that put the crawl on the frontier shared by every crawl into this store."""
    prefix = store_namespace(db)
    return {
        "SCHEDULER": "crawler.frontier.SharedScheduler",
        "DUPEFILTER_CLASS": "crawler.frontier.RunDupeFilter",
        "SCHEDULER_PERSIST": True,
        "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
        "SCHEDULER_QUEUE_KEY": f"{prefix}:%(spider)s:requests",
        "SCHEDULER_DUPEFILTER_KEY": f"{prefix}:%(spider)s:seen",
        "REDIS_URL": redis_url,
        "NEWSDEDUPE_FRONTIER": prefix,
    }


class RunDupeFilter(RFPDupeFilter):
    """scrapy-redis's duplicate filter, keyed per run; a discovery request's fingerprint includes its outlet
    (two outlets sharing a host each read its robots.txt, as without Redis)."""

    def request_fingerprint(self, request: Request) -> str:
        fp = super().request_fingerprint(request)
        outlet = request.meta.get("discovery_for")
        if outlet:
            fp = hashlib.sha1(f"{outlet}\n{fp}".encode()).hexdigest()
        return fp

    def close(self, reason: str = "") -> None:
        """Keep the fingerprints: other processes of the run still use them (the run's end removes them)."""


class SharedScheduler(Scheduler):
    """scrapy-redis's scheduler, run by several processes at once: joins or starts a run on open, stops only
    when the whole run is done."""

    def __init__(self, *args: Any, prefix: str = "newsdedupe", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.prefix = prefix
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.run_id: str | None = None
        self.busy = True
        self._heartbeat: task.LoopingCall | None = None
        self.own_stats: Any = None
        self.crawler: Any = None
        self.prefetch = 4

    @classmethod
    def from_crawler(cls, crawler: Any) -> SharedScheduler:
        instance = super().from_crawler(crawler)
        # scrapy-redis 0.9.1 passes `spider=` to the stats collector, deprecated since Scrapy 2.13: the counts
        # are kept here instead (same stat names), so nothing breaks when Scrapy drops that argument.
        instance.own_stats, instance.stats = instance.stats, None
        instance.prefix = crawler.settings.get("NEWSDEDUPE_FRONTIER", "newsdedupe")
        instance.prefetch = crawler.settings.getint("NEWSDEDUPE_FRONTIER_PREFETCH", 4)
        instance.crawler = crawler
        crawler.signals.connect(instance.spider_idle, signal=signals.spider_idle)
        return instance

    # --- keys --------------------------------------------------------------------------------------
    @property
    def workers_key(self) -> str:
        return f"{self.prefix}:workers"

    def alive_key(self, worker: str) -> str:
        return f"{self.prefix}:alive:{worker}"

    # --- run membership ----------------------------------------------------------------------------
    def open(self, spider: Any) -> None:
        # scrapy-redis's own open() without its deprecated `spider.log` call (Scrapy 2.13+ warns about it).
        self.spider = spider
        self.queue = load_object(self.queue_cls)(
            server=self.server, spider=spider, key=self.queue_key % {"spider": spider.name}, serializer=self.serializer,
        )
        if not self.df:
            self.df = load_object(self.dupefilter_cls).from_spider(spider)
        spider.frontier = self
        base_key = self.df.key
        with self.server.lock(f"{self.prefix}:lock", timeout=60, blocking_timeout=120):
            live = self._live_workers()
            run = self.server.get(f"{self.prefix}:run")
            run_id = run.decode() if isinstance(run, bytes) else run
            if live and run_id:
                self.run_id = run_id
                self.df.key = f"{base_key}:{run_id}"
                log.info("shared frontier: joined run %s (%d other process(es), %d requests queued)",
                         run_id, len(live), len(self.queue))
            else:
                self.run_id = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]
                if run_id:  # the previous run ended without cleaning up (every process was killed)
                    self.server.delete(f"{base_key}:{run_id}")
                self.df.key = f"{base_key}:{self.run_id}"
                left = self._seed_from_queue()
                self.server.set(f"{self.prefix}:run", self.run_id)
                log.info("shared frontier: started run %s (%d requests left by an earlier run)", self.run_id, left)
            self.server.expire(self.df.key, DONE_RUN_TTL_SECONDS)
            self._beat()
        if self.own_stats:
            self.own_stats.set_value("newsdedupe/frontier_run", self.run_id)
        self._heartbeat = task.LoopingCall(self._beat)
        self._heartbeat.start(HEARTBEAT_SECONDS, now=False)

    def _seed_from_queue(self) -> int:
        """A new run's duplicate filter takes the fingerprints of the requests still queued, so rediscovering
        one of them does not queue it twice."""
        fps = []
        for data in self.server.zrange(self.queue.key, 0, -1):
            try:
                fps.append(self.df.request_fingerprint(self.queue._decode_request(data)))
            except Exception as exc:  # noqa: BLE001 - an undecodable entry must not stop the crawl
                log.warning("shared frontier: a queued request cannot be read (%s); dropped", exc)
                self.server.zrem(self.queue.key, data)
        if fps:
            self.server.sadd(self.df.key, *fps)
        return len(fps)

    def _live_workers(self) -> list[str]:
        """Processes of the current run whose heartbeat has not expired (the dead are forgotten)."""
        live = []
        for raw in self.server.hkeys(self.workers_key):
            worker = raw.decode() if isinstance(raw, bytes) else raw
            if worker == self.worker:
                continue
            if self.server.exists(self.alive_key(worker)):
                live.append(worker)
            else:
                self.server.hdel(self.workers_key, worker)
        return live

    def _beat(self) -> None:
        try:
            pipe = self.server.pipeline()
            pipe.set(self.alive_key(self.worker), self.run_id or "", ex=ALIVE_TTL_SECONDS)
            pipe.hset(self.workers_key, self.worker, "busy" if self.busy else "idle")
            pipe.execute()
        except Exception as exc:  # noqa: BLE001 - a missed heartbeat must not stop the next one
            log.warning("shared frontier: heartbeat to Redis failed: %s", exc)

    def _set_busy(self, busy: bool) -> None:
        if busy != self.busy:
            self.busy = busy
            self.server.hset(self.workers_key, self.worker, "busy" if busy else "idle")

    # --- scheduling --------------------------------------------------------------------------------
    def enqueue_request(self, request: Request) -> bool:
        queued = super().enqueue_request(request)
        if queued and self.own_stats:
            self.own_stats.inc_value("scheduler/enqueued/redis")
        return queued

    def next_request(self) -> Request | None:
        if self._waiting_locally() >= self.prefetch:
            return None  # enough here already; the rest of the queue stays for the other processes
        request = super().next_request()
        if request is not None:
            self._set_busy(True)
            if self.own_stats:
                self.own_stats.inc_value("scheduler/dequeued/redis")
        return request

    def _waiting_locally(self) -> int:
        """Requests this process took from the queue and has not started downloading (in its middlewares, or
        waiting for their slot's delay or concurrency). Scrapy would take up to CONCURRENT_REQUESTS at once and
        keep them from the other processes however long their slots make them wait."""
        downloader = getattr(getattr(self.crawler, "engine", None), "downloader", None)
        if downloader is None:
            return 0
        transferring = sum(len(getattr(slot, "transferring", ())) for slot in downloader.slots.values())
        return max(0, len(downloader.active) - transferring)

    def spider_idle(self, spider: Any) -> None:
        """Nothing to do here: stop only when the queue is empty and every live process of the run is idle
        (a busy one may still queue requests: its feed's articles)."""
        self._set_busy(False)
        pipe = self.server.pipeline()
        pipe.zcard(self.queue.key)
        pipe.hgetall(self.workers_key)
        queued, states = pipe.execute()
        if queued:
            raise DontCloseSpider
        for raw, state in states.items():
            worker = raw.decode() if isinstance(raw, bytes) else raw
            if worker == self.worker or state in (b"idle", "idle"):
                continue
            if self.server.exists(self.alive_key(worker)):
                raise DontCloseSpider

    def close(self, reason: str) -> None:
        if self._heartbeat is not None and self._heartbeat.running:
            self._heartbeat.stop()
        with self.server.lock(f"{self.prefix}:lock", timeout=60, blocking_timeout=120):
            self.server.hdel(self.workers_key, self.worker)
            self.server.delete(self.alive_key(self.worker))
            if not self._live_workers() and not len(self.queue):
                # The run is complete: the next process to start begins a new one (feeds are read again).
                self.server.delete(self.df.key, f"{self.prefix}:run")
                for key in self.server.scan_iter(f"{self.prefix}:scheduled:{self.run_id}:*"):
                    self.server.delete(key)
                log.info("shared frontier: run %s complete", self.run_id)
        super().close(reason)

    # --- shared counters -----------------------------------------------------------------------------
    def count_scheduled(self, outlet_id: str) -> int:
        """How many article requests the whole run scheduled for an outlet, this one included
        (`--max-per-outlet` is a budget of the run, not of each process)."""
        key = f"{self.prefix}:scheduled:{self.run_id}:{outlet_id}"
        pipe = self.server.pipeline()
        pipe.incr(key)
        pipe.expire(key, DONE_RUN_TTL_SECONDS)
        return int(pipe.execute()[0])
