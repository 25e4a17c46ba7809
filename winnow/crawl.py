"""Running the `news` spider in this process with winnow's settings.

`winnow crawl`, `winnow demo` and the local scheduler's child processes all come
through `run_crawl`. Twisted's reactor runs once per process, so call it once.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from scrapy.crawler import CrawlerProcess
from scrapy.utils.project import get_project_settings

from pipeline.pool import start_forkserver
from settings.sources import SourceError, select_sources
from settings.sources import sources_file as default_sources_file
from spiders.garbage import restore as restore_gc
from warehouse.storage import open_root
from warehouse.writer import WarehouseError

CLEAN_PIPELINE = "pipeline.item_pipelines.CleanPipeline"
_crawled = False  # see run_crawl


def new_run_id(prefix: str = "run") -> str:
    return f"{prefix}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')[:-3]}-{os.getpid()}"


def project_settings(**overrides: object):
    """Scrapy settings from the `settings` package, with overrides applied."""
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "settings")
    settings = get_project_settings()
    for key, value in overrides.items():
        if value is not None:
            settings.set(key, value, priority="cmdline")
    return settings


def run_crawl(
    sources: list[str] | None = None,
    urls: list[str] | None = None,
    warehouse: str | Path | None = None,
    sources_file: str | Path | None = None,
    allow_private: bool | None = None,
    refresh: bool | None = None,
    run_id: str | None = None,
    log_level: str | None = None,
    extra: dict | None = None,
) -> dict:
    """Crawl the named sources and/or URLs into the warehouse; returns the crawl's stats.

    Raises settings.sources.SourceError, before anything starts, for a sources file that
    is not valid or a source name it does not define, and warehouse.writer.WarehouseError
    for a warehouse path that cannot be created (a file, no permission).
    """
    global _crawled
    if _crawled:
        raise RuntimeError(
            "run_crawl runs once per process: Twisted's reactor cannot be started again. "
            "Run each crawl in a process of its own (`winnow crawl`, or subprocess)."
        )
    run_id = run_id or new_run_id()
    settings = project_settings(
        WINNOW_WAREHOUSE=str(warehouse) if warehouse else None,
        WINNOW_SOURCES=str(sources_file) if sources_file else None,
        WINNOW_ALLOW_PRIVATE=allow_private,
        WINNOW_REFRESH=refresh,
        LOG_LEVEL=log_level,
        **(extra or {}),
    )
    if sources or not urls:
        # A bad sources file or name is the caller's SourceError now, not a crawl that
        # dies starting (the spider checks the same for `scrapy crawl`).
        path = settings.get("WINNOW_SOURCES") or None
        if not select_sources(list(sources or []), path) and not urls:
            raise SourceError(
                f"nothing to crawl: {path or default_sources_file()} defines no sources "
                "(add a [[source]] table, or give URLs)"
            )
    where = settings.get("WINNOW_WAREHOUSE")
    try:
        open_root(where)  # a crawl creates its warehouse; a path that cannot be one stops here
    except OSError as exc:
        raise WarehouseError(f"cannot use {where} as the warehouse: {exc}") from exc
    if settings.getwithbase("ITEM_PIPELINES").get(CLEAN_PIPELINE) is not None:
        start_forkserver()  # its warm-up runs while Scrapy starts
    process = CrawlerProcess(settings)
    # Scrapy leaves the root logger at NOTSET and filters in its handler, so every page's
    # DEBUG lines ("Crawled", "Scraped from", "Dropped") were built only to be discarded.
    logging.getLogger("scrapy").setLevel(settings.get("LOG_LEVEL"))
    crawler = process.create_crawler("news")
    process.crawl(
        crawler, sources=",".join(sources or []), urls=",".join(urls or []), run_id=run_id
    )
    _crawled = True
    process.start()
    restore_gc(crawler)
    stats = dict(crawler.stats.get_stats() or {})
    # A crawl resumed from a JOBDIR keeps the run id it started with (spiders/news.py).
    spider = getattr(crawler, "spider", None)
    stats["run_id"] = getattr(spider, "run_id", None) or run_id
    return stats
