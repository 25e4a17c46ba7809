"""Crawl progress: a live line on a terminal, plain log lines when there is none.

A Scrapy extension reading the crawl's counters (pages fetched, articles kept,
rejects) once a second; the same counters land in the `runs` row at the end.
"""

from __future__ import annotations

import logging
import sys
import time

from scrapy import signals
from twisted.internet import task

log = logging.getLogger(__name__)


class Progress:
    def __init__(self, crawler, stream=None) -> None:
        self.crawler = crawler
        self.log_every = crawler.settings.getfloat("WINNOW_PROGRESS_EVERY", 10.0)
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.started = time.monotonic()
        self.last_log = 0.0
        self._loop = task.LoopingCall(self.tick)

    @classmethod
    def from_crawler(cls, crawler):
        ext = cls(crawler)
        if crawler.settings.getbool("WINNOW_PROGRESS", True):
            crawler.signals.connect(ext.opened, signal=signals.spider_opened)
            crawler.signals.connect(ext.closed, signal=signals.spider_closed)
        return ext

    def opened(self, spider) -> None:
        self.started = time.monotonic()
        self._loop.start(1.0, now=False)

    def line(self) -> str:
        stats = self.crawler.stats
        pages = int(stats.get_value("winnow/pages", 0))
        kept = int(stats.get_value("winnow/kept", 0))
        rejected = int(stats.get_value("winnow/rejected", 0))
        rate = pages / max(time.monotonic() - self.started, 1e-6)
        return f"pages {pages} | kept {kept} | rejected {rejected} | {rate:.1f} pages/s"

    def tick(self) -> None:
        if self.live:
            self.stream.write("\r" + self.line() + "   ")
            self.stream.flush()
        elif time.monotonic() - self.last_log >= self.log_every:
            self.last_log = time.monotonic()
            log.info("progress: %s", self.line())

    def closed(self, spider) -> None:
        if self._loop.running:
            self._loop.stop()
        if self.live:
            self.stream.write("\r" + self.line() + "\n")
            self.stream.flush()
