"""The cleaning pool: pages that wait go to a worker together; a failure costs only its page.

Each test holds its worker busy with two pages first (one worker, two tasks in the
pool), so the pages after them wait and go together in one task.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest

from pipeline.clean import clean
from pipeline.config import CleanConfig
from pipeline.page import Page
from pipeline.pool import CleaningPool, clean_pages
from pipeline.record import Article, Record, Reject
from tests.sites import article_html, many_stories

OK = CleanConfig()
#: About 0.8 s of cleaning: far over the bound below, while a news page takes ~10 ms.
SLOW_BODY = (
    "<html><body><article>"
    + ("<p>" + "The council met on Tuesday to discuss the budget for schools. " * 20 + "</p>")
    * 6000
    + "</article></body></html>"
).encode()
BOUND = 0.4


def news_pages(n: int) -> list[Page]:
    return [
        Page(
            url=f"http://news.example/{story.slug}/",
            body=article_html(story).replace("{{BASE}}", "http://news.example").encode(),
            headers={"content-type": "text/html; charset=utf-8"},
        )
        for story in many_stories(n)
    ]


def exit_on_crash_url(pages: list[tuple[Page, CleanConfig]]) -> list:
    """(In a worker) clean_pages, except that a page whose URL says so kills the worker."""
    if any("crash" in page.url for page, _ in pages):
        os._exit(3)
    return clean_pages(pages)


@pytest.fixture
def one_worker() -> Iterator[CleaningPool]:
    pool = CleaningPool(workers=1, timeout=BOUND)
    yield pool
    pool.close()


def clean_all(pool: CleaningPool, jobs: list[tuple[Page, CleanConfig]]) -> list[Record]:
    async def run() -> list[Record]:
        return await asyncio.gather(*(pool.clean(page, config) for page, config in jobs))

    return asyncio.run(run())


def outcome(record: Record) -> tuple:
    if isinstance(record, Article):
        return ("article", record.url, record.text)
    return (record.reason, record.url, record.detail)


def test_pages_that_wait_go_together_and_come_back_as_clean_makes_them() -> None:
    pages = news_pages(30)
    pool = CleaningPool(workers=2, timeout=60)
    try:
        records = clean_all(pool, [(page, OK) for page in pages])
    finally:
        pool.close()
    assert [outcome(r) for r in records] == [outcome(clean(page)) for page in pages]
    assert all(isinstance(r, Article) for r in records)
    # four pages go one a task while the pool fills, then up to MAX_BATCH a task
    assert pool.tasks <= 4 + 26 // 2


def test_only_the_page_over_the_bound_times_out(one_worker: CleaningPool) -> None:
    first, second, before, after = news_pages(4)
    slow = Page(url="http://news.example/slow/", body=SLOW_BODY, headers=before.headers)
    jobs = [(first, OK), (second, OK), (before, OK), (slow, OK), (after, OK)]
    records = clean_all(one_worker, jobs)
    assert [outcome(r)[0] for r in records] == ["article"] * 3 + ["timeout", "article"]
    assert records[3].detail == f"cleaning took longer than {BOUND:g}s"
    assert [outcome(r) for r in records[2::2]] == [outcome(clean(before)), outcome(clean(after))]
    # the task of three ran past the bound; each of its pages then went alone
    assert one_worker.tasks == 2 + 1 + 3


def test_a_worker_that_dies_costs_only_the_page_that_killed_it() -> None:
    first, second, before, crash, after = news_pages(5)
    crash = Page(url="http://news.example/crash/", body=crash.body, headers=crash.headers)
    pool = CleaningPool(workers=1, timeout=60, task=exit_on_crash_url)
    try:
        records = clean_all(pool, [(p, OK) for p in (first, second, before, crash, after)])
    finally:
        pool.close()
    assert [outcome(r)[0] for r in records] == ["article"] * 3 + ["worker_crash", "article"]
    assert "the cleaning worker died" in records[3].detail
    assert pool.tasks == 2 + 1 + 3


def test_a_step_that_raises_is_a_clean_error_for_that_page_only(
    one_worker: CleaningPool,
) -> None:
    first, second, before, broken, after = news_pages(5)
    unknown_backend = CleanConfig(language_backend="no-such-backend")
    jobs = [(first, OK), (second, OK), (before, OK), (broken, unknown_backend), (after, OK)]
    records = clean_all(one_worker, jobs)
    assert [outcome(r)[0] for r in records] == ["article"] * 3 + ["clean_error", "article"]
    assert isinstance(records[3], Reject)
    assert records[3].detail.startswith("ValueError: unknown language backend 'no-such-backend'")
    assert one_worker.tasks == 2 + 1  # no task failed as a whole: nothing went again
