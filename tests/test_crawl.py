"""`run_crawl` from a script, as a notebook or a user's own program calls it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.sites import stories_from_trailer_pages, write_site
from winnow.demo.server import Site

CRAWL = """
from winnow.crawl import run_crawl
def crawl():
    return run_crawl(urls=[{url!r}], warehouse={warehouse!r}, allow_private=True,
                     log_level="WARNING")
"""


def run_script(path: Path, body: str) -> subprocess.CompletedProcess:
    path.write_text(body)
    return subprocess.run(
        [sys.executable, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=240
    )


def test_a_second_run_crawl_in_one_process_says_why_it_cannot(tmp_path: Path, site_factory) -> None:
    site = Site("one", write_site(tmp_path / "site", stories_from_trailer_pages(["en"])[:2]))
    with site_factory(site):
        setup = CRAWL.format(url=site.url("/feed.xml"), warehouse=str(tmp_path / "wh"))
        proc = run_script(
            tmp_path / "twice.py",
            setup
            + "if __name__ == '__main__':\n"
            + "    print('kept', crawl()['winnow/articles'])\n"
            + "    try:\n        crawl()\n"
            + "    except RuntimeError as exc:\n        print('second:', exc)\n",
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("kept ") and not proc.stdout.startswith("kept 0")
    assert "second: run_crawl runs once per process" in proc.stdout


def test_a_script_without_a_main_guard_is_told_to_add_one(tmp_path: Path, site_factory) -> None:
    site = Site("one", write_site(tmp_path / "site", stories_from_trailer_pages(["en"])[:2]))
    with site_factory(site):
        setup = CRAWL.format(url=site.url("/feed.xml"), warehouse=str(tmp_path / "wh"))
        proc = run_script(
            tmp_path / "unguarded.py", setup + "print('status', crawl()['winnow/run_status'])\n"
        )
    assert "status failed" in proc.stdout, proc.stderr[-3000:]
    assert "a script that starts a crawl must do so under" in proc.stderr


def test_a_crawl_without_redis_or_cookies_does_not_load_their_code(
    tmp_path: Path, site_factory
) -> None:
    """scrapy_redis and the cookie middleware's tldextract cost every start 60-80 ms each."""
    site = Site("one", write_site(tmp_path / "site", stories_from_trailer_pages(["en"])[:2]))
    with site_factory(site):
        setup = CRAWL.format(url=site.url("/feed.xml"), warehouse=str(tmp_path / "wh"))
        proc = run_script(
            tmp_path / "light.py",
            setup
            + "if __name__ == '__main__':\n"
            + "    import sys\n"
            + "    print('kept', crawl()['winnow/articles'])\n"
            + "    print('loaded', [m for m in ('scrapy_redis', 'tldextract') if m in sys.modules])\n",
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not proc.stdout.startswith("kept 0")
    assert "loaded []" in proc.stdout, proc.stdout
