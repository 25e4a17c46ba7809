"""Cleaning in worker processes, each page bounded in time.

`clean` runs in worker processes so the Twisted reactor never waits on lxml, and so a
page that makes a step hang or crash costs one worker, not the crawl: a worker that
runs past the bound is killed and replaced. Whatever goes wrong becomes a Reject, so
the page is still one row: `timeout`, `worker_crash` or `clean_error`.

The event loop talks to each worker itself, over a socket, without threads: the
hand-offs between a thread pool's threads and the loop cost the crawler more CPU per
page than the cleaning results are worth to move (benchmarks/crawl.py). Each worker is
sent its next page while it cleans the current one, so it never waits on a busy loop.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.forkserver
import pickle
import signal
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.clean import CleanConfig, clean
from pipeline.page import Page
from pipeline.record import Record, reject_page

#: Pages a worker holds: the one it cleans and the next.
DEPTH = 2
#: Every message is a pickle after its length in this many bytes.
HEADER = 8
#: Workers in a row that die before they are ready before the pool gives up on them.
FAILED_STARTS = 3


def _frame(message: object) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return len(data).to_bytes(HEADER, "big") + data


def _serve(sock: socket.socket) -> None:
    """A worker: clean each (page, config) received and send back its record."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the crawler to handle
    import pipeline.worker  # noqa: F401  (loaded already when forked from the forkserver)

    sock.sendall(_frame(None))  # ready
    inbox = sock.makefile("rb")
    while True:
        header = inbox.read(HEADER)
        if len(header) < HEADER:  # the crawler is gone
            return
        task = pickle.loads(inbox.read(int.from_bytes(header, "big")))
        if task is None:
            return
        page, config = task
        try:
            record = clean(page, config)
        except Exception as exc:  # a bug in a step must not lose the page
            record = reject_page(page, "clean_error", f"{type(exc).__name__}: {exc}")
        sock.sendall(_frame(record))


def _forkserver_context() -> multiprocessing.context.BaseContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["pipeline.worker"])
    return context


def start_forkserver() -> None:
    """Start the workers' forkserver now, so its warm-up overlaps the crawler's own start.

    Optional: the first `CleaningPool` starts it otherwise, and the crawl's first page
    then waits for the warm-up (about half a second of CPU).
    """
    _forkserver_context()
    multiprocessing.forkserver.ensure_running()


@dataclass
class _Job:
    page: Page
    config: CleanConfig
    timeout: float
    future: asyncio.Future


class _Worker:
    """One worker process and the crawler's end of its socket."""

    def __init__(self, context: multiprocessing.context.BaseContext, serve: Callable) -> None:
        self.sock, theirs = socket.socketpair()
        self.process = context.Process(target=serve, args=(theirs,), daemon=True)
        self.process.start()
        theirs.close()
        self.sock.setblocking(False)
        self.jobs: deque[_Job] = deque()  # sent, in order: the first is being cleaned
        self.inbox = bytearray()
        self.outbox: deque[memoryview] = deque()
        self.timer: asyncio.TimerHandle | None = None
        self.ready = False  # it said so once its imports were done


class CleaningPool:
    """Worker processes (forked warm from a forkserver) that clean pages for one event loop.

    The forkserver preloads pipeline.worker, so every worker, including one that
    replaces a worker killed on a timeout, starts warm. The preload applies when this
    process starts its forkserver, that is at its first pool (or `start_forkserver`).
    """

    def __init__(self, workers: int, serve: Callable[[socket.socket], None] = _serve) -> None:
        self._context = _forkserver_context()
        self._serve = serve  # the workers' main function (tests swap in a broken one)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._workers = [self._start_worker() for _ in range(max(1, workers))]
        self._waiting: deque[_Job] = deque()
        self._failed_starts = 0
        #: Why no worker can clean, once FAILED_STARTS in a row died before they were ready.
        self.broken = ""

    @property
    def pids(self) -> list[int]:
        """The workers' process ids, as they are now (a killed worker's replacement has a new one)."""
        return [worker.process.pid for worker in self._workers]

    async def clean(self, page: Page, config: CleanConfig, timeout: float) -> Record:
        """Clean one page in a worker within `timeout` seconds; never raises."""
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
            for worker in self._workers:
                loop.add_reader(worker.sock.fileno(), self._readable, worker)
        elif loop is not self._loop:
            raise RuntimeError("a CleaningPool serves the event loop it was first used from")
        job = _Job(page, config, timeout, loop.create_future())
        self._waiting.append(job)
        self._dispatch()
        return await job.future

    def close(self, timeout: float = 30) -> None:
        """Stop the workers once they have finished what they hold."""
        for worker in self._workers:
            self._unwatch(worker)
            try:
                worker.sock.setblocking(True)
                for chunk in worker.outbox:
                    worker.sock.sendall(chunk)
                worker.sock.sendall(_frame(None))
            except OSError:
                pass
        for worker in self._workers:
            worker.process.join(timeout)
            if worker.process.is_alive():
                worker.process.kill()
            worker.sock.close()
        self._workers = []

    def _start_worker(self) -> _Worker:
        worker = _Worker(self._context, self._serve)
        if self._loop is not None:
            self._loop.add_reader(worker.sock.fileno(), self._readable, worker)
        return worker

    def _unwatch(self, worker: _Worker) -> None:
        if worker.timer is not None:
            worker.timer.cancel()
            worker.timer = None
        if self._loop is not None:
            self._loop.remove_reader(worker.sock.fileno())
            self._loop.remove_writer(worker.sock.fileno())

    def _dispatch(self) -> None:
        while self._waiting and self.broken:
            job = self._waiting.popleft()
            if not job.future.done():
                job.future.set_result(reject_page(job.page, "worker_crash", self.broken))
        while self._waiting:
            worker = min(self._workers, key=lambda w: len(w.jobs))
            if len(worker.jobs) >= DEPTH:
                return
            job = self._waiting.popleft()
            if job.future.done():  # whoever waited for it was cancelled
                continue
            worker.jobs.append(job)
            if len(worker.jobs) == 1:
                self._arm(worker)
            self._send(worker, _frame((job.page, job.config)))

    def _send(self, worker: _Worker, data: bytes) -> None:
        view = memoryview(data)
        if not worker.outbox:
            try:
                view = view[worker.sock.send(view) :]
            except BlockingIOError:
                pass
            except OSError:  # the worker is gone; its reader sees the end
                return
            if not view:
                return
            self._loop.add_writer(worker.sock.fileno(), self._writable, worker)
        worker.outbox.append(view)

    def _writable(self, worker: _Worker) -> None:
        try:
            while worker.outbox:
                view = worker.outbox[0]
                sent = worker.sock.send(view)
                if sent < len(view):
                    worker.outbox[0] = view[sent:]
                    return
                worker.outbox.popleft()
        except BlockingIOError:
            return
        except OSError:  # the worker is gone; its reader sees the end
            worker.outbox.clear()
        self._loop.remove_writer(worker.sock.fileno())

    def _readable(self, worker: _Worker) -> None:
        try:
            data = worker.sock.recv(1 << 20)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._replace(worker, None)
            return
        inbox = worker.inbox
        inbox += data
        while len(inbox) >= HEADER:
            end = HEADER + int.from_bytes(inbox[:HEADER], "big")
            if len(inbox) < end:
                break
            record = pickle.loads(inbox[HEADER:end])
            del inbox[:end]
            if record is None:
                worker.ready = True
                self._failed_starts = 0
            else:
                self._finish(worker, record)
        self._dispatch()

    def _finish(self, worker: _Worker, record: Record) -> None:
        job = worker.jobs.popleft()
        if worker.timer is not None:
            worker.timer.cancel()
            worker.timer = None
        if worker.jobs:
            self._arm(worker)
        if not job.future.done():
            job.future.set_result(record)

    def _arm(self, worker: _Worker) -> None:
        # The bound counts from when the loop saw the worker start the page: when it
        # was sent to an idle worker, or when the page before it came back.
        worker.timer = self._loop.call_later(worker.jobs[0].timeout, self._expire, worker)

    def _expire(self, worker: _Worker) -> None:
        worker.timer = None
        job = worker.jobs[0]
        self._replace(
            worker, reject_page(job.page, "timeout", f"cleaning took longer than {job.timeout:g}s")
        )

    def _replace(self, worker: _Worker, reject: Record | None) -> None:
        """Kill a worker that ran past the bound or died, and start another.

        The page it was cleaning becomes `reject`, or a `worker_crash` reject when it
        died on its own; the page it held next was not started, so another worker gets
        it. A worker that died before it was ready started none of its pages.
        """
        self._unwatch(worker)
        if reject is None:
            worker.process.join(1)  # it ended on its own: let its exit code say how
        worker.process.kill()
        worker.process.join(1)
        worker.sock.close()
        died = f"(exit code {worker.process.exitcode})"
        if not worker.ready and reject is None:
            self._failed_starts += 1
            if self._failed_starts >= FAILED_STARTS:
                self.broken = (
                    f"{self._failed_starts} cleaning workers in a row died as they started {died}"
                )
        elif worker.jobs:
            job = worker.jobs.popleft()
            if reject is None:
                reject = reject_page(job.page, "worker_crash", f"the cleaning worker died {died}")
            if not job.future.done():
                job.future.set_result(reject)
        self._waiting.extendleft(reversed(worker.jobs))
        worker.jobs.clear()
        if self.broken:
            self._workers.remove(worker)
        else:
            self._workers[self._workers.index(worker)] = self._start_worker()
        self._dispatch()
