"""Crawl progress: a live line on a terminal, log lines otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, winnow_cmd
from tests.sites import many_stories, write_site
from winnow.demo.server import Site


def test_live_line_on_a_terminal(tmp_path: Path, site_factory, warehouse: Path) -> None:
    root = write_site(tmp_path / "site", many_stories(30))
    with site_factory(Site("news", root, delay=0.1)) as sites:
        primary, secondary = os.openpty()
        args = [
            "crawl",
            "--url",
            sites["news"].url("/sitemap.xml"),
            "--warehouse",
            str(warehouse),
            "--allow-private",
        ]
        env = {**os.environ, "WINNOW_LOG_LEVEL": "WARNING", "WINNOW_PER_DOMAIN": "2"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "winnow.cli", *args],
            cwd=ROOT,
            env=env,
            stdout=secondary,
            stderr=secondary,
        )
        os.close(secondary)
        chunks = []
        while True:
            try:
                data = os.read(primary, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        proc.wait(timeout=120)
    out = b"".join(chunks).decode("utf-8", "replace")
    assert "\rpages " in out and "pages/s" in out
    assert "pages 30 | kept 30 | rejected 0" in out


def test_log_lines_when_not_on_a_terminal(tmp_path: Path, site_factory, warehouse: Path) -> None:
    root = write_site(tmp_path / "site", many_stories(20))
    with site_factory(Site("news", root, delay=0.1)) as sites:
        proc = winnow_cmd(
            "crawl",
            "--url",
            sites["news"].url("/sitemap.xml"),
            "--warehouse",
            str(warehouse),
            "--allow-private",
            "--log-level",
            "INFO",
            env={"WINNOW_PROGRESS_EVERY": "0.5", "WINNOW_PER_DOMAIN": "2"},
        )
    assert "progress: pages" in proc.stderr
    assert "\r" not in proc.stderr
