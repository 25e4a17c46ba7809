"""The run's outcome as its `runs` row states it (pipeline.item_pipelines.run_outcome)."""

from __future__ import annotations

from collections import Counter

import pytest

from pipeline.item_pipelines import run_outcome


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
