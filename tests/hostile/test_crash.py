"""Crash safety: a crawl killed with SIGKILL at random points, then resumed with its JOBDIR.

The crawl is killed four times, each time a random moment after one or two more files
appeared (a fixed seed), then run to the end with the same JOBDIR.
After every kill no visible file is partial, and after the resume every page listed is
exactly one row.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

from tests.conftest import ROOT
from tests.hostile.conftest import hostile_site, sitemap_of, table
from tests.sites import article_html, stories_from_trailer_pages
from warehouse.layout import TMP_PREFIX

KILLS = 4
SHORT_PAGES = 80


def slow(body: bytes, delay: float = 0.08):
    """A route that answers after `delay` seconds, so a kill lands mid-crawl."""

    def route(h) -> None:
        time.sleep(delay)
        h.send_bytes(200, body, "text/html; charset=utf-8")

    return route


def crash_site():
    routes = {}
    for story in stories_from_trailer_pages():
        html = article_html(story).replace("{{BASE}}", "http://news.example")
        routes[f"/{story.slug}/"] = slow(html.encode())
    for i in range(SHORT_PAGES):
        routes[f"/notes/{i}/"] = slow(
            f"<html><body><p>Note {i}: see page {i * 7}.</p></body></html>".encode()
        )
    articles = list(routes)
    return hostile_site("crash", {**routes, "/sitemap.xml": sitemap_of(articles)}), articles


def start(site, warehouse: Path, jobdir: Path, **env_extra: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "WINNOW_LOG_LEVEL": "WARNING",
        "WINNOW_START_DELAY": "0.01",
        "WINNOW_PER_DOMAIN": "2",
        "WINNOW_FLUSH_ROWS": "3",
        "WINNOW_FLUSH_SECONDS": "0.5",
        **env_extra,
    }
    args = ["crawl", "--url", site.url("/sitemap.xml"), "--allow-private"]
    args += ["--warehouse", str(warehouse), "--jobdir", str(jobdir)]
    return subprocess.Popen(
        [sys.executable, "-m", "winnow.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the kill takes the pool workers too
    )


def visible(warehouse: Path) -> int:
    return sum(1 for p in warehouse.rglob("*.parquet") if not p.name.startswith("."))


def assert_no_partial_visible_file(warehouse: Path) -> int:
    visible = [p for p in warehouse.rglob("*.parquet") if not p.name.startswith(".")]
    for path in visible:
        pq.read_table(path)  # a partial file has no footer and fails here
    assert not [p for p in visible if TMP_PREFIX in p.name]
    return len(visible)


def test_sigkill_at_random_points_then_resume_leaves_one_row_per_page(
    site_factory, warehouse: Path, tmp_path: Path
) -> None:
    rng = random.Random(9)
    jobdir = tmp_path / "job"
    site, articles = crash_site()
    seen_files, killed = [], 0
    with site_factory(site):
        for _ in range(KILLS):
            # Notes become rejects, written as they come (articles wait for the run's
            # duplicate check): kill once one or two more files are visible, and a bit later.
            target = visible(warehouse) + rng.randint(1, 2)
            proc = start(site, warehouse, jobdir)
            while proc.poll() is None and visible(warehouse) < target:
                time.sleep(0.01)
            time.sleep(rng.uniform(0, 0.6))
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                killed += 1
            proc.communicate(timeout=60)
            seen_files.append(assert_no_partial_visible_file(warehouse))
        proc = start(site, warehouse, jobdir)
        _out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err[-3000:]
    assert_no_partial_visible_file(warehouse)
    rows = table(
        warehouse,
        "select regexp_replace(url, '^http://[^/]+', '') p, count(*) n from "
        "(select url from articles union all select url from rejects) group by p",
    )
    assert {p: n for p, n in rows if n > 1} == {}, "duplicated rows after resume"
    assert sorted(p for p, _ in rows) == sorted(articles)
    assert killed == KILLS  # every kill landed mid-crawl...
    assert seen_files == sorted(seen_files) and seen_files[0] > 0  # ...after files were written


#: Articles stay held for the duplicate check until the crawl ends or is stopped.
HOLD_ALL = {"WINNOW_DUPLICATE_HOLD_SECONDS": "600"}


def interrupt(proc: subprocess.Popen, warehouse: Path, times: int) -> tuple[str, str]:
    """Ctrl-C at a terminal (`times` times): SIGINT to the crawl's process group."""
    while proc.poll() is None and visible(warehouse) < 2:  # some rejects written
        time.sleep(0.01)
    time.sleep(0.5)  # and some articles held
    for _ in range(times):
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.3)
    return proc.communicate(timeout=120)


def test_ctrl_c_writes_the_held_articles_and_counts_them_in_the_run_row(
    site_factory, warehouse: Path, tmp_path: Path
) -> None:
    site, articles = crash_site()
    with site_factory(site):
        proc = start(site, warehouse, tmp_path / "job", **HOLD_ALL)
        _out, err = interrupt(proc, warehouse, 1)
    assert proc.returncode == 1, err[-3000:]
    ((status, pages, kept, rejected),) = table(
        warehouse, "select status, pages_fetched, articles, rejects from runs"
    )
    written = table(warehouse, "select count(*) from articles")[0][0]
    assert written > 0 and status == "interrupted"
    assert (kept, rejected) == (written, table(warehouse, "select count(*) from rejects")[0][0])
    assert pages == kept + rejected < len(articles)
    assert "not in the run's counters" not in err


def test_a_second_ctrl_c_stops_at_once_and_says_what_was_not_written(
    site_factory, warehouse: Path, tmp_path: Path
) -> None:
    site, _ = crash_site()
    with site_factory(site):
        proc = start(site, warehouse, tmp_path / "job", **HOLD_ALL)
        out, err = interrupt(proc, warehouse, 2)
    assert proc.returncode == 1, err[-3000:]
    assert "stopped at once" in err and "no `runs` row" in err
    assert "nanobind" not in err and "pages fetched" not in out


def test_a_resumed_crawl_reports_the_run_it_resumed(
    site_factory, warehouse: Path, tmp_path: Path
) -> None:
    site, _ = crash_site()
    jobdir = tmp_path / "job"
    with site_factory(site):
        proc = start(site, warehouse, jobdir)
        while proc.poll() is None and visible(warehouse) < 2:
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
        proc = start(site, warehouse, jobdir)
        out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err[-3000:]
    (run_id,) = {r for (r,) in table(warehouse, "select run_id from rejects")}
    assert f"(run {run_id})" in out
