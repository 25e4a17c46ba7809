"""Crawl throughput and memory: Scrapy alone, winnow's full crawl, and the CPU ceiling.

Serves N generated article pages from a fast local server on 127.0.0.1
(benchmarks/fast_site.py) and crawls them through a sitemap, each crawl in its own
process, then prints, measured in one run:

  (a) Scrapy fetching only (winnow's spider, no item pipelines): pages/s, peak RSS
  (b) winnow's full crawl to Parquet: pages/s, peak RSS (crawler + cleaning workers)
  (c) the CPU ceiling: 1 / (clean CPU seconds per page) x cores
  and (b) / (c).

    .venv/bin/python benchmarks/crawl.py            # N = 2000
    .venv/bin/python benchmarks/crawl.py -n 10000
    .venv/bin/python benchmarks/crawl.py --seen 10000000   # memory of the seen-URL index
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Nothing else is imported at the top: each cleaning worker of a crawl child imports
# this file again as its main module (multiprocessing does so for every process it
# starts), as the workers of `winnow crawl` import the `winnow` script, which costs them
# 6 ms. This file's own imports (psutil, the test site) cost each worker 50 ms of its start.

#: Sidebar links per page, so pages weigh what real news pages weigh (~40 KB).
CHROME = 150
#: Pages the ceiling's timing process cleans before it starts the clock.
WARM_UP = 50
FAST = {
    "AUTOTHROTTLE_ENABLED": False,
    "CONCURRENT_REQUESTS": 32,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 32,
    "WINNOW_PROGRESS": False,
}


def child(mode: str, sitemap: str, warehouse: str) -> None:
    from winnow.crawl import run_crawl

    extra = dict(FAST)
    if mode == "fetch":
        extra["ITEM_PIPELINES"] = {}
    # a source of its own, so the page budget (5,000 by default) covers every page
    sources = Path(warehouse).with_suffix(".sources.toml")
    sources.write_text(f'[[source]]\nname = "bench"\nsitemaps = ["{sitemap}"]\nbudget = 1000000\n')
    started = time.perf_counter()
    stats = run_crawl(
        sources=["bench"],
        sources_file=sources,
        warehouse=warehouse,
        allow_private=True,
        refresh=True,
        log_level="WARNING",
        extra=extra,
    )
    elapsed = time.perf_counter() - started
    # the crawler process's own CPU (all its threads, start-up included)
    print(
        f"RESULT {stats.get('winnow/pages', 0)} {elapsed:.3f} {time.process_time():.3f}"
        f" {stats.get('winnow/clean_cpu_seconds', 0)}",
        flush=True,
    )


@dataclass
class Crawl:
    """One measured crawl: CPU in seconds, memory in MB."""

    pages: int
    seconds: float
    rss: float
    pss: float
    crawler_cpu: float
    workers_cpu: float  # the crawler's child processes: forkserver and cleaning workers
    server_cpu: float  # this process: the local server's threads (and this sampling loop)
    clean_cpu: float  # what the workers spent in `clean` itself, timed by them during the crawl

    def ms_per_page(self, cpu: float) -> float:
        return 1000 * cpu / max(1, self.pages)


def measure(mode: str, sitemap: str, warehouse: str) -> Crawl:
    """Run one crawl process and measure it.

    Memory is summed over the crawler and its children. RSS counts the pages that the
    cleaning workers share with the forkserver they were forked from once per process;
    PSS splits each shared page between the processes sharing it (read once a second:
    it costs the kernel a walk of each process's page tables). The children's CPU is
    read every 0.1 s, so the last tenth of a second of each is missed.
    """
    import psutil

    cmd = [
        sys.executable,
        __file__,
        "--child",
        mode,
        "--sitemap",
        sitemap,
        "--warehouse",
        warehouse,
    ]
    here = psutil.Process()
    server_before = sum(here.cpu_times()[:2])
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )
    peak = peak_pss = 0
    ps = psutil.Process(proc.pid)
    children_cpu: dict[int, float] = {}
    samples = 0
    children: list[psutil.Process] = []
    while proc.poll() is None:
        try:
            # Sampling costs this process CPU on the cores the crawl runs on (listing
            # children scans every process of the machine, PSS walks page tables),
            # so the slower parts run every half second and every second.
            if samples % 5 == 0:
                children = ps.children(recursive=True)
            tree = [ps, *children]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            if samples % 10 == 0:
                pss = sum(p.memory_full_info().pss for p in tree if p.is_running())
                peak_pss = max(peak_pss, pss)
        except psutil.Error:
            pass
        for child in children:
            with contextlib.suppress(psutil.Error):  # it has exited
                children_cpu[child.pid] = sum(child.cpu_times()[:2])
        samples += 1
        time.sleep(0.1)
    out, err = proc.communicate()
    server_cpu = sum(here.cpu_times()[:2]) - server_before
    if "RESULT" not in out:
        raise SystemExit(f"{mode} crawl failed:\n{err[-3000:]}")
    line = next(line for line in out.splitlines() if line.startswith("RESULT"))
    _, pages, seconds, crawler_cpu, clean_cpu = line.split()
    return Crawl(
        int(pages),
        float(seconds),
        peak / 2**20,
        peak_pss / 2**20,
        float(crawler_cpu),
        sum(children_cpu.values()),
        server_cpu,
        float(clean_cpu),
    )


def clean_cpu_per_page(sample: int = 300, at_once: int = 1) -> float:
    """Clean CPU seconds per page, in fresh processes as the crawl's workers are.

    `at_once` processes each clean the sample at the same time, as the workers do
    when cleaning is all the cores do; the result is their mean.
    """
    cmd = [sys.executable, __file__, "--child", "ceiling", "-n", str(sample)]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT) for _ in range(at_once)
    ]
    results = []
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode:
            raise RuntimeError(f"the ceiling child exited {proc.returncode}")
        results.append(
            float(next(line for line in out.splitlines() if line.startswith("RESULT")).split()[1])
        )
    return sum(results) / len(results)


def time_clean(sample: int) -> float:
    """(In the child) clean CPU seconds per page over `sample` benchmark pages, warmed up."""
    from pipeline.clean import clean
    from pipeline.page import Page
    from tests.sites import article_html, many_stories

    pages = [
        Page(
            url=f"http://127.0.0.1/{s.slug}/",
            body=article_html(s, chrome=CHROME).replace("{{BASE}}", "http://127.0.0.1").encode(),
            headers={"content-type": "text/html; charset=utf-8"},
        )
        for s in many_stories(sample + WARM_UP)
    ]
    # Warm up as a worker that has cleaned for a while: imports, and the langdetect
    # n-gram rows that are built on first use (pipeline/language.py).
    for page in pages[sample:]:
        clean(page)
    start = time.process_time()
    for page in pages[:sample]:
        clean(page)
    return (time.process_time() - start) / sample


def seen_index_memory(n: int) -> tuple[float, float, float]:
    """RSS growth (MB) from building a seen-URL index of `n` URLs, lookups/s, and its own size (MB)."""
    import psutil

    from spiders.seen import SeenUrls

    before = psutil.Process().memory_info().rss
    seen = SeenUrls.from_urls(
        f"https://news.example/2026/11/{i % 28 + 1:02d}/story-{i}/" for i in range(n)
    )
    held = (psutil.Process().memory_info().rss - before) / 2**20
    probes = [f"https://news.example/2026/11/01/story-{i}/" for i in range(0, 2 * 100_000, 2)]
    start = time.perf_counter()
    hits = sum(seen.contains(u) for u in probes)
    rate = len(probes) / (time.perf_counter() - start)
    assert hits > 0
    return held, rate, seen.nbytes / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=2000, help="article pages to serve")
    parser.add_argument(
        "--seen", type=int, default=0, help="only measure a seen-URL index of this many URLs"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--sitemap", help=argparse.SUPPRESS)
    parser.add_argument("--warehouse", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "ceiling":
        print(f"RESULT {time_clean(args.n)}", flush=True)
        return
    if args.child:
        child(args.child, args.sitemap, args.warehouse)
        return
    if args.seen:
        held, rate, own = seen_index_memory(args.seen)
        print(
            f"seen-URL index: {args.seen} URLs: index {own:.1f} MB, process RSS grew {held:.1f} MB; {rate:,.0f} lookups/s"
        )
        return

    from benchmarks.fast_site import serve_folder
    from tests.sites import many_stories, write_site

    tmp = Path(tempfile.mkdtemp(prefix="winnow-bench-"))
    try:
        stories = many_stories(args.n)
        root = write_site(tmp / "site", stories, chrome=CHROME)
        cores = os.cpu_count() or 1
        # The clean CPU is timed just before and just after the full crawl, and averaged:
        # on a shared machine one short timing can land in a slow or a fast spell. It is
        # timed with one process per core cleaning at once, the state the ceiling
        # describes, and with one process alone, for comparison: cores that share caches
        # and memory bandwidth may clean more slowly together than one does alone.
        with serve_folder(root) as base:
            sitemap = base + "/sitemap.xml"
            fetch = measure("fetch", sitemap, str(tmp / "wh-fetch"))
            alone = [clean_cpu_per_page()]
            together = [clean_cpu_per_page(at_once=cores)]
            full = measure("full", sitemap, str(tmp / "wh-full"))
            together.append(clean_cpu_per_page(at_once=cores))
            alone.append(clean_cpu_per_page())
        per_page = sum(together) / 2
        per_page_alone = sum(alone) / 2
        ceiling = cores / per_page
        print(f"N = {args.n} pages, {cores} cores")
        for label, crawl in (
            ("(a) Scrapy fetching only", fetch),
            ("(b) winnow full crawl   ", full),
        ):
            print(
                f"{label} : {crawl.pages / crawl.seconds:8.1f} pages/s   peak RSS {crawl.rss:6.1f} MB"
                f" (PSS {crawl.pss:6.1f} MB)   ({crawl.pages} pages in {crawl.seconds:.1f} s)"
            )
            print(
                f"    CPU per page: crawler {crawl.ms_per_page(crawl.crawler_cpu):.2f} ms,"
                f" cleaning workers {crawl.ms_per_page(crawl.workers_cpu):.2f} ms,"
                f" local server {crawl.ms_per_page(crawl.server_cpu):.2f} ms"
            )
        print(
            f"(c) CPU ceiling          : {ceiling:8.1f} pages/s   (clean CPU {per_page * 1000:.1f} ms/page"
            f" x {cores} cores, {cores} cleaning at once; {together[0] * 1000:.1f} before the crawl,"
            f" {together[1] * 1000:.1f} after)"
        )
        print(f"(b) / (c)                : {full.pages / full.seconds / ceiling:8.2f}")
        # The same ceiling with the clean CPU the crawl's own workers timed while they
        # cleaned (b)'s pages: no spell of the machine between the two measurements.
        # (b) / (c) is then the share of the cores' time that went to cleaning.
        during = full.clean_cpu / max(1, full.pages)
        print(
            f"    with clean CPU timed by (b)'s workers as they cleaned ({during * 1000:.1f} ms/page):"
            f" (c) {cores / during:.1f} pages/s, (b) / (c) {full.pages / full.seconds * during / cores:.2f}"
        )
        print(
            f"    with clean CPU timed in one process alone ({per_page_alone * 1000:.1f} ms/page;"
            f" {alone[0] * 1000:.1f} before, {alone[1] * 1000:.1f} after):"
            f" (c) {cores / per_page_alone:.1f} pages/s, (b) / (c) {full.pages / full.seconds * per_page_alone / cores:.2f}"
        )
        # The cores also run the crawler and the server. Were the crawler to cost no more
        # than Scrapy fetching alone (a), and the cores never idle, (b) would reach:
        fetch_cost = fetch.ms_per_page(fetch.crawler_cpu + fetch.server_cpu) / 1000
        print(
            f"    at most {per_page / (per_page + fetch_cost):.2f} on this machine: clean CPU /"
            f" (clean CPU + (a)'s crawler and server CPU per page)"
        )
        # What (b) lost to idle cores, and what to CPU spent on more than cleaning.
        used = full.crawler_cpu + full.workers_cpu + full.server_cpu
        print(
            f"    (b) kept the cores {used / (cores * full.seconds):.0%} busy; its workers used"
            f" {full.workers_cpu / full.pages / per_page - 1:+.0%} the ceiling's clean CPU"
            f" (the forkserver's warm-up included: {full.ms_per_page(full.workers_cpu) - per_page * 1000:.2f} ms/page in all)"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
