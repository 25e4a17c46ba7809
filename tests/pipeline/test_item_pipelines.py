"""The item pipelines in a crawl: the run's outcome as its `runs` row states it
(pipeline.item_pipelines.run_outcome), and when the duplicate hold is decided."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from pipeline.duplicates import INDEX_DIR
from pipeline.item_pipelines import run_outcome
from tests.conftest import winnow_cmd
from tests.sites import many_stories, write_site
from warehouse.query import connect
from winnow.demo.server import Site


def counters(pages: int, errors: int) -> Counter:
    return Counter(pages=pages, errors=errors)


def test_a_run_whose_entry_points_failed_says_how_many_and_what_the_downloader_met() -> None:
    stats = {
        "winnow/entry_errors": 1,
        "log_count/ERROR": 3,
        "downloader/exception_type_count/twisted.internet.error.ConnectionRefusedError": 6,
    }
    status, detail = run_outcome("finished", counters(0, 4), stats)
    assert status == "failed"
    assert detail == (
        "no page fetched; 1 entry point(s) failed (ConnectionRefusedError x6, retries included)"
    )


def test_errors_logged_without_a_failed_entry_point_are_counted_as_errors() -> None:
    status, detail = run_outcome("finished", counters(0, 2), {"log_count/ERROR": 2})
    assert (status, detail) == ("failed", "no page fetched; 2 error(s)")


@pytest.mark.parametrize(
    ("reason", "pages", "errors", "status"),
    [
        ("finished", 5, 2, "ok"),  # pages failed, but the feeds answered
        ("finished", 0, 0, "ok"),  # an incremental run with nothing new
        ("shutdown", 0, 3, "interrupted"),
        ("closespider_pagecount", 10, 0, "ok"),
    ],
)
def test_status(reason: str, pages: int, errors: int, status: str) -> None:
    assert run_outcome(reason, counters(pages, errors), {})[0] == status


def test_workers_that_could_not_clean_fail_the_run_with_their_message() -> None:
    stats = {"winnow/cleaning_error": "the cleaning workers cannot start: ImportError: x"}
    assert run_outcome("cleaning_error", counters(3, 0), stats) == (
        "failed",
        "the cleaning workers cannot start: ImportError: x",
    )


@pytest.mark.parametrize(("hold", "windows"), [(400, 2), (1000, 1)])
def test_a_big_hold_is_decided_while_the_last_pages_are_cleaned(
    tmp_path: Path, site_factory, warehouse: Path, hold: int, windows: int
) -> None:
    """200 pages of news-page weight (~40 KB, ~10 ms of cleaning each). With a hold of
    400, once nothing is left to fetch and 100 articles (a quarter) are held, those are
    decided while the last pages are still cleaned (at least half a second of them),
    and the rest at the end: two windows, two index segments. With the default hold
    (1,000: a quarter is 250) the crawl is one window."""
    root = write_site(tmp_path / "site", many_stories(200), chrome=150)
    with site_factory(Site("news", root)) as sites:
        sources = tmp_path / "sources.toml"
        sitemap = sites["news"].url("/sitemap.xml")
        sources.write_text(f'[[source]]\nname = "news"\nsitemaps = ["{sitemap}"]\n')
        winnow_cmd(
            "crawl", "--sources-file", str(sources), "--warehouse", str(warehouse),
            "--allow-private",
            env={"WINNOW_START_DELAY": "0.01", "WINNOW_DUPLICATE_HOLD": str(hold)},
        )  # fmt: skip
    assert len(list((warehouse / INDEX_DIR).glob("*.parquet"))) == windows
    con = connect(warehouse)
    assert con.execute("select count(*), count(distinct url) from articles").fetchone() == (
        200,
        200,
    )
    assert con.execute("select articles, rejects from runs").fetchone() == (200, 0)


#: Runs each time DuplicatePipeline releases its hold, in a real crawl (`crawl_script`).
RELEASE_PROBE = """
if __name__ == '__main__':
    from scrapy.utils.defer import deferred_from_coro
    from pipeline.item_pipelines import DuplicatePipeline
    release, seen = DuplicatePipeline._release, []
    def probe(self):
        release(self)
        engine = self.crawler.engine
        seen.append(engine.spider_is_idle())
        if {close}:
            deferred_from_coro(engine.close_spider_async(reason="shutdown"))
    DuplicatePipeline._release = probe
    stats = crawl()
    print('idle after release', seen)
    print('written', stats['winnow/articles'] + stats['winnow/rejects'], stats['winnow/run_status'])
"""


def test_released_articles_keep_the_crawl_open_until_they_are_written(crawl_script) -> None:
    """The released articles are sent as tasks that start on the loop's next turn: had
    the engine looked for idle before then, it saw none and closed the crawl under them,
    which then waited for them forever (a CI run hung so)."""
    proc = crawl_script("probe.py", RELEASE_PROBE.format(close=False))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "idle after release [False]" in proc.stdout, proc.stdout
    assert "written 1 ok" in proc.stdout, proc.stdout


def test_a_crawl_closed_while_released_articles_are_in_flight_writes_them_and_ends(
    crawl_script,
) -> None:
    proc = crawl_script("close.py", RELEASE_PROBE.format(close=True), timeout=90)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "written 1 " in proc.stdout, proc.stdout
