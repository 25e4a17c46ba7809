"""Redirect loops end as a reject, not as a page that silently disappears.

Scrapy's RedirectMiddleware follows a loop (A -> B -> A) until REDIRECT_MAX_TIMES,
but the second A is a URL this crawl already fetched, so the duplicate filter drops
it and no callback or errback ever runs: the page would vanish without a row. These
downloader middlewares look at a redirect before Scrapy follows it:

* `RedirectLoopMiddleware` (before RedirectMiddleware): a 3xx whose target is already
  in the request's redirect chain fails the request with `RedirectLoop`, which the
  spider's errback records as a `redirect_loop` reject.
* `SelfRefreshMiddleware` (before MetaRefreshMiddleware): a page whose
  `<meta http-equiv="refresh">` points back into its own chain (live blogs refresh
  themselves) is kept as the page instead of being followed.
"""

from __future__ import annotations

from urllib.parse import urljoin

from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse
from scrapy.utils.response import get_meta_refresh
from w3lib.url import safe_url_string

from pipeline.urls import canonical_url

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class RedirectLoop(IgnoreRequest):
    """The request redirects back to a URL it already went through."""


def _chain(request) -> list[str]:
    return [*request.meta.get("redirect_urls", []), request.url]


def loops_back(request, target: str) -> bool:
    """True when `target` is the request's URL or one it was redirected from."""
    key = canonical_url(target)
    return any(canonical_url(url) == key for url in _chain(request))


class RedirectLoopMiddleware:
    """Downloader middleware: a 3xx back into its own chain raises `RedirectLoop`."""

    def process_response(self, request, response):
        location = response.headers.get("Location")
        if response.status not in REDIRECT_STATUSES or not location:
            return response
        if request.meta.get("dont_redirect") or request.meta.get("handle_httpstatus_all"):
            return response
        if response.status in request.meta.get("handle_httpstatus_list", ()):
            return response
        target = urljoin(request.url, safe_url_string(location))
        if loops_back(request, target):
            hops = " -> ".join([*_chain(request), target])
            raise RedirectLoop(f"redirect loop: {hops}")
        return response


class SelfRefreshMiddleware:
    """Downloader middleware: a meta refresh back into the page's own chain is not followed."""

    def __init__(self, ignore_tags: list[str]) -> None:
        self.ignore_tags = ignore_tags

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.getlist("METAREFRESH_IGNORE_TAGS"))

    def process_response(self, request, response):
        if not isinstance(response, HtmlResponse) or request.meta.get("dont_redirect"):
            return response
        _interval, target = get_meta_refresh(response, ignore_tags=self.ignore_tags)
        if target and loops_back(request, target):
            request.meta["dont_redirect"] = True  # MetaRefreshMiddleware then keeps the page
        return response
