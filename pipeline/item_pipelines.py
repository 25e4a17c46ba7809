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

import os
import socket
from collections import Counter
from datetime import UTC, datetime

from twisted.internet import task

from pipeline.clean import CleanConfig
from pipeline.duplicates import DuplicateIndex
from pipeline.fingerprints import content_hash
from pipeline.page import Page
from pipeline.pool import clean_bounded, start_pool
from pipeline.quality import count_words
from pipeline.record import Article, Reject
from pipeline.templates import SiteTemplates, TemplateHold, strip_template_lines
from warehouse import schema
from warehouse.state import read_json, write_json
from warehouse.writer import WarehouseWriter

TEMPLATES_STATE = "templates.json"


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
        self.pool = start_pool(workers)
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
        return await clean_bounded(self.pool, item, config, self.timeout)


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


#: Reject reasons that mean a page could not be fetched at all.
FETCH_FAILURES = ("http_status", "timeout", "dns", "download_error", "refused_address")


def _download_errors(stats: dict) -> str:
    """What the downloader met, e.g. 'HTTP 500 x9, ConnectionRefusedError x3' (retries included)."""
    seen = []
    for key, count in sorted(stats.items()):
        if key.startswith("downloader/response_status_count/"):
            code = key.rsplit("/", 1)[1]
            if code.isdigit() and int(code) >= 400:
                seen.append(f"HTTP {code} x{count}")
        elif key.startswith("downloader/exception_type_count/"):
            seen.append(f"{key.rsplit('.', 1)[-1]} x{count}")
    return ", ".join(seen)


def run_outcome(
    finish_reason: str, counters: Counter, reasons: Counter, stats: dict
) -> tuple[str, str | None]:
    """A run's status and, when it failed, why: it fetched nothing, or every page failed to download."""
    if finish_reason not in ("finished", "closespider_pagecount", "closespider_itemcount"):
        return "interrupted", None
    seen = _download_errors(stats)
    why = f" ({seen})" if seen else ""
    if counters["pages"] == 0 and counters["errors"]:
        return "failed", f"no page fetched; {counters['errors']} entry point error(s){why}"
    failed = {r: reasons[r] for r in FETCH_FAILURES if reasons[r]}
    if counters["pages"] and not counters["articles"] and sum(failed.values()) == counters["pages"]:
        kinds = ", ".join(f"{r} {n}" for r, n in failed.items())
        return "failed", f"every page failed to download: {kinds}{why}"
    return "ok", None


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
        self.crawler.stats.inc_value("winnow/kept" if isinstance(record, Article) else "winnow/rejected")
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
        status, detail = run_outcome(reason, self.counters, self.reasons, stats.get_stats())
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
                runner=self.crawler.settings.get("WINNOW_RUNNER") or "local",
                error_detail=detail,
            )
        )
        self.writer.close()
        stats.set_value("winnow/articles", self.counters["articles"])
        stats.set_value("winnow/rejects", self.counters["rejects"])
        stats.set_value("winnow/run_status", status)
