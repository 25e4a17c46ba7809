"""The `news` spider: from a source's feeds, sitemaps and start pages to article pages.

Entry points are read by `spiders.discovery`; every article URL is fetched once (the
seen-URL index skips articles already in the warehouse unless `refresh`), and every
article response, whatever its status, becomes a `Page` item for the cleaning
pipeline. A failed download becomes a `Reject` item, so no page disappears.

Arguments (`scrapy crawl news -a sources=a,b -a urls=...`): `sources`, a comma list of
names from sources.toml (default: all); `urls`, feed/sitemap/page URLs to crawl as an
ad-hoc source; `run_id`.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from urllib.parse import urlsplit

import scrapy

from pipeline.page import Page
from pipeline.record import Reject, record_id
from pipeline.urls import canonical_url
from settings.sources import Source, load_sources, source_from_dict
from spiders.discovery import DiscoveryError, discover
from spiders.failures import failure_reason
from spiders.seen import AlreadySeen, SeenUrls

ADHOC = "adhoc"
RUN_ID_FILE = "winnow_run_id"
#: Error responses reach the article callback (and become `http_status` rejects);
#: redirects do not, so the redirect middleware still follows them.
ERROR_STATUSES = list(range(400, 600))


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

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider._configure(crawler.settings)
        return spider

    def _configure(self, settings) -> None:
        available = (
            load_sources(settings.get("WINNOW_SOURCES") or None)
            if (self.source_names or not self.adhoc_urls)
            else {}
        )
        if self.source_names:
            missing = [n for n in self.source_names if n not in available]
            if missing:
                raise ValueError(f"unknown source(s): {', '.join(missing)} (see `winnow sources`)")
            self.sources = {n: available[n] for n in self.source_names}
        elif not self.adhoc_urls:
            self.sources = available
        if self.adhoc_urls:
            self.sources[ADHOC] = source_from_dict(
                {"name": ADHOC, "start_urls": self.adhoc_urls}, "--url"
            )
        domains = {d for s in self.sources.values() for d in s.allowed_domains}
        self.allowed_domains = sorted(domains)
        resumed = self._resume_run_id(settings.get("JOBDIR"))
        self.shared_frontier = bool(settings.get("REDIS_URL"))
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
                request = self.article_request(source, item.url)
                if request is not None:
                    yield request
        except DiscoveryError as exc:
            self.logger.warning("entry point %s: %s", url, exc)
            self.crawler.stats.inc_value("winnow/entry_errors")

    def article_request(self, source: Source, url: str) -> scrapy.Request | None:
        if self.scheduled[source.name] >= source.budget:
            self.crawler.stats.inc_value("winnow/over_budget")
            return None
        if self.seen is not None and self.seen.contains(canonical_url(url)):
            self.crawler.stats.inc_value("winnow/already_seen")
            return None
        self.scheduled[source.name] += 1
        # Without a shared frontier, SeenUrlsMiddleware is the duplicate filter for
        # articles: unlike Scrapy's, it never remembers a page that was not written,
        # so a killed crawl refetches what it lost.
        return scrapy.Request(
            url,
            callback=self.parse_article,
            errback=self.article_failed,
            meta={"source": source.name, "handle_httpstatus_list": ERROR_STATUSES, "article": True},
            dont_filter=not self.shared_frontier,
        )

    def parse_article(self, response):
        self.crawler.stats.inc_value("winnow/pages")
        yield Page(
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
