"""Garbage collection tuned for a long crawl: what start-up built is set aside.

Python's cycle collector walks every tracked object it holds on each full
collection. A crawler holds some 120,000 of them from start-up alone (Scrapy,
Twisted, pyarrow and the crawl's own components), which never become garbage, and
it allocates millions of short-lived ones (requests, responses, deferreds).
In a 5,000-page crawl of benchmarks/crawl.py, collection took 2.3 of the crawler's
9-10 s of CPU, in pauses of up to 150 ms that left the cleaning workers waiting.

When the engine starts, this extension collects once, freezes what is left
(`gc.freeze`: frozen objects are never walked again), and collects young objects
less often. Cycles are still collected, so memory stays bounded. When the engine
stops, the process gets Python's usual collection back: a notebook, or `winnow demo`
that reports after its crawl, goes on with a normal heap (frozen objects would also
never be freed at exit, and DuckDB 2 then reports them as leaks).
"""

from __future__ import annotations

import gc

from scrapy import signals

#: gen0, gen1, gen2 thresholds (Python's defaults: 700, 10, 10).
THRESHOLDS = (10_000, 50, 100)


class GarbageCollection:
    """A Scrapy extension: freeze the start-up heap and raise the collection thresholds."""

    def __init__(self) -> None:
        self._thresholds: tuple[int, int, int] | None = None

    @classmethod
    def from_crawler(cls, crawler):
        ext = cls()
        crawler.signals.connect(ext.engine_started, signal=signals.engine_started)
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        return ext

    def engine_started(self) -> None:
        self._thresholds = gc.get_threshold()
        gc.collect()
        gc.freeze()
        gc.set_threshold(*THRESHOLDS)

    def engine_stopped(self) -> None:
        if self._thresholds is not None:
            gc.unfreeze()
            gc.set_threshold(*self._thresholds)
            self._thresholds = None


def restore(crawler) -> None:
    """Python's usual collection back after a crawl whose engine never said it stopped:
    a forced shutdown (a second Ctrl-C) stops the reactor without `engine_stopped`."""
    try:
        extensions = crawler.extensions
    except RuntimeError:  # the crawler never got as far as its extensions: nothing changed
        return
    for extension in getattr(extensions, "middlewares", ()):
        if isinstance(extension, GarbageCollection):
            extension.engine_stopped()
