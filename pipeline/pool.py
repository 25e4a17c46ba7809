"""Cleaning in a process pool, each page bounded in time.

`clean` runs in pebble worker processes so the Twisted reactor never waits on lxml,
and so a page that makes a step hang or crash costs one worker, not the crawl: pebble
kills a worker that runs past the bound. Whatever goes wrong becomes a Reject, so the
page is still one row: `timeout`, `worker_crash` or `clean_error`.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.forkserver
from concurrent.futures import TimeoutError as FutureTimeout

from pebble import ProcessExpired, ProcessPool

from pipeline.clean import CleanConfig, clean
from pipeline.page import Page
from pipeline.record import Record, Reject, reject_page


def _worker_init() -> None:
    # Warm already when forked from a forkserver that preloaded it (start_pool).
    import pipeline.worker  # noqa: F401


def _forkserver_context() -> multiprocessing.context.BaseContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["pipeline.worker"])
    return context


def start_forkserver() -> None:
    """Start the workers' forkserver now, so its warm-up overlaps the crawler's own start.

    Optional: `start_pool` starts it otherwise, and the crawl's first page then waits
    for the warm-up (about half a second of CPU).
    """
    _forkserver_context()
    multiprocessing.forkserver.ensure_running()


def start_pool(workers: int) -> ProcessPool:
    """A pool of cleaning workers (forkserver: no reactor state leaks into them).

    The forkserver preloads pipeline.worker, so every worker it forks, including one
    that replaces a worker killed on a timeout, starts warm. The preload applies when
    this process starts its forkserver, that is at its first pool (or `start_forkserver`).
    """
    return ProcessPool(max_workers=workers, initializer=_worker_init, context=_forkserver_context())


def failure_reject(page: Page, exc: BaseException, timeout: float) -> Reject:
    """The Reject for a page whose cleaning failed in the pool."""
    if isinstance(exc, FutureTimeout):
        return reject_page(page, "timeout", f"cleaning took longer than {timeout:g}s")
    if isinstance(exc, ProcessExpired):
        return reject_page(page, "worker_crash", f"the cleaning worker died: {exc}")
    return reject_page(page, "clean_error", f"{type(exc).__name__}: {exc}")


async def clean_bounded(
    pool: ProcessPool, page: Page, config: CleanConfig, timeout: float
) -> Record:
    """Clean one page in the pool (awaitable from the reactor); never raises."""
    future = pool.schedule(clean, args=(page, config), timeout=timeout)
    try:
        return await asyncio.wrap_future(future)
    except Exception as exc:  # a bug in a step must not lose the page
        return failure_reject(page, exc, timeout)


def clean_bounded_sync(
    pool: ProcessPool, page: Page, config: CleanConfig, timeout: float
) -> Record:
    """Clean one page in the pool and wait for it, for batch jobs and tests; never raises."""
    future = pool.schedule(clean, args=(page, config), timeout=timeout)
    try:
        return future.result()
    except Exception as exc:
        return failure_reject(page, exc, timeout)
