"""The cleaning pool: pages that wait go to a worker together; a failure costs only its page.

Each test holds its worker busy with two pages first (one worker, two tasks in the
pool), so the pages after them wait and go together in one task.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator

import pytest

import pipeline.pool
from pipeline.clean import clean
from pipeline.config import CleanConfig
from pipeline.page import Page
from pipeline.pool import MAX_BATCH, PIPE_BYTES, CleaningPool, clean_pages
from pipeline.record import Article, Record, Reject
from tests.conftest import BROKEN_IMPORT, ROOT, fake_trafilatura
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


def news_pages(n: int, chrome: int = 0) -> list[Page]:
    """`n` article pages; `chrome` sidebar links each make them weigh what news pages do."""
    return [
        Page(
            url=f"http://news.example/{story.slug}/",
            body=article_html(story, chrome=chrome)
            .replace("{{BASE}}", "http://news.example")
            .encode(),
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
    pool.wait_started()
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
    # the workers' CPU for these pages, timed where they were cleaned (~10 ms a page)
    assert 30 * 0.001 < pool.clean_cpu < 30 * 0.5


def test_only_the_page_over_the_bound_times_out(one_worker: CleaningPool) -> None:
    first, second, before, after = news_pages(4)
    slow = Page(url="http://news.example/slow/", body=SLOW_BODY, headers=before.headers)
    jobs = [(first, OK), (second, OK), (before, OK), (slow, OK), (after, OK)]
    records = clean_all(one_worker, jobs)
    assert [outcome(r)[0] for r in records] == ["article"] * 3 + ["timeout", "article"]
    assert records[3].detail == f"cleaning took longer than {BOUND:g}s"
    assert [outcome(r) for r in records[2::2]] == [outcome(clean(before)), outcome(clean(after))]
    # the three that waited went as two and one; the task of two ran past the bound,
    # and each of its pages then went alone
    assert one_worker.tasks == 2 + 2 + 2


def test_a_worker_that_dies_costs_only_the_page_that_killed_it() -> None:
    first, second, before, crash, after = news_pages(5)
    crash = Page(url="http://news.example/crash/", body=crash.body, headers=crash.headers)
    pool = CleaningPool(workers=1, timeout=60, task=exit_on_crash_url)
    pool.wait_started()
    try:
        records = clean_all(pool, [(p, OK) for p in (first, second, before, crash, after)])
    finally:
        pool.close()
    assert [outcome(r)[0] for r in records] == ["article"] * 3 + ["worker_crash", "article"]
    assert "the cleaning worker died" in records[3].detail
    assert pool.tasks == 2 + 2 + 2  # as above: the task of two, with the crash, went again


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
    assert one_worker.tasks == 2 + 2  # no task failed as a whole: nothing went again


#: Run in a process of its own: the forkserver, and so the workers' imports, is per process.
CLEAN_FIVE = """
import asyncio, json, sys
import pipeline.pool
from pipeline.config import CleanConfig
from pipeline.page import Page
from pipeline.pool import CleaningPool
from tests.sites import article_html, many_stories

async def main():
    if len(sys.argv) > 1:
        pipeline.pool.START_SECONDS = float(sys.argv[1])
    pool = CleaningPool(workers=1, timeout=60)
    pages = [
        Page(url=f"http://news.example/{s.slug}/", body=article_html(s).encode(), headers={})
        for s in many_stories(5)
    ]
    records = await asyncio.gather(*(pool.clean(page, CleanConfig()) for page in pages))
    pool.close()
    print(json.dumps({"failure": pool.failure, "records": [[r.reason, r.detail] for r in records]}))

if __name__ == "__main__":
    asyncio.run(main())
"""


def clean_five(install: str, *args: str) -> dict:
    """Clean five pages in a fresh process whose imports come from `install` first."""
    done = subprocess.run(
        [sys.executable, "-c", CLEAN_FIVE, *args],
        env={**os.environ, "PYTHONPATH": os.pathsep.join([install, str(ROOT)])},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_workers_that_cannot_load_the_cleaning_code_reject_every_page_with_why(
    broken_install: str,
) -> None:
    result = clean_five(broken_install)
    assert result["failure"] == f"the cleaning workers cannot start: ImportError: {BROKEN_IMPORT}"
    assert len(result["records"]) == 5
    for reason, detail in result["records"]:
        assert reason == "clean_error" and detail.endswith(f"ImportError: {BROKEN_IMPORT}")


def test_a_pool_that_stops_working_answers_every_page_it_held() -> None:
    pool = CleaningPool(workers=1, timeout=60)
    slow = Page(url="http://news.example/slow/", body=SLOW_BODY, headers={})
    pages = [slow, *news_pages(4)]

    async def run() -> list[Record]:
        # pebble's own threads end, as when they die: what was sent never comes back
        asyncio.get_running_loop().call_later(0.2, pool._pool.stop)
        return await asyncio.gather(*(pool.clean(page, OK) for page in pages))

    try:
        records = asyncio.run(run())
        later = clean_all(pool, [(news_pages(1)[0], OK)])
    finally:
        pool.close()
    assert pool.failure == "the cleaning pool stopped working"
    assert [outcome(r) for r in records + later] == [
        ("clean_error", page.url, "the cleaning pool stopped working") for page in pages
    ] + [("clean_error", news_pages(1)[0].url, "the cleaning pool stopped working")]


def test_a_page_sent_to_a_pool_that_no_longer_works_is_a_reject_at_once() -> None:
    pool = CleaningPool(workers=1, timeout=60)
    pool.wait_started()
    pool._pool.stop()
    try:
        [record] = clean_all(pool, [(news_pages(1)[0], OK)])
    finally:
        pool.close()
    assert outcome(record) == (
        "clean_error",
        news_pages(1)[0].url,
        "the cleaning pool broke: The Pool is not active",
    )


def test_workers_that_never_start_reject_every_page_after_the_start_bound(tmp_path) -> None:
    # An import that blocks: the forkserver never gets to fork the workers.
    result = clean_five(fake_trafilatura(tmp_path, "import time\ntime.sleep(3)\n"), "1")
    assert result["failure"] == "the cleaning workers did not start within 1s"
    assert result["records"] == [["clean_error", result["failure"]]] * 5


def test_a_pool_that_stops_while_its_workers_start_rejects_the_pages_that_wait() -> None:
    pool = CleaningPool(workers=1, timeout=60)
    pool._pool.stop()  # pebble's threads end before (or while) it forks the workers
    pages = news_pages(3)
    try:
        records = clean_all(pool, [(page, OK) for page in pages])
    finally:
        pool.close()
    assert pool.failure.startswith("the cleaning workers cannot start: RuntimeError: ")
    assert [outcome(r) for r in records] == [
        ("clean_error", page.url, pool.failure) for page in pages
    ]


def test_tasks_get_smaller_as_the_waiting_pages_run_out(one_worker: CleaningPool) -> None:
    """At a crawl's end no worker should be left with a full task while the other idles."""
    sizes = []
    schedule = one_worker._pool.schedule

    def spy(function, args=(), **kwargs):
        sizes.append(len(args[0]))
        return schedule(function, args=args, **kwargs)

    one_worker._pool.schedule = spy
    pages = news_pages(14)
    records = clean_all(one_worker, [(page, OK) for page in pages])
    assert [outcome(r) for r in records] == [outcome(clean(page)) for page in pages]
    # two pages take the worker's two slots; then each freed slot takes its share of
    # what waits over both slots (all twelve at once, before)
    assert sizes == [1, 1, 6, 3, 2, 1]


def test_the_next_task_waits_whole_in_the_pipe(one_worker: CleaningPool) -> None:
    """A task of news pages is bigger than a default pipe; the worker should not read it
    piecemeal, waiting on the crawler's threads for each piece."""
    channel = one_worker._pool._pool_manager.worker_manager.pool_channel
    for end in (channel.writer, channel.reader):
        assert fcntl.fcntl(end.fileno(), fcntl.F_GETPIPE_SZ) >= PIPE_BYTES
    task = pickle.dumps([(page, OK) for page in news_pages(MAX_BATCH, chrome=150)])
    assert len(task) > 64 * 1024  # what the pipe held before


def test_a_pool_whose_pipes_cannot_widen_still_cleans(monkeypatch) -> None:
    def refuse(*args):
        raise PermissionError("pipe-max-size")

    monkeypatch.setattr(pipeline.pool.fcntl, "fcntl", refuse)
    pool = CleaningPool(workers=1, timeout=BOUND)
    try:
        pages = news_pages(3)
        records = clean_all(pool, [(page, OK) for page in pages])
    finally:
        pool.close()
    assert [outcome(r) for r in records] == [outcome(clean(page)) for page in pages]


def test_workers_are_forked_with_pebble_and_the_cleaning_code_loaded(tmp_path) -> None:
    """Each worker would otherwise import them itself, on the way to its first page."""
    found = tmp_path / "modules"
    wanted = ["pebble.pool.process", "pipeline.worker"]
    code = (
        f"import sys; open({str(found)!r}, 'w').write(repr([m in sys.modules for m in {wanted!r}]))"
    )
    # A bare process from the workers' forkserver, running a builtin: nothing it
    # unpickles imports anything.
    process = pipeline.pool._forkserver_context().Process(target=exec, args=(code,))
    process.start()
    process.join(60)
    assert found.read_text() == "[True, True]"
