"""Shared fixtures: local sites on 127.0.0.1, a warehouse directory, the winnow CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.sites import stories_from_trailer_pages, write_site
from winnow.demo.run import demo_sites, write_sources
from winnow.demo.server import Site, serve

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def winnow_cmd(
    *args: str, env: dict | None = None, timeout: float = 240, check: bool = True
) -> subprocess.CompletedProcess:
    """Run the installed `winnow` CLI in a fresh process (each crawl needs its own reactor)."""
    full_env = {**os.environ, "WINNOW_LOG_LEVEL": "WARNING", **(env or {})}
    cmd = [sys.executable, "-m", "winnow.cli", *args]
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env, cwd=ROOT
    ) as running:
        try:
            out, err = running.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # what each of its threads is doing (winnow.cli registers faulthandler on USR1)
            running.send_signal(signal.SIGUSR1)
            time.sleep(1)
            running.kill()
            out, err = running.communicate()
            raise AssertionError(
                f"winnow {' '.join(args)} did not finish in {timeout:g}s\nstderr:\n{err[-12000:]}"
            ) from None
    proc = subprocess.CompletedProcess(cmd, running.returncode, out, err)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"winnow {' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-5000:]}"
        )
    return proc


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def demo_server():
    """The bundled demo sites, served on loopback for the whole session."""
    sites, meta = demo_sites()
    with serve(sites) as served:
        yield served, meta


@pytest.fixture
def demo_sources(demo_server, tmp_path: Path) -> Path:
    served, meta = demo_server
    return write_sources(served, meta, tmp_path / "sources.toml")


@pytest.fixture
def site_factory(tmp_path: Path):
    """Serve folders (or route tables) as sites: `with site_factory(Site(...), ...) as sites:`."""

    def make(*sites: Site):
        return serve(list(sites))

    return make


#: What `crawl_script` scripts start with: `crawl()` runs winnow on a one-article site.
CRAWL_SCRIPT = """
from winnow.crawl import run_crawl
def crawl():
    return run_crawl(urls=[{url!r}], warehouse={warehouse!r}, allow_private=True,
                     log_level="WARNING")
"""


@pytest.fixture
def crawl_script(tmp_path: Path, site_factory):
    """Run a script that defines `crawl()` (a crawl of a one-article local site) then `body`;
    as a notebook or a user's own program calls winnow. Its warehouse is `tmp_path / "wh"`."""

    def run(name: str, body: str, timeout: float = 240) -> subprocess.CompletedProcess:
        site = Site("one", write_site(tmp_path / "site", stories_from_trailer_pages(["en"])))
        path = tmp_path / name
        with site_factory(site):
            path.write_text(
                CRAWL_SCRIPT.format(url=site.url("/feed.xml"), warehouse=str(tmp_path / "wh"))
                + body
            )
            return subprocess.run(
                [sys.executable, str(path)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=timeout,
            )

    return run


#: What trafilatura's import says when recent lxml is installed without lxml_html_clean.
BROKEN_IMPORT = "lxml.html.clean module is now a separate project lxml_html_clean"


def fake_trafilatura(root: Path, code: str) -> str:
    """A PYTHONPATH entry whose `trafilatura` package runs `code` instead of the real one."""
    (root / "trafilatura").mkdir(parents=True)
    (root / "trafilatura" / "__init__.py").write_text(code)
    return str(root)


@pytest.fixture
def broken_install(tmp_path: Path) -> str:
    """A PYTHONPATH entry under which trafilatura fails to import, as in a broken install."""
    return fake_trafilatura(tmp_path / "broken-install", f"raise ImportError({BROKEN_IMPORT!r})\n")
