"""The crawl's stats collector: Scrapy's memory collector, read and written directly.

Scrapy 2.15+ routes every attribute access on its stats collector through a
`__getattribute__` that wraps the public methods to warn about a deprecated `spider`
argument, and tries (and fails) a cache lookup for every other name. A page's trip
through the downloader and the scraper updates some 20 stats, so in the fetch-only
crawl of benchmarks/crawl.py the shim cost about 5% of the crawler's CPU. This class
keeps Scrapy's collector whole and only skips the shim: a `spider` argument is still
accepted, without the warning.
"""

from __future__ import annotations

from scrapy.statscollectors import MemoryStatsCollector


class CrawlStats(MemoryStatsCollector):
    """`MemoryStatsCollector` without the per-access deprecation shim (STATS_CLASS)."""

    __getattribute__ = object.__getattribute__
