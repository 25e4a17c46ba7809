"""Scrapy item pipelines: thin adapters that run the pure steps inside a crawl.

* `CleanPipeline` sends each `Page` to `pipeline.clean.clean` in a process pool
  (`pipeline.pool.CleaningPool`: sized to the cores, each page bounded in time), so
  the reactor never waits on lxml; a page over the bound becomes a Reject `timeout`.
* `DuplicatePipeline` checks URL, content, near-duplicate and spun copies against
  this run and the warehouse (`pipeline.duplicates.DuplicateIndex`), holding the
  run's new articles until the crawl is idle so the kept copy is chosen by rule.
* `WarehousePipeline` hands every record to the warehouse writer, flushes on a
  timer, counts what it wrote and writes the run's `runs` row at the end.
"""

from __future__ import annotations

import os
import socket
import time
from collections import Counter
from datetime import UTC, datetime

from scrapy import signals
from scrapy.exceptions import DontCloseSpider, DropItem
from scrapy.utils.defer import deferred_from_coro
from twisted.internet import task
from twisted.internet.defer import DeferredList

from pipeline.config import CleanConfig
from pipeline.duplicates import DuplicateIndex
from pipeline.fingerprints import content_hash
from pipeline.page import Page
from pipeline.pool import CleaningPool
from pipeline.quality import count_words
from pipeline.record import Article, Record, Reject
from pipeline.templates import SiteTemplates, TemplateHold, strip_template_lines
from warehouse import schema
from warehouse.state import read_json, write_json
from warehouse.writer import WarehouseError, WarehouseWriter

TEMPLATES_STATE = "templates.json"
#: How often the duplicate hold looks whether the crawl has gone idle (a cheap check;
#: the last pages' articles wait up to this long after the crawl's last page).
IDLE_CHECK_SECONDS = 0.05


def config_for(spider, source_name: str, settings) -> CleanConfig:
    """The cleaning configuration of a source: global settings, then the source's overrides."""
    source = spider.sources.get(source_name) if hasattr(spider, "sources") else None
    backend = settings.get("WINNOW_LANGUAGE_BACKEND", "langdetect")
    thresholds = dict(settings.getdict("WINNOW_QUALITY"))
    max_bytes = settings.getint("DOWNLOAD_MAXSIZE")
    if source is None:
        return CleanConfig(language_backend=backend, thresholds=thresholds, max_bytes=max_bytes)
    return CleanConfig(
        languages=source.languages,
        lang_floor=source.lang_floor,
        thresholds={**thresholds, **source.quality},
        language_backend=backend,
        max_bytes=max_bytes,
    )


class CleanPipeline:
    def __init__(self, crawler) -> None:
        self.crawler = crawler
        self.settings = crawler.settings
        workers = self.settings.getint("WINNOW_WORKERS") or os.cpu_count() or 1
        timeout = self.settings.getfloat("WINNOW_PAGE_TIMEOUT", 60.0)
        self.pool = CleaningPool(workers, timeout)
        self._configs: dict[str, CleanConfig] = {}

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def close_spider(self) -> None:
        self.pool.close()
        self.crawler.stats.set_value("winnow/clean_cpu_seconds", round(self.pool.clean_cpu, 3))

    async def process_item(self, item):
        if not isinstance(item, Page):
            return item
        spider = self.crawler.spider
        config = self._configs.get(item.source)
        if config is None:
            config = self._configs[item.source] = config_for(spider, item.source, self.settings)
        record = await self.pool.clean(item, config)
        if self.pool.failure is not None:
            # every page would be the same reject: stop, as for a full disk
            stop_crawl(self.crawler, "cleaning_error", self.pool.failure)
        return record


class DuplicatePipeline:
    """Decide the run's articles together, against the warehouse and each other.

    An article is held (dropped here at DEBUG level, so the page's response is
    released) until the crawl goes idle, the first held one has waited
    `WINNOW_DUPLICATE_HOLD_SECONDS` (default: the writer's flush interval, so
    articles still show up in the warehouse within about two of those), or
    `WINNOW_DUPLICATE_HOLD` (1,000) are held; then the held ones are decided in
    `keep_order` and sent back through the pipelines, so which copy is kept does not
    depend on the order they arrived in. `WINNOW_NEAR_DUPLICATES = False` keeps only
    the URL and exact-text checks.

    A big hold (a quarter of `WINNOW_DUPLICATE_HOLD` or more) is also released once the
    crawl has nothing left to fetch: the decision and the writes then run while the
    workers clean the last pages, instead of after them with the cores idle (0.3 s of
    a 2,000-page crawl's end). The pages still being cleaned are decided in a window
    of their own, as pages are whenever a window closes; a small crawl stays one window.
    """

    def __init__(self, warehouse: str, crawler=None) -> None:
        self.warehouse = warehouse
        self.crawler = crawler
        settings = crawler.settings if crawler is not None else None
        near = settings is None or settings.getbool("WINNOW_NEAR_DUPLICATES", True)
        off = {} if near else {"near": float("inf"), "spun": float("inf")}
        self.index = DuplicateIndex.from_warehouse(warehouse, **off)
        self.hold_max = settings.getint("WINNOW_DUPLICATE_HOLD", 1000) if settings else 0
        self.drained_min = max(1, self.hold_max // 4)
        flush = settings.getfloat("WINNOW_FLUSH_SECONDS", 30.0) if settings else 0.0
        self.hold_seconds = (
            settings.getfloat("WINNOW_DUPLICATE_HOLD_SECONDS", flush) if settings else 0.0
        )
        self.held: list[Article] = []
        self._held_since = 0.0
        self._released: dict[int, Article] = {}
        self._drained = False  # released since fetching last stopped

    @classmethod
    def from_crawler(cls, crawler):
        pipeline = cls(crawler.settings.get("WINNOW_WAREHOUSE"), crawler)
        crawler.signals.connect(pipeline.spider_idle, signal=signals.spider_idle)
        return pipeline

    def process_item(self, item):
        if not isinstance(item, Article):
            return item
        if self._released.pop(id(item), None) is not None:
            return item
        if self.crawler is None:
            return self.index.check(item)
        if not self.held:
            self._held_since = time.monotonic()
        self.held.append(item)
        if len(self.held) >= self.hold_max:
            self._release()
        raise DropItem("held until the run's copies are in (pipeline/duplicates.py)", "DEBUG")

    def open_spider(self) -> None:
        # Release as soon as nothing else is in flight, not at the engine's next
        # 5-second idle heartbeat: the crawl then closes on that heartbeat.
        self._idle_timer = task.LoopingCall(self._release_if_due)
        self._idle_timer.start(IDLE_CHECK_SECONDS, now=False)

    def _release_if_due(self) -> None:
        engine = self.crawler.engine
        if self._drained and not self._fetching_done():
            self._drained = False  # fetching resumed: the next drain may release again
        if not self.held:
            return
        waited = time.monotonic() - self._held_since
        if waited >= self.hold_seconds or (engine is not None and engine.spider_is_idle()):
            self._release()
        elif not self._drained and len(self.held) >= self.drained_min and self._fetching_done():
            self._drained = True
            self._release()

    def _fetching_done(self) -> bool:
        """The spider says nothing is left to fetch (spiders/news.py); a spider that
        cannot tell never releases early."""
        done = getattr(self.crawler.spider, "fetching_done", None)
        return self.crawler.engine is not None and done is not None and done()

    def spider_idle(self) -> None:
        if self.held:
            self._release()
            raise DontCloseSpider

    def _release(self) -> None:
        batch, self.held = self.held, []
        run_id = self.crawler.spider.run_id
        records = self.index.decide_shared(self.warehouse, batch, run_id)
        for record in records:
            if isinstance(record, Article):
                self._released[id(record)] = record
        # Sent as tasks, the records start only on the loop's next turn. Counted in the
        # scraper now, so an engine that looks before then does not find the crawl idle
        # and close it under them (as Scrapy's own `_start_itemproc_nowait` does).
        scraper = self.crawler.engine.scraper
        scraper.slot.itemproc_size += len(records)
        sent = [deferred_from_coro(self._send(scraper, record)) for record in records]
        DeferredList(sent).addBoth(self._after_release, scraper)

    @staticmethod
    async def _send(scraper, record: Record) -> None:
        scraper.slot.itemproc_size -= 1  # start_itemproc_async counts it from here on
        await scraper.start_itemproc_async(record, response=None)

    def _after_release(self, _result, scraper) -> None:
        # A crawl that began closing (a stop, CLOSESPIDER_*) while the records were in
        # flight waits for the scraper to go idle; Scrapy looks for that only when a
        # response is done, and these records came with none.
        closing = scraper.slot.closing if scraper.slot is not None else None
        if closing is not None and not closing.called:
            scraper._check_if_closing()
        # Let the engine see it is idle now rather than at its next 5-second heartbeat.
        slot = getattr(self.crawler.engine, "_slot", None)
        nextcall = getattr(slot, "nextcall", None)
        if nextcall is not None:
            nextcall.schedule()

    def drain(self) -> list[Record]:
        """Decide what is held now, for a crawl stopped before it went idle (shutdown,
        CLOSESPIDER_*): WarehousePipeline writes these with the run, in its counters."""
        run_id = self.crawler.spider.run_id
        held, self.held = self.held, []
        records = self.index.decide_shared(self.warehouse, held, run_id) if held else []
        return records

    def close_spider(self) -> None:
        timer = getattr(self, "_idle_timer", None)
        if timer is not None and timer.running:
            timer.stop()
        if self.held:
            # Stopped before going idle, and no WarehousePipeline drained them (see
            # `drain`): the run's writer has closed.
            held, self.held = self.held, []
            records = self.index.decide_shared(self.warehouse, held, self.crawler.spider.run_id)
            writer = WarehouseWriter(self.warehouse, self.crawler.spider.run_id)
            for record in records:
                writer.add(record)
            writer.close()
            self.crawler.spider.logger.warning(
                "wrote %d held article(s) after the run's writer closed; "
                "they are not in the run's counters",
                len(records),
            )
        if self.crawler is not None:
            self.index.save(self.warehouse, self.crawler.spider.run_id)


#: Why a crawl stopped early (its stats key is `winnow/<reason>`), as its error line says it.
STOP_REASONS = {
    "warehouse_error": "warehouse write failed",
    "cleaning_error": "the cleaning workers failed",
}


def stop_crawl(crawler, reason: str, message: str) -> None:
    """Stop the crawl once, for a failure every later page would meet too.

    The message goes to the stats (`winnow/<reason>`, which `winnow crawl` prints before
    exiting with 1), to one ERROR log line, and to the run's `runs` row.
    """
    stats = crawler.stats
    if stats.get_value(f"winnow/{reason}"):
        return
    stats.set_value(f"winnow/{reason}", message)
    crawler.spider.logger.error("%s, stopping the crawl: %s", STOP_REASONS[reason], message)
    engine = crawler.engine
    if engine is not None and crawler.crawling:
        deferred_from_coro(engine.close_spider_async(reason=reason))


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


def run_outcome(finish_reason: str, counters: Counter, stats: dict) -> tuple[str, str | None]:
    """A run's status and, when it failed, why: its cleaning workers could not clean, or
    its entry points failed and it fetched nothing.

    A run whose feeds answered is `ok` even if its pages failed: those are rejects with
    their reasons (and an incremental run may only have retried a page known broken).
    """
    if stats.get("winnow/cleaning_error"):
        return "failed", stats["winnow/cleaning_error"]
    if finish_reason not in ("finished", "closespider_pagecount", "closespider_itemcount"):
        return "interrupted", None
    if counters["pages"] == 0 and counters["errors"]:
        seen = _download_errors(stats)
        why = f" ({seen}, retries included)" if seen else ""
        failed = int(stats.get("winnow/entry_errors", 0))
        what = f"{failed} entry point(s) failed" if failed else f"{counters['errors']} error(s)"
        return "failed", f"no page fetched; {what}{why}"
    return "ok", None


class WarehousePipeline:
    def __init__(self, crawler) -> None:
        self.crawler = crawler
        settings = crawler.settings
        self.started_at = datetime.now(UTC)
        self.counters: Counter = Counter()
        self.reasons: Counter = Counter()
        self.writer: WarehouseWriter | None = None
        self.flush_rows = settings.getint("WINNOW_FLUSH_ROWS", 1000)
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
        self._timer = task.LoopingCall(self._maybe_flush)
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

    def _maybe_flush(self) -> None:
        try:
            self.writer.maybe_flush()
        except WarehouseError as exc:
            self._give_up(exc)

    def _give_up(self, exc: Exception) -> None:
        """A write failed (disk full, ...): stop the crawl once, with the writer's message.

        Files already written stay complete and visible; `winnow crawl` exits with 1.
        """
        stop_crawl(self.crawler, "warehouse_error", str(exc))

    def _write(self, record: Article | Reject) -> None:
        try:
            self.writer.add(record)  # on failure the row stays buffered, to be tried again
        except WarehouseError as exc:
            self._give_up(exc)
        self.counters["pages"] += 1
        self.crawler.stats.inc_value(
            "winnow/kept" if isinstance(record, Article) else "winnow/rejected"
        )
        if isinstance(record, Article):
            self.counters["articles"] += 1
        else:
            self.counters["rejects"] += 1
            self.reasons[record.reason] += 1

    def _drain_upstream(self) -> None:
        """Write what the pipelines before this one still hold (the duplicate hold of a
        crawl stopped early), so the run's row counts every row it wrote."""
        engine = self.crawler.engine
        itemproc = getattr(getattr(engine, "scraper", None), "itemproc", None)
        for pipeline in getattr(itemproc, "middlewares", ()):
            if pipeline is not self and hasattr(pipeline, "drain"):
                for record in pipeline.drain():
                    self.process_item(record)

    def close_spider(self) -> None:
        if self._timer is not None and self._timer.running:
            self._timer.stop()
        self._drain_upstream()
        for held in self.templates.drain():
            self._write(self._strip_templates(held))
        try:
            write_json(self.writer.root, TEMPLATES_STATE, self.templates.stats.to_dict())
        except OSError as exc:
            self._give_up(exc)
        spider = self.crawler.spider
        stats = self.crawler.stats
        # Scrapy records finish_reason after the pipelines close; a stop (SIGTERM, Ctrl-C,
        # scrapyd's cancel) has already cleared `crawling` by then, a finished crawl has not.
        reason = stats.get_value("finish_reason") or (
            "finished" if self.crawler.crawling else "shutdown"
        )
        errors = int(stats.get_value("winnow/entry_errors", 0)) + int(
            stats.get_value("log_count/ERROR", 0)
        )
        self.counters["errors"] = errors
        self.counters["bytes"] = int(stats.get_value("downloader/response_bytes", 0))
        status, detail = run_outcome(reason, self.counters, stats.get_stats())
        row = schema.run_row(
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
        try:
            self.writer.add_run(row)
            self.writer.close()
        except WarehouseError as exc:
            self._give_up(exc)
        if stats.get_value("winnow/warehouse_error"):
            status = "failed"
        stats.set_value("winnow/articles", self.counters["articles"])
        stats.set_value("winnow/rejects", self.counters["rejects"])
        stats.set_value("winnow/run_status", status)
