"""Two crawler processes share one crawl through a real redis-server: every page fetched once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import redis

from spiders.frontier import crawl_scope
from tests.conftest import ROOT
from tests.schedule.test_scheduler import CRAWL_ENV, write_sources
from tests.sites import Story, write_site
from warehouse.query import connect
from winnow.demo.server import Site
from winnow.history import load_history

PAGES = 500


def small_site(root: Path, n: int) -> tuple[Path, list[Story]]:
    """`n` short pages (cheap to clean: each ends as a `quality:too_short` reject) and a sitemap."""
    stories = [
        Story(f"2026/11/03/item-{i:04d}", f"Item {i}", [f"Note {i}: the ferry left at {i % 24}h."])
        for i in range(n)
    ]
    return write_site(root, stories), stories


def once_both_joined(site: Site, redis_url: str):
    """Serve the sitemap only when two crawlers have joined the crawl, so both find work."""
    server = redis.Redis.from_url(redis_url)

    def route(handler) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
            server.zcard(key) >= 2 for key in server.scan_iter("winnow:news:*:members")
        ):
            time.sleep(0.05)
        body = (site.root / "sitemap.xml").read_bytes().replace(b"{{BASE}}", site.base.encode())
        handler.send_bytes(200, body, "application/xml")

    return route


def test_two_crawlers_on_one_redis_frontier_fetch_each_page_once(
    tmp_path: Path, warehouse: Path, redis_url: str, site_factory
) -> None:
    root, stories = small_site(tmp_path / "site", PAGES)
    site = Site("many", root)
    site.routes = {"/sitemap.xml": once_both_joined(site, redis_url)}
    with site_factory(site):
        sources = write_sources(
            tmp_path / "sources.toml", many={"sitemaps": [site.url("/sitemap.xml")]}
        )
        env = {**os.environ, **CRAWL_ENV, "REDIS_URL": redis_url}
        # One through winnow, one through plain Scrapy: both are the same `news` spider.
        winnow = [sys.executable, "-m", "winnow.cli", "crawl", "many", "--run-id", "crawler-a"]
        winnow += ["--warehouse", str(warehouse), "--sources-file", str(sources), "--allow-private"]
        scrapy = [sys.executable, "-m", "scrapy", "crawl", "news", "-a", "sources=many"]
        scrapy += ["-a", "run_id=crawler-b", "-s", f"WINNOW_WAREHOUSE={warehouse}"]
        scrapy += ["-s", f"WINNOW_SOURCES={sources}", "-s", "WINNOW_ALLOW_PRIVATE=1"]
        procs = [
            subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            for cmd, log in (
                (winnow, (tmp_path / "a.log").open("wb")),
                (scrapy, (tmp_path / "b.log").open("wb")),
            )
        ]
        codes = [p.wait(180) for p in procs]
    logs = "\n".join((tmp_path / f"{x}.log").read_text()[-3000:] for x in "ab")
    assert codes == [0, 0], logs

    paths = {f"/{s.slug}/" for s in stories}
    assert {p: site.hits.get(p, 0) for p in paths} == dict.fromkeys(paths, 1)
    assert site.hits["/sitemap.xml"] == 1  # the entry point too: one pushed it, the other joined

    runs = {r.run_id: r for r in load_history(warehouse)["many"]}
    assert set(runs) == {"crawler-a", "crawler-b"}
    assert all(r.status == "ok" and r.pages > 0 for r in runs.values()), runs  # both worked
    assert sum(r.pages for r in runs.values()) == PAGES

    rows = connect(str(warehouse)).execute(
        "SELECT url, count(*), min(run_id) FROM "
        "(SELECT url, run_id FROM articles UNION ALL SELECT url, run_id FROM rejects) GROUP BY url"
    )
    per_url = {url: n for url, n, _ in rows.fetchall()}
    assert len(per_url) == PAGES and set(per_url.values()) == {1}  # each page exactly one row

    # The crawl is over: its queue, filter and name are gone, so the next one starts afresh.
    assert redis.Redis.from_url(redis_url).keys("winnow:*") == []


def test_crawls_of_different_sources_on_one_redis_never_mix(
    tmp_path: Path, warehouse: Path, redis_url: str, site_factory
) -> None:
    sites = [Site(name, small_site(tmp_path / name, 30)[0]) for name in ("north", "south")]
    with site_factory(*sites):
        sources = write_sources(
            tmp_path / "sources.toml",
            **{s.name: {"sitemaps": [s.url("/sitemap.xml")]} for s in sites},
        )
        env = {**os.environ, **CRAWL_ENV, "REDIS_URL": redis_url}
        crawl = [sys.executable, "-m", "winnow.cli", "crawl", "--allow-private"]
        crawl += ["--warehouse", str(warehouse), "--sources-file", str(sources)]
        procs = [
            subprocess.Popen(
                [*crawl, s.name, "--run-id", s.name],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for s in sites
        ]
        assert [p.wait(120) for p in procs] == [0, 0]
    for site in sites:  # each crawled its own entry points and pages, once
        assert site.hits["/sitemap.xml"] == 1
        assert sum(n for p, n in site.hits.items() if p.startswith("/2026/")) == 30
    rows = connect(str(warehouse)).execute(
        "SELECT run_id, source, count(*) FROM rejects GROUP BY ALL ORDER BY 1"
    )
    assert rows.fetchall() == [("north", "north", 30), ("south", "south", 30)]


def test_the_crawl_scope_names_the_sources() -> None:
    spider = SimpleNamespace(sources={"south": None, "north": None}, adhoc_urls=[])
    assert crawl_scope(spider) == "north+south"
    spider.adhoc_urls = ["http://example.com/feed"]
    assert crawl_scope(spider).startswith("north+south-")
    assert crawl_scope(object()) == "all"
