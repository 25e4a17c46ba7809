"""The `news` spider: from a source's feeds, sitemaps and start pages to article pages.

Entry points are read by `spiders.discovery`; every article URL is fetched once (the
seen-URL index skips articles already in the warehouse unless `refresh`), and every
article response, whatever its status, becomes a `Page` item for the cleaning
pipeline. A failed download becomes a `Reject` item, so no page disappears.

Discovered article URLs wait in the spider, one string each and one queue per
source, and `start()` hands them to Scrapy's scheduler as it drains, taking the
sources in turn: a sitemap of 50,000 URLs does not become 50,000 queued Requests
(about 2 KB each), and one source's sitemap does not hold back another's articles.
With a JOBDIR (Scrapy's queue is on disk and survives a kill) or a shared Redis
frontier (other processes take from it), requests go to Scrapy's queue at once.

Arguments (`scrapy crawl news -a sources=a,b -a urls=...`): `sources`, a comma list of
names from sources.toml (default: all); `urls`, feed/sitemap/page URLs to crawl as an
ad-hoc source; `run_id`.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from datetime import UTC, datetime
from urllib.parse import urlsplit

import scrapy
from scrapy.utils.asyncio import sleep

from pipeline.page import Page
from pipeline.record import Reject, record_id
from pipeline.urls import canonical_url
from settings.sources import Source, select_sources, source_from_dict
from spiders.discovery import DiscoveryError, discover
from spiders.failures import failure_reason, quiet_network_tracebacks
from spiders.seen import AlreadySeen, SeenUrls

ADHOC = "adhoc"
RUN_ID_FILE = "winnow_run_id"
#: Error responses reach the article callback (and become `http_status` rejects);
#: redirects do not, so the redirect middleware still follows them.
ERROR_STATUSES = list(range(400, 600))
#: How often start() looks again when it has nothing to feed (seconds).
FEED_PAUSE = 0.05


def take_turns(waiting: dict[str, deque[str]], n: int) -> list[tuple[str, str]]:
    """Up to `n` (source, URL) pairs from the sources' queues, one from each in turn.

    Emptied queues are removed, so `waiting` is empty when nothing waits.
    """
    taken: list[tuple[str, str]] = []
    while len(taken) < n and waiting:
        for name in list(waiting):
            urls = waiting[name]
            taken.append((name, urls.popleft()))
            if not urls:
                del waiting[name]
            if len(taken) == n:
                break
    return taken


def _headers(response: scrapy.http.Response) -> dict[str, str]:
    return {
        k.decode("latin-1").lower(): b", ".join(v).decode("latin-1")
        for k, v in response.headers.items()
    }


class NewsSpider(scrapy.Spider):
    name = "news"

    def __init__(
        self, sources: str = "", urls: str = "", run_id: str = "", *args, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.source_names = [s for s in sources.split(",") if s]
        self.adhoc_urls = [u for u in re.split(r"[,\s]+", urls) if u]
        self.run_id = run_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        self.sources: dict[str, Source] = {}
        self.scheduled: Counter[str] = Counter()
        self.seen: SeenUrls | None = None
        self.shared_frontier = False
        #: Article URLs found and not yet handed to Scrapy, per source (see the module doc).
        self.waiting: dict[str, deque[str]] = {}
        self.feed_lazily = False
        self.feed_low = 0

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider._configure(crawler.settings)
        quiet_network_tracebacks()
        return spider

    def _configure(self, settings) -> None:
        if self.source_names or not self.adhoc_urls:
            self.sources = select_sources(self.source_names, settings.get("WINNOW_SOURCES") or None)
        if self.adhoc_urls:
            self.sources[ADHOC] = source_from_dict(
                {"name": ADHOC, "start_urls": self.adhoc_urls}, "--url"
            )
        domains = {d for s in self.sources.values() for d in s.allowed_domains}
        self.allowed_domains = sorted(domains)
        resumed = self._resume_run_id(settings.get("JOBDIR"))
        self.shared_frontier = bool(settings.get("REDIS_URL"))
        self.feed_lazily = not (self.shared_frontier or settings.get("JOBDIR"))
        # Waiting URLs are fed in when the scheduler holds fewer requests than can be in
        # flight at once, up to twice that: enough to keep the downloader busy.
        self.feed_low = max(1, settings.getint("CONCURRENT_REQUESTS"))
        if settings.getbool("WINNOW_REFRESH") and not resumed:
            self.seen = SeenUrls()
        else:
            self.seen = SeenUrls.from_warehouse(
                settings.get("WINNOW_WAREHOUSE"), self.run_id if resumed else None
            )

    def _resume_run_id(self, jobdir: str | None) -> bool:
        """With a JOBDIR, a resumed crawl keeps its run id; True when resuming."""
        if not jobdir:
            return False
        from pathlib import Path

        path = Path(jobdir) / RUN_ID_FILE
        if path.exists():
            self.run_id = path.read_text().strip() or self.run_id
            return True
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.run_id)
        return False

    async def start(self):
        for request in self.entry_requests():
            yield request
        if not self.feed_lazily:
            return
        while True:
            fed = False
            for request in self.feed():
                fed = True
                yield request
            if self.fetching_done() and self.crawler.engine.scraper.slot.is_idle():
                return  # every entry point read and every page handled
            if not fed:
                await sleep(FEED_PAUSE)

    def entry_requests(self):
        """The sources' feeds, sitemaps and start pages, and their hosts' robots.txt."""
        for source in self.sources.values():
            for url in source.entry_points:
                yield scrapy.Request(
                    url,
                    callback=self.parse_entry,
                    errback=self.entry_failed,
                    meta={"source": source.name},
                    dont_filter=True,
                )
            for host in {
                urlsplit(u).scheme + "://" + urlsplit(u).netloc for u in source.start_urls
            }:
                yield scrapy.Request(
                    host + "/robots.txt",
                    callback=self.parse_entry,
                    errback=self.entry_failed,
                    meta={"source": source.name, "robots": True, "handle_httpstatus_all": True},
                    priority=-1,
                )

    def feed(self):
        """Requests for waiting article URLs while the scheduler runs low, sources in turn."""
        scheduler = self.crawler.engine.scheduler
        queued = len(scheduler) if hasattr(scheduler, "__len__") else 0
        if queued < self.feed_low:
            for name, url in take_turns(self.waiting, 2 * self.feed_low - queued):
                yield self.article_request(name, url)

    def fetching_done(self) -> bool:
        """Nothing downloading or queued and no article URL waiting: what the crawl still
        has to do is in the scraper (a feed being parsed may yet list more) and the
        cleaning pool. With the scraper idle too, no more article URLs can turn up."""
        engine = self.crawler.engine
        scheduler = engine.scheduler
        return (
            not self.waiting
            and not engine.downloader.active
            and scheduler is not None
            and not scheduler.has_pending_requests()
        )

    def entry_failed(self, failure):
        reason, detail = failure_reason(failure)
        self.logger.warning("entry point %s failed: %s (%s)", failure.request.url, reason, detail)
        self.crawler.stats.inc_value("winnow/entry_errors")

    def parse_entry(self, response):
        """A feed, sitemap, sitemap index, robots.txt or homepage: follow what it lists."""
        source = self.sources[response.meta["source"]]
        if response.status >= 400 or (response.meta.get("robots") and response.status != 200):
            if not response.meta.get("robots"):
                self.logger.warning("entry point %s: HTTP %s", response.url, response.status)
                self.crawler.stats.inc_value("winnow/entry_errors")
            return
        url = response.url
        if response.meta.get("robots") and not url.endswith("/robots.txt"):
            return
        pattern = re.compile(source.article_pattern) if source.article_pattern else None
        # Lazily: a sitemap of a million URLs is never a list. Broken XML still yields
        # what precedes the break, then DiscoveryError says what broke.
        try:
            for item in discover(response.body, url):
                if item.kind == "sitemap":
                    yield response.follow(
                        item.url,
                        callback=self.parse_entry,
                        errback=self.entry_failed,
                        meta={"source": source.name},
                    )
                    continue
                if pattern and not pattern.search(item.url):
                    continue
                if not self.admit(source, item.url):
                    continue
                if self.feed_lazily:
                    self.waiting.setdefault(source.name, deque()).append(item.url)
                else:
                    yield self.article_request(source.name, item.url)
        except DiscoveryError as exc:
            self.logger.warning("entry point %s: %s", url, exc)
            self.crawler.stats.inc_value("winnow/entry_errors")

    def admit(self, source: Source, url: str) -> bool:
        """Whether an article URL is to be fetched: within the source's budget and not seen."""
        if self.scheduled[source.name] >= source.budget:
            self.crawler.stats.inc_value("winnow/over_budget")
            return False
        if self.seen is not None and self.seen.contains(canonical_url(url)):
            self.crawler.stats.inc_value("winnow/already_seen")
            return False
        self.scheduled[source.name] += 1
        return True

    def article_request(self, source_name: str, url: str) -> scrapy.Request:
        # Without a shared frontier, SeenUrlsMiddleware is the duplicate filter for
        # articles: unlike Scrapy's, it never remembers a page that was not written,
        # so a killed crawl refetches what it lost.
        return scrapy.Request(
            url,
            callback=self.parse_article,
            errback=self.article_failed,
            meta={"source": source_name, "handle_httpstatus_list": ERROR_STATUSES, "article": True},
            dont_filter=not self.shared_frontier,
        )

    def parse_article(self, response) -> Page:
        # Returns its one item rather than yielding it: for a generator callback, Scrapy
        # reads and parses the callback's source (to warn about `return` values) each
        # time its weak cache of callbacks misses, 0.5 ms a time; with a bound method
        # per request it misses whenever the request it cached has gone, as on most
        # pages of a slow crawl. In benchmarks/crawl.py's fetch-only crawl, the
        # crawler's CPU per page went from 1.26-1.32 ms to 1.06-1.12.
        self.crawler.stats.inc_value("winnow/pages")
        return Page(
            url=response.url,
            body=response.body,
            status=response.status,
            headers=_headers(response),
            fetched_at=datetime.now(UTC),
            source=response.meta["source"],
            requested_url=(response.meta.get("redirect_urls") or [None])[0],
        )

    def article_failed(self, failure):
        if failure.check(AlreadySeen):
            return
        reason, detail = failure_reason(failure)
        request = failure.request
        self.crawler.stats.inc_value("winnow/pages")
        self.crawler.stats.inc_value("winnow/download_errors")
        yield Reject(
            id=record_id(canonical_url(request.url)),
            url=request.url,
            source=request.meta.get("source", ""),
            reason=reason,
            detail=detail,
            fetched_at=datetime.now(UTC),
        )
