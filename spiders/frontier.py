"""The shared frontier: several crawler processes, on one machine or many, share one crawl.

With `REDIS_URL` set, settings/ makes `SharedScheduler` Scrapy's scheduler. It is
scrapy-redis's scheduler (the request queue and the seen-request filter live in Redis,
so a page one process has queued is never fetched by another) plus a small join
protocol, because plain scrapy-redis leaves three things open for a spider like ours:

* Who pushes the entry points. The spider marks them `dont_filter` (every crawl must
  fetch its feeds again), so the shared filter does not stop a second process from
  fetching them twice. The first process of a crawl names it (`winnow:news:SOURCES:crawl`
  holds the crawl id) and pushes them; a process that finds a crawl of the same
  sources under way joins it, and `SharedStart` drops its entry points. Crawls of
  different sources never meet.
* When a crawl ends. A process with nothing to do stays while another member is busy,
  since that one may yet push requests; the crawl is over when the queue is empty and
  every live member is idle. Members prove they are alive with a heartbeat, so a
  killed process never holds the others up.
* What the next crawl sees. The queue and the filter are per crawl: the last member
  out of a finished crawl deletes them, so the next crawl fetches the feeds again and
  skips only what the warehouse holds. An interrupted crawl keeps them for
  `WINNOW_FRONTIER_KEEP` seconds; a process started meanwhile resumes it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from scrapy import Request, signals
from scrapy.exceptions import DontCloseSpider
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.scheduler import Scheduler
from twisted.internet import task

log = logging.getLogger(__name__)


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def crawl_scope(spider) -> str:
    """What a crawl covers, for its Redis keys: processes share a crawl only if they crawl the same sources."""
    names = sorted(getattr(spider, "sources", None) or ())
    urls = sorted(getattr(spider, "adhoc_urls", None) or ())
    scope = "+".join(names) or "all"
    if urls or len(scope) > 60:
        digest = hashlib.sha1("\n".join(names + urls).encode()).hexdigest()[:12]
        scope = f"{scope[:40]}-{digest}"
    return scope


class SharedScheduler(Scheduler):
    """scrapy-redis's scheduler with a per-crawl queue and filter, joined by any process."""

    prefix = "winnow:%(spider)s"
    heartbeat = 5.0
    keep = 86400
    crawl_id = ""
    joined = False

    @classmethod
    def from_crawler(cls, crawler):
        scheduler = super().from_crawler(crawler)
        settings = crawler.settings
        scheduler.prefix = settings.get("WINNOW_FRONTIER_KEY", cls.prefix)
        scheduler.heartbeat = settings.getfloat("WINNOW_FRONTIER_HEARTBEAT", cls.heartbeat)
        scheduler.keep = settings.getint("WINNOW_FRONTIER_KEEP", cls.keep)
        scheduler.persist = True  # the last member out cleans up, not each one
        scheduler.member = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        scheduler._idle = False
        scheduler._beat = None
        scheduler._watcher = None
        scheduler.crawler = crawler
        crawler.signals.connect(scheduler.spider_idle, signal=signals.spider_idle)
        return scheduler

    @property
    def timeout(self) -> float:
        """A member silent this long is taken for dead."""
        return self.heartbeat * 6

    def key(self, name: str) -> str:
        return f"{self.base}:{self.crawl_id}:{name}"

    def open(self, spider) -> None:
        self.base = f"{self.prefix % {'spider': spider.name}}:{crawl_scope(spider)}"
        self.marker = f"{self.base}:crawl"
        self._join()
        self.queue_key = self.key("requests")
        self.df = RFPDupeFilter(
            self.server, key=self.key("seen"), debug=spider.settings.getbool("DUPEFILTER_DEBUG")
        )
        super().open(spider)
        spider.crawler.stats.set_value("frontier/crawl", self.crawl_id)
        spider.crawler.stats.set_value("frontier/joined", self.joined)
        log.info(
            "%s shared crawl %s in Redis (%d requests queued)",
            "joined" if self.joined else "started",
            self.crawl_id,
            len(self.queue),
        )
        self._beat = task.LoopingCall(self._heartbeat)
        self._beat.start(self.heartbeat, now=False)
        self._watcher = task.LoopingCall(self._watch)
        self._watcher.start(0.5, now=False)

    def _join(self) -> None:
        """Start a crawl or join the one under way; the first live member pushes the entry points."""
        fresh = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        while True:
            self.crawl_id = fresh
            # Register before naming the crawl, so a process that reads the name sees a member.
            self.server.zadd(self.key("members"), {self.member: time.time()})
            if self.server.set(self.marker, fresh, nx=True, ex=self.keep):
                break
            self.server.delete(self.key("members"))
            current = _text(self.server.get(self.marker))
            if current is None:  # the crawl ended while we looked: start the next one
                continue
            self.crawl_id = current
            self.server.zadd(self.key("members"), {self.member: time.time()})
            break
        # Whoever sets this first pushes the entry points; every heartbeat renews it, so it
        # lapses only when all members are gone and a later process resumes as the starter.
        started = self.server.set(self.key("starter"), self.member, nx=True, ex=int(self.timeout))
        self.joined = not started

    def _heartbeat(self) -> None:
        try:
            pipe = self.server.pipeline()
            pipe.zadd(self.key("members"), {self.member: time.time()})
            pipe.set(self.marker, self.crawl_id, nx=True, ex=self.keep)
            pipe.expire(self.marker, self.keep)
            pipe.expire(self.key("starter"), int(self.timeout))
            for name in ("members", "idle", "requests", "seen"):
                pipe.expire(self.key(name), self.keep)
            pipe.execute()
        except Exception as exc:  # a lost heartbeat must not stop the crawl
            log.warning("frontier heartbeat failed: %s", exc)

    def live_members(self) -> set[str]:
        self.server.zremrangebyscore(self.key("members"), "-inf", time.time() - self.timeout)
        return {_text(m) for m in self.server.zrange(self.key("members"), 0, -1)}

    def next_request(self):
        if not self._idle:
            return super().next_request()
        # Leave the idle set before taking work, so no member sees the crawl as over
        # while this one holds the last request.
        self.server.srem(self.key("idle"), self.member)
        request = super().next_request()
        if request is None:
            self.server.sadd(self.key("idle"), self.member)
        else:
            self._idle = False
        return request

    def _watch(self) -> None:
        """Wake the engine as soon as the shared queue has work, or an idle crawl is over.

        Scrapy asks its scheduler again only when a download ends or every 5 seconds (its
        heartbeat): a member with nothing in flight, idle or just joined, that waits that
        long leaves the new requests to the others.
        """
        try:
            over = self._idle and not (self.live_members() - self._idle_members())
            if over or len(self.queue):
                slot = getattr(self.crawler.engine, "_slot", None)
                if slot is not None:
                    slot.nextcall.schedule()
        except Exception as exc:
            log.warning("frontier watch failed: %s", exc)

    def _idle_members(self) -> set[str]:
        return {_text(m) for m in self.server.smembers(self.key("idle"))}

    def spider_idle(self, spider) -> None:
        """Stay while the queue has work or another live member is busy."""
        if len(self.queue):
            raise DontCloseSpider
        self._idle = True
        self.server.sadd(self.key("idle"), self.member)
        busy = self.live_members() - self._idle_members()
        if busy:
            raise DontCloseSpider

    def close(self, reason: str) -> None:
        for loop in (self._beat, self._watcher):
            if loop is not None and loop.running:
                loop.stop()
        self.server.zrem(self.key("members"), self.member)
        self.server.srem(self.key("idle"), self.member)
        if not self.live_members() and not len(self.queue):
            self.server.delete(*(self.key(n) for n in ("requests", "seen", "members", "idle")))
            self.server.delete(self.key("starter"))
            if _text(self.server.get(self.marker)) == self.crawl_id:
                self.server.delete(self.marker)
            log.info("shared crawl %s finished; its keys are deleted", self.crawl_id)
        super().close(reason)


class SharedStart:
    """Spider middleware: a process that joins a crawl under way leaves the entry points to its starter."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        joined = getattr(self.crawler.engine.scheduler, "joined", False)
        async for item in start:
            if joined and isinstance(item, Request) and item.dont_filter:
                self.crawler.stats.inc_value("frontier/entry_points_left_to_starter")
                continue
            yield item
