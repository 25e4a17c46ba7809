"""The seen-URL index: which canonical URLs need no fetch in this run.

It holds the canonical URLs of every article in the warehouse and of every reject
that another try would not change (so a second run of a source fetches only what is
new; server errors, timeouts and DNS failures are tried again), plus, when a killed
crawl resumes, the pages its first attempt already wrote, plus everything fetched so
far in this process. Kept as
a sorted numpy array of 64-bit hashes (8 bytes a URL: ten million URLs in 80 MB)
and a set for the URLs added during the run, merged into the array every
`MERGE_EVERY` URLs (so a run's own URLs cost 8 bytes each too, not a set entry's ~70);
rebuilt from the warehouse in batches, so it persists with the warehouse and loading it
never holds all URLs as strings.

`SeenUrlsMiddleware` checks at download time rather than at scheduling time: a URL
found in both a feed and a sitemap, or queued before a crash and found again after
it, is fetched once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np
from scrapy.exceptions import IgnoreRequest

from pipeline.urls import canonical_url

#: Reject reasons worth another try in a later run: the page may well be fine next time.
TRANSIENT_REASONS = (
    "timeout",
    "dns",
    "download_error",
    "worker_crash",
    "clean_error",
    "redirect_loop",
)
#: HTTP statuses that are worth another try (server errors and rate limits).
TRANSIENT_MIN_STATUS = 500
#: URLs added during a run are merged into the sorted array this often.
MERGE_EVERY = 65536


def url_key(url: str) -> int:
    return int.from_bytes(hashlib.blake2b(url.encode("utf-8"), digest_size=8).digest(), "little")


class AlreadySeen(IgnoreRequest):
    """The page was fetched already (in the warehouse, or earlier in this run)."""


class SeenUrls:
    def __init__(self, keys: np.ndarray | None = None) -> None:
        self._sorted = np.unique(keys if keys is not None else np.empty(0, dtype=np.uint64))
        self._new: set[int] = set()

    @classmethod
    def from_urls(cls, urls: Iterable[str]) -> SeenUrls:
        return cls(np.fromiter((url_key(u) for u in urls), dtype=np.uint64))

    @classmethod
    def from_warehouse(cls, warehouse: str, run_id: str | None = None) -> SeenUrls:
        """URLs that need no fetch: every article, every reject that is not transient,
        and every reject of `run_id` (a resumed run's own pages)."""
        import pyarrow.compute as pc

        from warehouse.dataset import dataset
        from warehouse.storage import open_root

        def keys(batches, canonical: bool) -> None:
            for batch in batches:
                urls = batch.column(0).to_pylist()
                chunks.append(
                    np.fromiter(
                        (url_key(canonical_url(u) if canonical else u) for u in urls),
                        dtype=np.uint64,
                    )
                )

        chunks: list[np.ndarray] = []
        root = open_root(warehouse)  # the crawl's warehouse: a new one is created here
        articles = dataset(root, "articles")
        keys(articles.to_batches(columns=["canonical_url"]), canonical=False)
        if "requested_url" in articles.schema.names:
            redirected = pc.field("requested_url").is_valid()
            keys(articles.to_batches(columns=["requested_url"], filter=redirected), canonical=True)
        status = pc.field("http_status")
        transient = pc.field("reason").isin(list(TRANSIENT_REASONS)) | (
            (pc.field("reason") == "http_status")
            & (status.is_null() | (status >= TRANSIENT_MIN_STATUS) | (status == 429))
        )
        keep = ~transient if not run_id else (~transient | (pc.field("run_id") == run_id))
        keys(dataset(root, "rejects").to_batches(columns=["url"], filter=keep), canonical=True)
        return cls(np.concatenate(chunks) if chunks else None)

    def __len__(self) -> int:
        return len(self._sorted) + len(self._new)

    @property
    def nbytes(self) -> int:
        """Approximate memory held (the array, plus ~70 bytes per URL not merged yet)."""
        return int(self._sorted.nbytes) + 70 * len(self._new)

    def contains(self, url: str) -> bool:
        return self._has(url_key(url))

    def _has(self, key: int) -> bool:
        if key in self._new:
            return True
        i = np.searchsorted(self._sorted, np.uint64(key))
        return bool(i < len(self._sorted) and self._sorted[i] == key)

    def add(self, url: str) -> bool:
        """Remember a URL; False if it was seen already."""
        key = url_key(url)
        if self._has(key):
            return False
        self._new.add(key)
        if len(self._new) >= MERGE_EVERY:
            self.merge()
        return True

    def merge(self) -> None:
        """Move the URLs added this run into the sorted array."""
        if not self._new:
            return
        new = np.fromiter(self._new, np.uint64, len(self._new))
        new.sort()
        # Two sorted runs: the stable sort (timsort) merges them in linear time.
        merged = np.sort(np.concatenate([self._sorted, new]), kind="stable")
        keep = np.ones(len(merged), bool)
        keep[1:] = merged[1:] != merged[:-1]
        self._sorted, self._new = merged[keep], set()


class SeenUrlsMiddleware:
    """Downloader middleware: an article URL is downloaded at most once per crawl."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request):
        seen = getattr(self.crawler.spider, "seen", None)
        if seen is None or not request.meta.get("article") or request.meta.get("retry_times"):
            return None
        key = canonical_url(request.url)
        if not seen.add(key):
            self.crawler.stats.inc_value("winnow/already_seen")
            raise AlreadySeen(f"already fetched: {key}")
        return None
