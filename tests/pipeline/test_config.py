"""The crawler process builds cleaning configurations without loading the cleaning libraries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

CRAWLER_MODULES = [
    "winnow.crawl",
    "pipeline.item_pipelines",
    "spiders.news",
    "settings",
    "settings.sources",
    "pipeline.duplicates",
    "spiders.seen",
]
#: Loaded by the cleaning workers and by `winnow query`, never by a crawler: each costs
#: its start 0.05-0.1 s of CPU.
NOT_IN_A_CRAWLER = ["trafilatura", "langdetect", "duckdb", "pipeline.clean"]


def test_a_crawler_imports_no_cleaning_library_nor_duckdb(warehouse: Path) -> None:
    # ... nor when it reads what the warehouse holds, as a crawl's start does
    code = (
        "import importlib, sys\n"
        f"for name in {CRAWLER_MODULES!r}: importlib.import_module(name)\n"
        "from pipeline.duplicates import DuplicateIndex\n"
        "from spiders.seen import SeenUrls\n"
        f"DuplicateIndex.from_warehouse({str(warehouse)!r})\n"
        f"SeenUrls.from_warehouse({str(warehouse)!r})\n"
        f"print(sorted(set({NOT_IN_A_CRAWLER!r}) & set(sys.modules)))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"


def test_a_whole_crawl_loads_none_of_them_nor_the_remote_control_server(
    demo_sources: Path, warehouse: Path
) -> None:
    # Scrapy imports every extension it lists, enabled or not: the remote control's
    # aiohttp server is left out of the list (settings), as it costs 0.1 s a start.
    code = (
        "import sys\n"
        "from winnow.crawl import run_crawl\n"
        f"stats = run_crawl(sources_file={str(demo_sources)!r}, warehouse={str(warehouse)!r},"
        " allow_private=True, log_level='WARNING')\n"
        "assert stats['winnow/articles'] > 0, stats\n"
        f"print(sorted(set({[*NOT_IN_A_CRAWLER, 'aiohttp']!r}) & set(sys.modules)))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=240
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert loaded.stdout.strip().splitlines()[-1] == "[]"
