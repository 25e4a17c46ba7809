"""Cleaning in a process pool, each page bounded in time.

`clean` runs in pebble worker processes so the Twisted reactor never waits on lxml,
and so a page that makes a step hang or crash costs one worker, not the crawl: pebble
kills a worker that runs past the bound. Whatever goes wrong becomes a Reject, so the
page is still one row: `timeout`, `worker_crash` or `clean_error`.

In a crawl, `CleaningPool` sends the pages that wait for a worker together, up to
`MAX_BATCH` a task: each task costs the crawler a round of hand-offs between the
pool's threads and the event loop. At one page a task the crawler spent 1.80-2.17 ms
of CPU per page; with pages sent together, 1.36-1.41 (benchmarks/crawl.py).

Workers that cannot clean at all (the cleaning code does not load in them, or the
pool itself breaks) would otherwise leave every page waiting and the crawl hanging:
the pool then has a `failure`, and every page waiting or sent becomes a
`clean_error` reject that says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import multiprocessing
import multiprocessing.forkserver
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from pebble import ProcessExpired, ProcessPool

from pipeline.config import CleanConfig
from pipeline.page import Page
from pipeline.record import Record, Reject, reject_page

#: Most pages in one task. In the crawl benchmark, 8 a task left the crawler ~0.15 ms
#: of CPU per page more than 16; more than 16 made no difference (Scrapy's scraper
#: stops downloading while ~5 MB of responses wait, which caps the batches anyway).
MAX_BATCH = 16
#: Tasks in the pool per worker: the one it cleans and the next, so it never waits
#: for the event loop to send more.
TASKS_PER_WORKER = 2


#: Bytes the pipes between the crawler and its workers hold (Linux's default: 64 KB).
#: A task of 16 news pages is about 400-700 KB: in a default pipe a worker read it 64 KB
#: at a time, each waiting for a thread of the busy crawler to write the next, and
#: stood idle 3 ms a task. With the next task whole in the pipe, the wait halved.
PIPE_BYTES = 1 << 20


#: Seconds between looks, while tasks are out, at whether the pebble pool still works.
WATCH_SECONDS = 1.0
#: Seconds the workers may take to start (they take about half a second); pages wait
#: for them meanwhile, so a start that never ends must not leave them waiting for ever.
START_SECONDS = 120.0


#: Why workers most often exit at once: each re-runs the script that started the crawl.
MAIN_GUARD_HINT = (
    " (a script that starts a crawl must do so under `if __name__ == '__main__':`,"
    " or each worker runs it again: see Python's multiprocessing guidelines)"
)


def _worker_init() -> None:
    # Warm already when forked from a forkserver that preloaded it (start_pool). An
    # error is not raised here: pebble would only see its workers exit, and say "All
    # workers expired". `check_worker`, the pool's first task, raises it with its message.
    with contextlib.suppress(Exception):
        import pipeline.worker  # noqa: F401


def check_worker() -> None:
    """(In a worker) raise whatever keeps the cleaning code from loading, e.g. an ImportError."""
    import pipeline.worker  # noqa: F401


#: What the forkserver loads once for all the workers it forks: pebble's worker loop
#: (each worker imported it on its own, 50 ms of its start) and the cleaning code.
PRELOAD = ["pebble.pool.process", "pipeline.worker"]


def _forkserver_context() -> multiprocessing.context.BaseContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
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


def widen_pipes(pool: ProcessPool, size: int = PIPE_BYTES) -> None:
    """Let the pool's task and result pipes hold `size` bytes, where the system allows."""
    # The pipes are pebble's (created when its pool starts): should its internals
    # change, or the system refuse the size, the pool works as it is, a little slower.
    with contextlib.suppress(AttributeError, OSError):
        channel = pool._pool_manager.worker_manager.pool_channel
        for end in (channel.writer, channel.reader):
            fcntl.fcntl(end.fileno(), fcntl.F_SETPIPE_SZ, size)


def failure_reject(page: Page, exc: BaseException, timeout: float) -> Reject:
    """The Reject for a page whose cleaning failed in the pool."""
    if isinstance(exc, FutureTimeout):
        return reject_page(page, "timeout", f"cleaning took longer than {timeout:g}s")
    if isinstance(exc, ProcessExpired):
        return reject_page(page, "worker_crash", f"the cleaning worker died: {exc}")
    return reject_page(page, "clean_error", f"{type(exc).__name__}: {exc}")


def clean_bounded_sync(
    pool: ProcessPool, page: Page, config: CleanConfig, timeout: float
) -> Record:
    """Clean one page in the pool and wait for it, for batch jobs and tests; never raises."""
    from pipeline.clean import clean  # see clean_pages

    future = pool.schedule(clean, args=(page, config), timeout=timeout)
    try:
        return future.result()
    except Exception as exc:
        return failure_reject(page, exc, timeout)


@dataclass
class Cleaned:
    """What a worker sends back for one task: a result per page, in order, and the CPU
    seconds the worker spent cleaning them (the crawl's `winnow/clean_cpu_seconds`)."""

    records: list[Record | Exception]
    cpu_seconds: float


def clean_pages(pages: list[tuple[Page, CleanConfig]]) -> Cleaned:
    """(In a worker) clean one task's pages; a step's exception is that page's result."""
    # Imported here: the crawler process never cleans (see pipeline.config); a
    # worker has it loaded already (pipeline.worker).
    from pipeline.clean import clean

    started = time.process_time()
    records: list[Record | Exception] = []
    for page, config in pages:
        try:
            records.append(clean(page, config))
        except Exception as exc:  # a bug in a step must not lose the page
            records.append(exc)
    return Cleaned(records, time.process_time() - started)


@dataclass
class _Job:
    page: Page
    config: CleanConfig
    future: asyncio.Future
    alone: bool = False  # its task failed as a whole: it goes again, in a task of its own


class CleaningPool:
    """Clean pages for one event loop in a pebble pool, batching those that wait.

    Each task is bounded by the page timeout, whatever its number of pages, so every
    page kept was cleaned within the bound. A task that runs past it (or whose worker
    dies) is not blamed on all its pages: they go again one a task, and only the page
    that runs past the bound alone becomes a `timeout` (or `worker_crash`) reject.
    """

    def __init__(
        self,
        workers: int,
        timeout: float,
        max_batch: int = MAX_BATCH,
        task: Callable[[list[tuple[Page, CleanConfig]]], Cleaned] = clean_pages,
    ) -> None:
        self.timeout = timeout
        self.max_batch = max_batch
        self._task = task  # what a worker runs on a task's pages (tests swap in a faulty one)
        self._pool = start_pool(workers)
        #: Why the workers cannot clean, once they cannot; every page is then a reject.
        self.failure: str | None = None
        self._slots = TASKS_PER_WORKER * workers
        self._running = 0
        self._waiting: deque[_Job] = deque()
        self._sent: dict[Future, list[_Job]] = {}
        self._watch: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        #: Tasks sent to the workers so far.
        self.tasks = 0
        #: CPU seconds the workers spent cleaning the pages that came back (not their
        #: start, nor the hand-offs): what the pages cost, measured while the crawl ran.
        self.clean_cpu = 0.0
        # The workers start while the crawl starts, not at its first page; from another
        # thread, as pebble waits for the forkserver's warm-up to fork them. Pages wait
        # here until they are up: the event loop never waits on pebble's start.
        self._ready = False  # the start thread is done: pages may go (or be rejected)
        self._start_deadline = time.monotonic() + START_SECONDS
        self._start_bound: asyncio.TimerHandle | None = None
        self._started = False  # pebble answered the start check (its workers ran, or died)
        self._starting = threading.Thread(
            target=self._check_workers, name="cleaning-pool-start", daemon=True
        )
        self._starting.start()

    async def clean(self, page: Page, config: CleanConfig) -> Record:
        """Clean one page in a worker within the timeout; never raises."""
        # Set before `_send` reads `_ready`: if the start thread has not seen the loop,
        # this `_send` sees the workers are up, and the other way round.
        self._loop = asyncio.get_running_loop()
        job = _Job(page, config, self._loop.create_future())
        self._waiting.append(job)
        self._send()
        return await job.future

    def wait_started(self, timeout: float | None = None) -> None:
        """Block until the workers are up, or known not to start (see `failure`).

        Optional: pages sent before then wait for the workers. Tests use it so that
        their pages meet a running pool.
        """
        self._starting.join(timeout)

    def close(self, timeout: float = 30) -> None:
        """Stop the workers once the tasks sent have finished."""
        self.wait_started(timeout)
        for timer in (self._watch, self._start_bound):
            if timer is not None:
                timer.cancel()
        if not self._started:
            # pebble is still stuck starting its workers, and would be in its join too
            self._pool.stop()
            return
        if self._sent and self.failure is None:
            self._pool.close()  # let what is out finish
        else:
            # Nothing out (the end of a crawl), or nothing will come back: pebble's
            # close would wait up to a tenth of a second more for its queue to drain.
            self._pool.stop()
        self._pool.join(timeout=timeout)

    def _check_workers(self) -> None:
        """(In the start thread) start the workers, note why if they cannot clean, and
        send what waits."""
        try:
            # pebble forks the workers inside `schedule`; the bound on that is `_overdue`
            check = self._pool.schedule(check_worker)
            widen_pipes(self._pool)
            while not self._answered(check):
                if not self._pool.active:  # its threads died: the check will never come back
                    raise RuntimeError("the cleaning pool stopped working")
                if time.monotonic() > self._start_deadline:
                    raise FutureTimeout
            check.result()
        except FutureTimeout:
            self._give_up_start()
        except Exception as exc:
            self._started = True
            why = f"the cleaning workers cannot start: {type(exc).__name__}: {exc}"
            if isinstance(exc, BrokenProcessPool):  # they exited before saying why
                why += MAIN_GUARD_HINT
            self.failure = self.failure or why
        else:
            self._started = True
        self._ready = True
        loop = self._loop  # read after `_ready` is set: see `clean`
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing waits
                loop.call_soon_threadsafe(self._send)

    def _send(self) -> None:
        if self.failure is not None:
            self._reject_all()
            return
        if not self._ready:  # `_check_workers` sends what waits once the workers are up
            if self._start_bound is None:
                wait = max(0.0, self._start_deadline - time.monotonic())
                self._start_bound = self._loop.call_later(wait, self._overdue)
            return
        while self._waiting and self._running < self._slots:
            # Spread what waits over all the slots, so no worker idles while another has
            # a full task queued; as the waiting pages run out at a crawl's end, tasks get
            # smaller and the workers finish together.
            share = -(-len(self._waiting) // self._slots)
            jobs = [self._waiting.popleft()]
            while (
                not jobs[0].alone
                and len(jobs) < min(share, self.max_batch)
                and self._waiting
                and not self._waiting[0].alone
            ):
                jobs.append(self._waiting.popleft())
            jobs = [job for job in jobs if not job.future.done()]  # their waiter was cancelled
            if not jobs:
                continue
            try:
                future = self._pool.schedule(
                    self._task,
                    args=([(job.page, job.config) for job in jobs],),
                    timeout=self.timeout,
                )
            except RuntimeError as exc:  # pebble's pool has broken (its threads died)
                self._waiting.extendleft(reversed(jobs))
                self._broken(f"the cleaning pool broke: {exc}")
                return
            self._running += 1
            self.tasks += 1
            self._sent[future] = jobs
            future.add_done_callback(
                lambda done, loop=self._loop: loop.call_soon_threadsafe(self._finish, done)
            )
        if self._sent and self._watch is None:
            self._watch = self._loop.call_later(WATCH_SECONDS, self._look)

    def _finish(self, done: Future) -> None:
        jobs = self._sent.pop(done, None)
        if jobs is None:  # given up on when the pool broke
            return
        self._running -= 1
        try:
            cleaned = done.result()
            results = cleaned.records
            self.clean_cpu += cleaned.cpu_seconds
            if len(results) != len(jobs):
                raise RuntimeError(f"{len(results)} records came back for {len(jobs)} pages")
        except Exception as exc:
            results = [exc]
            if len(jobs) > 1:
                for job in reversed(jobs):
                    job.alone = True
                    self._waiting.appendleft(job)
                jobs = results = []
        for job, result in zip(jobs, results, strict=True):
            if isinstance(result, Exception):
                result = failure_reject(job.page, result, self.timeout)
            if not job.future.done():
                job.future.set_result(result)
        self._send()

    @staticmethod
    def _answered(check: Future) -> bool:
        try:
            check.exception(timeout=WATCH_SECONDS)
        except FutureTimeout:
            return False
        return True

    def _overdue(self) -> None:
        """(In the event loop) pages have waited for the workers' start as long as they may."""
        if not self._ready:
            self._give_up_start()
            self._send()

    def _give_up_start(self) -> None:
        self.failure = (
            self.failure or f"the cleaning workers did not start within {START_SECONDS:g}s"
        )

    def _look(self) -> None:
        """While tasks are out: a pebble pool whose threads died would never answer them."""
        self._watch = None
        if self._sent and not self._pool.active:
            self._broken("the cleaning pool stopped working")
        elif self._sent:
            self._watch = self._loop.call_later(WATCH_SECONDS, self._look)

    def _broken(self, why: str) -> None:
        self.failure = self.failure or why
        for jobs in self._sent.values():
            self._waiting.extend(jobs)
        self._sent.clear()
        self._reject_all()

    def _reject_all(self) -> None:
        while self._waiting:
            job = self._waiting.popleft()
            if not job.future.done():
                job.future.set_result(reject_page(job.page, "clean_error", self.failure))
