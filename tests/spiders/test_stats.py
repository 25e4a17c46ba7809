"""The crawl's stats collector: Scrapy's, without the per-access deprecation shim."""

from __future__ import annotations

import warnings

from scrapy.utils.misc import load_object
from scrapy.utils.test import get_crawler

from spiders.news import NewsSpider
from spiders.stats import CrawlStats
from winnow.crawl import project_settings


def test_the_crawl_uses_it() -> None:
    assert load_object(project_settings()["STATS_CLASS"]) is CrawlStats


def test_it_keeps_every_statistic_as_scrapy_does() -> None:
    stats = CrawlStats(get_crawler(NewsSpider))
    stats.inc_value("pages")
    stats.inc_value("pages", 2)
    stats.inc_value("bytes", 10, start=100)
    stats.max_value("peak", 3)
    stats.max_value("peak", 1)
    stats.min_value("low", 3)
    stats.min_value("low", 1)
    stats.set_value("reason", "finished")
    assert stats.get_stats() == {
        "pages": 3,
        "bytes": 110,
        "peak": 3,
        "low": 1,
        "reason": "finished",
    }
    assert stats.get_value("missing", "default") == "default"


def test_a_spider_argument_still_works_without_the_warning() -> None:
    crawler = get_crawler(NewsSpider)
    stats = CrawlStats(crawler)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stats.inc_value("pages", spider=object())
    assert stats.get_value("pages") == 1
