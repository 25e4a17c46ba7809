"""Scale-out benchmark: pages/s of one crawler process against two sharing a Redis frontier.

Serves a local site of N article pages on 127.0.0.1 (real article prose from
tests/trailer_pages, each page with its own opening paragraph), then crawls all of it
into a fresh warehouse three ways:

1. one `winnow crawl` process, Scrapy's in-memory scheduler;
2. one process with REDIS_URL set (the shared frontier's own overhead);
3. two processes with the same REDIS_URL, started together (scale-out);
4. the same with one cleaning worker per process, so that the two together start
   as many cleaning workers as one process does.

and prints, for each, the pages written, the wall time from the first process start
to the last exit, the crawl time from the `runs` rows (first start to last end, so
without interpreter start-up) and pages/s for both. It asserts nothing. On a 2-core
machine two crawlers compete for the same cores (each also runs a cleaning pool), so
expect overhead rather than speed-up; on several machines each brings its own cores.

    .venv/bin/python benchmarks/scaleout.py [--pages 1000] [--start-delay 0.05]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.schedule.servers import redis_server  # noqa: E402
from tests.sites import Story, stories_from_trailer_pages, write_site  # noqa: E402
from warehouse.query import connect  # noqa: E402
from winnow.demo.server import Site, serve  # noqa: E402


def build_site(root: Path, pages: int) -> Path:
    prose = stories_from_trailer_pages(["en", "fr", "es", "de", "it", "pt", "nl"])
    stories = []
    for i in range(pages):
        base = prose[i % len(prose)]
        opening = (
            f"Dispatch {i}: the council met on day {i % 28 + 1} to discuss item {i * 7919 % 10007}."
        )
        stories.append(
            Story(
                f"2026/11/03/page-{i:05d}",
                f"{base.title} ({i})",
                [opening, *base.paragraphs],
                base.lang,
            )
        )
    return write_site(root, stories)


def crawl(processes: int, site: Site, work: Path, env: dict[str, str]) -> dict:
    warehouse = work / "warehouse"
    sources = work / "sources.toml"
    sources.write_text(
        f'[[source]]\nname = "bench"\nsitemaps = ["{site.url("/sitemap.xml")}"]\nbudget = 100000\n'
    )
    cmd = [sys.executable, "-m", "winnow.cli", "crawl", "bench", "--warehouse", str(warehouse)]
    cmd += ["--sources-file", str(sources), "--allow-private", "--log-level", "WARNING"]
    started = time.monotonic()
    procs = [
        subprocess.Popen(
            [*cmd, "--run-id", f"bench-{k}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(work / f"crawler-{k}.log").open("wb"),
        )
        for k in range(processes)
    ]
    codes = [p.wait() for p in procs]
    wall = time.monotonic() - started
    con = connect(str(warehouse))
    pages, crawl_seconds = con.execute(
        "SELECT sum(pages_fetched), epoch(max(ended_at)) - epoch(min(started_at)) FROM runs"
    ).fetchone()
    per = con.execute("SELECT run_id, pages_fetched FROM runs ORDER BY run_id").fetchall()
    return {
        "codes": codes,
        "pages": int(pages or 0),
        "wall": wall,
        "crawl": float(crawl_seconds or 0),
        "split": " + ".join(str(n) for _, n in per),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument(
        "--start-delay", default="0.05", help="AutoThrottle's first delay (WINNOW_START_DELAY)"
    )
    args = parser.parse_args()
    base_env = {**os.environ, "WINNOW_START_DELAY": args.start_delay, "WINNOW_LOG_LEVEL": "WARNING"}
    with tempfile.TemporaryDirectory(prefix="winnow-scaleout-") as tmp:
        tmp = Path(tmp)
        site = Site("bench", build_site(tmp / "site", args.pages))
        with serve([site]), redis_server(tmp / "redis") as redis_url:
            print(
                f"site: {args.pages} article pages on {site.base}; {os.cpu_count()} cores; "
                f"WINNOW_START_DELAY={args.start_delay}, other settings as shipped"
            )
            print(
                f"{'setup':<38} {'pages':>6} {'split':>11} {'wall s':>7} {'pages/s':>8} "
                f"{'crawl s':>8} {'pages/s':>8}"
            )
            runs = (
                ("1 process, in-memory scheduler", 1, {}),
                ("1 process, Redis frontier", 1, {"REDIS_URL": redis_url}),
                ("2 processes, one Redis frontier", 2, {"REDIS_URL": redis_url}),
                (
                    "2 processes, 1 cleaning worker each",
                    2,
                    {"REDIS_URL": redis_url, "WINNOW_WORKERS": "1"},
                ),
            )
            for k, (label, processes, extra) in enumerate(runs):
                work = tmp / f"run-{k}"
                work.mkdir()
                site.hits.clear()
                r = crawl(processes, site, work, {**base_env, **extra})
                fetched = sum(n for p, n in site.hits.items() if p.startswith("/2026/"))
                note = "" if r["codes"] == [0] * processes else f"  exit codes {r['codes']}"
                if fetched != args.pages:
                    note += f"  ({fetched} article fetches for {args.pages} pages)"
                print(
                    f"{label:<38} {r['pages']:>6} {r['split']:>11} {r['wall']:>7.1f} "
                    f"{r['pages'] / r['wall']:>8.1f} {r['crawl']:>8.1f} "
                    f"{r['pages'] / max(r['crawl'], 1e-9):>8.1f}{note}"
                )


if __name__ == "__main__":
    main()
