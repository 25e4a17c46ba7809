"""Scrapy item pipelines: thin adapters that run the pure steps inside a crawl.

* `CleanPipeline` sends each `Page` to `pipeline.clean.clean` in a process pool
  (pebble, sized to the cores, each page bounded in time), so the reactor never
  waits on lxml; a page over the bound becomes a Reject `timeout`.
* `DuplicatePipeline` checks URL and content duplicates against this run and the
  warehouse (`pipeline.duplicates.DuplicateIndex`).
* `WarehousePipeline` hands every record to the warehouse writer, flushes on a
  timer, counts what it wrote and writes the run's `runs` row at the end.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import socket
from collections import Counter
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime

from pebble import ProcessExpired, ProcessPool
from twisted.internet import task

from pipeline.clean import CleanConfig, clean
from pipeline.duplicates import DuplicateIndex
from pipeline.fingerprints import content_hash
from pipeline.page import Page
from pipeline.quality import count_words
from pipeline.record import Article, Reject, record_id
from pipeline.templates import SiteTemplates, TemplateHold, strip_template_lines
from pipeline.urls import canonical_url
from warehouse import schema
from warehouse.state import read_json, write_json
from warehouse.writer import WarehouseWriter

TEMPLATES_STATE = "templates.json"


def _worker_init() -> None:
    # Load trafilatura and langdetect's profiles once per worker, not on its first page.
    from pipeline.language import backend

    backend("langdetect")


def config_for(spider, source_name: str, settings) -> CleanConfig:
    source = spider.sources.get(source_name) if hasattr(spider, "sources") else None
    if source is None:
        return CleanConfig(language_backend=settings.get("WINNOW_LANGUAGE_BACKEND", "langdetect"))
    return CleanConfig(
        languages=source.languages,
        lang_floor=source.lang_floor,
        thresholds=source.quality,
        language_backend=settings.get("WINNOW_LANGUAGE_BACKEND", "langdetect"),
        max_bytes=settings.getint("DOWNLOAD_MAXSIZE"),
    )


class CleanPipeline:
    def __init__(self, crawler) -> None:
        self.crawler = crawler
        self.settings = crawler.settings
        workers = self.settings.getint("WINNOW_WORKERS") or os.cpu_count() or 1
        self.timeout = self.settings.getfloat("WINNOW_PAGE_TIMEOUT", 60.0)
        self.pool = ProcessPool(
            max_workers=workers,
            initializer=_worker_init,
            context=multiprocessing.get_context("forkserver"),
        )
        self._configs: dict[str, CleanConfig] = {}

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def close_spider(self) -> None:
        self.pool.close()
        self.pool.join(timeout=30)

    async def process_item(self, item):
        if not isinstance(item, Page):
            return item
        spider = self.crawler.spider
        config = self._configs.get(item.source)
        if config is None:
            config = self._configs[item.source] = config_for(spider, item.source, self.settings)
        future = self.pool.schedule(clean, args=(item, config), timeout=self.timeout)
        try:
            return await asyncio.wrap_future(future)
        except FutureTimeout:
            return _reject_page(item, "timeout", f"cleaning took longer than {self.timeout:g}s")
        except ProcessExpired as exc:
            return _reject_page(item, "worker_crash", f"the cleaning worker died: {exc}")
        except Exception as exc:  # a bug in a step must not lose the page
            return _reject_page(item, "clean_error", f"{type(exc).__name__}: {exc}")


def _reject_page(page: Page, reason: str, detail: str) -> Reject:
    return Reject(
        id=record_id(canonical_url(page.url)),
        url=page.url,
        source=page.source,
        reason=reason,
        detail=detail,
        fetched_at=page.fetched_at,
        http_status=page.status,
    )


class DuplicatePipeline:
    def __init__(self, warehouse: str) -> None:
        self.index = DuplicateIndex.from_warehouse(warehouse)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.get("WINNOW_WAREHOUSE"))

    def process_item(self, item):
        if isinstance(item, Article):
            return self.index.check(item)
        return item


class WarehousePipeline:
    def __init__(self, crawler) -> None:
        self.crawler = crawler
        settings = crawler.settings
        self.started_at = datetime.now(UTC)
        self.counters: Counter = Counter()
        self.reasons: Counter = Counter()
        self.writer: WarehouseWriter | None = None
        self.flush_rows = settings.getint("WINNOW_FLUSH_ROWS", 5000)
        self.flush_seconds = settings.getfloat("WINNOW_FLUSH_SECONDS", 30.0)
        self.warehouse = settings.get("WINNOW_WAREHOUSE")
        self._timer: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def open_spider(self) -> None:
        spider = self.crawler.spider
        self.writer = WarehouseWriter(
            self.warehouse, spider.run_id, self.flush_rows, self.flush_seconds
        )
        self._timer = task.LoopingCall(self.writer.maybe_flush)
        self._timer.start(min(5.0, self.flush_seconds), now=False)
        saved = read_json(self.writer.root, TEMPLATES_STATE, {})
        self.templates = TemplateHold(SiteTemplates.from_dict(saved or {}))

    def process_item(self, item):
        if isinstance(item, Article):
            for ready in self.templates.admit(item.site, item, item.text.splitlines()):
                self._write(self._strip_templates(ready))
        elif isinstance(item, Reject):
            self._write(item)
        return item

    def _strip_templates(self, article: Article) -> Article:
        """Remove the site's learned template lines (see pipeline/templates.py)."""
        kept, removed = strip_template_lines(
            article.text.splitlines(), self.templates.stats.templates(article.site)
        )
        if removed and kept:
            article.text = "\n".join(kept)
            article.word_count = count_words(article.text)
            article.content_hash = content_hash(article.text)
        return article

    def _write(self, record: Article | Reject) -> None:
        self.writer.add(record)
        self.counters["pages"] += 1
        if isinstance(record, Article):
            self.counters["articles"] += 1
        else:
            self.counters["rejects"] += 1
            self.reasons[record.reason] += 1

    def close_spider(self) -> None:
        if self._timer is not None and self._timer.running:
            self._timer.stop()
        for held in self.templates.drain():
            self._write(self._strip_templates(held))
        write_json(self.writer.root, TEMPLATES_STATE, self.templates.stats.to_dict())
        spider = self.crawler.spider
        stats = self.crawler.stats
        reason = stats.get_value("finish_reason") or "finished"
        errors = int(stats.get_value("winnow/entry_errors", 0)) + int(
            stats.get_value("log_count/ERROR", 0)
        )
        self.counters["errors"] = errors
        self.counters["bytes"] = int(stats.get_value("downloader/response_bytes", 0))
        if reason not in ("finished", "closespider_pagecount", "closespider_itemcount"):
            status = "interrupted"
        elif self.counters["pages"] == 0 and errors:
            status = "failed"
        else:
            status = "ok"
        detail = None
        if status == "failed":
            detail = f"no page fetched; {errors} entry point error(s)"
        self.writer.add_run(
            schema.run_row(
                run_id=spider.run_id,
                sources=sorted(spider.sources),
                started_at=self.started_at,
                ended_at=datetime.now(UTC),
                status=status,
                counters={**self.counters, "reasons": dict(self.reasons)},
                host=socket.gethostname(),
                pid=os.getpid(),
                error_detail=detail,
            )
        )
        self.writer.close()
        stats.set_value("winnow/articles", self.counters["articles"])
        stats.set_value("winnow/rejects", self.counters["rejects"])
        stats.set_value("winnow/run_status", status)
