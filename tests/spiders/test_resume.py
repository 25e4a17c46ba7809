"""A crawl killed with SIGKILL and started again with the same JOBDIR: every page exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT
from tests.sites import many_stories, write_site
from warehouse.query import connect
from winnow.demo.server import Site

PAGES = 120


def crawl_process(site: Site, warehouse: Path, jobdir: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "WINNOW_FLUSH_SECONDS": "0.5",
        "WINNOW_LOG_LEVEL": "WARNING",
        "WINNOW_PER_DOMAIN": "4",
    }
    args = [
        "crawl",
        "--url",
        site.url("/sitemap.xml"),
        "--warehouse",
        str(warehouse),
        "--allow-private",
        "--jobdir",
        str(jobdir),
    ]
    return subprocess.Popen(
        [sys.executable, "-m", "winnow.cli", *args],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def written(warehouse: Path) -> int:
    con = connect(warehouse)
    return con.execute(
        "select (select count(*) from articles) + (select count(*) from rejects)"
    ).fetchone()[0]


def test_kill_and_resume_writes_every_page_exactly_once(
    tmp_path: Path, site_factory, warehouse: Path
) -> None:
    root = write_site(tmp_path / "site", many_stories(PAGES))
    jobdir = tmp_path / "job"
    with site_factory(Site("news", root, delay=0.15)) as sites:
        site = sites["news"]
        proc = crawl_process(site, warehouse, jobdir)
        deadline = time.monotonic() + 120
        while written(warehouse) < PAGES // 10 and time.monotonic() < deadline:
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        partial = written(warehouse)
        assert 0 < partial < PAGES, "the kill should land mid-crawl"

        resumed = crawl_process(site, warehouse, jobdir)
        _, err = resumed.communicate(timeout=180)
        assert resumed.returncode == 0, err.decode()[-3000:]

    con = connect(warehouse)
    urls = [
        r[0]
        for r in con.execute(
            "select url from articles union all select url from rejects"
        ).fetchall()
    ]
    assert len(urls) == len(set(urls)) == PAGES
    assert con.execute("select count(*) from articles").fetchone()[0] == PAGES
    # one run id across the kill: the resumed process recorded the run
    assert con.execute("select count(distinct run_id) from articles").fetchone()[0] == 1
    assert not list(warehouse.rglob(".tmp-*"))
