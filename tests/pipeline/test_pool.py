"""The cleaning workers: records as `clean` gives them, and every failure as one reject."""

from __future__ import annotations

import asyncio
import os
import signal

import psutil
import pytest

from pipeline.clean import DEFAULT_CONFIG, CleanConfig, clean
from pipeline.page import Page
from pipeline.pool import CleaningPool
from pipeline.record import Article, Reject
from tests.hostile.pages import page_html

URL = "http://news.example/2026/11/03/story/"
PARAGRAPH = "<p>" + "The council met on Tuesday to discuss the budget for schools. " * 20 + "</p>"


def fetched(body: str, url: str = URL) -> Page:
    return Page(url=url, body=body.encode(), headers={"content-type": "text/html; charset=utf-8"})


#: Takes seconds to clean: well over the short bounds below.
SLOW = fetched(f"<html><body><article>{PARAGRAPH * 6000}</article></body></html>")
QUICK = fetched(page_html("en"))


@pytest.fixture
def pool_of():
    """CleaningPool(workers), closed after the test."""
    pools: list[CleaningPool] = []

    def make(workers: int) -> CleaningPool:
        pools.append(CleaningPool(workers))
        return pools[-1]

    yield make
    for pool in pools:
        pool.close(timeout=5)


def test_pages_come_back_as_clean_gives_them(pool_of) -> None:
    pages = [
        fetched(page_html(lang), url=f"{URL}{i}/")
        for i, lang in enumerate(["en", "fr", "de", "es", "ru", "ja", "zh", "ar", "fa"])
    ]
    pages.append(fetched("<html><body><p>Too short.</p></body></html>"))
    # Over a socket buffer, so it is sent to a busy worker in parts as the worker reads.
    pages.append(
        fetched(page_html("en").replace("</body>", "<!--" + "x" * 3_000_000 + "--></body>"))
    )
    pool = pool_of(2)

    async def run():
        return await asyncio.gather(*(pool.clean(page, DEFAULT_CONFIG, 60) for page in pages))

    records = asyncio.run(run())
    assert records == [clean(page) for page in pages]
    assert sum(isinstance(record, Article) for record in records) == 10


def test_a_page_over_the_bound_is_a_timeout_and_the_worker_is_replaced(pool_of) -> None:
    pool = pool_of(1)

    async def run():
        over = await pool.clean(SLOW, DEFAULT_CONFIG, 0.2)
        before = pool.pids
        after = await pool.clean(QUICK, DEFAULT_CONFIG, 60)
        return over, before, after

    old = pool.pids
    over, before, after = asyncio.run(run())
    assert isinstance(over, Reject)
    assert (over.reason, over.detail, over.url) == (
        "timeout",
        "cleaning took longer than 0.2s",
        URL,
    )
    assert before != old
    assert after == clean(QUICK)


def test_the_page_held_behind_a_timed_out_one_goes_to_the_new_worker(pool_of) -> None:
    pool = pool_of(1)

    async def run():
        return await asyncio.gather(
            pool.clean(SLOW, DEFAULT_CONFIG, 0.2), pool.clean(QUICK, DEFAULT_CONFIG, 60)
        )

    over, after = asyncio.run(run())
    assert over.reason == "timeout"
    assert after == clean(QUICK)


def test_a_worker_killed_mid_page_is_a_worker_crash_and_is_replaced(pool_of) -> None:
    pool = pool_of(1)

    async def run():
        cleaning = asyncio.ensure_future(pool.clean(SLOW, DEFAULT_CONFIG, 60))
        await asyncio.sleep(0.3)
        os.kill(pool.pids[0], signal.SIGKILL)
        crashed = await cleaning
        return crashed, await pool.clean(QUICK, DEFAULT_CONFIG, 60)

    crashed, after = asyncio.run(run())
    assert isinstance(crashed, Reject)
    assert (crashed.reason, crashed.detail) == (
        "worker_crash",
        "the cleaning worker died (exit code -9)",
    )
    assert after == clean(QUICK)


def test_a_step_that_raises_is_a_clean_error_and_the_worker_goes_on(pool_of) -> None:
    pool = pool_of(1)
    broken = CleanConfig(language_backend="nope")

    async def run():
        return await pool.clean(QUICK, broken, 60), await pool.clean(QUICK, DEFAULT_CONFIG, 60)

    old = pool.pids
    failed, after = asyncio.run(run())
    assert isinstance(failed, Reject)
    assert failed.reason == "clean_error"
    assert failed.detail.startswith("ValueError: unknown language backend 'nope'")
    assert after == clean(QUICK)
    assert pool.pids == old


def test_close_stops_the_workers() -> None:
    pool = CleaningPool(2)

    async def run():
        return await pool.clean(QUICK, DEFAULT_CONFIG, 60)

    asyncio.run(run())
    workers = [psutil.Process(pid) for pid in pool.pids]
    pool.close(timeout=5)
    gone, alive = psutil.wait_procs(workers, timeout=5)
    assert (len(gone), alive, pool.pids) == (2, [], [])


def _die_as_it_starts(sock) -> None:
    raise SystemExit(3)


def test_workers_that_cannot_start_make_every_page_a_worker_crash() -> None:
    pool = CleaningPool(1, serve=_die_as_it_starts)

    async def run():
        return await asyncio.gather(*(pool.clean(QUICK, DEFAULT_CONFIG, 60) for _ in range(3)))

    records = asyncio.run(run())
    detail = "3 cleaning workers in a row died as they started (exit code 3)"
    assert [(r.reason, r.detail) for r in records] == [("worker_crash", detail)] * 3
    assert pool.broken == detail
    pool.close(timeout=5)
