"""`winnow schedule --scrapyd URL` against a real scrapyd with winnow deployed by scrapyd-deploy."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import winnow_cmd
from tests.schedule.servers import free_port
from tests.schedule.test_scheduler import CRAWL_ENV, write_sources
from tests.sites import stories_from_trailer_pages, write_site
from winnow.demo.server import Site
from winnow.history import find_run, load_history
from winnow.schedule import Scheduler, ScrapydRunner
from winnow.scrapyd import Scrapyd, ScrapydError


def test_scheduled_runs_go_to_scrapyd_and_land_in_the_warehouse(
    tmp_path: Path, warehouse: Path, scrapyd, site_factory
) -> None:
    url, workdir = scrapyd
    site = Site("alpha", write_site(tmp_path / "alpha", stories_from_trailer_pages(["en", "fr"])))
    with site_factory(site):
        sources = write_sources(
            tmp_path / "sources.toml",
            alpha={"feeds": [site.url("/feed.xml")], "interval": "1h"},
            gone={"feeds": [f"http://127.0.0.1:{free_port()}/feed.xml"], "interval": "1h"},
        )
        args = ("schedule", "--once", "--scrapyd", url, "--warehouse", str(warehouse))
        args += ("--sources-file", str(sources), "--allow-private")
        proc = winnow_cmd(*args, env=CRAWL_ENV, check=False, timeout=120)
    assert proc.returncode == 1, proc.stderr  # gone failed

    history = load_history(warehouse)
    (alpha,) = history["alpha"]
    assert (alpha.status, alpha.runner, alpha.articles) == ("ok", "scrapyd", 2)
    assert {site.hits[p] for p in ("/2026/11/03/story-en/", "/2026/11/03/story-fr/")} == {1}
    (gone,) = history["gone"]
    assert gone.failed and gone.runner == "scrapyd" and "refused" in gone.detail.lower()

    jobs = Scrapyd(url).jobs("winnow")  # scrapyd ran them: job id = run id, logs kept
    assert {jobs[r.run_id].state for r in (alpha, gone)} == {"finished"}
    assert (workdir / "logs" / "winnow" / "news" / f"{alpha.run_id}.log").exists()


def test_a_scrapyd_job_that_dies_before_its_row_is_recorded_failed_from_its_log(
    tmp_path: Path, warehouse: Path, scrapyd
) -> None:
    url, _ = scrapyd
    mine = write_sources(tmp_path / "mine.toml", ghost={"feeds": ["http://news.example/feed"]})
    theirs = write_sources(tmp_path / "theirs.toml", other={"feeds": ["http://news.example/f"]})
    # The node reads a sources file without `ghost`: its crawl dies before it opens.
    runner = ScrapydRunner(Scrapyd(url), str(warehouse), sources_file=theirs)
    scheduler = Scheduler(str(warehouse), runner, sources_file=mine, poll=0.2)
    assert scheduler.run(once=True) == 1
    (row,) = load_history(warehouse)["ghost"]
    assert row.failed and row.runner == "scrapyd"
    assert "finished" in row.detail and "unknown source(s): ghost" in row.detail
    assert find_run(warehouse, row.run_id) == [row]


def test_scrapyd_errors_are_clear(scrapyd) -> None:
    url, _ = scrapyd
    with pytest.raises(ScrapydError, match="project 'nope' not found"):
        Scrapyd(url).schedule("nope", "news", jobid="x")
    with pytest.raises(ScrapydError, match="unreachable"):
        Scrapyd(f"http://127.0.0.1:{free_port()}", timeout=2).jobs("winnow")
    with pytest.raises(ScrapydError, match="not a scrapyd URL"):
        Scrapyd("ftp://example.com")
