"""`winnow demo`: serve the bundled sites on loopback, crawl them, print the report."""

from __future__ import annotations

import shutil
import time
import tomllib
from importlib import resources
from pathlib import Path

from winnow.demo.server import Site, serve

SITES_DIR = Path(str(resources.files("winnow.demo").joinpath("sites")))
#: Marks a warehouse the demo wrote, which a later demo may replace.
MARKER = ".winnow-demo"
SOURCES_NAME = ".winnow-demo-sources.toml"


def demo_sites() -> tuple[list[Site], list[dict]]:
    """The bundled sites and their descriptions (sites/sites.toml)."""
    meta = tomllib.loads((SITES_DIR / "sites.toml").read_text("utf-8"))["site"]
    return [Site(m["name"], SITES_DIR / m["name"]) for m in meta], meta


def write_sources(served: dict[str, Site], meta: list[dict], path: Path) -> Path:
    """A sources.toml pointing at the served sites (ports are chosen at start)."""
    lines = ["# Written by `winnow demo` for the sites it serves on loopback.", ""]
    for m in meta:
        base = served[m["name"]].base
        lines += [
            "[[source]]",
            f'name = "{m["name"]}"',
            f'title = "{m.get("title", m["name"])}"',
            f"feeds = {[base + f for f in m.get('feeds', [])]!r}".replace("'", '"'),
            f"sitemaps = {[base + s for s in m.get('sitemaps', [])]!r}".replace("'", '"'),
            f"languages = {list(m.get('languages', []))!r}".replace("'", '"'),
            "",
        ]
    path.write_text("\n".join(lines), "utf-8")
    return path


def prepare_warehouse(warehouse: Path) -> None:
    """Use an empty directory or replace an earlier demo's; never touch other data."""
    if warehouse.exists() and any(warehouse.iterdir()):
        if not (warehouse / MARKER).exists():
            raise SystemExit(
                f"{warehouse} holds data that `winnow demo` did not write; "
                "give the demo an empty directory with --warehouse DIR"
            )
        shutil.rmtree(warehouse)
    warehouse.mkdir(parents=True, exist_ok=True)
    (warehouse / MARKER).write_text("written by winnow demo; a new demo replaces this directory\n")


def run_demo(warehouse: Path, log_level: str = "WARNING") -> tuple[str, dict]:
    """Serve, crawl, and return the report (with the time it took) and the crawl's stats."""
    from winnow.crawl import new_run_id, run_crawl
    from winnow.report import report

    warehouse = warehouse.resolve()
    prepare_warehouse(warehouse)
    started = time.monotonic()
    sites, meta = demo_sites()
    with serve(sites) as served:
        sources = write_sources(served, meta, warehouse / SOURCES_NAME)
        run_id = new_run_id("demo")
        stats = run_crawl(
            warehouse=warehouse,
            sources_file=sources,
            allow_private=True,
            refresh=True,
            run_id=run_id,
            log_level=log_level,
            extra={"AUTOTHROTTLE_START_DELAY": 0.05},
        )
    elapsed = time.monotonic() - started
    text = report(str(warehouse), run_id)
    return (
        f"{text}\n\ndemo: served {len(sites)} sites on 127.0.0.1,"
        f" crawled in {elapsed:.1f}s (run {stats['run_id']})",
        stats,
    )
